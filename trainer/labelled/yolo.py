"""YOLO (ultralytics / darknet) labels: one .txt per image, one object per line. Read.

    DATASET/images/.../NAME.jpg        an image
    DATASET/labels/.../NAME.txt        its objects: "CLASS cx cy w h", normalised to [0, 1]
    DATASET/classes.txt                class names, one per line (CLASS 0 is the first)
    DATASET/data.yaml                  or: ultralytics' `names` (list or {index: name}), `path`,
                                       and `train` / `val` / `test` image folders

The label file of an image is found the ultralytics way: the last "/images/" of its path
becomes "/labels/" and the extension ".txt"; an image without a label file, or with an empty
one, has no objects. A line with more than 5 numbers is a segmentation polygon
("CLASS x1 y1 x2 y2 ...", normalised): its box is the polygon's extent and it also gets a mask;
an image's `masks_rle` is None unless every one of its lines is a polygon.

`path` is a folder (with classes.txt or data.yaml), a data.yaml, or a classes.txt. Images are
every image file under DATASET/images (sorted); without that folder, those of every split
data.yaml lists (train, val, test: e.g. train/images, valid/images); with `split`, those of
data.yaml's entry.
YOLO class c gets label c + 1 (labels are 1-based, see `trainer.labelled.record`). Image sizes
come from the image headers. Errors are `LabelError(label file, line, reason)`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from trainer.labelled.errors import LabelError
from trainer.labelled.record import LabelledImage, LabelledSet, check_inside, encode_mask, resolve_image
from trainer.labelled.shapes import shape_mask

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
YAML_SPLITS = ("train", "val", "test")


def _names_from_yaml(path: Path) -> tuple[list[str], dict]:
    import yaml

    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise LabelError(str(path), None, f"not a readable data.yaml: {exc}") from None
    names = doc.get("names") if isinstance(doc, dict) else None
    if isinstance(names, dict):
        if sorted(names) != list(range(len(names))):
            raise LabelError(str(path), None, f"names must be indexed 0..{len(names) - 1}, got {sorted(names)}")
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise LabelError(str(path), None, "data.yaml needs 'names': a list or an {index: name} map of class names")
    return names, doc


def _dataset(path: str) -> tuple[Path, list[str], dict]:
    """(dataset root, class names, data.yaml contents or {})."""
    p = Path(path)
    if p.is_dir():
        if (p / "classes.txt").is_file():
            p = p / "classes.txt"
        elif (p / "data.yaml").is_file():
            p = p / "data.yaml"
        else:
            raise LabelError(path, None, "a YOLO folder needs classes.txt or data.yaml")
    if not p.is_file():
        raise LabelError(path, None, "not found")
    if p.suffix in (".yaml", ".yml"):
        names, doc = _names_from_yaml(p)
        root = Path(doc.get("path") or ".")
        return (root if root.is_absolute() else p.parent / root), names, doc
    names = [line.strip() for line in p.read_text().splitlines() if line.strip()]
    if not names:
        raise LabelError(str(p), None, "classes.txt lists no class")
    doc = _names_from_yaml(p.parent / "data.yaml")[1] if (p.parent / "data.yaml").is_file() else {}
    return p.parent, names, doc


def label_path(image: str) -> str:
    """The ultralytics rule: .../images/X/NAME.ext -> .../labels/X/NAME.txt."""
    head, sep, tail = image.rpartition(f"{os.sep}images{os.sep}")
    if not sep:
        raise ValueError(f"{image}: a YOLO image lives under an 'images' folder")
    return os.path.splitext(f"{head}{os.sep}labels{os.sep}{tail}")[0] + ".txt"


def _parse_line(text: str, names: list[str], height: int, width: int, file: str, line: int):
    fields = text.split()
    try:
        values = [float(v) for v in fields]
    except ValueError:
        raise LabelError(file, line, f"non-numeric field in {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise LabelError(file, line, f"non-finite field in {text!r}")
    cls = values[0]
    if cls != int(cls) or not 0 <= cls < len(names):
        raise LabelError(file, line, f"class {fields[0]!r} is not an index 0..{len(names) - 1} of the classes")
    coords = np.array(values[1:], dtype=np.float64)
    if coords.size == 4:
        cx, cy, w, h = coords
        if w <= 0 or h <= 0:
            raise LabelError(file, line, f"box width and height must be > 0, got {text!r}")
        norm = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
        kind = None
    elif coords.size % 2:
        raise LabelError(file, line, f"polygon has an odd number of coordinates ({coords.size}) in {text!r}")
    elif coords.size < 6:
        raise LabelError(file, line, f"expected 'CLASS cx cy w h' or a polygon of >= 3 points, got {text!r}")
    else:
        norm = [coords[0::2].min(), coords[1::2].min(), coords[0::2].max(), coords[1::2].max()]
        kind = "polygon"
    # 1e-6 of slack: normalised values written with 6 decimals may round past 0 or 1
    if min(norm) < -1e-6 or max(norm) > 1 + 1e-6:
        shown = ", ".join(f"{float(v):.6g}" for v in norm)
        raise LabelError(file, line, f"box [{shown}] lies outside the image "
                                     "(normalised coordinates must be in [0, 1])")
    box = [min(max(v, 0.0), 1.0) * s for v, s in zip(norm, (width, height, width, height))]
    check_inside(box, height, width, file, line)
    mask = None
    if kind == "polygon":
        pixels = coords * np.tile([width, height], coords.size // 2)
        mask = encode_mask(shape_mask("polygon", pixels, height, width))
    return box, int(cls) + 1, mask


def _image_files(root: Path, doc: dict, split: str | None, where: str) -> list[str]:
    if split is not None:
        entries = doc.get(split)
        if entries is None:
            raise LabelError(where, None, f"data.yaml has no {split!r} entry")
    elif (root / "images").is_dir() or not any(doc.get(k) for k in YAML_SPLITS):
        entries = "images"
    else:  # e.g. train/images, valid/images: every split data.yaml lists
        entries = [e for k in YAML_SPLITS for e in ([doc[k]] if isinstance(doc.get(k), str) else doc.get(k) or [])]
    files = set()
    for entry in entries if isinstance(entries, list) else [entries]:
        folder = root / entry
        if not folder.is_dir():
            raise LabelError(where, None, f"image folder not found: {folder}")
        files.update(str(f) for f in folder.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
    return sorted(files)


def read_yolo(path: str, *, root: str | None = None, split: str | None = None) -> LabelledSet:
    """Read a YOLO dataset (see the module docstring); `root` overrides the dataset folder."""
    base, names, doc = _dataset(path)
    base = Path(root) if root is not None else base
    images = []
    for image in _image_files(base, doc, split, path):
        try:
            txt = label_path(image)
        except ValueError as exc:
            raise LabelError(path, None, str(exc)) from None
        image, height, width = resolve_image("", image, txt, None)
        boxes, labels, masks = [], [], []
        if os.path.isfile(txt):
            with open(txt) as f:
                for line, text in enumerate(f, start=1):
                    if text.strip():
                        box, label, mask = _parse_line(text, names, height, width, txt, line)
                        boxes.append(box)
                        labels.append(label)
                        masks.append(mask)
        rles = tuple(masks) if masks and all(m is not None for m in masks) else None
        images.append(LabelledImage(path=image, name=os.path.relpath(image, base), height=height, width=width,
                                    boxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                                    labels=torch.tensor(labels, dtype=torch.int64), masks_rle=rles))
    return LabelledSet(images=tuple(images), class_names=tuple(names), format="yolo")
