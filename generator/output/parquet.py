"""Parquet shards: one row per sample, JSON fields stored as canonical JSON strings.

Self-describing: `label_name` stands beside `label`, and the schema metadata holds the
build's class list under `radiopaque.classes` (a JSON list; `label` indexes it), so
`pq.read_schema(path).metadata[b"radiopaque.classes"]` names every class without dataset.json.

The bytes are a pure function of the samples and the pyarrow version: the schema is
fixed (no schema inference, no pandas metadata), rows per row group, codec and encodings
are fixed, and Parquet files carry no creation time. The footer's `created_by` names the
writing library's version, which the build manifest records anyway.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from generator.output.sample import ShardSample, canonical_json

SCHEMA = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("image", pa.binary(), nullable=False),
        pa.field("image_format", pa.string(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("label", pa.int32(), nullable=False),
        pa.field("label_name", pa.string()),  # classes[label]; null only if a sample lacks it
        pa.field("labels", pa.list_(pa.int8()), nullable=False),  # multi-hot, 0 or 1
        pa.field("objects", pa.string(), nullable=False),  # JSON list of per-object dicts
        pa.field("spec", pa.string(), nullable=False),  # JSON
        pa.field("source_id", pa.string(), nullable=False),
        pa.field("mask_png", pa.binary(), nullable=False),
        pa.field("meta", pa.string(), nullable=False),  # JSON
    ]
)
"""Column names and types of every Parquet shard."""

CLASSES_KEY = b"radiopaque.classes"
"""Schema metadata key of the class list (JSON), the names `label` indexes."""

# Columns that shards written before them lack; a reader fills them with None.
_OPTIONAL = ("label_name",)

ROWS_PER_ROW_GROUP = 64
"""Fixed so the layout never depends on data size; 64 images keep a row group (the unit a
streaming reader holds in memory) at tens of MB for 8-bit images."""

_JSON_COLUMNS = ("objects", "spec", "meta")
# Already entropy-coded (JPEG, PNG): zstd would spend encode time to gain nothing.
_PRECOMPRESSED = ("image", "mask_png")


def _row(sample: ShardSample) -> dict:
    row = {name: getattr(sample, name) for name in SCHEMA.names}
    for name in _JSON_COLUMNS:
        row[name] = canonical_json(row[name])
    return row


def encode_parquet(samples: Sequence[ShardSample], *, classes: Sequence[str] = ()) -> bytes:
    """Encode samples as one Parquet file, rows in sample order. Same samples, same bytes.

    classes: the build's class list, written into the schema metadata (`CLASSES_KEY`)."""
    schema = SCHEMA.with_metadata({CLASSES_KEY: json.dumps(list(classes)).encode()})
    table = pa.Table.from_pylist([_row(sample) for sample in samples], schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        row_group_size=ROWS_PER_ROW_GROUP,
        compression={name: "none" if name in _PRECOMPRESSED else "zstd" for name in SCHEMA.names},
        # Pinned: a library's default level may change between versions, the bytes must not.
        compression_level={name: 1 for name in SCHEMA.names if name not in _PRECOMPRESSED},
        # Dictionaries only where values repeat; image and mask bytes never do.
        use_dictionary=["image_format", "source_id"],
        # Min/max statistics only on small scalar columns: on binary columns they would copy
        # prefixes of image bytes into the footer for no use.
        write_statistics=["key", "height", "width", "label"],
        store_schema=True,
    )
    return sink.getvalue().to_pybytes()


def decode_parquet(data: bytes) -> list[ShardSample]:
    """Decode a shard written by `encode_parquet`, in row order.

    Raises ValueError naming the columns when the file lacks some of `SCHEMA`'s columns.
    """
    table = pq.read_table(pa.BufferReader(data))
    missing = [name for name in SCHEMA.names if name not in table.column_names and name not in _OPTIONAL]
    if missing:
        raise ValueError(f"parquet shard lacks columns {missing}; expected {SCHEMA.names}")
    rows = table.select([n for n in SCHEMA.names if n in table.column_names]).to_pylist()
    for row in rows:
        for name in _JSON_COLUMNS:
            row[name] = json.loads(row[name])
    return [ShardSample(**row) for row in rows]


def shard_classes(data: bytes) -> list[str] | None:
    """The class list in a Parquet shard's schema metadata; None when it holds none (a shard
    written before the list was)."""
    metadata: dict[Any, Any] = pq.read_schema(pa.BufferReader(data)).metadata or {}
    return json.loads(metadata[CLASSES_KEY]) if CLASSES_KEY in metadata else None
