"""Shard formats: one module per format behind a common interface, plus a build reader.

A format is a file extension and a pair of pure functions:
`encode(samples, classes=...) -> bytes` and `decode(bytes) -> list[ShardSample]`. Writers hand the bytes
to `generator.output.storage.Store.write_atomic`; nothing here touches files except `iter_build`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

from generator.output.manifest import MANIFEST, ManifestError, read_manifest
from generator.output.parquet import decode_parquet, encode_parquet
from generator.output.sample import ShardSample
from generator.output.storage import Store, StoreError, sha256_bytes
from generator.output.wds import decode_tar, encode_tar


class ShardFormat(NamedTuple):
    """A shard format; unpacks as `(extension, encode, decode)`."""

    extension: str
    encode: Callable[..., bytes]  # (samples: Sequence[ShardSample], *, classes: Sequence[str] = ()) -> bytes
    decode: Callable[[bytes], list[ShardSample]]


FORMATS: dict[str, ShardFormat] = {
    "wds": ShardFormat("tar", encode_tar, decode_tar),
    "parquet": ShardFormat("parquet", encode_parquet, decode_parquet),
}
"""Shard formats by name; the name is what manifests record in each shard's "format"."""

def _format(fmt: str) -> ShardFormat:
    if fmt not in FORMATS:
        raise ValueError(f"shard format must be one of {sorted(FORMATS)}, got {fmt!r}")
    return FORMATS[fmt]


SHARD_DIRS: dict[str, str] = {"wds": "wds", "parquet": "parquet"}
"""The folder of each format's shards inside a build: one format per folder, so a directory
reader (`pyarrow.dataset.dataset(BUILD/"parquet")`, `ray.data.read_webdataset(BUILD/"wds")`)
finds only files it can read; `dataset.json` and `rejects.jsonl` stay at the top."""


def shard_name(index: int, fmt: str) -> str:
    """File name of shard `index` in format `fmt`, e.g. `shard_name(12, "wds") == "shard-000012.tar"`.

    Zero-padded so that names sort in shard order. Where the file lives is `shard_path`'s.
    """
    if index < 0:
        raise ValueError(f"shard index must be >= 0, got {index}")
    return f"shard-{index:06d}.{_format(fmt).extension}"


def shard_path(index: int, fmt: str) -> str:
    """Path of shard `index` in format `fmt` relative to the build folder, as the manifest
    records it: `shard_path(12, "wds") == "wds/shard-000012.tar"`. The one place a writer
    takes shard locations from; readers take them from the manifest (builds made before the
    format folders hold their shards at the top level and stay readable)."""
    name = shard_name(index, fmt)  # checks index and fmt
    return f"{SHARD_DIRS[fmt]}/{name}"


def known_shard_paths(index: int, fmt: str) -> tuple[str, str]:
    """Every path a manifest may rightly record for shard `index` in format `fmt`: its format
    folder's (`shard_path`, what builds write now) and the top level's (`shard_name`, builds
    made before the folders). For checks of a manifest's consistency."""
    return shard_path(index, fmt), shard_name(index, fmt)


def iter_build(root_url: str) -> Iterator[ShardSample]:
    """Yield every sample of the build at `root_url`, in shard order then sample order.

    Reads the shards `Manifest.shards_to_read` chooses (tar when the build holds both
    formats). Each shard is checked against its manifest entry before its samples are
    yielded.

    Raises:
        StoreError: the build or a shard cannot be read, or a shard's sha256 or sample
            count differs from the manifest.
        ManifestError: the manifest is malformed, names an unknown format or lists no shards.
    """
    store = Store(root_url, create=False)
    manifest = read_manifest(store)
    for entry in manifest.shards:
        if entry.format not in FORMATS:
            raise ManifestError(f"{root_url!r}: {MANIFEST} names shard format {entry.format!r}; "
                                f"allowed: {sorted(FORMATS)}")
    fmt, entries = manifest.shards_to_read()
    for entry in entries:
        data = store.read_bytes(entry.path)
        digest = sha256_bytes(data)
        if digest != entry.sha256:
            raise StoreError(f"{root_url}/{entry.path}: sha256 is {digest}, {MANIFEST} says {entry.sha256}")
        samples = FORMATS[fmt].decode(data)
        if len(samples) != entry.count:
            raise StoreError(f"{root_url}/{entry.path}: holds {len(samples)} samples, {MANIFEST} says {entry.count}")
        yield from samples
