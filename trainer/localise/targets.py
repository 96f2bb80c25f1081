"""Localisation targets from a stored sample: boxes, labels and per-class masks. Pure tensor code.

A sample's `objects` (JSON list) hold per object its "class" (a class name of the build) and
"bbox_xyxy" (pixels, origin top-left, x2/y2 exclusive: the box's outer pixel edges); its
`mask_png` is the instance-id map, (H, W) uint8, 0 = background, k = objects[k - 1].

Classes: the model's `classes` (the build's, "none" included) minus "none" are the foreground
classes `fg`; a label is an object's index in `fg` (0-based). Detectors add 1 (0 = background).
Foreground classes that are not foreign bodies (`NOT_FOREIGN_BODY`: the support devices of a
`--distractors class` build) are learnt and localised like the others, but never make an image
"holds a foreign body": its score, its marks for FROC and its truth leave them out.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from generator.names import DEVICE_CLASS

NONE_CLASS = "none"
NOT_FOREIGN_BODY = (DEVICE_CLASS,)


def foreground(classes: Sequence[str]) -> list[str]:
    """The classes an object can have: `classes` without "none", in order."""
    return [c for c in classes if c != NONE_CLASS]


def foreign_body_indices(fg: Sequence[str]) -> list[int]:
    """Indices into `fg` of the foreign-body classes (all but `NOT_FOREIGN_BODY`); all of them
    when no class is left (a model of devices alone scores its devices)."""
    kept = [i for i, c in enumerate(fg) if c not in NOT_FOREIGN_BODY]
    return kept or list(range(len(fg)))


def object_classes(objects: Sequence[dict], fg: Sequence[str], where: str = "sample") -> torch.Tensor:
    """(M,) int64: each object's index in `fg`. An unknown class raises ValueError naming it."""
    out = []
    for obj in objects:
        name = obj.get("class")
        if name not in fg:
            raise ValueError(f"{where}: object class {name!r} is not one of the model's classes {list(fg)}")
        out.append(fg.index(name))
    return torch.tensor(out, dtype=torch.int64)


def object_boxes(objects: Sequence[dict], sx: float = 1.0, sy: float = 1.0) -> torch.Tensor:
    """(M, 4) float32 xyxy: each object's `bbox_xyxy` scaled by (sx, sy) (model pixels per stored
    pixel), objects without a box (fully clipped) as a zero-size box at the origin."""
    rows = [obj.get("bbox_xyxy") or [0, 0, 0, 0] for obj in objects]
    boxes = torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)
    return boxes * torch.tensor([sx, sy, sx, sy], dtype=torch.float32)


def with_box(boxes: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop zero-size boxes (objects clipped away): (N, 4), (N,)."""
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return boxes[keep], labels[keep]


def class_masks(inst: torch.Tensor, inst_classes: Sequence[torch.Tensor], num_fg: int) -> torch.Tensor:
    """Per-class masks from instance maps.

    inst: (B, H, W) integer instance ids (0 = background, k = object k-1 of the image);
    inst_classes: per image an (M_b,) int64 tensor, the fg class of each of its objects.
    Returns (B, num_fg, H, W) float32 in {0, 1} on `inst`'s device."""
    b = inst.shape[0]
    m = max([len(c) for c in inst_classes] + [int(inst.max()) if inst.numel() else 0])
    lut = torch.full((b, m + 1), num_fg, dtype=torch.int64, device=inst.device)  # num_fg: background slot
    for i, cls in enumerate(inst_classes):
        if len(cls):
            lut[i, 1:len(cls) + 1] = cls.to(inst.device)
    ids = inst.long().reshape(b, -1)
    per_pixel = lut.gather(1, ids).reshape(inst.shape)
    return F.one_hot(per_pixel, num_fg + 1)[..., :num_fg].permute(0, 3, 1, 2).float()


def pad_boxes(boxes: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, Nmax, 4) float32 boxes padded with zeros, and (B, Nmax) bool validity (Nmax >= 1)."""
    n = max([len(x) for x in boxes] + [1])
    out = torch.zeros(len(boxes), n, 4, dtype=torch.float32)
    valid = torch.zeros(len(boxes), n, dtype=torch.bool)
    for i, x in enumerate(boxes):
        out[i, :len(x)] = x.float().cpu()
        valid[i, :len(x)] = True
    return out, valid


def present(inst_classes: Sequence[torch.Tensor], num_fg: int) -> torch.Tensor:
    """(B, num_fg) bool: which classes each image holds (its image-level truth)."""
    out = torch.zeros(len(inst_classes), num_fg, dtype=torch.bool)
    for i, cls in enumerate(inst_classes):
        out[i, cls] = True
    return out


def collate_loc(items: list[dict]) -> dict:
    """A batch: image (B, 1, S, S), inst (B, S, S) uint8, scale (B, 2), and per image lists of
    boxes, labels, inst_classes and keys. All images of a batch have one size."""
    return {"image": torch.stack([x["image"] for x in items]), "inst": torch.stack([x["inst"] for x in items]),
            "scale": torch.stack([x["scale"] for x in items]), "boxes": [x["boxes"] for x in items],
            "labels": [x["labels"] for x in items], "inst_classes": [x["inst_classes"] for x in items],
            "key": [x["key"] for x in items]}
