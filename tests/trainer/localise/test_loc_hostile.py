"""Localisation reads the objects and instance map of each sample as untrusted input (issue
15 for issue 14's stream): a malformed `objects`, a missing, bomb or non-grey instance map and
an object class the model lacks are skipped and counted, never a traceback."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
from _builds import bomb_png
from PIL import Image

from generator.output.formats import MANIFEST
from trainer.localise.samples import LocStream
from trainer.shard_read import objects_problem, read_tar

CLASSES = ["none", "coin", "magnets"]


def _png(array: np.ndarray, mode: str = "L") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).convert(mode).save(buf, format="PNG")
    return buf.getvalue()


def _sample(tar, key: str, objects, mask: bytes | None) -> None:
    doc = {"key": key, "image_format": "png", "label": 1, "labels": [0, 1, 0], "source_id": f"s{key}",
           "meta": {"group_id": f"g{key}"}, "objects": objects}
    members = {f"{key}.png": _png(np.full((32, 32), 90, np.uint8)), f"{key}.json": json.dumps(doc).encode()}
    if mask is not None:
        members[f"{key}.mask.png"] = mask
    for name, data in members.items():
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def _hostile_tar() -> bytes:
    ids = np.zeros((32, 32), np.uint8)
    ids[4:10, 4:12] = 1
    good_objects = [{"class": "coin", "bbox_xyxy": [4, 4, 12, 10]}]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _sample(tar, "00000000", good_objects, _png(ids))
        _sample(tar, "00000001", "not a list", _png(ids))
        _sample(tar, "00000002", [{"class": "coin", "bbox_xyxy": [0, "x", 3, 4]}], _png(ids))
        _sample(tar, "00000003", [{"class": "coin", "bbox_xyxy": [0, 1e400, 3, 4]}], _png(ids))
        _sample(tar, "00000004", good_objects, None)
        _sample(tar, "00000005", good_objects, bomb_png())
        _sample(tar, "00000006", good_objects, _png(np.stack([ids] * 3, -1), "RGB"))
        _sample(tar, "00000007", [{"class": "pencil", "bbox_xyxy": [4, 4, 12, 10]}], _png(ids))
        _sample(tar, "00000008", good_objects, _png(ids))
    return buf.getvalue()


def test_objects_problem_names_what_is_wrong():
    assert objects_problem([{"class": "coin", "bbox_xyxy": [1, 2, 3, 4]}, {"class": "pin", "bbox_xyxy": None}]) is None
    assert objects_problem({"a": 1}) == "objects is a JSON dict, not a list"
    assert objects_problem([3]) == "object 0 is not an object with a string class"
    assert "bbox_xyxy [1, 2] is not four finite numbers" in objects_problem([{"class": "c", "bbox_xyxy": [1, 2]}])


def test_read_tar_with_targets_skips_malformed_objects_and_missing_maps():
    records, problems = read_tar(_hostile_tar(), "wds/shard-000000.tar", len(CLASSES), targets=True)
    assert [r.key for r in records] == ["00000000", "00000005", "00000006", "00000007", "00000008"]
    assert records[0].objects == ({"class": "coin", "bbox_xyxy": [4, 4, 12, 10]},) and records[0].mask_png
    reasons = {p.key: p.reason for p in problems}
    assert reasons == {"00000001": "objects is a JSON str, not a list",
                       "00000002": "object 0: bbox_xyxy [0, 'x', 3, 4] is not four finite numbers",
                       "00000003": "object 0: bbox_xyxy [0, inf, 3, 4] is not four finite numbers",
                       "00000004": "sample has no instance map (mask.png)"}
    plain, plain_problems = read_tar(_hostile_tar(), "wds/shard-000000.tar", len(CLASSES))
    assert len(plain) == 9 and plain_problems == [] and plain[0].objects == () and plain[0].mask_png == b""


def test_loc_stream_yields_only_the_usable_samples(tmp_path):
    (tmp_path / "wds").mkdir()
    (tmp_path / "wds" / "shard-000000.tar").write_bytes(_hostile_tar())
    (tmp_path / MANIFEST).write_text(json.dumps({"classes": CLASSES, "shards": [
        {"path": "wds/shard-000000.tar", "format": "wds", "count": 9}], "class_histogram": {"coin": 9}}))
    stream = LocStream(str(tmp_path), image_size=32)
    items = list(stream)
    assert [item["key"].rsplit(":", 1)[1] for item in items] == ["00000000", "00000008"]
    assert items[0]["boxes"].tolist() == [[4.0, 4.0, 12.0, 10.0]] and int(items[0]["inst"].max()) == 1
    # 4 members refused by the reader + bomb map, RGB map and unknown class refused when decoded
    assert stream.skipped == 7
