"""The DALI input path: a build's WebDataset tar shards read by `fn.readers.webdataset`, decoded
and resized by DALI in batches, handed to training as (B, 1, S, S) float32 in [0, 1] on the
training device. On CUDA: `decoders.image(device="mixed")` (nvJPEG; PNG decoded on the host)
and resize on the GPU; on the CPU: DALI's CPU decoders (libjpeg-turbo, libpng) and resize.
Without DALI, `trainer.stream` (PIL in loader workers, or nvJPEG via `BatchDecoder`) reads the
same samples.

Which samples rank `rank` reads in epoch `e` (a pure function of the manifest, the split,
`seed`, `e`, `rank` and `world_size`): the rank rule in `trainer.stream`'s docstring, with these
DALI specifics:

1. Subset: the train/val split of `ShardStream` (`trainer.split`; by group, a tar's subset
   offsets are found from the group_id in its samples' JSON members, read once per stream, when
   it is first sized or iterated, reading only the images' headers). Per tar, a DALI index file
   (the `wds2idx` v1.2 format: a `v1.2 <samples>` line, then per sample `<ext> <offset> <size>
   <name>` for each member) lists only the subset's samples. It is written once, atomically, to
   `cache_dir` (never into the build; by default a per-user folder of mode 0700 under the temp
   dir), named by a hash of the tar's identity (path, size, mtime and the manifest's sha256) and
   the split. A tar with no sample in the subset is left out (DALI rejects an empty index).
   Untrusted input gets the CPU path's rules (`trainer.shard_read`): a tar that resolves outside
   the build is refused when the stream is opened; a member with a bad key or size, a broken or
   out-of-range annotation or an image header over `MAX_IMAGE_PIXELS` is left out of the index
   (logged), so DALI never reads it.
2. Epoch order: the tars in `ShardStream`'s shard order for (seed, e) (`shard_order`). Each epoch
   gets a new pipeline whose reader shuffles through a buffer of `shuffle_buffer` samples seeded
   from (seed, e, rank), so an epoch's order never depends on earlier epochs having run: a
   resumed run reads what an uninterrupted one would have.
3. Ranks: `shard_id=rank, num_shards=world_size` lets DALI cut the tars' samples, in that order,
   into `world_size` contiguous parts [r * N // W, (r + 1) * N // W) (`part_bounds`: floor or
   ceil(N / W) samples), not `rank_bounds`' equal slices: DALI's reader fixes its own cut.
   REMAINDER: every rank yields N // world_size samples (`rank_bounds`' count), because DDP needs
   every rank to take the same number of steps; a rank whose part is one sample longer drops the
   sample its shuffle would return last. So N % world_size samples (< world_size, different ones
   each epoch) are not seen that epoch, as with `ShardStream`, though not the same ones. Nothing
   is padded or repeated (`pad_last_batch=False`). `drop_remainder=False` (evaluation on one
   rank) keeps them all.
4. Batches of `batch_size`; the epoch's last batch is partial (DALI fills its own last batch
   from the next epoch; those samples are discarded with the pipeline).

Pixels: grey, decoded at the build's bit depth (8 when its manifest says jpg or png, else 16,
which holds 8-bit samples exactly too), resized to (S, S) with DALI's antialiased linear filter
(aspect not kept, as in `resize_square`), rounded back to that bit depth, scaled to [0, 1].
Against `resize_square`'s antialiased bilinear (PIL path): inside the image they differ by
that rounding only (at most half a grey level, 0.002 for 8-bit); in the outermost rows and
columns of a downscaled image DALI clamps the filter to the edge where PyTorch renormalises
it, so those pixels differ by up to about 0.05 (mean over a 64 -> 32 px image below 2e-3).
Without resizing (S equal to the image size) they are equal.

Labels come from each sample's `{key}.json`, parsed on the host per batch, mapped to the model's
classes like `ShardStream` does. A corrupt image fails the epoch: DALI fails its whole batch and
cannot replace a sample mid-batch, nor say which one it was. `--decoder cpu` (`ShardStream`)
skips such samples and logs their keys instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from generator.errors import ConfigError, ShardError
from generator.inputs.raster import dali_available
from generator.output.manifest import read_manifest
from generator.output.storage import Store
from trainer.config import DECODERS
from trainer.dali_index import default_cache_dir, inside_build, subset_index, tar_annotations, tar_identity, tar_samples
from trainer.stream import (
    Build,
    class_index_map,
    is_build,
    make_target,
    rank_bounds,
    shard_order,
)

log = logging.getLogger(__name__)

_IMAGE_EXT = "jpg;png"
_JSON_EXT = "json"
# Builds whose manifest says 8-bit images decode to uint8; anything else (16-bit PNG, or no
# format recorded) to uint16, which also holds 8-bit samples exactly (v * 257).
_EIGHT_BIT_FORMATS = ("jpg", "png")


def _local_root(url: str) -> str | None:
    """The local folder of `url`, or None when it is remote (DALI reads local paths here)."""
    import fsspec
    from fsspec.implementations.local import LocalFileSystem

    fs, root = fsspec.core.url_to_fs(url)
    return root if isinstance(fs, LocalFileSystem) else None


def dali_unusable(source: str) -> str | None:
    """Why DALI cannot read `source`, or None when it can (a local build with tar shards)."""
    if not dali_available():
        return "DALI is not installed (the nvidia-dali-cuda* wheel for your CUDA)"
    if not is_build(source):
        return f"{source!r} is not a build; DALI reads a build's WebDataset tar shards, not folder or CSV data"
    if _local_root(source) is None:
        return f"{source!r} is not on a local filesystem"
    formats = read_manifest(Store(source, create=False)).formats()
    if "wds" not in formats:
        return f"{source!r} has no WebDataset tar shards (only {formats})"
    return None


def use_dali(decoder: str, source: str, device_type: str) -> bool:
    """Whether `--decoder` reads `source` with DALI: "dali" must (else ConfigError naming why),
    "auto" does when it can on CUDA, "cpu" and "gpu" never do. On the CPU "auto" keeps the
    PIL path: DALI gains little there, and it cannot skip a corrupt sample (see above)."""
    if decoder == "auto" and device_type != "cuda":
        return False
    if decoder not in ("auto", "dali"):
        return False
    reason = dali_unusable(source)
    if reason is not None and decoder == "dali":
        others = ", ".join(d for d in DECODERS if d != "dali")
        raise ConfigError("--decoder", decoder, f"{others} ({reason})")
    return reason is None


# ---------------------------------------------------------------------------------------- stream


class DaliStream:
    """One rank's batches of a build's `subset` per epoch, read and decoded by DALI (see the
    module docstring). Iterating yields (images (B, 1, S, S) float32 in [0, 1] on `device`,
    targets (B,) int64 or (B, C) float32 multi-hot on the CPU, keys ["shard-path:sample-key"]).

    classes: the model's class list (the build's classes are mapped to it by name). Call
    `set_epoch(e)` before each epoch. num_threads: DALI CPU worker threads.
    """

    def __init__(self, url: str, *, classes: list[str] | None = None, subset: str = "all", val_fraction: float = 0.0,
                 split_seed: int = 0, seed: int = 0, shuffle: bool = True, rank: int = 0, world_size: int = 1,
                 drop_remainder: bool = True, image_size: int = 224, task: str = "multiclass",
                 batch_size: int = 32, device: torch.device | str = "cpu", num_threads: int = 2,
                 shuffle_buffer: int = 512, cache_dir: str | Path | None = None):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank}")
        reason = dali_unusable(url)
        if reason is not None:
            raise ValueError(f"cannot read {url!r} with DALI: {reason}")
        self.build = Build(url, "wds")
        self.classes = list(classes) if classes is not None else self.build.classes
        self._class_map = class_index_map(self.build.classes, self.classes, url)
        self.split = self.build.split(subset, val_fraction, split_seed)
        self.device = torch.device(device)
        self.seed, self.shuffle, self.rank, self.world_size = seed, shuffle, rank, world_size
        self.drop_remainder, self.image_size, self.task = drop_remainder, image_size, task
        self.batch_size, self.num_threads, self.shuffle_buffer = batch_size, num_threads, shuffle_buffer
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.epoch = 0
        root = _local_root(url)
        self._tar_paths = [inside_build(root, s.path) for s in self.build.shards]
        self._shard_of_tar = {p: s for p, s in zip(self._tar_paths, self.build.shards)}
        self._index_paths: list[str | None] | None = None  # written on first use
        self._dropped = 0  # subset samples left out of the indexes (malformed members)
        self._bits = 8 if self.build.manifest.config.get("image_format") in _EIGHT_BIT_FORMATS else 16

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def _total(self) -> int:
        """Samples of the subset DALI can read: the manifest's, less the members left out."""
        self._indexes()
        return sum(self.split.counts) - self._dropped

    def __len__(self) -> int:
        """Samples this rank yields per epoch (the same every epoch)."""
        start, stop = rank_bounds(self._total, self.rank, self.world_size, self.drop_remainder)
        return stop - start

    @property
    def num_batches(self) -> int:
        return -(-len(self) // self.batch_size)

    def _indexes(self) -> list[str | None]:
        """Per shard, its subset index file, or None when the subset has none of its samples."""
        if self._index_paths is None:
            sums = {e.path: e.sha256 for e in self.build.manifest.shards if e.format == "wds"}
            paths: list[str | None] = []
            self._dropped = 0
            for s, (tar_path, shard) in enumerate(zip(self._tar_paths, self.build.shards)):
                samples, problems = tar_samples(tar_path, shard.path)
                good, groups, films, bad = tar_annotations(tar_path, samples, len(self.build.classes), shard.path)
                for problem in problems + bad:  # left out of the index: DALI never reads them
                    log.warning("skipped %s (malformed shard member)", problem)
                if len(good) > shard.count:
                    raise ShardError(shard.path, "", f"holds {len(good)} samples, the manifest says {shard.count}")
                offsets = self.split.known_offsets(s)
                if offsets is None:
                    offsets = self.split.offsets(s, groups, films, missing=shard.count - len(good))
                else:
                    offsets = offsets[offsets < len(good)]
                self._dropped += self.split.counts[s] - len(offsets)
                if not len(offsets):
                    paths.append(None)
                    continue
                identity = tar_identity(tar_path, sums.get(shard.path))
                paths.append(subset_index(tar_path, shard, offsets, [samples[k] for k in good], identity=identity,
                                          cache_dir=self.cache_dir))
            self._index_paths = paths
        return self._index_paths

    def _pipeline(self, rank_samples: int):
        """This epoch's DALI pipeline (built); its reader's part holds `rank_samples` or one more."""
        from nvidia.dali import fn, pipeline_def, types

        indexes = self._indexes()
        order = [int(s) for s in shard_order(len(self._tar_paths), seed=self.seed, epoch=self.epoch,
                                             shuffle=self.shuffle) if indexes[s] is not None]
        reader_seed = int(np.random.default_rng([self.seed, self.epoch, self.rank]).integers(2**31 - 1))
        cuda = self.device.type == "cuda"
        size = self.image_size

        @pipeline_def(batch_size=self.batch_size, num_threads=self.num_threads,
                      device_id=(self.device.index or 0) if cuda else None, seed=reader_seed, exec_dynamic=True)
        def epoch_pipeline():
            encoded, annotation = fn.readers.webdataset(
                paths=[self._tar_paths[s] for s in order], index_paths=[indexes[s] for s in order],
                ext=[_IMAGE_EXT, _JSON_EXT], missing_component_behavior="error",
                shard_id=self.rank, num_shards=self.world_size,
                random_shuffle=self.shuffle, initial_fill=max(1, min(self.shuffle_buffer, rank_samples + 1)),
                seed=reader_seed, pad_last_batch=False, stick_to_shard=True, name="reader")
            images = fn.decoders.image(encoded, device="mixed" if cuda else "cpu", output_type=types.GRAY,
                                       dtype=types.UINT8 if self._bits == 8 else types.UINT16,
                                       adjust_orientation=False, jpeg_fancy_upsampling=True)
            # Resizing in the decoded integer type and casting afterwards is faster on the CPU
            # than resizing to float, for at most half a grey level of rounding.
            images = fn.resize(images, resize_x=size, resize_y=size, interp_type=types.INTERP_LINEAR,
                               antialias=True)  # (S, S, 1) per sample
            return fn.cast(images, dtype=types.FLOAT), annotation

        pipe = epoch_pipeline()
        pipe.build()
        return pipe

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, list[str]]]:
        from nvidia.dali.plugin.pytorch import feed_ndarray

        n = len(self)
        if n == 0:
            return
        pipe = self._pipeline(n)
        stream = torch.cuda.current_stream(self.device) if self.device.type == "cuda" else None
        size = self.image_size
        scale = 1.0 / (255.0 if self._bits == 8 else 65535.0)
        try:
            done = 0
            while done < n:
                try:
                    images, annotations = pipe.run()
                except RuntimeError as exc:
                    raise RuntimeError(f"DALI could not read or decode a batch of {self.build.url!r} "
                                       f"({_reason(exc)}); --decoder cpu skips corrupt samples and logs their keys"
                                       ) from exc
                full = torch.empty((self.batch_size, size, size, 1), dtype=torch.float32, device=self.device)
                feed_ndarray(images.as_tensor(), full, cuda_stream=stream)
                take = min(self.batch_size, n - done)
                # (B, S, S, 1) -> (B, 1, S, S) is a view: the channel axis has length 1.
                batch = full[:take].view(take, 1, size, size).mul_(scale)
                targets, keys = self._labels(annotations, take)
                done += take
                yield batch, targets, keys
        finally:
            del pipe

    def _labels(self, annotations, count: int) -> tuple[torch.Tensor, list[str]]:
        """Targets and keys of the first `count` samples, from their JSON members."""
        targets, keys = [], []
        for i in range(count):
            member = annotations[i]
            doc = json.loads(np.asarray(member).tobytes())
            tar_path = member.source_info().rsplit(":", 2)[0]  # "<tar path>:<offset>:<member name>"
            keys.append(f"{self._shard_of_tar[tar_path].path}:{doc['key']}")
            targets.append(make_target(int(doc["label"]), doc["labels"], self._class_map, self.task,
                                       len(self.classes)))
        if self.task == "multilabel":
            return torch.stack(targets), keys
        return torch.tensor(targets, dtype=torch.int64), keys


def _reason(exc: BaseException) -> str:
    """The informative line of a DALI pipeline error (they end in boilerplate about the pipeline)."""
    lines = [line.strip() for line in str(exc).splitlines()]
    useful = [line for line in lines if line and "pipeline" not in line.lower()]
    return useful[-1] if useful else type(exc).__name__
