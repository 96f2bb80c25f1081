"""Tiny builds with objects for localisation tests: bright squares on a dark film, their boxes in
`objects` and their instance-id map in `mask_png`, written straight from ShardSamples."""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from generator.output.formats import FORMATS, MANIFEST, shard_name
from generator.output.sample import ShardSample
from generator.output.storage import sha256_bytes

LOC_CLASSES = ["none", "coin", "pin_needle"]


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def loc_sample(i: int, size: int = 64, patients: int = 10) -> ShardSample:
    """Sample i (of patient i % patients): i % 3 == 0 has no object; else 1 or 2 objects (coin
    squares, pin bars) at positions drawn from np.random.default_rng(i)."""
    rng = np.random.default_rng(i)
    image = (rng.random((size, size)) * 40).astype(np.uint8)
    ids = np.zeros((size, size), dtype=np.uint8)
    objects = []
    n = 0 if i % 3 == 0 else 1 + i % 2
    for k in range(n):
        cls = "coin" if (i + k) % 2 else "pin_needle"
        if cls == "coin":
            w = h = int(rng.integers(6, 12))
        else:
            w, h = int(rng.integers(3, 5)), int(rng.integers(12, 20))
        x0, y0 = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
        image[y0:y0 + h, x0:x0 + w] = 230
        ids[y0:y0 + h, x0:x0 + w] = k + 1
        objects.append({"class": cls, "bbox_xyxy": [x0, y0, x0 + w, y0 + h]})
    present = {o["class"] for o in objects} or {"none"}
    labels = [int(c in present) for c in LOC_CLASSES]
    label = LOC_CLASSES.index(objects[0]["class"]) if objects else 0
    group = hashlib.sha256(f"patient-{i % patients}".encode()).hexdigest()[:16]
    return ShardSample(key=f"{i:08d}", image=_png(image), image_format="png", height=size, width=size, label=label,
                       labels=labels, objects=objects, spec={}, source_id=f"film-{i}", mask_png=_png(ids),
                       meta={"group_id": group})


def write_loc_build(root: Path, shard_counts: list[int], *, size: int = 64, formats=("wds",), first: int = 0,
                    patients: int = 10) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    entries, parts, i = [], {}, first
    hist: Counter = Counter()
    for s, count in enumerate(shard_counts):
        samples = [loc_sample(j, size, patients) for j in range(i, i + count)]
        i += count
        files = []
        for fmt in formats:
            data = FORMATS[fmt].encode(samples)
            name = shard_name(s, fmt)
            (root / name).write_bytes(data)
            files.append({"path": name, "format": fmt, "count": count, "sha256": sha256_bytes(data)})
        entries += files
        h = Counter(LOC_CLASSES[x.label] for x in samples)
        hist.update(h)
        parts[str(s)] = {"index": s, "count": count, "files": files, "histogram": dict(h),
                         "groups": dict(Counter(x.meta["group_id"] for x in samples))}
    (root / MANIFEST).write_text(json.dumps({"classes": LOC_CLASSES, "shards": entries, "class_histogram": dict(hist),
                                             "parts": parts, "totals": {"samples": i - first}}))
    return root
