"""DALI webdataset index files for a build's tars, read as untrusted input, and their cache.

An index (the `wds2idx` v1.2 format: a `v1.2 <samples>` line, then per sample `<ext> <offset>
<size> <name>` per member) tells DALI which bytes of a tar to read. It lists only the usable
samples of a split: the CPU path's rules (`trainer.shard_read`) decide, so DALI never reads a
member with a bad key or size, a broken or out-of-range annotation, or an image whose header
claims more than `MAX_IMAGE_PIXELS`. Index files live in a per-user folder of mode 0700
(`default_cache_dir`, `private_dir`), named by the tar's path, size, mtime and recorded sha256
(`tar_identity`) and the split. `inside_build` refuses a tar path that leaves the build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from generator.errors import ConfigError, ShardError
from generator.output.limits import image_size_problem, member_size_problem
from generator.output.manifest import ManifestError
from generator.output.sample import is_valid_key
from trainer.shard_read import annotation_problem
from trainer.split import meta_group_id
from trainer.stream import ShardRef

log = logging.getLogger(__name__)

INDEX_VERSION = "v1.2"
_JSON_EXT = "json"
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
