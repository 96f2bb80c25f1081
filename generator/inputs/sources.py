"""Listing the input radiographs: a folder, a glob, a CSV manifest, or the built-in sample.

Each source gets a stable id derived from its path relative to the input root (hashed, so
file names, which may carry patient numbers, never reach a shard). Listing never decodes;
problems found while listing (a CSV row with a missing, duplicate or escaping path) become
rejects with a one-line reason, and the build goes on.

Each source also knows its patient group (`generator.inputs.groups`): the raw key (`group`,
which may hold a patient id: in memory only, never written) and its salted hash
(`group_id`, the only form that reaches outputs). The salt is the fingerprint of the whole
listing, taken before any split filtering.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from generator.config import SourceConfig
from generator.errors import ConfigError
from generator.inputs.dicom import patient_id
from generator.inputs.groups import group_id, group_key
from generator.inputs.plausible import parse_spacing_cell, spacing_problem

IMAGE_SUFFIXES = (".dcm", ".dicom", ".dic", ".png", ".jpg", ".jpeg")
PATH_COLUMNS = ("Path", "path", "file", "filename", "image", "Image Index")
SPACING_COLUMN_PAIRS = (("SpacingY_mm", "SpacingX_mm"), ("spacing_row_mm", "spacing_col_mm"))
BUILTIN_SAMPLE = "RG1_UNCR.dcm"
_RASTER_SUFFIXES = (".png", ".jpg", ".jpeg")
_NOT_FOUND = "file listed in manifest does not exist"  # never DICOM: no PatientID to look for


@dataclass(frozen=True, kw_only=True)
class Source:
    """One input image. `rel` is its path relative to the input root (shown only in rejects).
    `group` is the raw patient key ("nih:00001280"): never serialised, hence out of repr too."""

    source_id: str
    path: str
    rel: str
    group: str = field(repr=False)
    group_id: str
    spacing_mm: tuple[float, float] | None = None  # from the manifest; overrides the file's
    meta: dict = field(default_factory=dict)  # de-identified manifest fields (sex, age, view)


@dataclass(frozen=True)
class SourceList:
    sources: tuple[Source, ...]
    rejects: tuple[dict, ...]  # {"source": rel, "stage": "list", "reason": ...}
    description: str

    def fingerprint(self) -> str:
        """sha256 over the ordered source ids: a changed input set means a different build."""
        h = hashlib.sha256()
        for s in self.sources:
            h.update(s.source_id.encode())
        return h.hexdigest()


def source_id(rel: str) -> str:
    return hashlib.sha256(rel.replace(os.sep, "/").encode("utf-8", "surrogateescape")).hexdigest()[:16]


def reject_name(cfg: SourceConfig, rel: str) -> str:
    """How a rejected input at relative path `rel` is named in rejects.jsonl and dataset.json:
    its source id (the hash of `rel`), or with `reject_paths` (`--rejects-with-paths`) the path
    itself. NIH names (PPPPPPPP_FFF.png) and CheXpert folders carry patient numbers."""
    return display_path(rel) if cfg.reject_paths else source_id(rel)


def display_path(text: str) -> str:
    r"""A path as the OS gave it (undecodable bytes held as surrogates) as valid UTF-8 text,
    for manifests and rejects: a byte that is not UTF-8 becomes an escape (b"caf\xe9.png"
    is shown as caf\xe9.png), so the JSON written stays strict UTF-8."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def builtin_sample_path() -> str:
    """The RG1 chest CR shipped in the pydicom-data package (no download)."""
    try:
        from pydicom.data import get_testdata_file

        path = get_testdata_file(BUILTIN_SAMPLE)
    except Exception as exc:  # pydicom-data missing or broken: say what to install
        raise ConfigError("--input", None, f"a path; the built-in sample needs the pydicom-data package ({exc})")
    if not path:
        raise ConfigError("--input", None, "a path; the built-in sample RG1_UNCR.dcm was not found in pydicom-data")
    return str(path)


def list_sources(cfg: SourceConfig) -> SourceList:
    """List the sources named by cfg, in a deterministic order. Fails fast (ConfigError) when
    the input does not exist or holds no candidate image."""
    if cfg.input is None:
        path = builtin_sample_path()
        rel = "builtin/" + BUILTIN_SAMPLE
        src = Source(source_id=source_id(rel), path=path, rel=rel, group=_group(Path(path), rel), group_id="")
        return _with_group_ids(SourceList((src,), (), f"built-in sample {BUILTIN_SAMPLE} (pydicom-data)"))
    text = cfg.input
    is_csv = text.lower().endswith(".csv") and os.path.isfile(text)
    if cfg.group_column is not None and not is_csv:
        raise ConfigError("--group-column", cfg.group_column, "a column of a CSV manifest given as --input")
    if os.path.isdir(text):
        listed = _from_folder(Path(text))
    elif is_csv:
        listed = _from_csv(Path(text), cfg)
    elif any(ch in text for ch in "*?["):
        listed = _from_glob(text)
    elif os.path.isfile(text):
        listed = SourceList((_source(Path(text), Path(text).parent),), (), f"file {text}")
    else:
        raise ConfigError("--input", text, "an existing folder, glob, CSV manifest or image file (or omit it)")
    if not listed.sources:
        raise ConfigError("--input", text, f"a location holding images ({', '.join(IMAGE_SUFFIXES)} or DICOM)")
    return _with_group_ids(listed)


def _with_group_ids(listed: SourceList) -> SourceList:
    """Give every source its group id, salted with the fingerprint of the whole listing."""
    salt = listed.fingerprint()
    return replace(listed, sources=tuple(replace(s, group_id=group_id(s.group, salt)) for s in listed.sources))


def _group(path: Path, rel: str, csv_group: str | None = None) -> str:
    """The raw group key of a source; a DICOM header is read only when no CSV value decides."""
    has_csv = csv_group is not None and csv_group.strip() != ""
    dicom_id = None if has_csv or path.suffix.lower() in _RASTER_SUFFIXES else patient_id(path)
    return group_key(rel, csv_group=csv_group, dicom_patient_id=dicom_id)[1]


def _is_candidate(path: Path) -> bool:
    if path.name.startswith("."):
        return False
    return path.suffix.lower() in IMAGE_SUFFIXES or path.suffix == ""


def _source(path: Path, root: Path, csv_group: str | None = None, **extra) -> Source:
    """A source without its group id yet (`_with_group_ids` adds it once the listing is whole)."""
    rel = os.path.relpath(path, root)
    shown = display_path(rel)
    return Source(source_id=source_id(rel), path=str(path), rel=shown, group=_group(path, shown, csv_group),
                  group_id="", **extra)


def _from_folder(root: Path) -> SourceList:
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        paths.extend(Path(dirpath) / f for f in sorted(filenames) if _is_candidate(Path(dirpath) / f))
    return SourceList(tuple(_source(p, root) for p in sorted(paths)), (), f"folder {display_path(str(root))}")


def _from_glob(pattern: str) -> SourceList:
    paths = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
    root = Path(os.path.commonpath([str(p.parent) for p in paths])) if paths else Path(".")
    return SourceList(tuple(_source(p, root) for p in paths), (), f"glob {display_path(pattern)}")


def _from_csv(csv_path: Path, cfg: SourceConfig) -> SourceList:
    root = Path(cfg.root) if cfg.root else csv_path.parent
    if not root.is_dir():
        raise ConfigError("--root", str(root), "an existing folder that the CSV's paths are relative to")
    # surrogateescape: a path column in another encoding (latin-1 names) still names its file.
    with open(csv_path, newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        column = cfg.path_column or next((c for c in PATH_COLUMNS if c in header), None)
        if column is None or column not in header:
            raise ConfigError("--path-column", cfg.path_column, f"one of the CSV's columns {header}")
        spacing_cols = cfg.spacing_columns or next(
            (pair for pair in SPACING_COLUMN_PAIRS if all(c in header for c in pair)), None
        )
        if spacing_cols and not all(c in header for c in spacing_cols):
            raise ConfigError("--spacing-columns", spacing_cols, f"two of the CSV's columns {header}")
        if cfg.group_column is not None and cfg.group_column not in header:
            raise ConfigError("--group-column", cfg.group_column, f"one of the CSV's columns {header}")
        rows = list(reader)
    sources, rejects, seen = [], [], set()
    root_real = os.path.realpath(root)
    for line, row in enumerate(rows, start=2):
        value = (row.get(column) or "").strip()
        reason = _csv_path_problem(value, root, root_real, seen)
        if reason:
            name = reject_name(cfg, os.path.normpath(value)) if value else f"{csv_path.name}:{line}"
            rejects.append({"source": name, "stage": "list", "reason": reason})
            continue
        seen.add(os.path.normpath(value))
        try:
            spacing = _row_spacing(row, spacing_cols)
        except ValueError as exc:
            rejects.append({"source": reject_name(cfg, os.path.normpath(value)), "stage": "list",
                            "reason": str(exc)})
            continue
        group = row.get(cfg.group_column) if cfg.group_column else None
        sources.append(_source(root / value, root, csv_group=group, spacing_mm=spacing, meta=_row_meta(row)))
    missing = sum(1 for r in rejects if r["reason"] == _NOT_FOUND)
    if not sources and missing:
        raise ConfigError("--root" if cfg.root else "--input", str(root) if cfg.root else str(csv_path),
                          f"a folder the CSV's paths are relative to: {missing} of {len(rows)} rows not found under "
                          f"{display_path(str(root))} (--root, default: the CSV's folder)")
    return SourceList(tuple(sources), tuple(rejects),
                      display_path(f"CSV {csv_path} (column {column!r}, root {root})"))


def _csv_path_problem(value: str, root: Path, root_real: str, seen: set) -> str | None:
    if not value:
        return "empty path in manifest"
    if os.path.isabs(value):
        real = os.path.realpath(value)
        if os.path.commonpath([real, root_real]) != root_real:
            return f"absolute path outside --root {root}"
    if ".." in Path(value).parts:
        return "path with '..' refused (must stay inside --root)"
    if os.path.normpath(value) in seen:
        return "duplicate path in manifest"
    if not (root / value).is_file():
        return _NOT_FOUND
    return None


def _row_spacing(row: dict, cols: tuple[str, str] | None) -> tuple[float, float] | None:
    """The row's (row, col) spacing in mm; None when not given (no columns, or both cells
    blank). Raises ValueError with the reject reason for a value that is not a number, not
    finite, not positive, or outside `generator.inputs.plausible`'s range."""
    if not cols:
        return None
    try:
        values = [parse_spacing_cell(row.get(c)) for c in cols]
    except ValueError as exc:
        raise ValueError(f"spacing columns {cols[0]},{cols[1]}: {exc}") from None
    if values == [None, None]:
        return None
    if None in values:
        raise ValueError(f"spacing columns {cols[0]},{cols[1]}: one of the two is blank")
    spacing = (values[0], values[1])
    problem = spacing_problem(spacing, f"spacing ({cols[0]},{cols[1]})")
    if problem:
        raise ValueError(problem)
    return spacing


def _row_meta(row: dict) -> dict:
    meta = {}
    if row.get("Sex") in ("Male", "Female", "M", "F"):
        meta["sex"] = row["Sex"][0]
    age = row.get("Age")
    if age and age.strip().isdigit():
        meta["age_years"] = int(age)
    view = row.get("AP/PA") or row.get("View Position")
    if view:
        meta["view"] = view.strip()
    return meta
