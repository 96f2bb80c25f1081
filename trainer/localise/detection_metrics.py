"""COCO mAP of detections: torchmetrics' MeanAveragePrecision over the COCO evaluator.

No average precision is computed here: the COCO evaluator (faster-coco-eval, a drop-in of
pycocotools' COCOeval; `backend="pycocotools"` gives the reference one) does it. Per-class
AP@0.5 is read from the evaluator's own precision array (`extended_summary`) the way
COCOeval's `summarize` reads its overall figures: the mean over the 101 recall points of the
precision at IoU 0.5, all areas, 100 detections, skipping the -1 entries of absent classes.

Conventions (torchvision detection, so every torchvision detector's output fits unchanged):
- preds: per image {"boxes": (K, 4) float xyxy pixels, "scores": (K,) float, "labels": (K,)
  int64}; targets: per image {"boxes": (N, 4), "labels": (N,)}; with `iou_type="segm"` also
  "masks" (K or N, H, W) bool.
- labels are 1-based: 0 is the background, label l names `class_names[l - 1]`. A build's
  class list starts with "none", so its class indices are these labels and
  `class_names = classes[1:]`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

IOU_TYPES = ("bbox", "segm")


def _value(x: torch.Tensor | float) -> float | None:
    """A COCO figure as a float; None where the evaluator says -1 (no ground truth to score)."""
    v = float(x)
    return None if v < 0 else v


def _ap50_per_class(precision: torch.Tensor) -> list[float | None]:
    """(T, R, K, A, M) COCO precision -> per class k AP at IoU 0.5, area "all", the most detections."""
    p = precision[0, :, :, 0, -1]  # (R, K)
    out = []
    for k in range(p.shape[1]):
        valid = p[:, k][p[:, k] > -1]
        out.append(float(valid.mean()) if valid.numel() else None)
    return out


def _check(items: Sequence[dict], what: str, keys: tuple[str, ...]) -> list[dict]:
    out = []
    for i, item in enumerate(items):
        missing = [k for k in keys if k not in item]
        if missing:
            raise ValueError(f"{what}[{i}] lacks {missing}; expected keys {list(keys)}")
        row = {k: item[k] for k in keys}
        row["boxes"] = torch.as_tensor(row["boxes"], dtype=torch.float32).reshape(-1, 4)
        row["labels"] = torch.as_tensor(row["labels"], dtype=torch.int64).reshape(-1)
        if "scores" in row:
            row["scores"] = torch.as_tensor(row["scores"], dtype=torch.float32).reshape(-1)
        if "masks" in row:
            row["masks"] = torch.as_tensor(row["masks"]).bool()
        if row["labels"].numel() and int(row["labels"].min()) < 1:
            raise ValueError(f"{what}[{i}]: labels are 1-based (0 = background), got {row['labels'].tolist()}")
        out.append(row)
    return out


def detection_map(preds: Sequence[dict], targets: Sequence[dict], class_names: Sequence[str], *,
                  iou_type: str = "bbox", backend: str = "faster_coco_eval") -> dict:
    """COCO mAP@[.5:.95], mAP@0.5 and per-class AP of `preds` against `targets`.

    Args:
        preds, targets: one dict per image, same order (see the module docstring).
        class_names: foreground class names; label l is class_names[l - 1].
        iou_type: "bbox" (boxes) or "segm" (instance masks, "masks" in both).
        backend: "faster_coco_eval" or "pycocotools" (same figures).

    Returns:
        {"map": float|None, "map_50": float|None, "map_75": float|None, "mar_100": float|None,
         "per_class": {name: {"ap": float|None, "ap_50": float|None}}}; None where a class (or
        the whole set) has no ground truth, where COCO reports -1. Classes absent from both
        preds and targets are None too.
    """
    from torchmetrics.detection import MeanAveragePrecision

    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type must be one of {IOU_TYPES}, got {iou_type!r}")
    if len(preds) != len(targets):
        raise ValueError(f"preds for {len(preds)} images, targets for {len(targets)}")
    extra = ("masks",) if iou_type == "segm" else ()
    preds = _check(preds, "preds", ("boxes", "scores", "labels") + extra)
    targets = _check(targets, "targets", ("boxes", "labels") + extra)
    for i, t in enumerate(targets):
        if t["labels"].numel() and int(t["labels"].max()) > len(class_names):
            raise ValueError(f"targets[{i}]: label {int(t['labels'].max())} has no name; "
                             f"{len(class_names)} class_names")
    if iou_type == "bbox":
        preds = [{k: v for k, v in p.items() if k != "masks"} for p in preds]
    metric = MeanAveragePrecision(iou_type=iou_type, class_metrics=True, extended_summary=True, backend=backend)
    metric.update(preds, targets)
    result = metric.compute()
    per_class = {name: {"ap": None, "ap_50": None} for name in class_names}
    classes = result["classes"].reshape(-1).tolist()
    ap_per_class = result["map_per_class"].reshape(-1).tolist()
    ap50 = _ap50_per_class(result["precision"]) if classes else []
    for k, label in enumerate(classes):
        if 1 <= label <= len(class_names):
            per_class[class_names[label - 1]] = {"ap": _value(ap_per_class[k]), "ap_50": ap50[k]}
    return {
        "map": _value(result["map"]),
        "map_50": _value(result["map_50"]),
        "map_75": _value(result["map_75"]),
        "mar_100": _value(result["mar_100"]),
        "per_class": per_class,
    }
