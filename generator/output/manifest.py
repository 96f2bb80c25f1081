"""The build manifest `dataset.json` (and its companion `rejects.jsonl`).

Rewritten after every completed shard, so a killed build knows what it finished. It holds
the resolved config, versions, classes, every shard file with its sample count and sha256
(paths relative to the build dir), per-shard statistics (class histogram, rejects,
conversions) and the totals derived from them. No wall-clock times: two builds of the same
config give the same manifest, whatever ran them.
"""

from __future__ import annotations

import json
import platform
from collections import Counter
from importlib import metadata

from generator import __version__
from generator.config import BuildConfig
from generator.inputs.sources import SourceList

MANIFEST = "dataset.json"
REJECTS = "rejects.jsonl"
SCHEMA = 1
_VERSIONED = ("torch", "torchvision", "kornia", "numpy", "pillow", "pyarrow", "pydicom", "webdataset", "nvidia-dali-cuda130")


def library_versions() -> dict[str, str]:
    out = {"radiopaque": __version__, "python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def new_manifest(config: BuildConfig, sources: SourceList) -> dict:
    return {
        "schema": SCHEMA,
        # JSON-normalised (tuples -> lists) so it compares equal to a manifest read back.
        "config": json.loads(json.dumps(config.to_dict())),
        "seed": config.seed,
        "versions": library_versions(),
        "classes": list(config.classes),
        "sources": {"description": sources.description, "count": len(sources.sources),
                    "fingerprint": sources.fingerprint()},
        "list_rejects": list(sources.rejects),
        "parts": {},
    }


def identity(manifest: dict) -> dict:
    """What must match for a re-run to resume this build rather than start another."""
    return {"config": manifest["config"], "sources": manifest["sources"]["fingerprint"]}


def add_part(manifest: dict, part: dict) -> None:
    """Record a finished shard: {"index", "count", "histogram", "rejects", "converted", "files"}."""
    manifest["parts"][str(part["index"])] = part


def remove_part(manifest: dict, index: int) -> None:
    manifest["parts"].pop(str(index), None)


def _parts(manifest: dict) -> list[dict]:
    return [manifest["parts"][k] for k in sorted(manifest["parts"], key=int)]


def all_rejects(manifest: dict) -> list[dict]:
    """Every rejected input once (first reason seen), listing rejects first, then by path."""
    seen: dict[str, dict] = {}
    for r in manifest["list_rejects"]:
        seen.setdefault(r["source"], r)
    for part in _parts(manifest):
        for r in part["rejects"]:
            seen.setdefault(r["source"], r)
    return sorted(seen.values(), key=lambda r: (r["stage"] != "list", r["source"]))


def finalise(manifest: dict, expected_shards: int, expected_samples: int) -> dict:
    """The manifest as written: parts plus derived shards list and totals."""
    parts = _parts(manifest)
    histogram: Counter = Counter()
    converted: dict[str, str] = {}
    for part in parts:
        histogram.update(part["histogram"])
        converted.update(part["converted"])
    rejects = all_rejects(manifest)
    samples = sum(p["count"] for p in parts)
    return {
        **manifest,
        "shards": [f for part in parts for f in part["files"]],
        "totals": {
            "samples": samples,
            "expected_samples": expected_samples,
            "shards": len(parts),
            "expected_shards": expected_shards,
            "complete": samples == expected_samples and len(parts) == expected_shards,
        },
        "class_histogram": {c: histogram.get(c, 0) for c in manifest["classes"]},
        "conversions": dict(sorted(Counter(converted.values()).items())),
        "rejects": {"count": len(rejects), "file": REJECTS,
                    "by_stage": dict(sorted(Counter(r["stage"] for r in rejects).items()))},
    }


def dumps(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()


def rejects_jsonl(manifest: dict) -> bytes:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in all_rejects(manifest)).encode()
