"""Tiny builds written straight from ShardSamples: fast fixtures for stream and Ray tests."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from generator.output.formats import FORMATS, MANIFEST, shard_name
from generator.output.sample import ShardSample
from generator.output.storage import sha256_bytes

CLASSES = ["none", "coin", "magnets"]


def _png(value: int, size: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((size, size), value, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def write_fake_build(root: Path, shard_counts: list[int], formats=("wds", "parquet")) -> list[str]:
    """A build of len(shard_counts) shards; sample i has label i % 3 and image value i % 256.
    Returns the keys in shard order."""
    root.mkdir(parents=True, exist_ok=True)
    mask = _png(0)
    entries, keys, i = [], [], 0
    for s, count in enumerate(shard_counts):
        samples = []
        for _ in range(count):
            label = i % len(CLASSES)
            labels = [int(k == label) for k in range(len(CLASSES))]
            samples.append(ShardSample(key=f"{i:08d}", image=_png(i % 256), image_format="png", height=16, width=16,
                                       label=label, labels=labels, objects=(), spec={}, source_id="x",
                                       mask_png=mask, meta={}))
            keys.append(f"{i:08d}")
            i += 1
        for fmt in formats:
            data = FORMATS[fmt].encode(samples)
            name = shard_name(s, fmt)
            (root / name).write_bytes(data)
            entries.append({"path": name, "format": fmt, "count": count, "sha256": sha256_bytes(data)})
    hist = {c: sum(1 for j in range(i) if j % len(CLASSES) == k) for k, c in enumerate(CLASSES)}
    (root / MANIFEST).write_text(json.dumps({"classes": CLASSES, "shards": entries, "class_histogram": hist,
                                             "totals": {"samples": i}}))
    return keys

