"""`read_labelled(path)`: open labelled real data in whichever of the supported formats it is.

    *.json                       COCO instances JSON            (trainer.labelled.coco)
    *.csv  image_path,annotation the object-CXR annotation CSV  (trainer.labelled.object_cxr)
    *.yaml, *.yml, classes.txt,
    or a folder with either      YOLO labels                    (trainer.labelled.yolo)

All return a `LabelledSet` of `LabelledImage`s (boxes xyxy pixels, 1-based labels, masks as
RLE where the format has them). Anything else is a `LabelError` naming the formats read.
"""

from __future__ import annotations

import csv
import os

from trainer.labelled.errors import LabelError
from trainer.labelled.record import LabelledSet

FORMATS = ("coco", "object-cxr", "yolo")


def detect_format(path: str) -> str:
    """The format of `path` by its name (and a CSV's header); LabelError when none fits."""
    lower = path.lower()
    if os.path.isdir(path) or lower.endswith((".yaml", ".yml")) or os.path.basename(lower) == "classes.txt":
        return "yolo"
    if lower.endswith(".json"):
        return "coco"
    if lower.endswith(".csv"):
        from trainer.labelled.object_cxr import PATH_COLUMNS

        try:
            with open(path, newline="") as f:
                header = next(csv.reader(f), [])
        except (OSError, UnicodeDecodeError) as exc:
            raise LabelError(path, None, f"cannot read: {exc}") from None
        if len(header) == 2 and header[0] in PATH_COLUMNS and header[1] == "annotation":
            return "object-cxr"
        raise LabelError(path, 1, f"a labelled CSV has the header 'image_path,annotation' (object-CXR), got "
                                  f"{','.join(header)!r}")
    raise LabelError(path, None, "not a labelled set: expected a COCO .json, an object-CXR .csv, or a YOLO "
                                 "folder / data.yaml / classes.txt")


def read_labelled(path: str, *, root: str | None = None, fmt: str | None = None) -> LabelledSet:
    """Read `path` as `fmt` (one of FORMATS; default: `detect_format`); image paths relative to `root`."""
    fmt = fmt or detect_format(path)
    if fmt == "coco":
        from trainer.labelled.coco import read_coco

        return read_coco(path, root=root)
    if fmt == "object-cxr":
        from trainer.labelled.object_cxr import read_object_cxr

        return read_object_cxr(path, root=root)
    if fmt == "yolo":
        from trainer.labelled.yolo import read_yolo

        return read_yolo(path, root=root)
    raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
