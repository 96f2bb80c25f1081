"""`radiopaque export`: COCO read back by pycocotools equals the build; YOLO and COCO round-trip."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from generator.config import BuildConfig, RunConfig
from generator.errors import ConfigError
from generator.output.formats import iter_build
from generator.run.build import build
from generator.tools.export import export_build
from radiopaque.cli import main


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A physical build of 10 samples in 2 shards at 128 px, objects in most samples."""
    out = tmp_path_factory.mktemp("build")
    cfg = BuildConfig(count=10, seed=3, size=128, shard_size=5, formats=("wds",), style="physical",
                      class_weights=(1,) + (4,) * 8)
    report = build(cfg, RunConfig(out=str(out), device="cpu", progress=False))
    samples = list(iter_build(str(out)))
    assert sum(len(s.objects) for s in samples) >= 8  # the fixture must hold objects to compare
    return str(out), report.manifest, samples


def _ids(sample):
    return np.asarray(Image.open(io.BytesIO(sample.mask_png)))


def _kept(sample):
    """(k, object) of the objects with a pixel in the image: an export leaves the others out."""
    return [(k, o) for k, o in enumerate(sample.objects) if o["bbox_xyxy"] is not None]


def test_coco_export_read_by_pycocotools_equals_the_build(tiny, tmp_path):
    from pycocotools.coco import COCO

    root, manifest, samples = tiny
    out = tmp_path / "coco"
    assert main(["export", root, str(out), "--format", "coco", "--no-progress"]) == 0
    coco = COCO(str(out / "annotations.json"))
    names = [c for c in manifest.classes if c != "none"]
    assert [coco.cats[i]["name"] for i in sorted(coco.cats)] == names
    assert sorted(coco.cats) == [manifest.classes.index(n) for n in names]  # id = the build's class index
    assert len(coco.imgs) == len(samples)
    for image_id, sample in zip(sorted(coco.imgs), samples):
        info = coco.imgs[image_id]
        assert (info["height"], info["width"], info["key"]) == (sample.height, sample.width, sample.key)
        assert (out / info["file_name"]).read_bytes() == sample.image
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        ids = _ids(sample)
        assert len(anns) == len(_kept(sample))
        for ann, (k, obj) in zip(anns, _kept(sample)):
            x0, y0, x1, y1 = obj["bbox_xyxy"]
            assert ann["bbox"] == [x0, y0, x1 - x0, y1 - y0]
            assert coco.cats[ann["category_id"]]["name"] == obj["class"]
            mask = coco.annToMask(ann)
            assert np.array_equal(mask.astype(bool), ids == k + 1)
            assert ann["area"] == int((ids == k + 1).sum()) and ann["iscrowd"] == 0


def test_coco_export_round_trips_through_the_reader(tiny, tmp_path):
    from trainer.labelled.read import read_labelled

    root, manifest, samples = tiny
    export_build(root, str(tmp_path / "c"), fmt="coco", progress=False)
    got = read_labelled(str(tmp_path / "c" / "annotations.json"))
    assert got.class_names == tuple(c for c in manifest.classes if c != "none")
    for image, sample in zip(got.images, samples):
        kept = _kept(sample)
        assert image.boxes.tolist() == [o["bbox_xyxy"] for _, o in kept]
        assert image.labels.tolist() == [manifest.classes.index(o["class"]) for _, o in kept]
        ids = _ids(sample)
        masks = image.masks.numpy().astype(bool)
        assert all(np.array_equal(masks[n], ids == k + 1) for n, (k, _) in enumerate(kept))


def test_yolo_export_round_trips_through_the_reader(tiny, tmp_path):
    from trainer.labelled.read import read_labelled

    root, manifest, samples = tiny
    out = tmp_path / "yolo"
    report = export_build(root, str(out), fmt="yolo", progress=False)
    assert report.images == len(samples) and report.objects == sum(len(_kept(s)) for s in samples)
    assert report.skipped_objects == sum(len(s.objects) for s in samples) - report.objects
    assert (out / "classes.txt").read_text().split() == [c for c in manifest.classes if c != "none"]
    assert f"path: {json.dumps(str(out))}" in (out / "data.yaml").read_text()
    got = read_labelled(str(out))
    assert [im.path for im in got.images] == [str(out / "images" / f"{s.key}.{s.image_format}") for s in samples]
    for image, sample in zip(got.images, samples):
        want = np.array([o["bbox_xyxy"] for _, o in _kept(sample)], dtype=np.float32).reshape(-1, 4)
        assert np.abs(image.boxes.numpy() - want).max(initial=0) < 1e-3  # 6 decimals of 128 px
        assert image.labels.tolist() == [manifest.classes.index(o["class"]) for _, o in _kept(sample)]
        assert image.masks is None


def test_bad_format_and_a_used_folder_are_refused(tiny, tmp_path, capsys):
    root, _, _ = tiny
    assert main(["export", root, str(tmp_path / "x"), "--format", "voc"]) == 2
    assert "--format: got 'voc'; allowed: coco, yolo" in capsys.readouterr().err
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "file").write_text("x")
    with pytest.raises(ConfigError, match="new or empty folder"):
        export_build(root, str(tmp_path / "used"), fmt="coco")
    assert main(["export", str(tmp_path / "nothing"), str(tmp_path / "y"), "--format", "coco"]) == 1


def test_export_to_an_fsspec_url(tiny):
    import fsspec

    root, _, samples = tiny
    export_build(root, "memory://exported", fmt="yolo", progress=False)
    fs = fsspec.filesystem("memory")
    yaml_text = fs.cat_file("/exported/data.yaml").decode()
    assert "path:" not in yaml_text and "train: images" in yaml_text  # no local path to give
    assert fs.cat_file(f"/exported/images/{samples[0].key}.{samples[0].image_format}") == samples[0].image
