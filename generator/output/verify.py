"""`radiopaque verify`: every shard file against the sha256 and count in dataset.json."""

from __future__ import annotations

import json

from generator.output.manifest import MANIFEST
from generator.output.storage import Store


def verify_build(url: str) -> tuple[list[str], int]:
    """Returns (one line per problem, number of shard files checked)."""
    store = Store(url, create=False)
    if not store.exists(MANIFEST):
        return [f"{MANIFEST} not found in {url}: not a radiopaque build"], 0
    manifest = json.loads(store.read_bytes(MANIFEST))
    problems = []
    for entry in manifest["shards"]:
        path = entry["path"]
        if not store.exists(path):
            problems.append(f"missing: {path}")
        elif store.sha256(path) != entry["sha256"]:
            problems.append(f"altered: {path} (sha256 differs from the manifest)")
    totals = manifest["totals"]
    if not totals["complete"]:
        problems.append(f"incomplete: {totals['samples']} of {totals['expected_samples']} samples, "
                        f"{totals['shards']} of {totals['expected_shards']} shards")
    return problems, len(manifest["shards"])
