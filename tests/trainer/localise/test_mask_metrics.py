"""Dice and IoU per class, empty-against-empty unscored."""

import pytest
import torch

from trainer.localise.mask_metrics import DiceIoU


def test_dice_iou_accumulates_over_batches_and_skips_empty_against_empty():
    metric = DiceIoU(["coin", "pin"])
    pred = torch.zeros(2, 2, 4, 4, dtype=torch.bool)
    true = torch.zeros_like(pred)
    true[0, 0, :2, :2] = True          # 4 px of coin on image 0
    pred[0, 0, :2, :1] = True          # 2 of them predicted: dice 2*2/6, iou 2/4
    pred[1, 0, 3, 3] = True            # coin predicted on image 1 where there is none: 0, 0
    metric.update(pred[:1], true[:1])  # pin on both images: empty against empty, not scored
    metric.update(pred[1:], true[1:])
    out = metric.aggregate()
    assert out["coin"]["dice"] == pytest.approx((4 / 6 + 0) / 2)
    assert out["coin"]["iou"] == pytest.approx((0.5 + 0) / 2)
    assert out["coin"]["images"] == 2
    assert out["pin"] == {"dice": None, "iou": None, "images": 0}
    assert out["mean"]["dice"] == pytest.approx(1 / 3) and out["mean"]["classes"] == 1


def test_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"\(B, 2, H, W\)"):
        DiceIoU(["a", "b"]).update(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))
