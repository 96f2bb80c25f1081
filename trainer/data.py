"""Opening labelled data for training and evaluation: a build, a folder of class subfolders or
a CSV, as one `Data` (dataset, loader, batches per epoch, class counts).

Builds go to `trainer.stream.ShardStream` (or `trainer.dali_stream.DaliStream`), folders and
CSVs to `trainer.plain.PlainDataset` with an `EpochSampler`. Training loaders shuffle per epoch
and split across ranks by the rank rule in `trainer.stream`'s docstring; the others read
everything once, in order, on one rank.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from generator.errors import ConfigError
from trainer.dali_stream import DaliStream
from trainer.errors import DataError
from trainer.plain import EpochSampler, PlainDataset, item_names, read_films, read_items
from trainer.rng import LOADER, derive_seed
from trainer.split import in_split, keeps, plain_groups, shared_group_count
from trainer.stream import Build, ShardStream, collate_raw, is_build

log = logging.getLogger(__name__)


@contextmanager
def as_option(option: str, source: str) -> Iterator[None]:
    """Turn a DataError about `source` into a ConfigError naming `option` (the CLI's form)."""
    try:
        yield
    except DataError as exc:
        raise ConfigError(option, source, exc.reason) from None


def data_classes(source: str, option: str = "--data") -> list[str]:
    """The class list of a build (manifest order) or of plain data (sorted names)."""
    with as_option(option, source):
        if is_build(source):
            return Build(source).classes
        return read_items(source)[1]


def plain_split(groups: int | Sequence[str], fraction: float, split_seed: int, subset: str) -> list[int]:
    """Sorted indices of `subset` ("train" or "val") of plain samples by the split rule of
    `trainer.split`: sample i is val when its group's draw from split_seed is below `fraction`,
    fixed whatever the seed, epoch or ranks. `groups`: each sample's group key, or a count n
    (each sample its own group)."""
    keys = [str(i) for i in range(groups)] if isinstance(groups, int) else list(groups)
    return [i for i, key in enumerate(keys) if keeps(subset, key, fraction, split_seed)]


def check_val_disjoint(data: str, val: str) -> None:
    """Refuse a `--val` build that shares a group (patient) with the `--data` build, from the
    groups their manifests record; warn when the check cannot be made."""
    if not (is_build(data) and is_build(val)):
        log.warning("--val %s: not checked for patients shared with --data %s (only builds record patient groups)",
                    val, data)
        return
    shared = shared_group_count(Build(data).manifest, Build(val).manifest)
    if shared is None:
        log.warning("--val %s: not checked for patients shared with --data %s (a manifest records no patient "
                    "groups: an older build)", val, data)
    elif shared:
        raise ConfigError("--val", val, f"a build with no patient of the training build ({shared} groups shared)")


@dataclass
class Data:
    """A dataset plus the loader built on it; `set_epoch` reaches the sampler or stream."""

    dataset: torch.utils.data.Dataset | DaliStream
    loader: DataLoader | DaliStream  # a DaliStream batches, decodes and moves to the device itself
    num_batches: int
    class_counts: np.ndarray
    raw: bool  # batches hold encoded images for the GPU decoder

    def set_epoch(self, epoch: int) -> None:
        for obj in (self.dataset, getattr(self.loader, "sampler", None)):
            if hasattr(obj, "set_epoch"):
                obj.set_epoch(epoch)


def open_data(source: str, *, classes: list[str], subset: str, train: bool, cfg_seed: int, image_size: int,
              task: str, batch_size: int, loader_workers: int, val_fraction: float = 0.0, split_seed: int = 0,
              rank: int = 0, world_size: int = 1, raw: bool = False, balance: str = "none",
              shuffle_buffer: int = 512, pin_memory: bool = False, dali_device: torch.device | None = None,
              option: str = "--data") -> Data:
    """A loader over a build, folder or CSV. `subset`: "all", "train" or "val" (the fixed split
    of `val_fraction`). Training loaders shuffle per epoch and split across ranks; the others
    read everything once, in order, on one rank. `dali_device`: read the build with DALI
    (`DaliStream`, `loader_workers` DALI threads), its batches already on that device. Data
    that cannot be used as given (`DataError`) is a ConfigError naming `option`."""
    with as_option(option, source):
        return _open_data(source, classes=classes, subset=subset, train=train, cfg_seed=cfg_seed,
                          image_size=image_size, task=task, batch_size=batch_size, loader_workers=loader_workers,
                          val_fraction=val_fraction, split_seed=split_seed, rank=rank, world_size=world_size,
                          raw=raw, balance=balance, shuffle_buffer=shuffle_buffer, pin_memory=pin_memory,
                          dali_device=dali_device)


def _open_data(source: str, *, classes, subset, train, cfg_seed, image_size, task, batch_size, loader_workers,
               val_fraction, split_seed, rank, world_size, raw, balance, shuffle_buffer, pin_memory,
               dali_device) -> Data:
    rank, world_size = (rank, world_size) if train else (0, 1)
    # A DataLoader draws its workers' base seed from `generator` each epoch, else from torch's global RNG.
    common = dict(batch_size=batch_size, num_workers=loader_workers, pin_memory=pin_memory,
                  generator=torch.Generator().manual_seed(derive_seed(cfg_seed, LOADER, rank)))
    if is_build(source):
        if balance == "sampler" and train:
            raise ConfigError("--balance", "sampler", "none, weights for builds (a stream has no sampler; "
                                                      "sampler works with folder/CSV data)")
        if dali_device is not None:
            dali = DaliStream(source, classes=classes, subset=subset, val_fraction=val_fraction,
                              split_seed=split_seed, seed=cfg_seed, shuffle=train, rank=rank, world_size=world_size,
                              drop_remainder=train, image_size=image_size, task=task, batch_size=batch_size,
                              device=dali_device, num_threads=max(loader_workers, 1), shuffle_buffer=shuffle_buffer)
            return Data(dali, dali, dali.num_batches, dali.build.class_counts(), False)
        ds = ShardStream(source, classes=classes, subset=subset, val_fraction=val_fraction, split_seed=split_seed,
                         seed=cfg_seed, shuffle=train, rank=rank, world_size=world_size, drop_remainder=train,
                         image_size=image_size, task=task, decode="raw" if raw else "cpu",
                         shuffle_buffer=shuffle_buffer)
        loader = DataLoader(ds, collate_fn=collate_raw if raw else None, **common)
        counts = ds.build.class_counts()
        return Data(ds, loader, ds.batches_per_epoch(batch_size, loader_workers), counts, raw)
    full = PlainDataset(source, classes=classes, image_size=image_size, task=task)
    indices = (list(range(len(full))) if subset == "all"
               else plain_split(plain_groups(full.names), val_fraction, split_seed, subset))
    ds = Subset(full, indices)
    labels = full.labels[indices]
    counts = np.bincount(labels, minlength=len(classes))
    weights = None
    if train and balance == "sampler":
        weights = 1.0 / np.maximum(counts[labels], 1)
    sampler = EpochSampler(len(ds), seed=cfg_seed, rank=rank, world_size=world_size, shuffle=train, weights=weights)
    loader = DataLoader(ds, sampler=sampler, **common)
    return Data(ds, loader, math.ceil(len(sampler) / batch_size), counts, False)


def open_negatives(source: str, *, classes: list[str], image_size: int, task: str, batch_size: int,
                   loader_workers: int, split: str | None = None, fractions=(), split_seed: int = 0,
                   none_class: str = "none") -> Data:
    """A loader over real films with no inserted object (a folder of images or a CSV of paths),
    every one labelled `none_class`, read once in path order. With `split`, only the films whose
    patient (group) falls in that split of the `generate --split` partition."""
    with as_option("--negatives", source):
        films = read_films(source)
    if split is not None:
        keep = in_split(item_names(source, [(f, none_class) for f in films]), split, fractions, split_seed)
        films = [f for f, k in zip(films, keep) if k]
        if not films:
            raise ConfigError("--negatives-split", split, f"a split holding some of the films of {source!r} "
                                                          "(none of their patients falls in it)")
    ds = PlainDataset(source, classes=classes, image_size=image_size, task=task,
                      items=[(f, none_class) for f in films])
    loader = DataLoader(ds, batch_size=batch_size, num_workers=loader_workers)
    return Data(ds, loader, math.ceil(len(ds) / batch_size), ds.class_counts(), False)
