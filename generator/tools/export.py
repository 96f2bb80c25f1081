"""`radiopaque export BUILD OUT --format coco|yolo`: a build in the formats other detectors read.

COCO (detectron2 `register_coco_instances(name, {}, OUT/annotations.json, OUT)`, with
`INPUT.MASK_FORMAT bitmask` for the RLE masks, mmdetection
`CocoDataset`, torchvision `CocoDetection(OUT, OUT/annotations.json)`):

    OUT/images/KEY.jpg|png          the build's image bytes, unchanged
    OUT/annotations.json            images (id 1.., file_name "images/KEY.ext", height, width,
                                    key, group_id), categories (the build's classes less "none",
                                    id = 1.. in the build's class order, so id = the build's
                                    class index when "none" comes first), annotations (bbox
                                    [x, y, w, h] from the object's bbox_xyxy, segmentation as
                                    compressed RLE, area = its pixels, iscrowd 0)

YOLO (ultralytics `YOLO(...).train(data="OUT/data.yaml")`, darknet):

    OUT/images/KEY.jpg|png
    OUT/labels/KEY.txt              "CLASS cx cy w h" per object, normalised to [0, 1], 6 decimals;
                                    an empty file for an image without objects (a background image)
    OUT/classes.txt                 one class name per line, CLASS 0 first
    OUT/data.yaml                   path (absolute, local OUT only), train and val (both "images":
                                    export a second build for a separate validation set), names

Masks come from each sample's instance-id map (`mask_png`; object k is the pixels of id k + 1,
the map the build's masks are drawn from, where a later object covers an earlier one); boxes
from `bbox_xyxy` (x1, y1 exclusive: a box [x0, y0, x1, y1] is COCO [x0, y0, x1 - x0, y1 - y0]).
An object with no pixel in the image (bbox_xyxy null) is left out and counted. Shards are read
one at a time, in the order `Manifest.shards_to_read` gives; OUT may be a local folder or an
fsspec URL, and must be new or empty. In a local OUT, image and label files are written without
an fsync each (a killed export is simply run again into a new folder); annotations.json and
data.yaml, the files that say an export is complete, are written last and durably.
"""

from __future__ import annotations

import io
import json
import logging
import os
from dataclasses import dataclass

import numpy as np

from generator.errors import ConfigError
from generator.output.manifest import read_manifest
from generator.output.sample import ShardSample
from generator.output.storage import Store, StoreError

log = logging.getLogger(__name__)

EXPORT_FORMATS = ("coco", "yolo")
NONE_CLASS = "none"


@dataclass(frozen=True, kw_only=True)
class ExportReport:
    """What an export wrote: images, objects, objects left out for having no pixel."""

    images: int
    objects: int
    skipped_objects: int
    out: str


def instance_masks(sample: ShardSample) -> np.ndarray:
    """(H, W) uint8 instance-id map of a sample: 0 background, k + 1 = object k. A map of
    another size than the image is a StoreError (a build that cannot be read)."""
    from PIL import Image

    with Image.open(io.BytesIO(sample.mask_png)) as im:
        ids = np.asarray(im)
    if ids.shape != (sample.height, sample.width):
        raise StoreError(f"sample {sample.key}: mask_png is {ids.shape}, the image {sample.height}x{sample.width}")
    return ids


def coco_rle(mask: np.ndarray) -> dict:
    """(H, W) bool -> COCO compressed RLE {"size": [H, W], "counts": str}."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode()}


def _yolo_line(cls: int, box: list[float], height: int, width: int) -> str:
    x0, y0, x1, y1 = box
    values = ((x0 + x1) / 2 / width, (y0 + y1) / 2 / height, (x1 - x0) / width, (y1 - y0) / height)
    return f"{cls} " + " ".join(f"{v:.6f}" for v in values)


class _Writer:
    """Writes export files under OUT: through `Store.write_atomic` (durable, any fsspec URL), or,
    for the many image and label files of a local OUT, by a temporary name and a rename without
    an fsync each (a killed export is run again; one fsync per small file would dominate)."""

    def __init__(self, store: Store, out: str):
        self.store = store
        self.root = None if "://" in out else os.path.abspath(out)

    def bulk(self, rel: str, data: bytes) -> None:
        if self.root is None:
            self.store.write_atomic(rel, data)
            return
        final = os.path.join(self.root, *rel.split("/"))
        os.makedirs(os.path.dirname(final), exist_ok=True)
        tmp = f"{final}.tmp-export"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, final)
        except OSError as exc:
            raise StoreError(f"{exc.strerror or exc} writing {final}") from exc


def _data_yaml(out: str, local: bool, names: list[str]) -> str:
    # JSON strings are YAML scalars: names with ':' or quotes stay safe without a YAML writer.
    lines = [f"path: {json.dumps(os.path.abspath(out))}"] if local else []
    lines += ["train: images", "val: images", "names:"]
    lines += [f"  {i}: {json.dumps(name)}" for i, name in enumerate(names)]
    return "\n".join(lines) + "\n"


def export_build(build: str, out: str, *, fmt: str, progress: bool = True) -> ExportReport:
    """Write the build at `build` (folder or URL) to `out` in `fmt` ("coco" or "yolo").

    Raises:
        ConfigError: an unknown format, or `out` holds files already.
        StoreError, ManifestError: the build cannot be read (an object class or an instance map
            that does not fit it included), or `out` cannot be written.
    """
    from tqdm import tqdm

    from generator.output.formats import iter_build

    if fmt not in EXPORT_FORMATS:
        raise ConfigError("--format", fmt, ", ".join(EXPORT_FORMATS))
    manifest = read_manifest(Store(build, create=False))
    names = [c for c in manifest.classes if c != NONE_CLASS]
    category = {name: n for n, name in enumerate(names)}  # 0-based: YOLO class; COCO id = n + 1
    store = Store(out)
    if store.listdir():
        raise ConfigError("OUT", out, "a new or empty folder (it holds files already)")
    writer = _Writer(store, out)
    total = manifest.totals.samples if manifest.totals else None
    images, annotations, objects, skipped = [], [], 0, 0
    bar = tqdm(total=total, desc=f"export {fmt}", unit="img", disable=not progress)
    for sample in iter_build(build):
        name = f"images/{sample.key}.{sample.image_format}"
        writer.bulk(name, sample.image)
        image_id = len(images) + 1
        ids = instance_masks(sample) if sample.objects else None
        lines = []
        for k, obj in enumerate(sample.objects):
            box = obj.get("bbox_xyxy")
            if box is None:
                skipped += 1
                continue
            if obj.get("class") not in category:
                raise StoreError(f"{build}: sample {sample.key} has an object of class {obj.get('class')!r}, "
                                 f"not one of its manifest's classes {names}")
            cls = category[obj["class"]]
            objects += 1
            if fmt == "yolo":
                lines.append(_yolo_line(cls, box, sample.height, sample.width))
                continue
            mask = ids == k + 1
            x0, y0, x1, y1 = box
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": cls + 1,
                                "bbox": [x0, y0, x1 - x0, y1 - y0], "area": int(mask.sum()),
                                "segmentation": coco_rle(mask), "iscrowd": 0})
        if fmt == "yolo":
            writer.bulk(f"labels/{sample.key}.txt", "".join(f"{line}\n" for line in lines).encode())
        images.append({"id": image_id, "file_name": name, "height": sample.height, "width": sample.width,
                       "key": sample.key, **({"group_id": sample.meta["group_id"]}
                                             if "group_id" in sample.meta else {})})
        bar.update(1)
    bar.close()
    if fmt == "coco":
        doc = {"info": {"description": "radiopaque build export", "classes": list(manifest.classes)},
               "images": images, "annotations": annotations,
               "categories": [{"id": n + 1, "name": name, "supercategory": "foreign_body"}
                              for n, name in enumerate(names)]}
        store.write_atomic("annotations.json", json.dumps(doc).encode())
    else:
        store.write_atomic("classes.txt", "".join(f"{n}\n" for n in names).encode())
        store.write_atomic("data.yaml", _data_yaml(out, "://" not in out, names).encode())
    if skipped:
        log.info("%d object(s) with no pixel in their image left out", skipped)
    return ExportReport(images=len(images), objects=objects, skipped_objects=skipped, out=out)
