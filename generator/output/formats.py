"""Shard formats: one module per format behind a common interface, plus a build reader.

A format is a file extension and a pair of pure functions:
`encode(samples) -> bytes` and `decode(bytes) -> list[ShardSample]`. Writers hand the bytes
to `generator.output.storage.Store.write_atomic`; nothing here touches files except `iter_build`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

from generator.output.manifest import MANIFEST
from generator.output.parquet import decode_parquet, encode_parquet
from generator.output.sample import ShardSample
from generator.output.wds import decode_tar, encode_tar
from generator.output.storage import Store, StoreError, sha256_bytes



class ShardFormat(NamedTuple):
    """A shard format; unpacks as `(extension, encode, decode)`."""

    extension: str
    encode: Callable[[Sequence[ShardSample]], bytes]
    decode: Callable[[bytes], list[ShardSample]]


FORMATS: dict[str, ShardFormat] = {
    "wds": ShardFormat("tar", encode_tar, decode_tar),
    "parquet": ShardFormat("parquet", encode_parquet, decode_parquet),
}
"""Shard formats by name; the name is what manifests record in each shard's "format"."""

# Formats iter_build reads from, most preferred first: tar decoding is the cheaper.
_READ_PREFERENCE = ("wds", "parquet")


def _format(fmt: str) -> ShardFormat:
    if fmt not in FORMATS:
        raise ValueError(f"shard format must be one of {sorted(FORMATS)}, got {fmt!r}")
    return FORMATS[fmt]


def shard_name(index: int, fmt: str) -> str:
    """File name of shard `index` in format `fmt`, e.g. `shard_name(12, "wds") == "shard-000012.tar"`.

    Zero-padded so that names sort in shard order.
    """
    if index < 0:
        raise ValueError(f"shard index must be >= 0, got {index}")
    return f"shard-{index:06d}.{_format(fmt).extension}"


def iter_build(root_url: str) -> Iterator[ShardSample]:
    """Yield every sample of the build at `root_url`, in shard order then sample order.

    Reads `dataset.json`'s "shards" list (entries {"path", "format", "count", "sha256"},
    paths relative to the root). When a build holds several formats the tar shards are
    read, else the Parquet ones. Each shard is checked against its manifest entry before
    its samples are yielded.

    Raises:
        StoreError: the build or a shard cannot be read, or a shard's sha256 or sample
            count differs from the manifest.
        ValueError: the manifest names an unknown format or lists no shards.
    """
    store = Store(root_url, create=False)
    manifest = json.loads(store.read_bytes(MANIFEST))
    shards = manifest.get("shards") or []
    for entry in shards:
        _format(entry["format"])
    fmt = next((f for f in _READ_PREFERENCE if any(e["format"] == f for e in shards)), None)
    if fmt is None:
        raise ValueError(f"{root_url!r}: {MANIFEST} lists no shards")
    # Sorted by path, not manifest order: the manifest lists shards as they complete,
    # which on several workers is not shard order; shard_name's padding makes paths sort.
    for entry in sorted((e for e in shards if e["format"] == fmt), key=lambda e: e["path"]):
        data = store.read_bytes(entry["path"])
        digest = sha256_bytes(data)
        if digest != entry["sha256"]:
            raise StoreError(f"{root_url}/{entry['path']}: sha256 is {digest}, {MANIFEST} says {entry['sha256']}")
        samples = FORMATS[fmt].decode(data)
        if len(samples) != entry["count"]:
            raise StoreError(
                f"{root_url}/{entry['path']}: holds {len(samples)} samples, {MANIFEST} says {entry['count']}"
            )
        yield from samples
