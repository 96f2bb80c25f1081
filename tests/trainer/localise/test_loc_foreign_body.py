"""Support devices are localised but are not foreign bodies: a `medical_device` channel never
raises the image's foreign-body score, never gives a FROC mark, and its objects are not truth."""

import numpy as np
import torch
from torch import nn

from trainer.config import TrainConfig
from trainer.localise.targets import foreign_body_indices
from trainer.localise.task import LocTask

CLASSES = ["none", "coin", "medical_device"]


def test_foreign_body_indices_leave_out_devices_only():
    assert foreign_body_indices(["coin", "medical_device", "blade"]) == [0, 2]
    assert foreign_body_indices(["coin", "blade"]) == [0, 1]
    assert foreign_body_indices(["medical_device"]) == [0]  # a model of devices alone scores them


class _Fixed(nn.Module):
    """(B, 1, H, W) -> fixed logits (B, 2, H, W): coin 0.6 at (8, 8), device 0.95 at (24, 24)."""

    def forward(self, x):
        b, _, h, w = x.shape
        probs = torch.full((b, 2, h, w), 0.001)
        probs[:, 0, 8, 8] = 0.6
        probs[:, 1, 24, 24] = 0.95
        return torch.logit(probs)


def _batch():
    inst = torch.zeros(2, 32, 32, dtype=torch.uint8)
    inst[0, 6:11, 6:11] = 1  # image 0: a coin (object 1) and a device (object 2)
    inst[0, 22:27, 22:27] = 2
    inst[1, 22:27, 22:27] = 1  # image 1: a device alone
    return {"image": torch.zeros(2, 1, 32, 32), "inst": inst, "scale": torch.ones(2, 2),
            "boxes": [torch.tensor([[6.0, 6, 11, 11], [22, 22, 27, 27]]), torch.tensor([[22.0, 22, 27, 27]])],
            "labels": [torch.tensor([0, 1]), torch.tensor([1])],
            "inst_classes": [torch.tensor([0, 1]), torch.tensor([1])], "key": ["a", "b"]}


def test_devices_do_not_make_an_image_hold_a_foreign_body():
    cfg = TrainConfig(data="unused", out="unused", task="segment", model="unet_resnet18", image_size=32)
    task = LocTask(cfg, CLASSES)
    result = task.predict(_Fixed(), [_batch()], torch.device("cpu"))
    np.testing.assert_allclose(result["class_scores"], [[0.6, 0.95], [0.6, 0.95]], atol=1e-6)
    np.testing.assert_allclose(result["image_score"], [0.6, 0.6], atol=1e-6)  # the coin's, not the device's
    assert result["positive"].tolist() == [True, False] and result["present"].tolist() == [[True, True], [False, True]]
    for points in result["points"]:  # the coin channel's peak only, none from the device channel
        assert points[:, 0].tolist() == [torch.tensor(0.6).item()] and points[0, 1:].tolist() == [8.5, 8.5]
    assert [len(b) for b in result["boxes_fb"]] == [1, 0]
    report = task.report(result)
    assert report["foreign_body_classes"] == ["coin"]
    assert report["froc"]["objects"] == 1 and report["froc"]["sensitivity"]["8"] == 1.0
    assert report["image_level"]["positives"] == 1 and report["image_level"]["negatives"] == 1
    assert set(report["image_level"]["per_class_auroc"]) == {"coin", "medical_device"}
