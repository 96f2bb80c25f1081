"""One labelled image as every reader returns it, the set they return, and the reader's error.

Coordinates: pixels, origin at the top-left corner of the top-left pixel, x to the right,
y down; pixel (row r, column c) covers [c, c + 1) x [r, r + 1), its centre at (c + 0.5, r + 0.5).
Boxes are xyxy in those coordinates (a box of the single pixel (0, 0) is [0, 0, 1, 1]).

Labels are 1-based, 0 being the background (the torchvision detection convention, and
`trainer.localise.detection_metrics`): label l names `LabelledSet.class_names[l - 1]`.

Masks are kept compact, as one COCO compressed RLE per object (`masks_rle`), and decoded on
demand by `LabelledImage.masks`: a 2,500 x 2,000 film holds 5 MB per decoded mask.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from trainer.labelled.errors import LabelError

EDGE_SLACK_PX = 0.01


@dataclass(frozen=True, kw_only=True, eq=False)
class LabelledImage:
    """An image file and its objects.

    Attributes:
        path: the image file (the reader's root joined with the file's own path).
        height, width: image size in pixels.
        boxes: (N, 4) float32, xyxy pixels (see the module docstring).
        labels: (N,) int64, 1-based class labels.
        masks_rle: one COCO compressed RLE dict ({"size": [H, W], "counts": str}) per object,
            or None where the format has boxes only (YOLO detection, COCO without segmentation).
        name: the image as the labelled file names it (object-CXR `image_path`, COCO
            `file_name`, YOLO path under the dataset folder): the key of a submission CSV's row.
            Defaults to `path`.
    """

    path: str
    height: int
    width: int
    boxes: torch.Tensor
    labels: torch.Tensor
    masks_rle: tuple[dict, ...] | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.path)
        n = self.boxes.shape[0]
        if self.boxes.shape != (n, 4) or self.boxes.dtype != torch.float32:
            raise ValueError(f"boxes must be (N, 4) float32, got {tuple(self.boxes.shape)} {self.boxes.dtype}")
        if self.labels.shape != (n,) or self.labels.dtype != torch.int64:
            raise ValueError(f"labels must be ({n},) int64, got {tuple(self.labels.shape)} {self.labels.dtype}")
        if self.masks_rle is not None and len(self.masks_rle) != n:
            raise ValueError(f"{len(self.masks_rle)} masks for {n} boxes")

    @property
    def masks(self) -> torch.Tensor | None:
        """(N, H, W) uint8 (1 inside) decoded from `masks_rle`, or None without masks."""
        if self.masks_rle is None:
            return None
        if not self.masks_rle:
            return torch.zeros(0, self.height, self.width, dtype=torch.uint8)
        from pycocotools import mask as mask_utils

        decoded = mask_utils.decode([_bytes_counts(r) for r in self.masks_rle])  # (H, W, N) uint8
        return torch.from_numpy(np.ascontiguousarray(decoded.transpose(2, 0, 1)))

    def target(self) -> dict:
        """The torchvision detection target: {"boxes", "labels"} (+ "masks" (N, H, W) uint8)."""
        out = {"boxes": self.boxes, "labels": self.labels}
        if self.masks_rle is not None:
            out["masks"] = self.masks
        return out


@dataclass(frozen=True, kw_only=True, eq=False)
class LabelledSet:
    """What a reader returns: the images in file order, the class names, the format read."""

    images: tuple[LabelledImage, ...]
    class_names: tuple[str, ...]
    format: str


def _bytes_counts(rle: dict) -> dict:
    counts = rle["counts"]
    return {"size": list(rle["size"]), "counts": counts.encode() if isinstance(counts, str) else counts}


def encode_mask(mask: np.ndarray) -> dict:
    """(H, W) bool/uint8 -> COCO compressed RLE with str counts (JSON-ready)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode()}


def image_size(path: str) -> tuple[int, int]:
    """(height, width) of an image file from its header alone (PIL opens lazily, no decode).

    Raises FileNotFoundError when absent, OSError (PIL's UnidentifiedImageError) when not an image.
    """
    from PIL import Image

    with Image.open(path) as im:
        width, height = im.size
    return int(height), int(width)


def check_inside(box: Sequence[float], height: int, width: int, file: str, where, what: str = "box") -> None:
    """LabelError unless box xyxy lies within the (height, width) image, give or take
    `EDGE_SLACK_PX` (float round-off in files that store x + w, never a real overhang)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    e = EDGE_SLACK_PX
    if x1 < -e or y1 < -e or x2 > width + e or y2 > height + e:
        raise LabelError(file, where, f"{what} [{x1:g}, {y1:g}, {x2:g}, {y2:g}] lies outside the "
                                      f"{width}x{height} image (x in [0, {width}], y in [0, {height}])")


def resolve_image(root: str, rel: str, file: str, where) -> tuple[str, int, int]:
    """(path, height, width) of image `rel` under `root`; LabelError when missing or not an image."""
    path = rel if os.path.isabs(rel) else os.path.join(root, rel)
    try:
        height, width = image_size(path)
    except FileNotFoundError:
        raise LabelError(file, where, f"image not found: {path}") from None
    except OSError as exc:
        raise LabelError(file, where, f"not a readable image: {path} ({exc})") from None
    return path, height, width
