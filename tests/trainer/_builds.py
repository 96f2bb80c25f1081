"""Tiny builds written straight from ShardSamples: fast fixtures for stream and Ray tests.

They carry the generator's patient-group contract (issue 13): each sample's meta has
`group_id` (16 hex), each manifest part `groups` ({group_id: samples in that shard})."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from generator.output.formats import FORMATS, MANIFEST, shard_name, shard_path
from generator.output.sample import ShardSample
from generator.output.storage import sha256_bytes

CLASSES = ["none", "coin", "magnets"]


def _png(value: int, size: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((size, size), value, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def group_id(patient: int) -> str:
    """The group id of fake patient `patient` (a hash, like the generator's)."""
    return hashlib.sha256(f"patient-{patient}".encode()).hexdigest()[:16]


def write_fake_build(root: Path, shard_counts: list[int], formats=("wds", "parquet"), *, patients: int | None = 12,
                     first_patient: int = 0, flat: bool = False) -> list[str]:
    """A build of len(shard_counts) shards; sample i has label i % 3, image value i % 256 and
    patient first_patient + i % patients, so a patient's samples spread over the shards.
    `patients=None`: a build made before groups (no group_id, no part groups; film i % 10).
    `flat`: shards at the top level, as builds made before the wds/ and parquet/ folders.
    Returns the keys in shard order."""
    root.mkdir(parents=True, exist_ok=True)
    mask = _png(0)
    entries, keys, parts, i = [], [], {}, 0
    for s, count in enumerate(shard_counts):
        samples = []
        for _ in range(count):
            label = i % len(CLASSES)
            labels = [int(k == label) for k in range(len(CLASSES))]
            meta = {} if patients is None else {"group_id": group_id(first_patient + i % patients)}
            samples.append(ShardSample(key=f"{i:08d}", image=_png(i % 256), image_format="png", height=16, width=16,
                                       label=label, labels=labels, objects=(), spec={}, source_id=f"film-{i % 10}",
                                       mask_png=mask, meta=meta))
            keys.append(f"{i:08d}")
            i += 1
        files = []
        for fmt in formats:
            data = FORMATS[fmt].encode(samples)
            name = shard_name(s, fmt) if flat else shard_path(s, fmt)
            (root / name).parent.mkdir(exist_ok=True)
            (root / name).write_bytes(data)
            files.append({"path": name, "format": fmt, "count": count, "sha256": sha256_bytes(data)})
        entries += files
        part = {"index": s, "count": count, "files": files,
                "histogram": dict(Counter(CLASSES[x.label] for x in samples))}
        if patients is not None:
            part["groups"] = dict(Counter(x.meta["group_id"] for x in samples))
        parts[str(s)] = part
    hist = {c: sum(1 for j in range(i) if j % len(CLASSES) == k) for k, c in enumerate(CLASSES)}
    (root / MANIFEST).write_text(json.dumps({"classes": CLASSES, "shards": entries, "class_histogram": hist,
                                             "parts": parts, "totals": {"samples": i}}))
    return keys


def sample_groups(root: Path) -> dict[str, str | None]:
    """key -> meta group_id of every sample of a fake build, read from its tar shards."""
    out = {}
    for path in sorted(root.rglob("*.tar")):
        for sample in FORMATS["wds"].decode(path.read_bytes()):
            out[sample.key] = sample.meta.get("group_id")
    return out


def bomb_png(side: int = 20000) -> bytes:
    """A valid PNG header claiming side x side 8-bit grey pixels, with a few bytes of data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
