"""A manifest that cannot lie: what `verify` and a resume check beyond sha256.

A dataset.json is user input (copied, edited, merged by hand). Parsed (`read_manifest`), it
must also be consistent: each part's files are exactly `shard_path(index, format)` (one
naming function, `generator.output.formats`; `known_shard_paths` also accepts the top-level
name of a build made before the format folders), each part's count is its shard's planned range
(`count`, `shard_size` of the config), histogram and groups add up to it, no path appears
twice, the totals are non-negative and equal what the parts add up to, and `classes` is the
config's label classes (its class list, plus `medical_device` last with `--distractors
class`; a permuted or duplicated list would silently remap labels).
`part_problems` are a part's own (a resume rebuilds that shard); `build_problems` are the
whole manifest's (`verify` reports them; a resume refuses `class_problems`).

Device: each part records the device that rendered it (`generator.device.device_record`);
shard bytes are identical only on the same kind of device. `device_conflict` names both
kinds when they differ. A part without the field (a build made before it) is "unknown" and
conflicts with nothing: only a known mismatch is refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from generator.names import label_classes_of
from generator.output.formats import known_shard_paths
from generator.output.manifest import Manifest, ShardPart


def planned_count(manifest: Manifest, index: int) -> int | None:
    """Samples shard `index` must hold by the config's count and shard size; None when the
    config does not say (a build written by another tool)."""
    count, size = manifest.config.get("count"), manifest.config.get("shard_size")
    if not (isinstance(count, int) and isinstance(size, int) and size > 0):
        return None
    return max(0, min((index + 1) * size, count) - index * size)


def part_problems(manifest: Manifest, part: ShardPart) -> list[str]:
    """What is wrong with one part, one line each (empty: nothing)."""
    out = []
    where = f"part {part.index}"
    planned = planned_count(manifest, part.index)
    if part.index < 0 or (planned is not None and planned == 0):
        out.append(f"{where}: shard index outside the build's {_num_shards(manifest)} planned shards")
    elif planned is not None and part.count != planned:
        out.append(f"{where}: count {part.count}, its planned range holds {planned}")
    formats = [f.format for f in part.files]
    if len(set(formats)) != len(formats):
        out.append(f"{where}: lists format(s) {sorted(k for k, n in Counter(formats).items() if n > 1)} twice")
    for f in part.files:
        try:
            expected = known_shard_paths(part.index, f.format)
        except ValueError as exc:
            out.append(f"{where}: {exc}")
            continue
        if f.path not in expected:
            out.append(f"{where}: file {f.path!r} ({f.format}), expected {expected[0]!r}")
        if f.count != part.count:
            out.append(f"{where}: file {f.path!r} holds {f.count} samples, the part {part.count}")
    if any(v < 0 for v in part.histogram.values()) or sum(part.histogram.values()) != part.count:
        out.append(f"{where}: class histogram {dict(part.histogram)} does not add up to its {part.count} samples")
    if part.groups and (any(v < 0 for v in part.groups.values()) or sum(part.groups.values()) != part.count):
        out.append(f"{where}: patient group counts do not add up to its {part.count} samples")
    return out


def _num_shards(manifest: Manifest) -> int | str:
    count, size = manifest.config.get("count"), manifest.config.get("shard_size")
    return -(-count // size) if isinstance(count, int) and isinstance(size, int) and size > 0 else "?"


def class_problems(manifest: Manifest) -> list[str]:
    """The class list against itself and the config's (labels are indices into it)."""
    out = []
    classes = list(manifest.classes)
    if len(set(classes)) != len(classes):
        out.append(f"classes {classes} list a class twice")
    config_classes = manifest.config.get("classes")
    if config_classes is not None:
        expected = list(label_classes_of(config_classes, manifest.config.get("distractors")))
        if expected != classes:
            out.append(f"classes {classes} differ from the config's label classes {expected} (order is label order)")
    return out


def build_problems(manifest: Manifest) -> list[str]:
    """What is wrong with the manifest as a whole, one line each (empty: nothing). A resume
    re-derives shards and totals from the parts, so it refuses only `class_problems`."""
    out = class_problems(manifest)
    paths = [s.path for s in manifest.shards]
    twice = sorted(p for p, n in Counter(paths).items() if n > 1)
    if twice:
        out.append(f"shard file(s) {twice} listed more than once")
    if manifest.parts:
        listed = sorted(f.path for p in manifest.parts.values() for f in p.files)
        if listed != sorted(paths):
            out.append("shards differ from the files the parts list")
    totals = manifest.totals
    if totals is not None:
        values = {"samples": totals.samples, "expected_samples": totals.expected_samples, "shards": totals.shards,
                  "expected_shards": totals.expected_shards}
        negative = [k for k, v in values.items() if v < 0]
        if negative:
            out.append(f"totals {negative} are negative")
        if manifest.parts and (totals.samples != sum(p.count for p in manifest.parts.values())
                               or totals.shards != len(manifest.parts)):
            out.append(f"totals say {totals.samples} samples in {totals.shards} shards, the parts "
                       f"{sum(p.count for p in manifest.parts.values())} in {len(manifest.parts)}")
        count = manifest.config.get("count")
        if isinstance(count, int) and totals.expected_samples != count:
            out.append(f"totals expect {totals.expected_samples} samples, the config's count is {count}")
        if totals.samples > totals.expected_samples or totals.shards > totals.expected_shards:
            out.append(f"totals hold more than expected ({totals.samples} of {totals.expected_samples} samples, "
                       f"{totals.shards} of {totals.expected_shards} shards)")
    hist = manifest.class_histogram
    if any(v < 0 for v in hist.values()) or (manifest.parts and sum(hist.values()) != sum(
            p.count for p in manifest.parts.values())):
        out.append(f"class histogram {dict(hist)} does not add up to the parts' samples")
    return out


def all_problems(manifest: Manifest) -> list[str]:
    return build_problems(manifest) + [line for p in manifest.parts.values() for line in part_problems(manifest, p)]


def device_kind(record: Mapping[str, str] | None) -> str:
    """One line naming a device record: "cuda NVIDIA H100 (torch 2.14.1, CUDA 13.0)"."""
    if not record:
        return "unknown"
    if set(record) == {"type"}:
        return str(record["type"])
    cuda = f", CUDA {record['cuda']}" if record.get("cuda") else ""
    return f"{record.get('type')} {record.get('name')} (torch {record.get('torch')}{cuda})"


def device_conflict(parts: Mapping[int, ShardPart], record: Mapping[str, str] | None) -> str | None:
    """None when `record` is the kind every known part was rendered on (or either is unknown),
    else a line naming both kinds. Only the fields both records hold are compared (a driver
    that must not initialise CUDA knows only {"type": "cuda"})."""
    if not record:
        return None
    for index in sorted(parts):
        other = parts[index].device
        if other and any(other[k] != record[k] for k in set(other) & set(record)):
            return (f"shard {index} was rendered on {device_kind(other)}, this worker is {device_kind(record)}: "
                    "shard bytes are identical only on the same kind of device")
    return None
