"""`radiopaque verify`: every shard file against the sha256 and count in dataset.json, and the
manifest against itself (`generator.output.consistency`: names, planned counts, unique paths,
totals, classes)."""

from __future__ import annotations

from generator.output.consistency import all_problems
from generator.output.manifest import ManifestError, read_manifest
from generator.output.storage import Store


def verify_build(url: str) -> tuple[list[str], int]:
    """Returns (one line per problem, number of shard files checked)."""
    store = Store(url, create=False)
    try:
        manifest = read_manifest(store)
    except ManifestError as exc:
        return [str(exc)], 0
    problems = [f"inconsistent: {line}" for line in all_problems(manifest)]
    for entry in manifest.shards:
        if not store.exists(entry.path):
            problems.append(f"missing: {entry.path}")
        elif store.sha256(entry.path) != entry.sha256:
            problems.append(f"altered: {entry.path} (sha256 differs from the manifest)")
    totals = manifest.totals
    if totals is None or not totals.complete:
        done = f"{totals.samples} of {totals.expected_samples} samples, {totals.shards} of {totals.expected_shards} " \
               "shards" if totals else "no totals recorded"
        problems.append(f"incomplete: {done}")
    return problems, len(manifest.shards)
