"""A corrupt sample inside a shard is skipped, counted and logged by key; the epoch goes on."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import DataLoader

from generator.output.formats import FORMATS, MANIFEST, shard_name
from generator.output.sample import ShardSample
from generator.output.storage import sha256_bytes
from trainer.stream import ShardStream

CLASSES = ["none", "coin"]


def _jpeg(value: int) -> bytes:
    buf = io.BytesIO()
    y, x = np.mgrid[0:24, 0:24]
    Image.fromarray(((x * 5 + y * 3 + value) % 256).astype(np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def _write_build(root: Path, fmt: str, corrupt: dict[str, bytes]) -> list[str]:
    """3 shards of 4 JPEG samples; keys in `corrupt` get those bytes as their image."""
    root.mkdir(parents=True)
    entries, keys = [], []
    for s in range(3):
        samples = []
        for i in range(4 * s, 4 * s + 4):
            key = f"{i:08d}"
            keys.append(key)
            samples.append(ShardSample(key=key, image=corrupt.get(key, _jpeg(i)), image_format="jpg", height=24,
                                       width=24, label=i % 2, labels=[int(i % 2 == 0), int(i % 2 == 1)], objects=(),
                                       spec={}, source_id="x", mask_png=b"", meta={}))
        data = FORMATS[fmt].encode(samples)
        (root / shard_name(s, fmt)).write_bytes(data)
        entries.append({"path": shard_name(s, fmt), "format": fmt, "count": 4, "sha256": sha256_bytes(data)})
    (root / MANIFEST).write_text(json.dumps({"classes": CLASSES, "shards": entries,
                                             "class_histogram": {"none": 6, "coin": 6}}))
    return keys


CORRUPT = {
    "00000005": _jpeg(5)[:200],  # truncated download: header fine, scan data cut short
    "00000010": b"this is not an image",
}


def test_stream_skips_counts_and_logs_corrupt_samples(tmp_path, caplog):
    for fmt in ("wds", "parquet"):
        keys = _write_build(tmp_path / fmt, fmt, CORRUPT)
        ds = ShardStream(str(tmp_path / fmt), image_size=16, seed=3, shuffle_buffer=4)
        with caplog.at_level(logging.WARNING, logger="trainer.stream"):
            caplog.clear()
            got = [key.split(":")[1] for _, _, key in ds]
        assert sorted(got) == sorted(k for k in keys if k not in CORRUPT)
        assert ds.skipped == len(CORRUPT)
        for key in CORRUPT:
            assert sum(key in r.getMessage() for r in caplog.records) == 1, (fmt, key, caplog.text)


def test_loader_with_workers_finishes_the_epoch_despite_corrupt_samples(tmp_path):
    keys = _write_build(tmp_path / "b", "wds", CORRUPT)
    ds = ShardStream(str(tmp_path / "b"), image_size=16, seed=3, shuffle_buffer=4)
    ds.set_epoch(1)
    loader = DataLoader(ds, batch_size=4, num_workers=2)
    got = [key.split(":")[1] for _, _, batch_keys in loader for key in batch_keys]
    assert sorted(got) == sorted(k for k in keys if k not in CORRUPT)
