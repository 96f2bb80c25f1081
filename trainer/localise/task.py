"""The interface `trainer.train`'s loop calls for a localising task (`--task detect|segment`):
open the data, build and initialise the model, the joint augmentation, the loss of a batch,
predictions over a loader and their report (FROC, mAP, Dice/IoU, image-level AUROC).

Image-level score, so one localising model also gives the classification AUROC: a detector's
is its highest box score (per class: the highest score of that class's boxes, 0 without one);
a U-Net's is its highest pixel probability (per class: that channel's highest).
Points for FROC: a detector's box centres with their scores; a U-Net's local maxima of the
any-class probability map (`segmenter.peaks`). Coordinates are the model's input pixels.
On a build, FROC widens boxes under BUILD_MIN_BOX_PX (a build's 1-3 px fragments and pellets)
so that a mark within PEAK_RADIUS_PX of one hits it (`froc`'s "Small objects"); on a labelled
set the challenge's rule stands (`LocTask.min_box_px_for`).
The image score, the points and the truth they are scored against are over the foreign-body
classes only (`targets.foreign_body_indices`): a `medical_device` is localised and has its own
per-class figures, but a film holding only devices holds no foreign body.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

from trainer.metrics import auroc
from trainer.stream import is_build

from .detection_metrics import detection_map
from .detector import build_detector, detect, detector_loss, load_matching
from .froc import froc, points_from_boxes
from .joint_augment import JointAugment, JointAugmentConfig
from .mask_metrics import DiceIoU
from .names import LOC_TASKS, backbone_of
from .samples import open_loc_data
from .segmenter import PEAK_RADIUS_PX, DiceFocalLoss, build_unet, peaks, segment
from .targets import class_masks, foreground, foreign_body_indices, present

# The COCO evaluator logs its whole summary table at INFO on every call (each validation).
logging.getLogger("faster_coco_eval").setLevel(logging.WARNING)

BUILD_MIN_BOX_PX = 2 * PEAK_RADIUS_PX + 1  # one mark stands for every maximum within PEAK_RADIUS_PX


class LocTask:
    """One localising run's task logic. `cfg`: the TrainConfig (task, model, crop, flips);
    `classes`: the build's classes ("none" first); the model sees `fg = classes - none`."""

    def __init__(self, cfg, classes: list[str]):
        if cfg.task not in LOC_TASKS:
            raise ValueError(f"task must be one of {LOC_TASKS}, got {cfg.task!r}")
        self.cfg, self.kind = cfg, cfg.task
        self.classes = list(classes)
        self.fg = foreground(classes)
        if not self.fg:
            raise ValueError(f"classes {classes} hold no object class")
        self.fb = foreign_body_indices(self.fg)
        self._loss = DiceFocalLoss() if self.kind == "segment" else None

    # -- setting up
    def open_data(self, source: str, **kwargs):
        """`trainer.data.open_data`'s arguments; training loaders take `--crop` windows."""
        return open_loc_data(source, crop=self.cfg.crop, hard_negatives=self.cfg.hard_negatives,
                             object_crops=self.cfg.object_crops, **kwargs)

    def build_model(self) -> nn.Module:
        if self.kind == "detect":
            return build_detector(self.cfg.model, len(self.fg))
        return build_unet(self.cfg.model, len(self.fg))

    def load_init(self, model: nn.Module, checkpoint: dict) -> str:
        return load_matching(model, checkpoint, body_prefix="backbone.body." if self.kind == "detect" else "encoder.",
                             backbone=backbone_of(self.cfg.model))

    def build_augment(self) -> nn.Module:
        return JointAugment(JointAugmentConfig(hflip=self.cfg.hflip, vflip=self.cfg.vflip))

    # -- training
    def loss(self, model: nn.Module, batch: dict, device: torch.device,
             augment: nn.Module | None) -> tuple[torch.Tensor, int]:
        """(scalar loss, images) of one batch from `samples.collate_loc`."""
        images = batch["image"].to(device, non_blocking=True)
        inst = batch["inst"].to(device, non_blocking=True)
        boxes, labels = batch["boxes"], batch["labels"]
        if augment is not None:
            images, inst, boxes, labels = augment(images, inst, boxes, labels)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            if self.kind == "detect":
                loss = detector_loss(model, images, boxes, labels)
            else:
                loss = self._loss(model(images), class_masks(inst, batch["inst_classes"], len(self.fg)))
        return loss.float(), images.shape[0]

    # -- predicting and scoring
    @torch.no_grad()
    def predict(self, model: nn.Module, loader, device: torch.device, *, bar=None, keep: int = 0,
                agnostic: bool = False) -> dict:
        """Predictions over `loader` (batches of `collate_loc`), per image in loader order.

        Returns keys, scale (N, 2), true boxes/labels, present (N, K) bool, positive (N,) bool (a
        foreign body present), boxes_fb and labels_fb (the true boxes of foreign bodies and their
        labels), image_score (N,) (over
        the foreign-body classes), class_scores (N, K), points [(P, 3)] (foreign-body marks), pred
        boxes/scores/labels (detect; 0-based labels, every class),
        dice (segment: `DiceIoU.aggregate()` at probability 0.5; with `agnostic`, of the any-class
        mask as one class "object") and `kept`: the first `keep` images as (image (1, H, W) cpu,
        prediction dict, true boxes, true labels)."""
        model.eval()
        k = len(self.fg)
        out = {n: [] for n in ("keys", "scale", "boxes_true", "labels_true", "present", "image_score",
                               "class_scores", "points", "boxes", "scores", "labels", "kept", "boxes_fb", "labels_fb")}
        fb = torch.tensor(self.fb, dtype=torch.int64)
        dice = DiceIoU(["object"] if agnostic else self.fg) if self.kind == "segment" else None
        for batch in loader:
            images = batch["image"].to(device, non_blocking=True)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                if self.kind == "detect":
                    preds = detect(model, images)
                else:
                    probs = segment(model, images).float()
            if self.kind == "detect":
                for p in preds:
                    cls = torch.zeros(k)
                    for c in range(k):
                        sel = p["scores"][p["labels"] == c]
                        cls[c] = sel.max() if len(sel) else 0.0
                    out["class_scores"].append(cls)
                    is_fb = torch.isin(p["labels"].cpu(), fb)
                    out["points"].append(points_from_boxes(p["boxes"].cpu()[is_fb], p["scores"].cpu()[is_fb]))
                    out["boxes"].append(p["boxes"])
                    out["scores"].append(p["scores"])
                    out["labels"].append(p["labels"])
            else:
                if agnostic:
                    dice.update(probs.max(dim=1, keepdim=True).values >= 0.5, batch["inst"].to(device)[:, None] > 0)
                else:
                    true = class_masks(batch["inst"].to(device), batch["inst_classes"], k)
                    dice.update(probs >= 0.5, true > 0.5)
                out["class_scores"] += list(probs.flatten(2).max(dim=2).values.cpu())
                preds = [{**p, "labels": fb[p["labels"]]} for p in peaks(probs[:, self.fb])]
                out["points"] += [p["points"] for p in preds]
            out["keys"] += batch["key"]
            out["scale"].append(batch["scale"])
            out["boxes_true"] += batch["boxes"]
            out["labels_true"] += batch["labels"]
            is_fb = [torch.isin(lab, fb) for lab in batch["labels"]]
            out["boxes_fb"] += [b.reshape(-1, 4)[k] for b, k in zip(batch["boxes"], is_fb)]
            out["labels_fb"] += [lab[k] for lab, k in zip(batch["labels"], is_fb)]
            out["present"].append(present(batch["inst_classes"], k))
            for i in range(images.shape[0]):
                if len(out["kept"]) < keep:
                    pred = ({**preds[i], "points": out["points"][-images.shape[0] + i]} if self.kind == "detect"
                            else {"points": preds[i]["points"], "probs": probs[i].cpu()})
                    out["kept"].append((images[i].float().cpu(), pred, batch["boxes"][i], batch["labels"][i]))
            if bar is not None:
                bar.update(images.shape[0])
        if not out["keys"]:
            raise ValueError("no samples to predict on")
        out["scale"] = torch.cat(out["scale"])
        out["present"] = torch.cat(out["present"]).numpy()
        out["class_scores"] = torch.stack(out["class_scores"]).numpy()
        out["image_score"] = out["class_scores"][:, self.fb].max(axis=1)
        out["positive"] = out["present"][:, self.fb].any(axis=1)
        out["dice"] = dice.aggregate() if dice is not None else None
        return out

    def report(self, result: dict, threshold: float = 0.5, agnostic: bool = False, min_box_px: float = 0.0) -> dict:
        """FROC, mAP (detect), Dice/IoU (segment) and image-level AUROC, per class; JSON-ready.
        `agnostic`: every object and prediction as one class "object" (labelled sets whose class
        names are not the model's). `min_box_px`: FROC's `min_side` (`LocTask.min_box_px_for`). "froc"
        also holds "curve_result", froc()'s whole result."""
        positive = result["positive"]
        score = result["image_score"]
        rep = {"task": self.kind, "n": len(result["keys"]), "classes": self.fg,
               "foreign_body_classes": [self.fg[i] for i in self.fb],
               "froc": _froc_summary(froc(result["points"], result["boxes_fb"], min_side=min_box_px))}
        if self.kind == "detect":
            def relabel(lab):
                return torch.ones_like(lab) if agnostic else lab + 1

            preds = [{"boxes": b, "scores": s, "labels": relabel(lab)}
                     for b, s, lab in zip(result["boxes"], result["scores"], result["labels"])]
            targets = [{"boxes": b.reshape(-1, 4), "labels": relabel(lab)}
                       for b, lab in zip(result["boxes_true"], result["labels_true"])]
            rep["map"] = detection_map(preds, targets, ["object"] if agnostic else self.fg)
        else:
            rep["dice_iou"] = result["dice"]
        rep["image_level"] = {
            "score": "highest box score" if self.kind == "detect" else "highest pixel probability",
            "positives": int(positive.sum()), "negatives": int((~positive).sum()),
            "auroc_any": _clean(auroc(score, positive)),
            "threshold": threshold,
            "sensitivity": _clean(float((score[positive] >= threshold).mean()) if positive.any() else math.nan),
            "specificity": _clean(float((score[~positive] < threshold).mean()) if (~positive).any() else math.nan),
            "per_class_auroc": ({"object": _clean(auroc(score, positive))} if agnostic else
                                {name: _clean(auroc(result["class_scores"][:, c], result["present"][:, c]))
                                 for c, name in enumerate(self.fg)}),
        }
        return rep

    @staticmethod
    def min_box_px_for(source: str) -> float:
        """`report`'s min_box_px (FROC's `min_side`) for predictions on `source`:
        BUILD_MIN_BOX_PX on a build, 0 (the object-CXR challenge's rule: human-drawn boxes,
        scored as drawn) on a labelled set."""
        return float(BUILD_MIN_BOX_PX) if is_build(source) else 0.0

    @staticmethod
    def headline(report: dict) -> tuple[str, float | None]:
        """The validation metric runs are compared by: the FROC score, else the image-level AUROC."""
        value = report["froc"]["mean"]
        if value is not None:
            return "froc_mean", float(value)
        return "auroc_any", report["image_level"]["auroc_any"]


def _clean(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _froc_summary(result: dict) -> dict:
    """froc()'s figures, NaN -> None, and its whole result as "curve_result" (for plots and the
    negatives' thresholds; the caller drops it before writing JSON)."""
    return {"sensitivity": {k: _clean(v) for k, v in result["sensitivity"].items()}, "mean": _clean(result["mean"]),
            "images": result["images"], "objects": result["objects"], "points": result["points"],
            "min_box_px": result["min_side"],
            "thresholds": result["thresholds"], "curve_result": result}

