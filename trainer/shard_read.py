"""One shard's records for training, read as untrusted input: skip or refuse, never crash.

A shard may come from another team or a broken copy. Whole-shard problems (not a tar or
Parquet file, Parquet columns of the wrong type) raise `ShardError(path, "", reason)`;
member problems come back as a list of `ShardError(path, key, reason)` beside the good
records, for the stream to skip, count and log like corrupt images:

* a member name whose key is not a sample key (`../x`, `/etc/x`, spaces, non-ASCII:
  `generator.output.sample.is_valid_key`), a member larger than
  `generator.output.limits.MAX_MEMBER_BYTES` (an 8 GiB header; a tar is read no further
  than its bytes), a sample without its image or JSON member;
* a JSON annotation that is not UTF-8, not JSON, not an object, whose key or image format
  disagrees with its members, whose `label` is not an int in [0, C) or whose `labels` is
  not C zeros and ones (`annotation_problem`);
* with `targets=True` (the localising tasks), `objects` that is not a list of objects each
  with a string `class` and a `bbox_xyxy` of four finite numbers (or null), or a sample
  without its instance map (`{key}.mask.png`, Parquet `mask_png`) (`objects_problem`);
* a Parquet row group whose read columns inflate past `limits.MAX_ROW_GROUP_BYTES` by the
  footer (read one row group at a time, never the whole table), rows with nulls or the
  problems above.

Decompression bombs are caught where images are decoded (`trainer.stream.decode_image`).
"""

from __future__ import annotations

import io
import json
import math
import tarfile
from dataclasses import dataclass, replace

from generator.errors import ShardError
from generator.output import limits
from generator.output.limits import member_size_problem, row_group_problem
from generator.output.sample import IMAGE_EXTENSIONS, is_valid_key
from trainer.split import meta_group_id

_JSON_EXT = "json"
PARQUET_COLUMNS = ("key", "image", "image_format", "label", "labels", "source_id", "meta")
TARGET_COLUMNS = ("objects", "mask_png")  # read too with targets=True
_MASK_EXT = "mask.png"


@dataclass(frozen=True)
class Record:
    """What training needs of one stored sample."""

    key: str
    image: bytes
    image_format: str
    label: int
    labels: tuple[int, ...]
    source_id: str = ""
    group_id: str | None = None  # meta["group_id"]; None in builds made before groups
    objects: tuple = ()  # with targets=True: the sample's objects (JSON dicts)
    mask_png: bytes = b""  # with targets=True: its instance-id map PNG


def annotation_problem(doc, key: str, image_format: str, num_classes: int) -> str | None:
    """None when a sample's annotation (parsed JSON) is usable for training, else why."""
    if not isinstance(doc, dict):
        return f"annotation is a JSON {type(doc).__name__}, not an object"
    if doc.get("key") != key:
        return f"annotation says key {str(doc.get('key'))[:40]!r}, its members {key!r}"
    if doc.get("image_format") != image_format:
        return f"annotation says image format {str(doc.get('image_format'))[:20]!r}, its member {image_format!r}"
    return label_problem(doc.get("label"), doc.get("labels"), num_classes)


def objects_problem(objects) -> str | None:
    """None when `objects` is a list of dicts, each with a string `class` and a `bbox_xyxy` of
    four finite numbers (or null: an object clipped away), else why."""
    if not isinstance(objects, list):
        return f"objects is a JSON {type(objects).__name__}, not a list"
    for i, obj in enumerate(objects):
        if not isinstance(obj, dict) or not isinstance(obj.get("class"), str):
            return f"object {i} is not an object with a string class"
        box = obj.get("bbox_xyxy")
        if box is None:
            continue
        if (not isinstance(box, list) or len(box) != 4
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in box)):
            return f"object {i}: bbox_xyxy {str(box)[:60]} is not four finite numbers"
    return None


def label_problem(label, labels, num_classes: int) -> str | None:
    """None when `label` is an int in [0, num_classes) and `labels` num_classes zeros and ones."""
    if not isinstance(label, int) or isinstance(label, bool):
        return f"label is a {type(label).__name__}, not an integer"
    if not 0 <= label < num_classes:
        return f"label {label} outside 0..{num_classes - 1}"
    if (not isinstance(labels, (list, tuple)) or len(labels) != num_classes
            or any(isinstance(v, bool) or v not in (0, 1) for v in labels)):
        return f"labels is not a list of {num_classes} zeros and ones"
    return None


def _shown(name: str) -> str:
    return repr(name[:60])


def read_tar(data: bytes, path: str, num_classes: int, *,
             targets: bool = False) -> tuple[list[Record], list[ShardError]]:
    """(good records in tar order, one ShardError per skipped member or sample). `targets`:
    also read and check each sample's objects and instance map."""
    problems: list[ShardError] = []
    members: dict[str, dict[str, bytes]] = {}
    bad: dict[str, str] = {}
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    except tarfile.TarError as exc:
        raise ShardError(path, "", f"not a tar file ({exc})") from None
    with tar:
        try:
            for info in tar:
                if not info.isfile():
                    continue
                key, _, ext = info.name.partition(".")
                if not is_valid_key(key):
                    problems.append(ShardError(path, "", f"member {_shown(info.name)} has no valid sample key "
                                                         "(letters, digits, '_', '-')"))
                    continue
                if key in bad:
                    continue
                reason = member_size_problem(info.size)
                if reason is None and info.offset_data + info.size > len(data):
                    reason = f"member {ext!r} of {info.size} bytes runs past the end of the tar"
                if reason:
                    bad[key] = reason
                    members.pop(key, None)
                    continue
                member = tar.extractfile(info)
                members.setdefault(key, {})[ext] = member.read() if member is not None else b""
        except tarfile.TarError as exc:
            if not bad:  # else a member already refused for its size explains where the tar ends
                problems.append(ShardError(path, "", f"tar cut short after {len(members)} samples ({exc})"))
    problems += [ShardError(path, key, reason) for key, reason in bad.items()]
    records = []
    for key, parts in members.items():
        record = _tar_record(key, parts, num_classes, targets)
        if isinstance(record, str):
            problems.append(ShardError(path, key, record))
        else:
            records.append(record)
    return records, problems


def _tar_record(key: str, parts: dict[str, bytes], num_classes: int, targets: bool = False) -> Record | str:
    images = [ext for ext in IMAGE_EXTENSIONS if ext in parts]
    if len(images) != 1 or _JSON_EXT not in parts:
        return f"members {sorted(parts)[:6]}: expected one image ({', '.join(IMAGE_EXTENSIONS)}) and a json"
    try:
        doc = json.loads(parts[_JSON_EXT].decode("utf-8"))
    except UnicodeDecodeError:
        return "annotation is not UTF-8"
    except ValueError as exc:
        return f"annotation is not JSON ({str(exc)[:80]})"
    problem = annotation_problem(doc, key, images[0], num_classes)
    if problem:
        return problem
    source = doc.get("source_id")
    record = Record(key, parts[images[0]], images[0], doc["label"], tuple(doc["labels"]),
                    source if isinstance(source, str) else "", meta_group_id(doc.get("meta")))
    return _with_targets(record, doc.get("objects"), parts.get(_MASK_EXT)) if targets else record


def _with_targets(record: Record, objects, mask_png) -> Record | str:
    """`record` with its objects and instance map, or why they are unusable."""
    problem = objects_problem(objects)
    if problem:
        return problem
    if not mask_png:
        return "sample has no instance map (mask.png)"
    return replace(record, objects=tuple(objects), mask_png=mask_png)


def parquet_schema_problem(schema, targets: bool = False) -> str | None:
    """None when a pyarrow schema has the columns training reads (`TARGET_COLUMNS` too with
    `targets`), with usable types."""
    import pyarrow as pa

    t = pa.types
    checks = {
        "key": (lambda x: t.is_string(x) or t.is_large_string(x), "string"),
        "image": (lambda x: t.is_binary(x) or t.is_large_binary(x), "binary"),
        "image_format": (lambda x: t.is_string(x) or t.is_large_string(x), "string"),
        "label": (t.is_integer, "integer"),
        "labels": (lambda x: (t.is_list(x) or t.is_large_list(x)) and t.is_integer(x.value_type), "list<integer>"),
        "source_id": (lambda x: t.is_string(x) or t.is_large_string(x), "string"),
        "meta": (lambda x: t.is_string(x) or t.is_large_string(x), "string"),
    }
    if targets:
        checks["objects"] = (lambda x: t.is_string(x) or t.is_large_string(x), "string")
        checks["mask_png"] = (lambda x: t.is_binary(x) or t.is_large_binary(x), "binary")
    names = schema.names
    missing = [c for c in checks if c not in names]
    if missing:
        return f"Parquet columns {missing} missing (has {names[:20]})"
    for name, (ok, wanted) in checks.items():
        kind = schema.field(name).type
        if not ok(kind):
            return f"Parquet column {name!r} is {kind}, expected {wanted}"
    return None


def read_parquet(data: bytes, path: str, num_classes: int, row_group_bytes: int | None = None, *,
                 targets: bool = False) -> tuple[list[Record], list[ShardError]]:
    """(good records in row order, one ShardError per skipped row or row group). One row
    group is read at a time, after its footer size has been checked against `row_group_bytes`
    (default `generator.output.limits.MAX_ROW_GROUP_BYTES`)."""
    cap = limits.MAX_ROW_GROUP_BYTES if row_group_bytes is None else row_group_bytes
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ShardError(path, "", f"not a Parquet file ({str(exc)[:120]})") from None
    problem = parquet_schema_problem(pf.schema_arrow, targets)
    if problem:
        raise ShardError(path, "", problem)
    columns = list(PARQUET_COLUMNS) + (list(TARGET_COLUMNS) if targets else [])
    records: list[Record] = []
    problems: list[ShardError] = []
    first = 0
    for g in range(pf.num_row_groups):
        rows = pf.metadata.row_group(g).num_rows
        where = f"rows {first}-{first + rows - 1}"
        first += rows
        problem = row_group_problem(pf.metadata, g, columns, cap)
        if problem:
            problems.append(ShardError(path, where, problem))
            continue
        try:
            table = pf.read_row_group(g, columns=columns)
        except (pa.ArrowException, OSError, ValueError) as exc:
            problems.append(ShardError(path, where, f"row group {g} unreadable ({str(exc)[:120]})"))
            continue
        for row in table.to_pylist():
            record = _parquet_record(row, num_classes, targets)
            if isinstance(record, str):
                key = row.get("key") if is_valid_key(row.get("key")) else ""
                problems.append(ShardError(path, key, record))
            else:
                records.append(record)
    return records, problems


def _parquet_record(row: dict, num_classes: int, targets: bool = False) -> Record | str:
    key, image, fmt = row["key"], row["image"], row["image_format"]
    if not is_valid_key(key):
        return f"row key {str(key)[:40]!r} is not a sample key (letters, digits, '_', '-')"
    if image is None or fmt not in IMAGE_EXTENSIONS:
        return f"row has no image or image format {str(fmt)[:20]!r} (allowed: {', '.join(IMAGE_EXTENSIONS)})"
    problem = label_problem(row["label"], row["labels"], num_classes)
    if problem:
        return problem
    try:
        meta = json.loads(row["meta"]) if row["meta"] is not None else None
    except ValueError:  # a broken meta is a sample without a group, not a skipped sample
        meta = None
    source = row["source_id"]
    record = Record(key, image, fmt, row["label"], tuple(row["labels"]), source if isinstance(source, str) else "",
                    meta_group_id(meta))
    if not targets:
        return record
    try:
        objects = json.loads(row["objects"]) if row["objects"] is not None else None
    except ValueError as exc:
        return f"objects are not JSON ({str(exc)[:80]})"
    return _with_targets(record, objects, row["mask_png"])
