"""The object-CXR challenge's annotation CSV: read and write.

    image_path,annotation
    train/00001.jpg,0 1240 960 1320 1050;2 500 600 540 610 520 660
    train/00002.jpg,

Format (jfhealthcare/object-CXR README, "Annotation"): one row per image; objects separated
by ";", each `TYPE x1 y1 x2 y2 ...` with TYPE 0 = rectangle and 1 = ellipse (given by their
bounding box x1 y1 x2 y2, x1 < x2 and y1 < y2) and 2 = polygon (x1 y1 ... xn yn, at least
3 vertices); pixels, origin top-left; an empty annotation is an image without objects. The
header's first column may be `image_path` or `image_name` (the released CSVs use the latter).

Every object has one class, "foreign_object" (label 1). Its box is the rectangle/ellipse box
or the polygon's extent; its mask holds the pixels whose centre lies inside the shape, so FROC
can score ellipses and polygons inside their shape (`froc(..., masks_per_image=...)`), as the
challenge does. Image sizes come from each image's header (the CSV carries none).

Errors are `LabelError(file, line, reason)`: an unknown type, a non-numeric or missing
coordinate, an odd number of polygon coordinates, an empty box, a shape outside the image, a
missing or unreadable image.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence

import numpy as np
import torch

from trainer.labelled.errors import LabelError
from trainer.labelled.record import LabelledImage, LabelledSet, check_inside, encode_mask, resolve_image
from trainer.labelled.shapes import shape_mask

CLASS_NAME = "foreign_object"
TYPES = {"0": "rectangle", "1": "ellipse", "2": "polygon"}
PATH_COLUMNS = ("image_path", "image_name")


def _parse_object(text: str, file: str, line: int) -> tuple[str, np.ndarray]:
    fields = text.split()
    if not fields:
        raise LabelError(file, line, f"empty object in {text!r} (objects are separated by ';')")
    kind = TYPES.get(fields[0])
    if kind is None:
        raise LabelError(file, line, f"unknown annotation type {fields[0]!r}; allowed: 0 (rectangle), "
                                     "1 (ellipse), 2 (polygon)")
    try:
        coords = np.array([float(v) for v in fields[1:]], dtype=np.float64)
    except ValueError:
        raise LabelError(file, line, f"non-numeric coordinate in {text!r}") from None
    if not np.isfinite(coords).all():
        raise LabelError(file, line, f"non-finite coordinate in {text!r}")
    if kind == "polygon":
        if coords.size % 2:
            raise LabelError(file, line, f"polygon has an odd number of coordinates ({coords.size}) in {text!r}")
        if coords.size < 6:
            raise LabelError(file, line, f"polygon needs at least 3 points, got {coords.size // 2} in {text!r}")
    elif coords.size != 4:
        raise LabelError(file, line, f"{kind} needs 4 coordinates x1 y1 x2 y2, got {coords.size} in {text!r}")
    elif not (coords[0] < coords[2] and coords[1] < coords[3]):
        raise LabelError(file, line, f"{kind} needs x1 < x2 and y1 < y2, got {text!r}")
    return kind, coords


def _box(kind: str, coords: np.ndarray) -> list[float]:
    if kind == "polygon":
        return [coords[0::2].min(), coords[1::2].min(), coords[0::2].max(), coords[1::2].max()]
    return coords.tolist()


def parse_row(rel: str, annotation: str, *, root: str, file: str, line: int) -> LabelledImage:
    """One CSV row -> LabelledImage (boxes, label 1, masks of the shapes)."""
    path, height, width = resolve_image(root, rel, file, line)
    objects = [_parse_object(t, file, line) for t in annotation.split(";")] if annotation.strip() else []
    boxes, rles = [], []
    for kind, coords in objects:
        box = _box(kind, coords)
        check_inside(box, height, width, file, line, what=kind)
        boxes.append(box)
        rles.append(encode_mask(shape_mask(kind, coords, height, width)))
    return LabelledImage(path=path, name=rel, height=height, width=width,
                         boxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                         labels=torch.ones(len(boxes), dtype=torch.int64), masks_rle=tuple(rles))


def read_object_cxr(path: str, *, root: str | None = None) -> LabelledSet:
    """Read an object-CXR annotation CSV; image paths are relative to `root` (default: the CSV's folder)."""
    root = os.path.dirname(os.path.abspath(path)) if root is None else root
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelError(path, None, f"cannot read: {exc}") from None
    if not rows or len(rows[0]) != 2 or rows[0][0] not in PATH_COLUMNS or rows[0][1] != "annotation":
        raise LabelError(path, 1, f"header must be 'image_path,annotation' (or image_name), got {rows[:1]}")
    images = []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2:
            raise LabelError(path, line, f"expected 2 fields image_path,annotation, got {len(row)}")
        images.append(parse_row(row[0], row[1], root=root, file=path, line=line))
    return LabelledSet(images=tuple(images), class_names=(CLASS_NAME,), format="object-cxr")


def format_rectangles(boxes: torch.Tensor) -> str:
    """(N, 4) xyxy -> "0 x1 y1 x2 y2;..." (rectangles; numbers as short as they stay exact)."""
    return ";".join("0 " + " ".join(f"{float(v):.10g}" for v in box) for box in boxes.reshape(-1, 4).tolist())


def write_object_cxr(path: str, rows: Sequence[tuple[str, str]]) -> None:
    """Write (image_path, annotation) rows, annotation as `format_rectangles` or the CSV's own text."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["image_path", "annotation"])
    writer.writerows(rows)
    with open(path, "w", newline="") as f:
        f.write(buf.getvalue())
