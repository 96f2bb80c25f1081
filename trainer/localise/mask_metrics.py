"""Dice and IoU per class of predicted masks, accumulated over batches (MONAI-style metric).

    metric = DiceIoU(["coin", "pin_needle"])
    for pred, true in batches:        # (B, K, H, W) bool each, K = len(class_names)
        metric.update(pred, true)
    metric.aggregate()                # {"coin": {"dice", "iou", "images"}, ..., "mean": {...}}

Per image and class: dice = 2|P & T| / (|P| + |T|), iou = |P & T| / |P | T|. The figure of a
class is the mean of its per-image values over the images where it is scored.

Empty against empty: an image where a class is absent from both the prediction and the truth
is *not scored* for that class (it says nothing about how well the class is outlined), and
does not enter that class's mean; a prediction on an image without the class (or a miss of a
present one) scores 0. A class scored on no image has dice and iou None (JSON null), and the
"mean" entry averages over the classes that have a value. "images" counts the images scored.
Image-level detection without outlines is scored elsewhere (FROC, AUROC); this is outlining.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class DiceIoU:
    """Accumulates per-image, per-class Dice and IoU; see the module docstring for the rules."""

    def __init__(self, class_names: Sequence[str]):
        if not class_names:
            raise ValueError("DiceIoU needs at least one class name")
        self.class_names = list(class_names)
        self.reset()

    def reset(self) -> None:
        k = len(self.class_names)
        self._dice_sum = torch.zeros(k, dtype=torch.float64)
        self._iou_sum = torch.zeros(k, dtype=torch.float64)
        self._count = torch.zeros(k, dtype=torch.int64)

    def update(self, pred: torch.Tensor, true: torch.Tensor) -> None:
        """Add a batch: pred and true (B, K, H, W) bool (any dtype: nonzero = inside)."""
        if pred.shape != true.shape:
            raise ValueError(f"pred {tuple(pred.shape)} and true {tuple(true.shape)} differ in shape")
        if pred.ndim != 4 or pred.shape[1] != len(self.class_names):
            raise ValueError(f"expected (B, {len(self.class_names)}, H, W), got {tuple(pred.shape)}")
        p, t = pred.bool().flatten(2), true.bool().flatten(2)  # (B, K, H*W)
        inter = (p & t).sum(-1).double()  # (B, K)
        p_sum, t_sum = p.sum(-1).double(), t.sum(-1).double()
        union = p_sum + t_sum - inter
        scored = union > 0  # (B, K): empty against empty is not scored
        dice = torch.where(scored, 2 * inter / (p_sum + t_sum).clamp(min=1), torch.zeros_like(inter))
        iou = torch.where(scored, inter / union.clamp(min=1), torch.zeros_like(inter))
        self._dice_sum += dice.sum(0).cpu()
        self._iou_sum += iou.sum(0).cpu()
        self._count += scored.sum(0).cpu()

    def aggregate(self) -> dict:
        """{name: {"dice", "iou", "images"}} per class, plus "mean" over the classes scored."""
        out = {}
        for k, name in enumerate(self.class_names):
            n = int(self._count[k])
            out[name] = {"dice": float(self._dice_sum[k] / n) if n else None,
                         "iou": float(self._iou_sum[k] / n) if n else None, "images": n}
        scored = [v for v in out.values() if v["images"]]
        out["mean"] = {"dice": sum(v["dice"] for v in scored) / len(scored) if scored else None,
                       "iou": sum(v["iou"] for v in scored) / len(scored) if scored else None,
                       "classes": len(scored)}
        return out
