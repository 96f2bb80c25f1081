"""dataset.json as typed records: what the writer derives, what the reader accepts and refuses."""

import json

import pytest

from generator.output.manifest import (
    MANIFEST,
    ManifestError,
    Reject,
    ShardFile,
    ShardPart,
    SourcesInfo,
    new_manifest,
    parse_manifest,
    read_manifest,
)
from generator.output.storage import Store

SPLIT = {"name": "test", "fractions": {"train": 0.8, "val": 0.1, "test": 0.1}, "seed": 0, "rules": {"nih": 30},
         "sources": 4, "groups": 2, "input_sources": 30, "input_groups": 10}


def _manifest():
    m = new_manifest(config={"style": "physical", "classes": ("none", "coin")}, seed=7, classes=("none", "coin"),
                     sources=SourcesInfo(description="folder x", count=3, fingerprint="f" * 64),
                     list_rejects=(Reject(source="b.csv row 2", stage="list", reason="missing path"),),
                     expected_shards=2, expected_samples=5, split=SPLIT)
    part1 = ShardPart(index=1, count=2, histogram={"coin": 2}, groups={"0123456789abcdef": 2},
                      rejects=(Reject(source="a.png", stage="decode", reason="truncated"),),
                      converted={"abc": "rgb"},
                      files=(ShardFile(path="shard-000001.tar", format="wds", count=2, sha256="1" * 64, bytes=10),
                             ShardFile(path="shard-000001.parquet", format="parquet", count=2, sha256="2" * 64,
                                       bytes=20)))
    part0 = ShardPart(index=0, count=3, histogram={"none": 2, "coin": 1},
                      groups={"fedcba9876543210": 1, "0123456789abcdef": 2},
                      files=(ShardFile(path="shard-000000.tar", format="wds", count=3, sha256="3" * 64, bytes=30),))
    return m.with_part(part1).with_part(part0)


def test_parts_give_shards_totals_and_histogram_in_shard_order():
    m = _manifest()
    assert [s.path for s in m.shards] == ["shard-000000.tar", "shard-000001.tar", "shard-000001.parquet"]
    assert (m.totals.samples, m.totals.shards, m.totals.complete) == (5, 2, True)
    assert dict(m.class_histogram) == {"none": 2, "coin": 3}
    doc = m.to_dict()
    assert doc["config"]["classes"] == ["none", "coin"]  # JSON-normalised at creation
    assert doc["conversions"] == {"rgb": 1}
    assert doc["rejects"] == {"count": 2, "file": "rejects.jsonl", "by_stage": {"decode": 1, "list": 1}}
    lines = [json.loads(x) for x in m.rejects_jsonl().decode().splitlines()]
    assert [r["stage"] for r in lines] == ["list", "decode"]
    smaller = m.without_part(1)
    assert (smaller.totals.samples, smaller.totals.complete, len(smaller.shards)) == (3, False, 1)
    assert m.group_ids() == {"0123456789abcdef", "fedcba9876543210"}
    assert doc["parts"]["0"]["groups"] == {"0123456789abcdef": 2, "fedcba9876543210": 1}
    assert doc["split"] == SPLIT


def test_a_build_without_split_writes_null_and_old_parts_have_no_groups():
    m = new_manifest(config={}, seed=1, classes=("none",), sources=SourcesInfo(description="x", count=1,
                     fingerprint=""), list_rejects=(), expected_shards=1, expected_samples=1)
    assert m.split is None and m.to_dict()["split"] is None and m.group_ids() == set()
    old = parse_manifest(json.dumps({"parts": {"0": {"index": 0, "count": 1, "histogram": {"none": 1}}}}).encode())
    assert old.parts[0].groups == {} and old.split is None and old.group_ids() == set()


def test_written_manifest_reads_back_equal():
    m = _manifest()
    back = parse_manifest(m.to_json())
    assert back == m
    assert back.to_json() == m.to_json()


def test_reader_prefers_tar_and_sorts_by_path():
    m = _manifest()
    fmt, files = m.shards_to_read()
    assert fmt == "wds" and [f.path for f in files] == ["shard-000000.tar", "shard-000001.tar"]
    assert [f.path for f in m.shards_to_read("parquet")[1]] == ["shard-000001.parquet"]
    with pytest.raises(ManifestError, match=r"no tfrecord shards \(has \['parquet', 'wds'\]\)"):
        m.shards_to_read("tfrecord")


def test_minimal_manifest_of_another_tool_is_read():
    m = parse_manifest(json.dumps({"classes": ["none", "coin"],
                                   "shards": [{"path": "a.tar", "format": "wds", "count": 4}]}).encode())
    assert m.classes == ("none", "coin") and m.shards[0].count == 4 and m.shards[0].sha256 is None
    assert m.totals is None and m.parts == {}
    assert parse_manifest(b'{"totals": {"samples": 3}}').totals is None  # partial: unknown


@pytest.mark.parametrize("doc, message", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "dataset.json must be an object, got list"),
    (json.dumps({"shards": [{"path": "a.tar", "format": "wds"}]}).encode(), r"shards\[0\].count is missing"),
    (json.dumps({"shards": [{"path": "a.tar", "format": "wds", "count": "4"}]}).encode(), "count must be int, got str"),
    (json.dumps({"shards": [{"path": "a.tar", "format": "wds", "count": -1}]}).encode(), "count must be >= 0"),
    (json.dumps({"shards": [{"path": "a.tar", "format": "wds", "count": True}]}).encode(), "must be int, got bool"),
    (json.dumps({"classes": "none,coin"}).encode(), "classes must be list"),
    (json.dumps({"classes": [1, 2]}).encode(), "classes must be a list of class names"),
    (json.dumps({"parts": {"3": {"index": 4, "count": 1}}}).encode(), r"parts\[3\] holds shard 4"),
    (json.dumps({"totals": {"samples": "1"}}).encode(), "totals.samples must be int, got str"),
    (json.dumps({"parts": {"0": {"index": 0, "count": 1, "groups": ["ab"]}}}).encode(),
     r"parts\[0\].groups must be dict, got list"),
    (json.dumps({"parts": {"0": {"index": 0, "count": 1, "groups": {"ab": "2"}}}}).encode(),
     r"parts\[0\].groups.ab must be int, got str"),
    (json.dumps({"split": "train"}).encode(), "split must be an object, got str"),
    (json.dumps({"split": {**SPLIT, "name": 3}}).encode(), "split.name must be str, got int"),
    (json.dumps({"split": {k: v for k, v in SPLIT.items() if k != "seed"}}).encode(), "split.seed is missing"),
    (json.dumps({"split": {**SPLIT, "fractions": {"train": "0.8"}}}).encode(), "split.fractions.train must be"),
    (json.dumps({"split": {**SPLIT, "rules": {"nih": True}}}).encode(), "split.rules.nih must be int, got bool"),
    (json.dumps({"split": {**SPLIT, "input_groups": 1.5}}).encode(), "split.input_groups must be int, got float"),
])
def test_malformed_manifest_is_a_reason_not_a_traceback(doc, message):
    with pytest.raises(ManifestError, match=message):
        parse_manifest(doc)


def test_read_manifest_names_a_folder_that_is_not_a_build(tmp_path):
    with pytest.raises(ManifestError, match=f"{MANIFEST} not found in .*: not a radiopaque build"):
        read_manifest(Store(str(tmp_path), create=False))
