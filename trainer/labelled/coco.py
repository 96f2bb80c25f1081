"""COCO instances JSON (the detectron2 / mmdetection / torchvision `coco_utils` format): read.

Reads "images" (`id`, `file_name` relative to the root, `height`, `width`; a missing size is
read from the image header), "categories" (`id`, `name`) and "annotations" (`image_id`,
`category_id`, `bbox` [x, y, w, h] pixels, `segmentation`, `iscrowd`). Segmentations may be
polygons (a list of [x1, y1, x2, y2, ...]), uncompressed RLE ({"size", "counts": [int, ...]})
or compressed RLE ({"size", "counts": str}); pycocotools turns each into one compressed RLE.

Labels: categories sorted by id get labels 1, 2, ... (COCO ids need not be contiguous); the
set's class names are theirs in that order. Crowd annotations (`iscrowd` 1) mark regions to
ignore, not objects: they are left out (and counted in the log). An image's `masks_rle` is
None unless every one of its annotations has a segmentation.

Errors are `LabelError(file, "annotations[i] (id N)" or "images[i]", reason)`.
"""

from __future__ import annotations

import json
import logging
import math
import os

import torch

from trainer.labelled.errors import LabelError
from trainer.labelled.record import LabelledImage, LabelledSet, check_inside, resolve_image

log = logging.getLogger(__name__)


def _number(value, file: str, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LabelError(file, where, f"{what} must be a finite number, got {value!r}")
    return float(value)


def _rle(seg, height: int, width: int, file: str, where: str) -> dict:
    """A COCO segmentation -> one compressed RLE with str counts."""
    from pycocotools import mask as mask_utils

    if isinstance(seg, list):
        if not seg or not all(isinstance(p, list) for p in seg):
            raise LabelError(file, where, "polygon segmentation must be a non-empty list of coordinate lists")
        for p in seg:
            for v in p:
                _number(v, file, where, "polygon coordinate")
            if len(p) % 2:
                raise LabelError(file, where, f"polygon has an odd number of coordinates ({len(p)})")
            if len(p) < 6:
                raise LabelError(file, where, f"polygon needs at least 3 points, got {len(p) // 2}")
            xs, ys = p[0::2], p[1::2]
            check_inside([min(xs), min(ys), max(xs), max(ys)], height, width, file, where, what="polygon")
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
    elif isinstance(seg, dict) and "counts" in seg and "size" in seg:
        if list(seg["size"]) != [height, width]:
            raise LabelError(file, where, f"RLE size {seg['size']} differs from the image's [{height}, {width}]")
        counts = seg["counts"]
        if isinstance(counts, list):
            if not all(isinstance(c, int) and c >= 0 for c in counts) or sum(counts) != height * width:
                raise LabelError(file, where, f"uncompressed RLE counts must be integers >= 0 summing to "
                                              f"{height}x{width} = {height * width}")
            rle = mask_utils.frPyObjects(seg, height, width)
        elif isinstance(counts, str):
            rle = {"size": [height, width], "counts": counts.encode()}
        else:
            raise LabelError(file, where, f"RLE counts must be a list of integers or a string, got "
                                          f"{type(counts).__name__}")
    else:
        raise LabelError(file, where, "segmentation must be a list of polygons or an RLE dict with size and counts")
    return {"size": [height, width], "counts": rle["counts"].decode()}


def _images(doc: dict, file: str, root: str) -> tuple[dict, list]:
    by_id, order = {}, []
    for i, im in enumerate(doc["images"]):
        where = f"images[{i}]"
        if not isinstance(im, dict) or "id" not in im or not isinstance(im.get("file_name"), str):
            raise LabelError(file, where, "an image needs an id and a file_name")
        if im["id"] in by_id:
            raise LabelError(file, where, f"image id {im['id']!r} appears twice")
        if "height" in im and "width" in im:
            height, width = int(_number(im["height"], file, where, "height")), int(_number(im["width"], file,
                                                                                          where, "width"))
            if height <= 0 or width <= 0:
                raise LabelError(file, where, f"image size must be positive, got {height}x{width}")
            path = im["file_name"] if os.path.isabs(im["file_name"]) else os.path.join(root, im["file_name"])
            if not os.path.isfile(path):
                raise LabelError(file, where, f"image not found: {path}")
        else:
            path, height, width = resolve_image(root, im["file_name"], file, where)
        by_id[im["id"]] = {"path": path, "name": im["file_name"], "height": height, "width": width,
                           "boxes": [], "labels": [], "rles": []}
        order.append(im["id"])
    return by_id, order


def read_coco(path: str, *, root: str | None = None) -> LabelledSet:
    """Read a COCO instances JSON; `file_name`s are relative to `root` (default: the JSON's folder)."""
    root = os.path.dirname(os.path.abspath(path)) if root is None else root
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabelError(path, None, f"not a readable COCO JSON: {exc}") from None
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), list) for k in
                                            ("images", "annotations", "categories")):
        raise LabelError(path, None, "a COCO JSON needs lists 'images', 'annotations' and 'categories'")
    categories = {}
    for i, cat in enumerate(doc["categories"]):
        if not isinstance(cat, dict) or "id" not in cat or not isinstance(cat.get("name"), str):
            raise LabelError(path, f"categories[{i}]", "a category needs an id and a name")
        categories[cat["id"]] = cat["name"]
    ids = sorted(categories)
    label_of = {cid: n + 1 for n, cid in enumerate(ids)}
    images, order = _images(doc, path, root)
    crowd = 0
    for i, ann in enumerate(doc["annotations"]):
        where = f"annotations[{i}]" + (f" (id {ann['id']})" if isinstance(ann, dict) and "id" in ann else "")
        if not isinstance(ann, dict):
            raise LabelError(path, where, "an annotation must be an object")
        if ann.get("image_id") not in images:
            raise LabelError(path, where, f"image_id {ann.get('image_id')!r} is not in 'images'")
        if ann.get("category_id") not in label_of:
            raise LabelError(path, where, f"category_id {ann.get('category_id')!r} is not in 'categories' "
                                          f"(ids {ids})")
        if ann.get("iscrowd", 0):
            crowd += 1
            continue
        im = images[ann["image_id"]]
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise LabelError(path, where, f"bbox must be [x, y, w, h], got {bbox!r}")
        x, y, w, h = (_number(v, path, where, "bbox value") for v in bbox)
        if w <= 0 or h <= 0:
            raise LabelError(path, where, f"bbox width and height must be > 0, got {bbox}")
        box = [x, y, x + w, y + h]
        check_inside(box, im["height"], im["width"], path, where)
        im["boxes"].append(box)
        im["labels"].append(label_of[ann["category_id"]])
        seg = ann.get("segmentation")
        im["rles"].append(_rle(seg, im["height"], im["width"], path, where) if seg else None)
    if crowd:
        log.info("%s: %d crowd annotation(s) left out (regions to ignore, not objects)", path, crowd)
    out = []
    for image_id in order:
        im = images[image_id]
        rles = tuple(im["rles"]) if all(r is not None for r in im["rles"]) else None
        out.append(LabelledImage(path=im["path"], name=im["name"], height=im["height"], width=im["width"],
                                 boxes=torch.tensor(im["boxes"], dtype=torch.float32).reshape(-1, 4),
                                 labels=torch.tensor(im["labels"], dtype=torch.int64), masks_rle=rles))
    return LabelledSet(images=tuple(out), class_names=tuple(categories[c] for c in ids), format="coco")
