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

import hashlib
import json
import logging
import os
import secrets
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from generator.errors import ConfigError, ShardError
from generator.inputs.raster import dali_available
from generator.output.limits import image_size_problem, member_size_problem
from generator.output.manifest import ManifestError, read_manifest
from generator.output.sample import is_valid_key
from generator.output.storage import Store
from trainer.config import DECODERS
from trainer.shard_read import annotation_problem
from trainer.split import meta_group_id
from trainer.stream import (
    Build,
    ShardRef,
    class_index_map,
    is_build,
    make_target,
    rank_bounds,
    shard_order,
)

log = logging.getLogger(__name__)

INDEX_VERSION = "v1.2"
_IMAGE_EXT = "jpg;png"
_JSON_EXT = "json"
# Builds whose manifest says 8-bit images decode to uint8; anything else (16-bit PNG, or no
# format recorded) to uint16, which also holds 8-bit samples exactly (v * 257).
_EIGHT_BIT_FORMATS = ("jpg", "png")
_HEADER_BYTES = 65536  # read of an image member to find its size (PNG IHDR, JPEG SOF)


def default_cache_dir() -> Path:
    """A per-user folder for DALI index files: another user cannot plant an index there."""
    return Path(tempfile.gettempdir()) / f"radiopaque-{os.getuid()}" / "dali-index"


def private_dir(path: Path) -> Path:
    """Create `path` (and its parent under the temp dir) with mode 0700, and refuse one that
    another user owns or that others may write: index files there say which bytes DALI reads."""
    for folder in (path.parent, path):
        folder.mkdir(mode=0o700, exist_ok=True)
        st = folder.stat()
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            raise ConfigError("--decoder", "dali", f"a DALI index cache folder of your own with mode 0700; {folder} "
                                                   f"is owned by uid {st.st_uid} with mode {oct(st.st_mode & 0o777)}")
    return path


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


# ------------------------------------------------------------------------------------ index files


Members = list[tuple[str, int, int, str]]  # one sample's (ext, data offset, size, name)


def tar_samples(path: str, shard_path: str = "") -> tuple[list[Members], list[ShardError]]:
    """(per sample, in tar order, its members as (ext, data offset, size, name); a ShardError per
    member left out). Members are grouped by WebDataset's rule (key = name up to the first
    "."); the CPU path's rules apply (`trainer.shard_read`): a member whose key is not a sample
    key (`../x`, an absolute path, a space), or larger than `MAX_MEMBER_BYTES` or past the end
    of the file, is left out with its sample, so DALI never reads it."""
    samples: list[Members] = []
    problems: list[ShardError] = []
    where = shard_path or path
    size = os.path.getsize(path)
    last_key, bad_key = None, None
    try:
        with tarfile.open(path, mode="r:") as tar:
            for info in tar:
                if not info.isfile():
                    continue
                key, _, ext = info.name.partition(".")
                if not is_valid_key(key) or not ext:
                    problems.append(ShardError(where, "", f"member {info.name[:60]!r} has no valid sample key"))
                    continue
                reason = member_size_problem(info.size)
                if reason is None and info.offset_data + info.size > size:
                    reason = f"member {ext!r} of {info.size} bytes runs past the end of the tar"
                if reason:
                    problems.append(ShardError(where, key, reason))
                    if key == last_key:
                        samples.pop()
                    bad_key, last_key = key, None
                    continue
                if key == bad_key:
                    continue
                if key != last_key:
                    samples.append([])
                    last_key = key
                samples[-1].append((ext, info.offset_data, info.size, info.name))
    except tarfile.TarError as exc:
        if not samples and not problems:
            raise ShardError(where, "", f"not a readable tar file ({exc})") from None
        if bad_key is None:  # else the member refused for its size explains where the tar ends
            problems.append(ShardError(where, "", f"tar cut short after {len(samples)} samples ({exc})"))
    return samples, problems


def tar_annotations(path: str, samples: list[Members], num_classes: int,
                    shard_path: str = "") -> tuple[list[int], list[str | None], list[str], list[ShardError]]:
    """(indices of the usable samples of `tar_samples(path)`, their meta group_ids (None when
    absent) and source_ids, a ShardError per other sample), from the JSON members and the image
    headers alone, by the CPU path's rules (`trainer.shard_read.annotation_problem`,
    `generator.output.limits.image_size_problem`)."""
    good: list[int] = []
    groups: list[str | None] = []
    films: list[str] = []
    problems: list[ShardError] = []
    where = shard_path or path
    with open(path, "rb") as fh:
        for k, members in enumerate(samples):
            exts = {ext: (offset, size) for ext, offset, size, _ in members}
            key = members[0][3].partition(".")[0]
            images = [ext for ext in ("jpg", "png") if ext in exts]
            if len(images) != 1 or _JSON_EXT not in exts:
                problems.append(ShardError(where, key, f"members {sorted(exts)[:6]}: expected one image and a json"))
                continue
            fh.seek(exts[_JSON_EXT][0])
            try:
                doc = json.loads(fh.read(exts[_JSON_EXT][1]).decode("utf-8"))
                problem = annotation_problem(doc, key, images[0], num_classes)
            except (UnicodeDecodeError, ValueError) as exc:
                problem = f"annotation is not UTF-8 JSON ({type(exc).__name__})"
            if problem is None:
                fh.seek(exts[images[0]][0])
                problem = image_size_problem(fh.read(min(exts[images[0]][1], _HEADER_BYTES)))
                problem = None if problem and problem.startswith("not a readable") else problem  # DALI's to judge
            if problem:
                problems.append(ShardError(where, key, problem))
                continue
            good.append(k)
            groups.append(meta_group_id(doc.get("meta")))
            films.append(str(doc.get("source_id", "")))
    return good, groups, films, problems


def index_text(samples: list[list[tuple[str, int, int, str]]]) -> str:
    """A DALI webdataset index (format v1.2) listing `samples`."""
    lines = [f"{INDEX_VERSION} {len(samples)}"]
    lines += [" ".join(f"{ext} {offset} {size} {name}" for ext, offset, size, name in members) for members in samples]
    return "\n".join(lines) + "\n"


def tar_identity(tar_path: str, sha256: str | None) -> str:
    """What names a tar's content for its cached index: path, size and mtime (and the sha256
    the manifest records): a tar replaced or rewritten in place never meets a stale index."""
    st = os.stat(tar_path)
    return f"{sha256}:{os.path.abspath(tar_path)}:{st.st_size}:{st.st_mtime_ns}"


def subset_index(tar_path: str, shard: ShardRef, offsets: np.ndarray, samples: list[Members], *, identity: str,
                 cache_dir: Path) -> str:
    """Path of the index of `offsets` (positions in `samples`, the tar's usable samples) of
    `shard`, written on first use. `identity` names the tar's content: its path, size and mtime
    (and its sha256 from the manifest when recorded), so a replaced tar never meets a stale index."""
    name = hashlib.sha256(json.dumps([identity, shard.count, offsets.tolist()]).encode()).hexdigest()[:32]
    path = cache_dir / f"{name}.idx"
    if path.exists():
        return str(path)
    private_dir(cache_dir)
    tmp = path.with_name(f"{path.name}.tmp-{secrets.token_hex(8)}")  # concurrent ranks write their own
    tmp.write_text(index_text([samples[int(i)] for i in offsets]))
    os.replace(tmp, path)
    log.debug("wrote DALI index %s (%d of %d samples of %s)", path, len(offsets), shard.count, tar_path)
    return str(path)


def inside_build(root: str, rel: str) -> str:
    """The local path of shard `rel` of the build at `root`; refuses one that leaves it (an
    absolute path, ".."), by the same lexical rule as the CPU path's store (both follow a
    symlink that lies inside the build: builds may be assembled from linked shards)."""
    real_root = os.path.normpath(os.path.abspath(root))
    path = os.path.normpath(os.path.join(real_root, rel))
    if os.path.isabs(rel) or os.path.commonpath([path, real_root]) != real_root:
        raise ManifestError(f"{root!r}: shard path {rel!r} resolves outside the build ({path})")
    return path


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
