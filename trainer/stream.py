"""Stream a generator build (WebDataset tar or Parquet shards) into training, without duplicates.

THE RANK RULE (how an epoch's samples are divided across ranks and loader workers, so that no
sample is read twice per epoch; `trainer.plain` and `trainer.dali_stream` follow it and point
here). Everything is a pure function of the data, `seed`, the epoch `e`, `rank`, `world_size`
and, for builds, `worker` and `num_workers`:

1. Subset: a fixed train/val split by group (patient) from `split_seed` (`trainer.split`: builds
   by their samples' group_id, counted per shard from the manifest; folders and CSVs by the
   generator's grouping rules on their paths). It never changes with the epoch, the seed or the
   number of ranks.
2. Epoch order: one list of the epoch's N samples, the same on every rank. Builds: the shards
   permuted by `(seed, e)` (`shard_order`), each shard's subset samples in shard order
   (`epoch_addresses`: [shard, position in the shard's subset] rows, so a rank's slice is known
   from the counts alone; the position is resolved to a sample while the shard is read).
   Folders and CSVs (`EpochSampler`): a permutation of the samples from `(seed, e)`, or with
   `--balance sampler` N weighted draws with replacement.
3. Ranks (`rank_bounds`), W = world_size: with `drop_remainder` (training) rank r reads the
   contiguous slice [r * (N // W), (r + 1) * (N // W)), so every rank takes the same number of
   steps, as DDP needs. REMAINDER: the last N % W samples of the epoch (< W of them, different
   ones each epoch because the order changes) are not seen that epoch. `drop_remainder=False`
   (evaluation on one rank) reads the near-equal parts [r * N // W, (r + 1) * N // W)
   (`part_bounds`), all N of them. DALI's webdataset reader cuts the list itself, into those
   near-equal parts, and each rank stops after N // W samples (`trainer.dali_stream`, point 3):
   the same count per rank, and the remainder is spread over the ranks with a longer part.
4. Loader workers. Builds: each rank's slice is cut again into `num_workers` contiguous
   `part_bounds` parts, so a worker reads about `1 / (world_size * num_workers)` of the shards
   (at most two of them partly) and no address is read by two workers. Folders and CSVs: the
   sampler runs in the main process and the DataLoader hands whole batches of its indices to
   the workers in turn, so no index reaches two workers. DALI: its own threads, one reader.
5. Within a build's loader worker, a shuffle buffer seeded by `(seed, e, rank, worker)` mixes
   samples across the shards it reads.

Samples come out as `(image, target, key)`: image (1, S, S) float32 in [0, 1] (or, with
`decode="raw"`, the encoded bytes as a uint8 tensor for batched GPU decoding, see
`GpuDecoder`), target an int class index (multiclass) or a float multi-hot (C,) vector
(multilabel), key "shard-path:sample-key". `trainer.dali_stream` reads the same subsets of a
tar build with DALI (read, decode and resize in batches).

Shards are untrusted input (`trainer.shard_read`): a malformed member or a whole unusable shard
is skipped, counted in `ShardStream.skipped` and logged, like a corrupt image; a manifest that
lies or a shard path leaving the build is refused when the `Build` is opened.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import IterableDataset, get_worker_info

from generator.errors import ShardError
from generator.output.consistency import all_problems
from generator.output.limits import MAX_IMAGE_PIXELS, image_size_problem
from generator.output.manifest import MANIFEST, ManifestError, read_manifest
from generator.output.storage import Store
from trainer.errors import DataError
from trainer.shard_read import Record, read_parquet, read_tar
from trainer.split import BuildSplit

log = logging.getLogger(__name__)

DECODES = ("cpu", "raw")


@dataclass(frozen=True)
class ShardRef:
    index: int  # position in sorted path order; seeds the per-sample split of builds without groups
    path: str  # relative to the build root
    fmt: str
    count: int


def is_build(url: str) -> bool:
    """True when `url` is a folder (or fsspec URL) holding a build manifest."""
    try:
        return Store(url, create=False).exists(MANIFEST)
    except Exception:  # not a folder, unreachable scheme: then it is not a build
        return False


class Build:
    """A build's manifest and shard reader. `fmt`: "wds", "parquet" or None (tar when present).
    `targets`: records also carry each sample's objects and instance map (the localising tasks'
    `trainer.localise.samples.LocBuild`)."""

    targets = False

    def __init__(self, url: str, fmt: str | None = None):
        self.url = url
        self.store = Store(url, create=False)
        self.manifest = read_manifest(self.store)
        self.classes: list[str] = list(self.manifest.classes)
        try:
            self.fmt, chosen = self.manifest.shards_to_read(fmt)
        except ManifestError as exc:
            raise ManifestError(f"{url!r}: {exc}") from None
        # Refused when the build is opened: a shard path leaving the build, a manifest that lies
        # (a part pointing at another shard's file, a path listed twice would repeat samples).
        problems = [f"shard path {e.path!r} must be relative to the build, without '..'" for e in chosen
                    if not _inside(e.path)] + all_problems(self.manifest)
        if problems:
            raise ManifestError(f"{url!r}: {MANIFEST}: {problems[0]} (radiopaque verify lists every problem)")
        self.shards = [ShardRef(i, e.path, self.fmt, e.count) for i, e in enumerate(chosen)]

    def __len__(self) -> int:
        return sum(s.count for s in self.shards)

    def read_records(self, shard: ShardRef) -> tuple[list[Record], list[ShardError]]:
        """(the shard's good records in order, a ShardError per skipped member: `trainer.shard_read`).
        Raises ShardError when the whole shard is unusable (not a tar or Parquet file, wrong
        column types, more samples than the manifest says)."""
        data = self.store.read_bytes(shard.path)
        read = read_parquet if shard.fmt == "parquet" else read_tar
        records, problems = read(data, shard.path, len(self.classes), targets=self.targets)
        if len(records) > shard.count:
            raise ShardError(shard.path, "", f"holds {len(records)} samples, {MANIFEST} says {shard.count}")
        return records, problems

    def read_shard(self, shard: ShardRef) -> list[Record]:
        """The shard's records; raises its first ShardError when any member is unusable."""
        records, problems = self.read_records(shard)
        if problems:
            raise problems[0]
        if len(records) != shard.count:
            raise ShardError(shard.path, "", f"holds {len(records)} samples, {MANIFEST} says {shard.count}")
        return records

    def class_counts(self) -> np.ndarray:
        """Samples per class (C,) from the manifest's histogram."""
        hist = self.manifest.class_histogram
        return np.array([hist.get(c, 0) for c in self.classes], dtype=np.int64)

    def split(self, subset: str, val_fraction: float, split_seed: int) -> BuildSplit:
        """`subset` ("all", "train" or "val") of the shards, by the split rule (`trainer.split`)."""
        return BuildSplit(self.shards, self.manifest, subset=subset, val_fraction=val_fraction,
                          split_seed=split_seed, where=self.url)


def _inside(path: str) -> bool:
    """Whether a manifest's shard path stays inside its build (relative, no "..", no "\\")."""
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and "\\" not in path and ":" not in parts[0] \
        and ".." not in parts and "" not in parts


def shard_order(num_shards: int, *, seed: int, epoch: int, shuffle: bool) -> np.ndarray:
    """(num_shards,) int64: the order shards are read in `epoch`, permuted by (seed, epoch) when `shuffle`."""
    if not shuffle:
        return np.arange(num_shards)
    return np.random.default_rng([seed, epoch]).permutation(num_shards)


def epoch_addresses(offsets: list[np.ndarray], *, seed: int, epoch: int, shuffle: bool) -> np.ndarray:
    """(N, 2) int64 [shard, offsets[shard][j]] rows: shards permuted by (seed, epoch) when `shuffle`,
    each shard's `offsets` in order. `ShardStream` passes positions in each shard's subset."""
    order = shard_order(len(offsets), seed=seed, epoch=epoch, shuffle=shuffle)
    parts = [np.stack([np.full(len(offsets[s]), s), offsets[s]], axis=1) for s in order if len(offsets[s])]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros((0, 2), dtype=np.int64)


def part_bounds(n: int, parts: int, index: int) -> tuple[int, int]:
    """[start, stop) of contiguous part `index` of `parts` near-equal parts of range(n)."""
    return index * n // parts, (index + 1) * n // parts


def rank_bounds(n: int, rank: int, world_size: int, drop_remainder: bool) -> tuple[int, int]:
    """[start, stop) of rank `rank`'s contiguous slice of an epoch's `n` samples (the rank rule,
    point 3): with `drop_remainder` every rank gets exactly n // world_size and the last
    n % world_size are left out; without, `part_bounds`' near-equal parts cover all n."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank}")
    if drop_remainder:
        per_rank = n // world_size
        return rank * per_rank, (rank + 1) * per_rank
    return part_bounds(n, world_size, rank)


def decode_image(data: bytes, size: int) -> torch.Tensor:
    """Encoded JPEG/PNG (8- or 16-bit grey, RGB or palette) -> (1, size, size) float32 in [0, 1].

    The whole image is resized to a square (radiographs are near-square; aspect is not kept).
    An image whose header claims more than `MAX_IMAGE_PIXELS` raises ValueError before any
    decoding (a decompression bomb).
    """
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        if img.size[0] * img.size[1] > MAX_IMAGE_PIXELS:
            raise ValueError(f"image header claims {img.size[0]}x{img.size[1]} px (at most {MAX_IMAGE_PIXELS} "
                             "pixels): a decompression bomb")
        if img.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(img, dtype=np.float32) / 65535.0
        else:
            arr = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    return resize_square(torch.from_numpy(arr)[None], size)


def resize_square(image: torch.Tensor, size: int) -> torch.Tensor:
    """(C, H, W) or (B, C, H, W) float -> same rank at (size, size), antialiased bilinear."""
    batched = image.dim() == 4
    x = image if batched else image[None]
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp_(0, 1)
    return x if batched else x[0]


def class_index_map(build_classes: list[str], classes: list[str], url: str) -> np.ndarray:
    """(C_build,) int64: each build class's index in the model's `classes`, matched by name.
    A build class the model lacks raises DataError (a ValueError)."""
    missing = [c for c in build_classes if c not in classes]
    if missing:
        raise DataError(f"a build of the model's classes {classes} (it has classes {missing} that they lack)")
    return np.array([classes.index(c) for c in build_classes], dtype=np.int64)


def make_target(label: int, labels, class_map: np.ndarray, task: str, num_classes: int):
    """A sample's target in the model's classes: int class index (multiclass) or a float32
    multi-hot (num_classes,) tensor (multilabel). `labels`: the build's multi-hot vector."""
    if task == "multilabel":
        target = torch.zeros(num_classes, dtype=torch.float32)
        target[class_map[np.flatnonzero(labels)]] = 1.0
        return target
    return int(class_map[label])


class ShardStream(IterableDataset):
    """The samples of one rank of a build for the current epoch (see the module docstring).

    classes: the model's class list; the build's labels are mapped to it by name (a build
    class the model lacks raises). Call `set_epoch(e)` before each epoch's DataLoader
    iteration (workers are re-created per epoch, so they see it).
    """

    def __init__(self, url: str, *, classes: list[str] | None = None, subset: str = "all", val_fraction: float = 0.0,
                 split_seed: int = 0, seed: int = 0, shuffle: bool = True, rank: int = 0, world_size: int = 1,
                 drop_remainder: bool = True, image_size: int = 224, task: str = "multiclass",
                 decode: str = "cpu", shuffle_buffer: int = 512, fmt: str | None = None):
        if decode not in DECODES:
            raise ValueError(f"decode must be one of {DECODES}, got {decode!r}")
        self.build = Build(url, fmt)
        self.classes = list(classes) if classes is not None else self.build.classes
        self._class_map = class_index_map(self.build.classes, self.classes, url)
        self.split = self.build.split(subset, val_fraction, split_seed)
        # Per shard, positions 0..count-1 in its subset: what the rank rule cuts (see point 2).
        self.positions = [np.arange(count) for count in self.split.counts]
        self.seed, self.shuffle, self.rank, self.world_size = seed, shuffle, rank, world_size
        self.drop_remainder, self.image_size, self.task = drop_remainder, image_size, task
        self.decode, self.shuffle_buffer = decode, shuffle_buffer
        self.epoch = 0
        # Samples whose image would not decode, skipped by this process (each loader worker
        # counts its own; every skip is also logged with its key).
        self.skipped = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        """Samples this rank yields per epoch (the same every epoch)."""
        start, stop = rank_bounds(sum(self.split.counts), self.rank, self.world_size, self.drop_remainder)
        return stop - start

    def batches_per_epoch(self, batch_size: int, num_workers: int) -> int:
        """DataLoader batches per epoch: each worker batches its own part (last one partial)."""
        n = len(self)
        parts = [part_bounds(n, max(num_workers, 1), w) for w in range(max(num_workers, 1))]
        return sum(-(-(stop - start) // batch_size) for start, stop in parts)

    def addresses(self, worker: int = 0, num_workers: int = 1) -> np.ndarray:
        """(n, 2) [shard, position in its subset] rows this rank's `worker` reads this epoch, in
        reading order."""
        addresses = epoch_addresses(self.positions, seed=self.seed, epoch=self.epoch, shuffle=self.shuffle)
        start, stop = rank_bounds(len(addresses), self.rank, self.world_size, self.drop_remainder)
        mine = addresses[start:stop]
        start, stop = part_bounds(len(mine), num_workers, worker)
        return mine[start:stop]

    def _target(self, record: Record):
        return make_target(record.label, record.labels, self._class_map, self.task, len(self.classes))

    def _sample(self, shard: ShardRef, record: Record):
        """(image, target, key), or None for a sample whose image does not decode: one corrupt
        sample must not end an epoch, so it is skipped, counted in `skipped` and logged."""
        key = f"{shard.path}:{record.key}"
        if self.decode == "raw":
            problem = image_size_problem(record.image)  # the header only: nvJPEG must not see a bomb
            if problem:
                self._skip(ShardError(shard.path, record.key, problem))
                return None
            image = torch.frombuffer(bytearray(record.image), dtype=torch.uint8)
        else:
            from PIL import Image

            try:
                image = decode_image(record.image, self.image_size)
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:  # PIL on corrupt bytes
                self.skipped += 1
                log.warning("skipped corrupt sample %s (%s: %s); %d skipped by this reader",
                            key, type(exc).__name__, exc, self.skipped)
                return None
        return image, self._target(record), key

    def _skip(self, error: ShardError, count: int = 1) -> None:
        """Count and log `count` samples skipped for `error` (a malformed member or shard)."""
        self.skipped += count
        log.warning("skipped %s (%s); %d skipped by this reader", error, "malformed shard member" if error.key
                    else "malformed shard", self.skipped)

    def __iter__(self) -> Iterator:
        info = get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        mine = self.addresses(worker, num_workers)
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, worker])
        buffer: list = []
        i = 0
        while i < len(mine):
            shard_i = int(mine[i, 0])
            j = i
            while j < len(mine) and mine[j, 0] == shard_i:
                j += 1
            shard = self.build.shards[shard_i]
            try:
                records, problems = self.build.read_records(shard)
                offsets = self.split.offsets(shard_i, [r.group_id for r in records], [r.source_id for r in records],
                                             missing=shard.count - len(records))
            except ValueError as exc:  # the whole shard is unusable (or its groups lie): its samples here are skipped
                self._skip(exc if isinstance(exc, ShardError) else ShardError(shard.path, "", str(exc)), j - i)
                i = j
                continue
            for problem in problems:
                self._skip(problem)
            for position in mine[i:j, 1]:
                # Positions past the good records stand for the samples skipped above.
                if position >= len(offsets) or offsets[position] >= len(records):
                    continue
                item = self._sample(shard, records[int(offsets[position])])
                if item is None:
                    continue
                if not self.shuffle:
                    yield item
                    continue
                buffer.append(item)
                if len(buffer) >= self.shuffle_buffer:
                    k = int(rng.integers(len(buffer)))
                    buffer[k], buffer[-1] = buffer[-1], buffer[k]
                    yield buffer.pop()
            i = j
        if self.shuffle:
            for k in rng.permutation(len(buffer)):
                yield buffer[k]


def collate_raw(batch: list) -> tuple[list[torch.Tensor], torch.Tensor, list[str]]:
    """Collate for `decode="raw"`: encoded images stay a list (they differ in length)."""
    images, targets, keys = zip(*batch)
    first = targets[0]
    stacked = torch.stack(targets) if isinstance(first, torch.Tensor) else torch.tensor(targets, dtype=torch.int64)
    return list(images), stacked, list(keys)


class BatchDecoder:
    """Batched JPEG decode with torchvision.io.decode_jpeg on `device`, then resize there.

    On CUDA this is nvJPEG and the trainer's choice when loader workers hand over raw
    bytes; on the CPU it is libjpeg-turbo, the same algorithm PIL's path runs
    (`decode_image`), so the two are compared in the tests without a GPU.
    Input: a list of encoded images as uint8 tensors (`collate_raw`); output (B, 1, S, S)
    float32 in [0, 1] on `device`. PNGs (nvJPEG cannot read them) are decoded by PIL.
    """

    def __init__(self, device: torch.device, image_size: int):
        self.device, self.image_size = device, image_size

    def __call__(self, encoded: list[torch.Tensor]) -> torch.Tensor:
        from torchvision.io import ImageReadMode, decode_jpeg

        is_jpeg = [bool(e[:2].tolist() == [0xFF, 0xD8]) for e in encoded]
        jpegs = [e for e, j in zip(encoded, is_jpeg) if j]
        decoded = iter(decode_jpeg(jpegs, mode=ImageReadMode.GRAY, device=self.device) if jpegs else [])
        out = []
        for e, j in zip(encoded, is_jpeg):
            if j:
                img = next(decoded).float().div_(255.0)  # (1, H, W) on `device`
            else:
                img = decode_image(e.numpy().tobytes(), self.image_size).to(self.device)
            out.append(resize_square(img, self.image_size))
        return torch.stack(out)
