"""Hostile shard members (issue 15): skipped, counted and logged like corrupt images, or
refused when the build is opened; never a traceback, never a large allocation. Every fixture
is a few KB: the 8 GiB tar header and the 20000 x 20000 PNG are written by hand."""

from __future__ import annotations

import io
import json
import logging
import os
import tarfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _builds import bomb_png, write_fake_build
from PIL import Image

from generator.errors import ShardError
from generator.output import limits
from generator.output.formats import FORMATS, MANIFEST, shard_name
from generator.output.manifest import ManifestError
from generator.output.parquet import SCHEMA
from generator.output.sample import ShardSample
from radiopaque.cli import main
from trainer import dali_index, dali_stream
from trainer.shard_read import read_parquet, read_tar
from trainer.stream import Build, ShardStream

CLASSES = ["none", "coin", "magnets"]


def _png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((16, 16), value, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _annotation(key: str, label=1, labels=None, fmt="png") -> dict:
    labels = labels if labels is not None else [int(k == label) for k in range(len(CLASSES))]
    return {"key": key, "image_format": fmt, "label": label, "labels": labels, "source_id": f"film-{key}",
            "meta": {"group_id": f"g{key}"}}


def _member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _good(tar, key: str) -> None:
    _member(tar, f"{key}.png", _png(int(key) % 256))
    _member(tar, f"{key}.json", json.dumps(_annotation(key)).encode())


HOSTILE = {  # key -> (json bytes or None for the standard annotation, image bytes, reason fragment)
    "00000001": (b"\xff\xfe not utf-8", None, "not UTF-8"),
    "00000002": (b"[1, 2, 3]", None, "a JSON list, not an object"),
    "00000003": (json.dumps(_annotation("00000003", label=7)).encode(), None, "label 7 outside 0..2"),
    "00000004": (json.dumps(_annotation("00000004", label="1")).encode(), None, "label is a str"),
    "00000005": (json.dumps(_annotation("00000005", label=True)).encode(), None, "label is a bool"),
    "00000006": (json.dumps(_annotation("00000006", labels=[0, 1])).encode(), None, "not a list of 3 zeros"),
    "00000007": (b"{not json", None, "not JSON"),
}
BOMB = "00000008"


def hostile_tar(with_giant_header: bool = True) -> bytes:
    """Good samples 00000000 and 00000009..00000011, the HOSTILE ones, a bomb PNG, members with
    a '../' and an absolute name, and last an 8 GiB member header (GNU base-256 size field)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        _good(tar, "00000000")
        for key, (doc, image, _) in HOSTILE.items():
            _member(tar, f"{key}.png", image or _png(1))
            _member(tar, f"{key}.json", doc)
        _member(tar, f"{BOMB}.png", bomb_png())
        _member(tar, f"{BOMB}.json", json.dumps(_annotation(BOMB)).encode())
        _member(tar, "../escape.png", _png(2))
        _member(tar, "/etc/absolute.json", b"{}")
        for k in (9, 10, 11):
            _good(tar, f"{k:08d}")
        end = tar.offset
    data = buf.getvalue()[:end]  # drop the end-of-archive blocks, then append the giant member
    if with_giant_header:
        info = tarfile.TarInfo("00000012.png")
        info.size = 8 * 2**30
        data += info.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 512
    return data + b"\0" * 1024


def _write_build(root, name: str, data: bytes, count: int, fmt: str = "wds") -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(data)
    (root / MANIFEST).write_text(json.dumps({"classes": CLASSES, "shards": [
        {"path": name, "format": fmt, "count": count}], "class_histogram": {"coin": count}}))


def test_read_tar_keeps_the_good_samples_and_names_every_hostile_member():
    records, problems = read_tar(hostile_tar(), "shard-000000.tar", len(CLASSES))
    assert [r.key for r in records] == ["00000000", BOMB, "00000009", "00000010", "00000011"]
    reasons = {p.key: p.reason for p in problems}
    for key, (_, _, fragment) in HOSTILE.items():
        assert fragment in reasons[key], (key, reasons)
    assert "tar member of 8589934592 bytes (at most 268435456)" in reasons["00000012"]
    names = [p.reason for p in problems if not p.key]
    assert any("'../escape.png' has no valid sample key" in r for r in names)
    assert any("'/etc/absolute.json' has no valid sample key" in r for r in names)


def test_the_stream_skips_counts_and_logs_hostile_members_and_the_bomb(tmp_path, caplog):
    _write_build(tmp_path / "b", shard_name(0, "wds"), hostile_tar(), count=13)
    ds = ShardStream(str(tmp_path / "b"), image_size=16, shuffle=False, drop_remainder=False)
    with caplog.at_level(logging.WARNING, logger="trainer.stream"):
        got = [key.split(":")[1] for _, _, key in ds]
    assert got == ["00000000", "00000009", "00000010", "00000011"]
    assert ds.skipped == len(HOSTILE) + 2 + 1 + 1  # hostile JSON, two bad names, the 8 GiB member, the bomb
    assert "DecompressionBomb" in caplog.text or "decompression bomb" in caplog.text
    assert "Traceback" not in caplog.text


def test_a_bomb_is_refused_from_its_header_on_the_raw_gpu_path(tmp_path, caplog):
    _write_build(tmp_path / "b", shard_name(0, "wds"), hostile_tar(with_giant_header=False), count=12)
    ds = ShardStream(str(tmp_path / "b"), image_size=16, shuffle=False, drop_remainder=False, decode="raw")
    with caplog.at_level(logging.WARNING, logger="trainer.stream"):
        got = [key.split(":")[1] for _, _, key in ds]
    assert BOMB not in got and f"{BOMB}: image header claims too many pixels" in caplog.text


def _parquet(rows: list[dict], schema=SCHEMA, **kw) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), sink, **kw)
    return sink.getvalue().to_pybytes()


def _rows(n: int, change: dict | None = None) -> list[dict]:
    out = []
    for i in range(n):
        row = {"key": f"{i:08d}", "image": _png(i), "image_format": "png", "height": 16, "width": 16, "label": 1,
               "labels": [0, 1, 0], "objects": "[]", "spec": "{}", "source_id": "s", "mask_png": b"",
               "meta": json.dumps({"group_id": f"g{i}"})}
        row.update((change or {}).get(i, {}))
        out.append(row)
    return out


def test_parquet_bad_rows_are_skipped_and_wrong_column_types_refuse_the_shard():
    rows = _rows(5, {1: {"label": 9}, 2: {"key": "../up"}, 3: {"image_format": "gif"}})
    records, problems = read_parquet(_parquet(rows), "p.parquet", len(CLASSES))
    assert [r.key for r in records] == ["00000000", "00000004"]
    assert [p.reason.split(" ")[0] for p in problems] == ["label", "row", "row"]
    wrong = pa.schema([f if f.name != "label" else pa.field("label", pa.string()) for f in SCHEMA])
    with pytest.raises(ShardError, match="Parquet column 'label' is string, expected integer"):
        read_parquet(_parquet(_rows(2, {0: {"label": "1"}, 1: {"label": "2"}}), schema=wrong), "p", 3)
    with pytest.raises(ShardError, match="not a Parquet file"):
        read_parquet(b"PAR1 garbage", "p", 3)


def test_a_small_zstd_parquet_that_inflates_is_refused_per_row_group_before_reading(monkeypatch):
    inflating = json.dumps({"group_id": "g", "pad": "0" * (4 * 2**20)})  # 4 MB of zeros, a few KB in zstd
    data = _parquet(_rows(4, {2: {"meta": inflating}}), row_group_size=2, compression="zstd")
    assert len(data) < 64 * 1024
    monkeypatch.setattr(limits, "MAX_ROW_GROUP_BYTES", 2**20)
    records, problems = read_parquet(data, "p.parquet", len(CLASSES))
    assert [r.key for r in records] == ["00000000", "00000001"]
    assert len(problems) == 1 and problems[0].key == "rows 2-3" and "inflates to" in problems[0].reason


def test_the_stream_reads_a_parquet_build_with_bad_rows_to_the_end(tmp_path):
    rows = _rows(6, {1: {"label": -1}, 4: {"labels": [1]}})
    _write_build(tmp_path / "b", shard_name(0, "parquet"), _parquet(rows), count=6, fmt="parquet")
    ds = ShardStream(str(tmp_path / "b"), image_size=16, shuffle=False, drop_remainder=False)
    assert [k.split(":")[1] for _, _, k in ds] == ["00000000", "00000002", "00000003", "00000005"]
    assert ds.skipped == 2


@pytest.mark.parametrize("path", ["../outside.tar", "/tmp/outside.tar", "a/../../x.tar"])
def test_a_shard_path_outside_the_build_is_refused_when_opened(tmp_path, path):
    good = FORMATS["wds"].encode([ShardSample(key="00000000", image=_png(1), image_format="png", height=16,
                                              width=16, label=0, labels=[1, 0, 0], objects=(), spec={},
                                              source_id="s", mask_png=_png(0), meta={})])
    (tmp_path / "outside.tar").write_bytes(good)
    _write_build(tmp_path / "b", "shard-000000.tar", good, count=1)
    doc = json.loads((tmp_path / "b" / MANIFEST).read_text())
    doc["shards"][0]["path"] = path
    (tmp_path / "b" / MANIFEST).write_text(json.dumps(doc))
    with pytest.raises(ManifestError, match="must be relative to the build"):
        Build(str(tmp_path / "b"))
    with pytest.raises(ManifestError, match="resolves outside the build"):
        dali_index.inside_build(str(tmp_path / "b"), path)


@pytest.mark.skipif(not dali_stream.dali_available(), reason="nvidia.dali is not importable: no DALI path to test")
def test_dali_refuses_a_tar_outside_the_build_as_the_cpu_path_does(tmp_path):
    (tmp_path / "outside.tar").write_bytes(hostile_tar())
    _write_build(tmp_path / "b", "shard-000000.tar", b"", count=13)
    doc = json.loads((tmp_path / "b" / MANIFEST).read_text())
    doc["shards"][0]["path"] = "../outside.tar"
    (tmp_path / "b" / MANIFEST).write_text(json.dumps(doc))
    for opened in (lambda: ShardStream(str(tmp_path / "b")),
                   lambda: dali_stream.DaliStream(str(tmp_path / "b"), cache_dir=tmp_path / "c", device="cpu")):
        with pytest.raises(ManifestError, match="'../outside.tar' must be relative to the build"):
            opened()


def test_the_dali_index_leaves_out_what_the_cpu_path_skips(tmp_path):
    path = tmp_path / "shard-000000.tar"
    path.write_bytes(hostile_tar())
    samples, problems = dali_index.tar_samples(str(path))
    good, groups, films, bad = dali_index.tar_annotations(str(path), samples, len(CLASSES))
    keys = [samples[k][0][3].partition(".")[0] for k in good]
    assert keys == ["00000000", "00000009", "00000010", "00000011"]  # the bomb too: from its header
    assert groups == [f"g{k}" for k in keys] and films == [f"film-{k}" for k in keys]
    assert len(problems) + len(bad) == len(HOSTILE) + 4


def test_the_dali_index_cache_is_private_and_keyed_on_tar_size_and_mtime(tmp_path, monkeypatch):
    monkeypatch.setattr(dali_index.tempfile, "gettempdir", lambda: str(tmp_path))
    cache = dali_index.default_cache_dir()
    assert cache == tmp_path / f"radiopaque-{os.getuid()}" / "dali-index"
    dali_index.private_dir(cache)
    assert (cache.stat().st_mode & 0o777) == 0o700 and (cache.parent.stat().st_mode & 0o777) == 0o700
    cache.chmod(0o777)
    with pytest.raises(Exception, match="mode 0700"):
        dali_index.private_dir(cache)


def test_a_manifest_listing_a_shard_twice_is_refused_before_training(tmp_path, capsys):
    write_fake_build(tmp_path / "b", [4, 4], formats=("wds",))
    doc = json.loads((tmp_path / "b" / MANIFEST).read_text())
    doc["parts"]["1"]["files"] = doc["parts"]["0"]["files"]  # part 1 points at shard 0's file
    doc["shards"] = [doc["shards"][0], doc["shards"][0]]
    (tmp_path / "b" / MANIFEST).write_text(json.dumps(doc))
    with pytest.raises(ManifestError, match="listed more than once"):
        ShardStream(str(tmp_path / "b"))
    assert main(["train", "--data", str(tmp_path / "b"), "--out", str(tmp_path / "run"), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "radiopaque verify lists every problem" in err and not (tmp_path / "run").exists()


def test_the_dali_index_identity_changes_with_tar_size_and_mtime(tmp_path):
    path = tmp_path / "shard-000000.tar"
    path.write_bytes(b"x" * 1024)
    first = dali_index.tar_identity(str(path), "abc")
    os.utime(path, ns=(0, 10**9))
    touched = dali_index.tar_identity(str(path), "abc")
    path.write_bytes(b"x" * 2048)
    os.utime(path, ns=(0, 10**9))
    assert len({first, touched, dali_index.tar_identity(str(path), "abc")}) == 3


@pytest.mark.skipif(not dali_stream.dali_available(), reason="nvidia.dali is not importable: no DALI path to test")
def test_dali_reads_only_the_good_samples_of_a_hostile_tar(tmp_path, caplog):
    _write_build(tmp_path / "b", shard_name(0, "wds"), hostile_tar(), count=13)
    ds = dali_stream.DaliStream(str(tmp_path / "b"), cache_dir=tmp_path / "cache", shuffle=False,
                                drop_remainder=False, image_size=16, batch_size=2, device="cpu")
    with caplog.at_level(logging.WARNING, logger="trainer.dali_stream"):
        assert len(ds) == 4
        keys = [k.split(":")[1] for _, _, batch in ds for k in batch]
    assert keys == ["00000000", "00000009", "00000010", "00000011"]
    assert "00000012: tar member of 8589934592 bytes" in caplog.text and "'../escape.png'" in caplog.text


def test_evaluate_on_a_build_whose_every_sample_is_malformed_is_one_line(tmp_path, capsys):
    from trainer.checkpoint import save_checkpoint
    from trainer.config import TrainConfig
    from trainer.models import build_model

    rows = _rows(3, {0: {"label": 9}, 1: {"label": 9}, 2: {"label": 9}})
    _write_build(tmp_path / "b", shard_name(0, "parquet"), _parquet(rows), count=3, fmt="parquet")
    save_checkpoint(tmp_path / "c.pt", model=build_model("resnet18", 3), optimizer=None, scheduler=None, epoch=0,
                    step=0, cfg=TrainConfig(data="d", out="o", image_size=32), classes=CLASSES, metrics={},
                    best_metric=None)
    rc = main(["evaluate", "--checkpoint", str(tmp_path / "c.pt"), "--data", str(tmp_path / "b"), "--out",
               str(tmp_path / "e"), "--no-progress", "--loader-workers", "0"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and "at least one readable sample" in err and not (tmp_path / "e").exists()
