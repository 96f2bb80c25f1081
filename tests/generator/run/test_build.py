"""End-to-end builds on the CPU: determinism, resume, annotations, readers, rejects."""

import io
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import webdataset as wds
from PIL import Image

from generator.config import BuildConfig, RunConfig, SourceConfig
from generator.errors import ConfigError
from generator.output.formats import iter_build
from generator.render.annotate import rle_decode
from generator.run.build import build

SMALL = dict(count=40, seed=7, size=128, shard_size=16, formats=("wds", "parquet"), style="legacy")


def _build(out, workers=1, executor="local", **overrides):
    cfg = BuildConfig(**{**SMALL, **overrides})
    return build(cfg, RunConfig(out=str(out), workers=workers, executor=executor, device="cpu", progress=False))


def _hashes(report):
    return {s.path: s.sha256 for s in report.manifest.shards}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return out, _build(out)


def test_manifest_totals_and_histogram(demo):
    out, report = demo
    m = json.loads((out / "dataset.json").read_text())
    assert m["totals"] == {"samples": 40, "expected_samples": 40, "shards": 3, "expected_shards": 3, "complete": True}
    assert sum(m["class_histogram"].values()) == 40
    assert [s["path"] for s in m["shards"]] == [
        f"{fmt}/shard-{i:06d}.{ext}" for i in range(3) for fmt, ext in (("wds", "tar"), ("parquet", "parquet"))]
    assert [s["count"] for s in m["shards"] if s["format"] == "wds"] == [16, 16, 8]
    assert m["config"]["seed"] == 7 and m["classes"] == ["none", "coin", "magnets", "bullet"]
    assert (out / "rejects.jsonl").read_text() == ""
    assert not list(out.rglob("*.tmp-*"))
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "parquet", "rejects.jsonl", "wds"]


def test_webdataset_reads_tar_shards(demo):
    out, _ = demo
    ds = wds.WebDataset(str(out / "wds" / "shard-000000.tar"), shardshuffle=False)
    items = list(ds)
    assert len(items) == 16 and items[0]["__key__"] == "00000000"
    ann = json.loads(items[3]["json"])
    img = np.asarray(Image.open(io.BytesIO(items[3]["jpg"])))
    assert img.shape == (ann["height"], ann["width"]) and max(img.shape) == 128


def test_pyarrow_reads_parquet_shards(demo):
    out, _ = demo
    table = pq.read_table(out / "parquet" / "shard-000002.parquet")
    assert table.num_rows == 8
    for col in ("key", "image", "image_format", "height", "width", "label", "labels", "objects", "spec", "source_id"):
        assert col in table.column_names
    assert table.column("key").to_pylist()[0] == "00000032"


def test_boxes_inside_image_and_match_masks(demo):
    out, _ = demo
    positives = 0
    for s in iter_build(str(out)):
        ids = np.asarray(Image.open(io.BytesIO(s.mask_png)))
        assert ids.shape == (s.height, s.width)
        assert sum(s.labels) >= 1 and s.labels[s.label] == 1
        if s.spec["label"] == "none":
            assert s.objects == () and ids.max() == 0
        for k, obj in enumerate(s.objects, start=1):
            positives += 1
            x0, y0, x1, y1 = obj["bbox_xyxy"]
            assert 0 <= x0 < x1 <= s.width and 0 <= y0 < y1 <= s.height
            # kept on the film (placement.on_film): no object is cut by the film's edge
            assert x0 > 0 and y0 > 0 and x1 < s.width and y1 < s.height, obj["bbox_xyxy"]
            mask = rle_decode(obj["mask_rle"])
            ys, xs = np.nonzero(mask)
            assert [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] == [x0, y0, x1, y1]
            assert ((ids == k) <= mask).all() and obj["area_px"] == mask.sum()
    assert positives > 10


def test_no_physical_object_is_cut_by_the_films_edge(tmp_path):
    """Neck jewellery and scattered fragments are often drawn at the film's edge; on_film moves
    them on (without it, 8 of these 56 objects were labelled as slivers on the border)."""
    _build(tmp_path, style="physical", classes=("jewellery_clothing", "shrapnel"), count=24, shard_size=24,
           formats=("wds",))
    boxes = [(o["bbox_xyxy"], s.width, s.height) for s in iter_build(str(tmp_path)) for o in s.objects]
    assert len(boxes) > 40
    for (x0, y0, x1, y1), w, h in boxes:
        assert x0 > 0 and y0 > 0 and x1 < w and y1 < h


def test_labels_name_themselves_and_mask_png_keeps_the_last_object_where_they_overlap(demo, tmp_path):
    fragments = tmp_path / "fragments"  # several shrapnel fragments per film: some overlap
    _build(fragments, count=16, seed=1, style="physical", classes=("shrapnel",))
    overlaps = 0
    for out in (demo[0], fragments):
        overlaps += _check_labels_and_overlaps(out)
    assert overlaps > 0  # so the rule was exercised


def _check_labels_and_overlaps(out) -> int:
    classes = json.loads((out / "dataset.json").read_text())["classes"]
    overlaps = 0
    for s in iter_build(str(out)):
        assert s.label_name == classes[s.label] == s.spec["label"]
        ids = np.asarray(Image.open(io.BytesIO(s.mask_png)))
        owner = np.zeros_like(ids)
        for k, obj in enumerate(s.objects, start=1):
            assert isinstance(obj["mask_rle"]["counts"], str)  # COCO compressed RLE
            mask = rle_decode(obj["mask_rle"])
            overlaps += int((owner[mask] > 0).sum())
            owner[mask] = k  # the rule: later objects are drawn over earlier ones
        np.testing.assert_array_equal(ids, owner)
    table = pq.read_table(out / "parquet" / "shard-000000.parquet")
    assert json.loads(table.schema.metadata[b"radiopaque.classes"]) == classes
    assert table.column("label_name").to_pylist() == [classes[i] for i in table.column("label").to_pylist()]
    return overlaps


def test_objects_are_bright_where_masks_say(demo):
    out, _ = demo
    for s in iter_build(str(out)):
        img = np.asarray(Image.open(io.BytesIO(s.image))).astype(float) / 255
        for obj in s.objects:
            mask = rle_decode(obj["mask_rle"])
            if mask.sum() > 20:
                assert img[mask].mean() > 0.9  # legacy paint is white (JPEG ringing aside)


def test_same_build_same_bytes_and_pool_workers_agree(demo, tmp_path):
    _, report = demo
    again = _build(tmp_path / "again", workers=2)
    assert _hashes(again) == _hashes(report)


def test_resume_rebuilds_only_missing_or_altered_shards(demo, tmp_path):
    _, reference = demo
    out = tmp_path / "resume"
    first = _build(out)
    (out / "wds" / "shard-000001.tar").unlink()
    (out / "parquet" / "shard-000002.parquet").write_bytes(b"corrupted")
    kept = (out / "wds" / "shard-000000.tar").stat().st_mtime_ns
    second = _build(out)
    assert second.new_samples == 16 + 8
    assert _hashes(second) == _hashes(first) == _hashes(reference)
    assert (out / "wds" / "shard-000000.tar").stat().st_mtime_ns == kept


def test_a_build_made_before_the_format_folders_reads_and_resumes(demo, tmp_path):
    """Old layout: shards at the top level, the manifest's paths saying so."""
    import shutil

    out = tmp_path / "old"
    shutil.copytree(demo[0], out)
    doc = json.loads((out / "dataset.json").read_text())
    for entry in [*doc["shards"], *(f for part in doc["parts"].values() for f in part["files"])]:
        name = entry["path"].split("/")[-1]
        if (out / entry["path"]).exists() and name != entry["path"]:
            (out / entry["path"]).rename(out / name)
        entry["path"] = name
    (out / "dataset.json").write_text(json.dumps(doc))
    assert [s.key for s in iter_build(str(out))] == [s.key for s in iter_build(str(demo[0]))]
    (out / "shard-000002.tar").unlink()
    again = _build(out)
    assert again.new_samples == 8  # the two kept shards are not rebuilt; the missing one goes to wds/
    assert (out / "wds" / "shard-000002.tar").exists() and (out / "shard-000001.tar").exists()
    assert [s.key for s in iter_build(str(out))] == [s.key for s in iter_build(str(demo[0]))]


def test_resume_with_other_options_fails_fast(demo, tmp_path):
    out = tmp_path / "other"
    _build(out, count=8)
    with pytest.raises(ConfigError, match="--out.*seed"):
        _build(out, count=8, seed=8)


def test_class_histogram_follows_weights(tmp_path):
    report = _build(tmp_path / "mix", count=600, size=48, shard_size=200, formats=("wds",),
                    classes=("none", "coin", "bullet"), class_weights=(2.0, 1.0, 1.0))
    hist = report.manifest.class_histogram
    assert set(hist) == {"none", "coin", "bullet"}
    assert abs(hist["none"] / 600 - 0.5) < 0.06
    assert abs(hist["coin"] / 600 - 0.25) < 0.05 and abs(hist["bullet"] / 600 - 0.25) < 0.05


def test_bad_inputs_are_rejected_and_the_build_goes_on(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for n in range(3):
        Image.fromarray(np.full((80, 60), 60 + 40 * n, np.uint8)).save(src / f"good{n}.png")
    (src / "empty.png").write_bytes(b"")
    (src / "text.png").write_text("this is not an image")
    good = io.BytesIO()
    Image.fromarray(np.zeros((80, 60), np.uint8)).save(good, format="JPEG")
    (src / "truncated.jpg").write_bytes(good.getvalue()[: len(good.getvalue()) // 3])
    report = _build(tmp_path / "out", count=30, size=64, formats=("wds",),
                    sources=SourceConfig(input=str(src), reject_paths=True))
    assert report.manifest.totals.complete
    rejects = [json.loads(line) for line in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert {r["source"] for r in rejects} == {"empty.png", "text.png", "truncated.jpg"}
    assert all(r["reason"] for r in rejects)
    assert len(report.manifest.all_rejects()) == 3
    sources = {s.source_id for s in iter_build(str(tmp_path / "out"))}
    assert len(sources) == 3


def test_fsspec_memory_url(tmp_path):
    report = _build("memory://radiopaque-test/build", count=10, size=48, formats=("parquet",))
    assert report.manifest.totals.complete
    assert len(list(iter_build("memory://radiopaque-test/build"))) == 10


@pytest.mark.slow
def test_ray_executor_matches_local(demo, tmp_path):
    pytest.importorskip("ray")
    _, reference = demo
    report = _build(tmp_path / "ray", workers=2, executor="ray")
    assert _hashes(report) == _hashes(reference)
