"""Streaming a build for localisation: each sample's image with its boxes, labels and instance map.

`LocStream` is `trainer.stream.ShardStream` (the same rank rule, shuffle, patient split and
corrupt-sample skipping) reading two more fields of each stored sample, `objects` and
`mask_png`. A sample comes out as a dict:

    image         (1, S, S) float32 in [0, 1]   the film resized to S = image_size (squashed
                                                square, as the classifiers read it), or, with
                                                `crop`, a (1, P, P) window of that
    inst          (S, S) / (P, P) uint8          instance ids, resized with nearest neighbour
    boxes         (N, 4) float32 xyxy            in the same pixels; objects cut by a crop
    labels        (N,) int64                     are kept when >= 40 % visible
    inst_classes  (M,) int64                     fg class of instance id k + 1 (all objects)
    scale         (2,) float32                   (sx, sy) model pixels per stored pixel
    key           str                            "shard-path:sample-key"

Crop windows are drawn by `crops.choose_crop` from a generator seeded by (seed, epoch, rank,
crc32(key)): explicit, and the same sample gets a new window each epoch.
"""

from __future__ import annotations

import io
import logging
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from trainer.data import Data
from trainer.rng import LOADER, derive_seed
from trainer.stream import Build, Record, ShardRef, ShardStream, decode_image, is_build

from .crops import CROP_TAG, crop_sample
from .targets import collate_loc, foreground, object_boxes, object_classes, with_box

log = logging.getLogger(__name__)


class LocBuild(Build):
    """A build whose records also carry objects and the instance map, checked as untrusted input
    by `trainer.shard_read` (a malformed member is skipped and counted like a corrupt image)."""

    targets = True


def decode_mask(data: bytes) -> torch.Tensor:
    """Instance-id PNG -> (H, W) uint8. A header claiming more than
    `generator.output.limits.MAX_IMAGE_PIXELS` (a decompression bomb) or a map that is not 8-bit
    grey raises ValueError before decoding: the stream skips and counts the sample."""
    from PIL import Image

    from generator.output.limits import image_size_problem

    problem = image_size_problem(data)
    if problem:
        raise ValueError(f"instance map: {problem}")
    with Image.open(io.BytesIO(data)) as img:
        if img.mode != "L":
            raise ValueError(f"instance map is mode {img.mode}, expected 8-bit grey (L)")
        return torch.from_numpy(np.array(img, dtype=np.uint8))


def resize_ids(ids: torch.Tensor, size: int) -> torch.Tensor:
    """(H, W) uint8 ids -> (size, size), nearest neighbour."""
    if ids.shape == (size, size):
        return ids
    return F.interpolate(ids[None, None].float(), size=(size, size), mode="nearest")[0, 0].to(torch.uint8)


class LocStream(ShardStream):
    """A build's samples with localisation targets (see the module docstring). `crop`: None (the
    whole film at `image_size`) or P (random P x P windows of the film at `image_size`, objects
    oversampled with probability `object_p`, the others around a bright structure with `hard_p`:
    `crops.choose_crop`)."""

    def __init__(self, url: str, *, crop: int | None = None, object_p: float = 0.7, hard_p: float = 0.0, **kwargs):
        super().__init__(url, **kwargs)
        self.build = LocBuild(url, kwargs.get("fmt"))
        self.fg = foreground(self.classes)
        self.crop, self.object_p, self.hard_p = crop, object_p, hard_p

    def _sample(self, shard: ShardRef, record: Record):
        key = f"{shard.path}:{record.key}"
        try:
            image = decode_image(record.image, self.image_size)  # (1, S, S)
            ids = decode_mask(record.mask_png)
            return self.targets(image, ids, record.objects, key)
        except (OSError, SyntaxError, ValueError) as exc:  # ValueError: a bomb, or an object class not ours
            self.skipped += 1
            log.warning("skipped corrupt sample %s (%s: %s); %d skipped by this reader",
                        key, type(exc).__name__, exc, self.skipped)
            return None

    def targets(self, image: torch.Tensor, ids: torch.Tensor, objects, key: str) -> dict:
        """The sample dict from a resized (1, S, S) image, the stored (H, W) instance map and objects."""
        s = self.image_size
        h, w = ids.shape
        sx, sy = s / w, s / h
        inst_classes = object_classes(objects, self.fg, key)
        boxes, labels = with_box(object_boxes(objects, sx, sy), inst_classes)
        item = {"image": image, "inst": resize_ids(ids, s), "boxes": boxes, "labels": labels,
                "inst_classes": inst_classes, "scale": torch.tensor([sx, sy], dtype=torch.float32), "key": key}
        if self.crop is not None:
            rng = np.random.default_rng([self.seed, CROP_TAG, self.epoch, self.rank, zlib.crc32(key.encode())])
            item = crop_sample(item, self.crop, rng, self.object_p, self.hard_p)
        return item


def loc_classes(source: str) -> list[str]:
    """The model's classes for `source`: a build's, or "none" plus a labelled set's names."""
    if is_build(source):
        return Build(source).classes
    from trainer.labelled.read import read_labelled

    return ["none", *read_labelled(source).class_names]


def open_loc_data(source: str, *, classes: list[str], subset: str, train: bool, cfg_seed: int, image_size: int,
                  batch_size: int, loader_workers: int, crop: int | None = None, hard_negatives: float = 0.0,
                  object_crops: float = 0.7, val_fraction: float = 0.0,
                  split_seed: int = 0, rank: int = 0, world_size: int = 1, shuffle_buffer: int = 512,
                  pin_memory: bool = False, **_ignored) -> Data:
    """`trainer.data.open_data` for localisation: a build, or a labelled set (COCO .json,
    object-CXR .csv, YOLO folder: `labelled_data`). `crop`, `object_crops` (the share of crops
    drawn around an object) and `hard_negatives` (the share of the other crops drawn around a
    bright structure) apply to training loaders only."""
    rank, world_size = (rank, world_size) if train else (0, 1)
    if not is_build(source):
        from .labelled_data import open_labelled_loc_data

        return open_labelled_loc_data(source, classes=classes, subset=subset, train=train, cfg_seed=cfg_seed,
                                      image_size=image_size, batch_size=batch_size, loader_workers=loader_workers,
                                      crop=crop, hard_negatives=hard_negatives, object_crops=object_crops,
                                      val_fraction=val_fraction,
                                      split_seed=split_seed, rank=rank, world_size=world_size,
                                      pin_memory=pin_memory)
    ds = LocStream(source, classes=classes, subset=subset, val_fraction=val_fraction, split_seed=split_seed,
                   seed=cfg_seed, shuffle=train, rank=rank, world_size=world_size, drop_remainder=train,
                   image_size=image_size, shuffle_buffer=shuffle_buffer, crop=crop if train else None,
                   object_p=object_crops, hard_p=hard_negatives)
    loader = DataLoader(ds, batch_size=batch_size, num_workers=loader_workers, pin_memory=pin_memory,
                        collate_fn=collate_loc,
                        generator=torch.Generator().manual_seed(derive_seed(cfg_seed, LOADER, rank)))
    return Data(ds, loader, ds.batches_per_epoch(batch_size, loader_workers), ds.build.class_counts(), False)

