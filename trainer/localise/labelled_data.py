"""Training and validation loaders over labelled real films (COCO .json, object-CXR .csv, YOLO
folder), for fine-tuning a localiser on real data (`radiopaque train --task detect --data
dev.csv --init SYNTHETIC/best.pt`) and the three-arm experiment.

Items are `trainer.labelled.loc_dataset.LabelledLocDataset`'s sample dicts (the stream's shape,
`samples`). The split follows the plain-data rules (`trainer.data.plain_split`: whole patients
held out by the generator's grouping rules on the image names) and the rank rule through
`trainer.plain.EpochSampler`. With `crop`, each item is cut by `crops.crop_sample`, its window
drawn from a generator seeded by (seed, epoch, index).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from trainer.data import Data, plain_split
from trainer.plain import EpochSampler
from trainer.rng import LOADER, derive_seed
from trainer.split import plain_groups

from .crops import CROP_TAG, crop_sample
from .targets import collate_loc


class LabelledSubset(Dataset):
    """`indices` of a LabelledLocDataset, cropped when `crop` is set."""

    def __init__(self, base, indices: list[int], *, crop: int | None, seed: int, object_p: float = 0.7,
                 hard_p: float = 0.0):
        self.base, self.indices, self.crop, self.seed = base, indices, crop, seed
        self.object_p, self.hard_p = object_p, hard_p
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict:
        item = self.base[self.indices[i]]
        if self.crop is None:
            return item
        rng = np.random.default_rng([self.seed, CROP_TAG, self.epoch, self.indices[i]])
        return crop_sample(item, self.crop, rng, self.object_p, self.hard_p)


def open_labelled_loc_data(source: str, *, classes: list[str], subset: str, train: bool, cfg_seed: int,
                           image_size: int, batch_size: int, loader_workers: int, crop: int | None = None,
                           hard_negatives: float = 0.0, object_crops: float = 0.7, val_fraction: float = 0.0,
                           split_seed: int = 0, rank: int = 0, world_size: int = 1,
                           pin_memory: bool = False) -> Data:
    from trainer.labelled.loc_dataset import LabelledLocDataset
    from trainer.labelled.read import read_labelled

    labelled = read_labelled(source)
    base = LabelledLocDataset(labelled, classes=classes, image_size=image_size)
    names = [im.name for im in labelled.images]
    indices = list(range(len(names))) if subset == "all" else plain_split(plain_groups(names), val_fraction,
                                                                         split_seed, subset)
    ds = LabelledSubset(base, indices, crop=crop if train else None, seed=cfg_seed, object_p=object_crops,
                        hard_p=hard_negatives)
    sampler = EpochSampler(len(ds), seed=cfg_seed, rank=rank, world_size=world_size, shuffle=train)
    loader = DataLoader(ds, sampler=sampler, batch_size=batch_size, num_workers=loader_workers,
                        pin_memory=pin_memory, collate_fn=collate_loc,
                        generator=torch.Generator().manual_seed(derive_seed(cfg_seed, LOADER, rank)))
    counts = np.zeros(len(classes), dtype=np.int64)
    for i in indices:
        im = labelled.images[i]
        for name in {labelled.class_names[int(lab) - 1] for lab in im.labels.tolist()} or {"none"}:
            if name in classes:
                counts[classes.index(name)] += 1
    return Data(ds, loader, math.ceil(len(sampler) / batch_size), counts, False)
