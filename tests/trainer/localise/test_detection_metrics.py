"""COCO mAP through torchmetrics on a case computed by hand."""

import pytest
import torch

from trainer.localise.detection_metrics import detection_map

NAMES = ["coin", "bullet", "blade"]


def _case():
    targets = [
        {"boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 40, 40]]), "labels": torch.tensor([1, 2])},
        {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)},  # an image without objects
    ]
    preds = [
        # coin exact (IoU 1); bullet covers half its box (IoU 200/400 = 0.5: a match at 0.5 only)
        {"boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 40, 30]]), "scores": torch.tensor([0.9, 0.8]),
         "labels": torch.tensor([1, 2])},
        # a coin on the empty image, scored above the true coin
        {"boxes": torch.tensor([[50.0, 50, 60, 60]]), "scores": torch.tensor([0.95]), "labels": torch.tensor([1])},
    ]
    return preds, targets


@pytest.mark.parametrize("backend", ["faster_coco_eval", "pycocotools"])
def test_hand_computed_map(backend):
    preds, targets = _case()
    out = detection_map(preds, targets, NAMES, backend=backend)
    # coin: FP (0.95) then TP (0.9): precision 1/2 at recall 1, interpolated 0.5 everywhere, every IoU
    assert out["per_class"]["coin"] == pytest.approx({"ap": 0.5, "ap_50": 0.5})
    # bullet: a TP at IoU 0.5 only: AP 1 at 0.5, 0 at 0.55 ... 0.95 -> mean over 10 thresholds 0.1
    assert out["per_class"]["bullet"] == pytest.approx({"ap": 0.1, "ap_50": 1.0})
    assert out["per_class"]["blade"] == {"ap": None, "ap_50": None}  # no ground truth, no prediction
    assert out["map_50"] == pytest.approx(0.75)
    assert out["map"] == pytest.approx(0.3)


def test_segm_scores_masks():
    mask = torch.zeros(1, 16, 16, dtype=torch.bool)
    mask[0, 2:6, 2:6] = True
    half = mask.clone()
    half[0, 4:6] = False  # 8 of 16 pixels: IoU 0.5
    target = [{"boxes": torch.tensor([[2.0, 2, 6, 6]]), "labels": torch.tensor([1]), "masks": mask}]
    pred = [{"boxes": torch.tensor([[2.0, 2, 6, 6]]), "scores": torch.tensor([0.9]), "labels": torch.tensor([1]),
             "masks": half}]
    out = detection_map(pred, target, ["coin"], iou_type="segm")
    assert out["map_50"] == pytest.approx(1.0) and out["map"] == pytest.approx(0.1)


def test_zero_label_is_refused():
    preds, targets = _case()
    targets[0]["labels"] = torch.tensor([0, 1])
    with pytest.raises(ValueError, match="1-based"):
        detection_map(preds, targets, NAMES)
