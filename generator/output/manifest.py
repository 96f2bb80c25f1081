"""The build manifest `dataset.json` (and its companion `rejects.jsonl`) as typed records.

Rewritten after every completed shard, so a killed build knows what it finished. It holds
the resolved config, versions, classes, every shard file with its sample count and sha256
(paths relative to the build dir), per-shard statistics (class histogram, samples per
patient group id, rejects, conversions), the totals derived from them, and the patient
split the build drew from ("split": null when it drew from every film). No wall-clock times: two builds of the same
config give the same manifest, whatever ran them.

`Manifest` is the one view of a build that the generator (resume), `verify`, `preview` and
the trainer share: `read_manifest(store)` parses and checks it (a broken or hostile file is
a `ManifestError` naming what is wrong, never a KeyError), `Manifest.shards_to_read(fmt)`
is the one rule for which shard files a reader takes. The writer side builds it with
`new_manifest`, `with_part` and `without_part` (each returns a new frozen value) and writes
`to_json()`.
"""

from __future__ import annotations

import dataclasses
import json
import platform
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from generator import __version__

MANIFEST = "dataset.json"
REJECTS = "rejects.jsonl"
SCHEMA = 1
# Shard formats a reader takes, most preferred first: tar decoding is the cheaper.
READ_PREFERENCE = ("wds", "parquet")
_VERSIONED = ("torch", "torchvision", "kornia", "numpy", "pillow", "pyarrow", "pydicom", "webdataset",
              "nvidia-dali-cuda130")


class ManifestError(ValueError):
    """A dataset.json that cannot be used: not JSON, or a field missing or of the wrong type."""


@dataclass(frozen=True, kw_only=True)
class ShardFile:
    """One shard file: `path` relative to the build dir, its format name, samples, sha256."""

    path: str
    format: str
    count: int
    sha256: str | None = None
    bytes: int | None = None

    def to_dict(self) -> dict:
        out = {"path": self.path, "format": self.format, "count": self.count, "sha256": self.sha256,
               "bytes": self.bytes}
        return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True, kw_only=True)
class Reject:
    """An input that could not be used: its display path, the stage that refused it, why."""

    source: str
    stage: str
    reason: str

    def to_dict(self) -> dict:
        return {"source": self.source, "stage": self.stage, "reason": self.reason}


@dataclass(frozen=True, kw_only=True)
class ShardPart:
    """A finished shard: its samples' class histogram, rejects met, conversions, files, and
    `groups`: group_id -> samples of that patient group (pseudonymous ids, never raw keys)."""

    index: int
    count: int
    histogram: Mapping[str, int]
    rejects: tuple[Reject, ...] = ()
    converted: Mapping[str, str] = field(default_factory=dict)  # source_id -> "rgb" | "palette"
    files: tuple[ShardFile, ...] = ()
    groups: Mapping[str, int] = field(default_factory=dict)
    # generator.device.device_record of the device that rendered it; None: not recorded (older build)
    device: Mapping[str, str] | None = None

    def to_dict(self) -> dict:
        out = {"index": self.index, "count": self.count, "histogram": dict(self.histogram),
               "rejects": [r.to_dict() for r in self.rejects], "converted": dict(self.converted),
               "files": [f.to_dict() for f in self.files], "groups": dict(sorted(self.groups.items()))}
        if self.device is not None:
            out["device"] = dict(sorted(self.device.items()))
        return out


@dataclass(frozen=True, kw_only=True)
class SourcesInfo:
    description: str
    count: int
    fingerprint: str


@dataclass(frozen=True, kw_only=True)
class Totals:
    samples: int
    expected_samples: int
    shards: int
    expected_shards: int

    @property
    def complete(self) -> bool:
        return self.samples == self.expected_samples and self.shards == self.expected_shards


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """dataset.json. `shards`, `class_histogram` and `totals` are derived from `parts` when
    the generator writes it; a reader takes them as written (a build made elsewhere may list
    shards without parts)."""

    schema: int = SCHEMA
    config: Mapping[str, Any] = field(default_factory=dict)  # BuildConfig.to_dict(), JSON-normalised
    seed: int | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    classes: tuple[str, ...] = ()
    sources: SourcesInfo | None = None
    list_rejects: tuple[Reject, ...] = ()
    parts: Mapping[int, ShardPart] = field(default_factory=dict)
    shards: tuple[ShardFile, ...] = ()
    class_histogram: Mapping[str, int] = field(default_factory=dict)
    totals: Totals | None = None
    # {"name", "fractions", "seed", "rules", "sources", "groups", "input_sources",
    # "input_groups"} (see generator.inputs.splits.split_summary); None: no --split. The
    # order of "fractions" is lost to sorted JSON keys: config["split_fractions"] keeps it.
    split: Mapping[str, Any] | None = None

    # -- reading ----------------------------------------------------------------------------
    def formats(self) -> list[str]:
        return sorted({s.format for s in self.shards})

    def shards_to_read(self, fmt: str | None = None) -> tuple[str, list[ShardFile]]:
        """(format, its shard files sorted by path): `fmt`, or the first of READ_PREFERENCE
        the build holds. Sorted by path, not manifest order: the manifest lists shards as
        they complete, which on several workers is not shard order; names sort in order."""
        present = set(self.formats())
        if fmt is None:
            fmt = next((f for f in READ_PREFERENCE if f in present), None)
        if fmt not in present:
            raise ManifestError(f"{MANIFEST} lists no {fmt or 'readable'} shards (has {sorted(present)})")
        return fmt, sorted((s for s in self.shards if s.format == fmt), key=lambda s: s.path)

    def group_ids(self) -> set[str]:
        """Every patient group id the build's shards drew from."""
        return {g for part in self.parts.values() for g in part.groups}

    def identity(self) -> dict:
        """What must match for a re-run to resume this build rather than start another."""
        return {"config": dict(self.config), "sources": self.sources.fingerprint if self.sources else None}

    # -- writing ----------------------------------------------------------------------------
    def with_part(self, part: ShardPart) -> Manifest:
        return _derived(self, {**self.parts, part.index: part})

    def without_part(self, index: int) -> Manifest:
        return _derived(self, {i: p for i, p in self.parts.items() if i != index})

    def all_rejects(self) -> list[Reject]:
        """Every rejected input once (first reason seen), listing rejects first, then by path."""
        seen: dict[str, Reject] = {}
        for r in self.list_rejects:
            seen.setdefault(r.source, r)
        for index in sorted(self.parts):
            for r in self.parts[index].rejects:
                seen.setdefault(r.source, r)
        return sorted(seen.values(), key=lambda r: (r.stage != "list", r.source))

    def to_dict(self) -> dict:
        converted: dict[str, str] = {}
        for index in sorted(self.parts):
            converted.update(self.parts[index].converted)
        rejects = self.all_rejects()
        totals = self.totals or Totals(samples=0, expected_samples=0, shards=0, expected_shards=0)
        return {
            "schema": self.schema,
            "config": dict(self.config),
            "seed": self.seed,
            "versions": dict(self.versions),
            "classes": list(self.classes),
            "sources": dataclasses.asdict(self.sources) if self.sources else None,
            "list_rejects": [r.to_dict() for r in self.list_rejects],
            "parts": {str(i): self.parts[i].to_dict() for i in sorted(self.parts)},
            "shards": [s.to_dict() for s in self.shards],
            "totals": {**dataclasses.asdict(totals), "complete": totals.complete},
            "class_histogram": dict(self.class_histogram),
            "split": dict(self.split) if self.split is not None else None,
            "conversions": dict(sorted(Counter(converted.values()).items())),
            "rejects": {"count": len(rejects), "file": REJECTS,
                        "by_stage": dict(sorted(Counter(r.stage for r in rejects).items()))},
        }

    def to_json(self) -> bytes:
        return (json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n").encode()

    def rejects_jsonl(self) -> bytes:
        return "".join(json.dumps(r.to_dict(), sort_keys=True) + "\n" for r in self.all_rejects()).encode()


def library_versions() -> dict[str, str]:
    out = {"radiopaque": __version__, "python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def new_manifest(*, config: Mapping[str, Any], seed: int, classes: tuple[str, ...], sources: SourcesInfo,
                 list_rejects: tuple[Reject, ...], expected_shards: int, expected_samples: int,
                 split: Mapping[str, Any] | None = None) -> Manifest:
    """The manifest of a build with no shard finished yet. `config` is BuildConfig.to_dict(),
    `split` the record of `generator.inputs.splits.split_summary` (None without --split)."""
    empty = Manifest(config=json.loads(json.dumps(config)), seed=seed, versions=library_versions(),
                     classes=tuple(classes), sources=sources, list_rejects=tuple(list_rejects),
                     totals=Totals(samples=0, expected_samples=expected_samples, shards=0,
                                   expected_shards=expected_shards),
                     split=json.loads(json.dumps(split)) if split is not None else None)
    return _derived(empty, {})


def _derived(base: Manifest, parts: Mapping[int, ShardPart]) -> Manifest:
    ordered = [parts[i] for i in sorted(parts)]
    histogram: Counter = Counter()
    for part in ordered:
        histogram.update(part.histogram)
    expected = base.totals or Totals(samples=0, expected_samples=0, shards=0, expected_shards=0)
    return dataclasses.replace(
        base,
        parts=dict(sorted(parts.items())),
        shards=tuple(f for part in ordered for f in part.files),
        class_histogram={c: histogram.get(c, 0) for c in base.classes},
        totals=Totals(samples=sum(p.count for p in ordered), expected_samples=expected.expected_samples,
                      shards=len(ordered), expected_shards=expected.expected_shards),
    )


# -- parsing (everything a user hands in may be broken or hostile) ----------------------------
def read_manifest(store) -> Manifest:
    """The manifest of the build in `store` (a `generator.output.storage.Store`).

    Raises ManifestError when it is absent, not JSON or malformed; StoreError when it
    cannot be read."""
    if not store.exists(MANIFEST):
        raise ManifestError(f"{MANIFEST} not found in {store.url}: not a radiopaque build")
    return parse_manifest(store.read_bytes(MANIFEST), where=store.url)


def parse_manifest(data: bytes, where: str = MANIFEST) -> Manifest:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{where}/{MANIFEST} is not valid JSON: {exc}") from None
    try:
        return _manifest(_obj(doc, MANIFEST))
    except _Bad as exc:
        raise ManifestError(f"{where}/{MANIFEST}: {exc}") from None


class _Bad(Exception):
    pass


def _obj(value, name: str) -> dict:
    if not isinstance(value, dict):
        raise _Bad(f"{name} must be an object, got {type(value).__name__}")
    return value


def _field(doc: dict, key: str, kind, name: str, default=dataclasses.MISSING):
    if key not in doc or doc[key] is None:
        if default is dataclasses.MISSING:
            raise _Bad(f"{name}.{key} is missing")
        return default
    value = doc[key]
    # bool is an int to Python, never a count here.
    if not isinstance(value, kind) or (kind in (int, (int, float)) and isinstance(value, bool)):
        raise _Bad(f"{name}.{key} must be {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return value


def _list(doc: dict, key: str, name: str) -> list:
    return _field(doc, key, list, name, [])


def _shard_file(doc, name: str) -> ShardFile:
    doc = _obj(doc, name)
    count = _field(doc, "count", int, name)
    if count < 0:
        raise _Bad(f"{name}.count must be >= 0, got {count}")
    return ShardFile(path=_field(doc, "path", str, name), format=_field(doc, "format", str, name), count=count,
                     sha256=_field(doc, "sha256", str, name, None), bytes=_field(doc, "bytes", int, name, None))


def _reject(doc, name: str) -> Reject:
    doc = _obj(doc, name)
    return Reject(source=_field(doc, "source", str, name), stage=_field(doc, "stage", str, name),
                  reason=_field(doc, "reason", str, name))


def _counts(doc, name: str) -> dict[str, int]:
    doc = _obj(doc, name)
    return {str(k): _field(doc, k, int, name) for k in doc}


def _part(doc, name: str) -> ShardPart:
    doc = _obj(doc, name)
    index = _field(doc, "index", int, name)
    count = _field(doc, "count", int, name)
    if count < 0:
        raise _Bad(f"{name}.count must be >= 0, got {count}")
    converted = _obj(doc.get("converted") or {}, f"{name}.converted")
    return ShardPart(
        index=index, count=count,
        histogram=_counts(doc.get("histogram") or {}, f"{name}.histogram"),
        rejects=tuple(_reject(r, f"{name}.rejects[{k}]") for k, r in enumerate(_list(doc, "rejects", name))),
        converted={str(k): str(v) for k, v in converted.items()},
        files=tuple(_shard_file(f, f"{name}.files[{k}]") for k, f in enumerate(_list(doc, "files", name))),
        groups=_counts(_field(doc, "groups", dict, name, {}), f"{name}.groups"),
        device=_strings(doc["device"], f"{name}.device") if doc.get("device") is not None else None,
    )


def _strings(doc, name: str) -> dict[str, str]:
    doc = _obj(doc, name)
    return {str(k): _field(doc, k, str, name) for k in doc}


_SPLIT_COUNTS = ("sources", "groups", "input_sources", "input_groups")


def _split(doc, name: str) -> dict[str, Any]:
    doc = _obj(doc, name)
    fractions = _obj(_field(doc, "fractions", dict, name), f"{name}.fractions")
    return {
        "name": _field(doc, "name", str, name),
        "fractions": {str(k): _field(fractions, k, (int, float), f"{name}.fractions") for k in fractions},
        "seed": _field(doc, "seed", int, name),
        "rules": _counts(_field(doc, "rules", dict, name), f"{name}.rules"),
        **{k: _field(doc, k, int, name) for k in _SPLIT_COUNTS},
    }


def _manifest(doc: dict) -> Manifest:
    name = MANIFEST
    classes = _list(doc, "classes", name)
    if not all(isinstance(c, str) for c in classes):
        raise _Bad(f"{name}.classes must be a list of class names")
    sources = None
    if doc.get("sources") is not None:
        s = _obj(doc["sources"], f"{name}.sources")
        sources = SourcesInfo(description=_field(s, "description", str, f"{name}.sources", ""),
                              count=_field(s, "count", int, f"{name}.sources", 0),
                              fingerprint=_field(s, "fingerprint", str, f"{name}.sources", ""))
    parts = {}
    for key, value in _obj(doc.get("parts") or {}, f"{name}.parts").items():
        part = _part(value, f"{name}.parts[{key}]")
        if str(part.index) != key:
            raise _Bad(f"{name}.parts[{key}] holds shard {part.index}")
        parts[part.index] = part
    totals = None
    if doc.get("totals") is not None:
        # Readers need no totals; a partial record (another tool's) counts as none.
        t = _obj(doc["totals"], f"{name}.totals")
        keys = ("samples", "expected_samples", "shards", "expected_shards")
        counts = {k: _field(t, k, int, f"{name}.totals", None) for k in keys}
        totals = Totals(**counts) if None not in counts.values() else None
    return Manifest(
        schema=_field(doc, "schema", int, name, SCHEMA),
        config=_obj(doc.get("config") or {}, f"{name}.config"),
        seed=_field(doc, "seed", int, name, None),
        versions={str(k): str(v) for k, v in _obj(doc.get("versions") or {}, f"{name}.versions").items()},
        classes=tuple(classes),
        sources=sources,
        list_rejects=tuple(_reject(r, f"{name}.list_rejects[{k}]")
                           for k, r in enumerate(_list(doc, "list_rejects", name))),
        parts=dict(sorted(parts.items())),
        shards=tuple(_shard_file(s, f"{name}.shards[{k}]") for k, s in enumerate(_list(doc, "shards", name))),
        class_histogram=_counts(doc.get("class_histogram") or {}, f"{name}.class_histogram"),
        totals=totals,
        split=_split(doc["split"], f"{name}.split") if doc.get("split") is not None else None,
    )
