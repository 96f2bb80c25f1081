"""A manifest that cannot lie (issue 15): verify and resume check each part's files against
shard_name, counts against the planned ranges, unique paths, totals and classes; each part
records its device, and a resume on another kind is refused naming both."""

import json

import numpy as np
import pytest
from PIL import Image

from generator.config import BuildConfig, RunConfig, SourceConfig
from generator.device import device_record
from generator.errors import ConfigError
from generator.output.consistency import device_kind
from generator.output.verify import verify_build
from generator.run.build import build
from radiopaque.cli import main


@pytest.fixture(scope="module")
def films(tmp_path_factory):
    folder = tmp_path_factory.mktemp("films")
    for p in range(3):
        Image.fromarray(np.full((80, 72), 60 + 40 * p, np.uint8)).save(folder / f"{p + 1:08d}_000.png")
    return folder


def _config(films):
    return BuildConfig(count=6, seed=1, size=48, style="legacy", shard_size=3, formats=("wds", "parquet"),
                       sources=SourceConfig(input=str(films)))


@pytest.fixture
def built(films, tmp_path):
    out = tmp_path / "b"
    build(_config(films), RunConfig(out=str(out), progress=False))
    return out


def _edit(out, change):
    doc = json.loads((out / "dataset.json").read_text())
    change(doc)
    (out / "dataset.json").write_text(json.dumps(doc))


def test_a_clean_build_verifies_and_records_its_device(built):
    assert verify_build(str(built)) == ([], 4)
    doc = json.loads((built / "dataset.json").read_text())
    record = device_record(__import__("torch").device("cpu"))
    assert doc["parts"]["0"]["device"] == record and doc["parts"]["1"]["device"] == record
    assert device_kind(record).startswith("cpu ") and "torch" in device_kind(record)


def test_a_part_pointing_at_another_shards_file_fails_verify_and_is_rebuilt_on_resume(built, films):
    def point_at_shard_0(doc):
        doc["parts"]["1"]["files"] = doc["parts"]["0"]["files"]
        doc["shards"] = doc["parts"]["0"]["files"] + doc["parts"]["0"]["files"]
    (built / "wds" / "shard-000001.tar").unlink()
    _edit(built, point_at_shard_0)
    problems, _ = verify_build(str(built))
    assert "inconsistent: part 1: file 'wds/shard-000000.tar' (wds), expected 'wds/shard-000001.tar'" in problems
    assert any("listed more than once" in p for p in problems)
    build(_config(films), RunConfig(out=str(built), progress=False))
    assert verify_build(str(built)) == ([], 4) and (built / "wds" / "shard-000001.tar").exists()


@pytest.mark.parametrize("change, expected", [
    (lambda d: d["totals"].update(samples=-6), "totals ['samples'] are negative"),
    (lambda d: d["totals"].update(samples=60000, expected_samples=60000), "totals expect 60000 samples"),
    (lambda d: d["parts"]["0"].update(count=2), "part 0: count 2, its planned range holds 3"),
    (lambda d: d["parts"]["0"]["histogram"].update(coin=-7), "part 0: class histogram"),
    (lambda d: d.update(classes=list(reversed(d["classes"]))), "differ from the config's label classes"),
    (lambda d: d.update(classes=d["classes"] + d["classes"][:1]), "list a class twice"),
])
def test_inconsistent_manifests_fail_verify(built, change, expected):
    _edit(built, change)
    problems, _ = verify_build(str(built))
    assert any(expected in p for p in problems), problems


def test_a_permuted_class_list_is_refused_on_resume(built, films):
    _edit(built, lambda d: d.update(classes=list(reversed(d["classes"]))))
    with pytest.raises(ConfigError,
                       match="--out: .*a consistent radiopaque build .*differ from the config's label classes"):
        build(_config(films), RunConfig(out=str(built), progress=False))


def test_a_distractors_class_build_lists_its_device_class_and_verifies(films, tmp_path):
    config = BuildConfig(count=4, seed=1, size=64, style="physical", distractors="class", shard_size=2,
                         formats=("wds",), sources=SourceConfig(input=str(films)))
    out = tmp_path / "c"
    build(config, RunConfig(out=str(out), progress=False))
    doc = json.loads((out / "dataset.json").read_text())
    assert doc["classes"] == [*doc["config"]["classes"], "medical_device"]
    assert verify_build(str(out)) == ([], 2)
    build(config, RunConfig(out=str(out), progress=False))  # a resume accepts its own class list
    _edit(out, lambda d: d.update(classes=d["classes"][:-1]))  # the device class dropped: labels would shift
    problems, _ = verify_build(str(out))
    assert any("differ from the config's label classes" in p for p in problems), problems


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b"[]", b'{"parts": {"0": {"index": 0, "count": -1}}}'])
def test_unreadable_or_malformed_manifest_is_one_line(built, capsys, content):
    (built / "dataset.json").write_bytes(content)
    assert main(["verify", str(built)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "dataset.json" in lines[0] and lines[1] == "0 shard file(s) checked, 1 problem(s)"


def test_resuming_on_another_kind_of_device_is_refused_naming_both(built, films):
    gpu = {"type": "cuda", "name": "NVIDIA H100 80GB HBM3", "torch": "2.14.1", "cuda": "13.0"}
    _edit(built, lambda d: d["parts"]["0"].update(device=gpu))
    (built / "wds" / "shard-000001.tar").unlink()  # work left to do
    with pytest.raises(ConfigError, match=r"--device: .*shard 0 was rendered on cuda NVIDIA H100 80GB HBM3 "
                                          r"\(torch 2.14.1, CUDA 13.0\), this worker is cpu "):
        build(_config(films), RunConfig(out=str(built), progress=False, device="cpu"))


def test_a_build_without_device_records_resumes(built, films):
    def drop(doc):
        for part in doc["parts"].values():
            part.pop("device")
    _edit(built, drop)
    (built / "wds" / "shard-000001.tar").unlink()
    build(_config(films), RunConfig(out=str(built), progress=False, device="cpu"))
    doc = json.loads((built / "dataset.json").read_text())
    assert "device" not in doc["parts"]["0"] and doc["parts"]["1"]["device"]["type"] == "cpu"
