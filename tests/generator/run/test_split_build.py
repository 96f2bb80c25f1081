"""Builds by patient split: train and test builds share no film and no patient, the manifest
records the split, no raw patient key reaches an output, and a build without --split draws
exactly what it drew before splits existed."""

import json
import os
import re

import pytest

from generator.config import BuildConfig, RunConfig, SourceConfig
from generator.errors import ConfigError
from generator.inputs.sources import list_sources
from generator.inputs.splits import split_of
from generator.output.formats import iter_build
from generator.output.sample import canonical_json
from generator.run.build import build, split_sources
from tests.conftest import shared_data
from tests.generator.films import NIH_PATIENTS, write_nih_folder, write_patient_csv

SPLIT = dict(count=24, seed=7, size=48, shard_size=12, formats=("wds", "parquet"), style="legacy")
# fractions that give each split of the ten fixture patients several of them at split seed 0
HALVES = (("train", 0.5), ("test", 0.5))


def _build(out, sources, **overrides):
    cfg = BuildConfig(**{**SPLIT, "sources": sources, **overrides})
    return build(cfg, RunConfig(out=str(out), device="cpu", progress=False))


def _samples(out):
    return list(iter_build(str(out)))


def _output_text(out) -> list[bytes]:
    """Every file of a build as bytes, plus each sample's annotation as read back (Parquet
    columns may be compressed, so a key hidden in one would not show in the raw bytes)."""
    found = [p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()]
    return found + [canonical_json(s.annotation()).encode() for s in _samples(out)]


@pytest.fixture(scope="module")
def nih(tmp_path_factory):
    root = tmp_path_factory.mktemp("nih")
    write_nih_folder(root / "in")
    sources = SourceConfig(input=str(root / "in"))
    builds = {name: _build(root / name, sources, split=name, split_fractions=HALVES) for name in ("train", "test")}
    return root, sources, builds


def test_train_and_test_share_no_film_and_no_patient(nih):
    root, sources, builds = nih
    listed = list_sources(sources)
    drawn = {name: _samples(root / name) for name in builds}
    ids = {name: {s.source_id for s in samples} for name, samples in drawn.items()}
    groups = {name: {s.meta["group_id"] for s in samples} for name, samples in drawn.items()}
    assert ids["train"] and ids["test"] and not ids["train"] & ids["test"]
    assert groups["train"] and groups["test"] and not groups["train"] & groups["test"]
    for name, report in builds.items():
        assert report.manifest.group_ids() == groups[name]
        assert sum(n for part in report.manifest.parts.values() for n in part.groups.values()) == SPLIT["count"]
        # every drawn film is one the split function puts in this split; every patient's films go together
        in_split = {s.source_id for s in listed.sources if split_of(s.group, HALVES, 0) == name}
        assert ids[name] <= in_split
        patients = {s.rel.split("_")[0] for s in listed.sources if s.source_id in in_split}
        assert in_split == {s.source_id for s in listed.sources if s.rel.split("_")[0] in patients}


def test_manifest_records_the_split(nih):
    root, sources, builds = nih
    listed = list_sources(sources)
    for name, report in builds.items():
        doc = json.loads((root / name / "dataset.json").read_text())
        chosen = [s for s in listed.sources if split_of(s.group, HALVES, 0) == name]
        assert doc["split"] == {"name": name, "fractions": {"train": 0.5, "test": 0.5}, "seed": 0,
                                "rules": {"nih": 30}, "sources": len(chosen),
                                "groups": len({s.group for s in chosen}), "input_sources": 30, "input_groups": 10}
        assert doc["config"]["split"] == name and doc["config"]["split_seed"] == 0
        assert doc["config"]["split_fractions"] == [["train", 0.5], ["test", 0.5]]
        assert doc["sources"]["count"] == len(chosen)
        assert report.manifest.split == doc["split"]
    assert sum(report.manifest.split["sources"] for report in builds.values()) == 30


def test_no_raw_patient_key_in_any_output(nih):
    root, _, builds = nih
    for name in builds:
        for data in _output_text(root / name):
            assert b"nih:" not in data
            for patient in NIH_PATIENTS:
                assert patient.encode() not in data, (name, patient)


def test_split_membership_does_not_depend_on_the_build_seed_or_count(nih, tmp_path):
    root, sources, builds = nih
    other = _build(tmp_path / "other", sources, split="test", split_fractions=HALVES, seed=99, count=37,
                   formats=("wds",))
    assert other.manifest.split == builds["test"].manifest.split
    test_films = [s for s in list_sources(sources).sources if split_of(s.group, HALVES, 0) == "test"]
    assert {s.source_id for s in _samples(tmp_path / "other")} <= {s.source_id for s in test_films}
    assert other.manifest.group_ids() <= {s.group_id for s in test_films}


def test_resume_with_another_split_fails_fast(nih):
    root, sources, _ = nih
    with pytest.raises(ConfigError, match="--out.*split"):
        _build(root / "train", sources, split="test", split_fractions=HALVES)


def test_a_split_without_films_fails_fast(tmp_path):
    write_nih_folder(tmp_path / "in")
    sources = SourceConfig(input=str(tmp_path / "in"))
    with pytest.raises(ConfigError, match=r"--split: got 'tiny'.*none of the 30 sources \(10 patient groups\)"):
        _build(tmp_path / "out", sources, split="tiny", split_fractions=(("train", 0.999999), ("tiny", 1e-6)))
    assert not (tmp_path / "out" / "dataset.json").exists()


def test_csv_patient_column_splits_by_patient(tmp_path):
    csv, films = write_patient_csv(tmp_path / "in", column="PatientKey")
    sources = SourceConfig(input=str(csv), group_column="PatientKey")
    reports = {name: _build(tmp_path / name, sources, split=name, split_fractions=HALVES) for name in ("train", "test")}
    ids = {name: {s.source_id for s in _samples(tmp_path / name)} for name in reports}
    groups = {name: r.manifest.group_ids() for name, r in reports.items()}
    assert ids["train"] and ids["test"] and not ids["train"] & ids["test"]
    assert groups["train"] and groups["test"] and not groups["train"] & groups["test"]
    assert reports["train"].manifest.split["rules"] == {"csv": 24}
    assert reports["train"].manifest.split["input_groups"] == len(films) == 8
    assert json.loads((tmp_path / "train" / "dataset.json").read_text())["config"]["sources"]["group_column"] == (
        "PatientKey")
    for name in reports:
        for data in _output_text(tmp_path / name):
            assert b"csv:" not in data and b"PX-89" not in data


# source_index of each sample of this build as built at c5dd26a, before patient groups and
# splits existed: a build without --split must keep drawing exactly these.
DRAWS_BEFORE_SPLITS = [20, 26, 4, 16, 22, 29, 23, 12, 21, 10, 9, 16, 22, 15, 22, 24, 2, 16, 2, 19, 24, 22, 13, 4,
                       13, 13, 10, 7, 29, 18, 22, 7, 15, 23, 3, 2, 4, 0, 23, 4]


def test_a_build_without_split_draws_what_it_drew_before(tmp_path):
    write_nih_folder(tmp_path / "in")
    sources = SourceConfig(input=str(tmp_path / "in"))
    report = _build(tmp_path / "out", sources, count=40, size=64, shard_size=16, formats=("wds",))
    listed = list_sources(sources)
    samples = _samples(tmp_path / "out")
    assert [s.spec["source_index"] for s in samples] == DRAWS_BEFORE_SPLITS
    assert [s.source_id for s in samples] == [listed.sources[i].source_id for i in DRAWS_BEFORE_SPLITS]
    assert [s.meta["group_id"] for s in samples] == [listed.sources[i].group_id for i in DRAWS_BEFORE_SPLITS]
    doc = json.loads((tmp_path / "out" / "dataset.json").read_text())
    assert doc["split"] is None and report.manifest.split is None
    assert not {"split", "split_fractions", "split_seed"} & set(doc["config"])
    assert "group_column" not in doc["config"]["sources"]
    assert doc["sources"]["count"] == 30 and doc["sources"]["fingerprint"] == listed.fingerprint()
    assert split_sources(BuildConfig(**{**SPLIT, "sources": sources}), listed) == (listed, None)


def test_real_nih_train_and_test_share_no_patient(tmp_path):
    folder = shared_data("cxr-nih")
    sources = SourceConfig(input=str(folder))
    listed = list_sources(sources)
    assert {s.group.partition(":")[0] for s in listed.sources} == {"nih"}
    patients, fractions = {}, BuildConfig(count=1, seed=0).split_fractions
    for name in ("train", "test"):
        cfg = BuildConfig(**{**SPLIT, "sources": sources, "split": name}).validate()
        chosen, record = split_sources(cfg, listed)
        patients[name] = {re.fullmatch(r"(\d{8})_\d{3}\.png", os.path.basename(s.rel))[1] for s in chosen.sources}
        assert record["rules"] == {"nih": 245} and record["input_groups"] == 160
        assert record["groups"] == len(patients[name])
    assert patients["train"] and patients["test"] and not patients["train"] & patients["test"]
    # the patient with 11 films has all of them in one split
    films = [s for s in listed.sources if os.path.basename(s.rel).startswith("00001684_")]
    assert len(films) == 11 and len({split_of(s.group, fractions, 0) for s in films}) == 1
    reports = {name: _build(tmp_path / name, sources, split=name, count=8, shard_size=8, formats=("wds",))
               for name in ("train", "test")}
    ids = {name: {s.source_id for s in _samples(tmp_path / name)} for name in reports}
    assert not ids["train"] & ids["test"]
    assert not reports["train"].manifest.group_ids() & reports["test"].manifest.group_ids()
    by_id = {s.source_id: s for s in listed.sources}
    for name in reports:
        drawn = {os.path.basename(by_id[i].rel)[:8] for i in ids[name]}
        assert drawn <= patients[name]


def test_cli_split_flags(tmp_path, capsys):
    from radiopaque.cli import main, parser

    write_nih_folder(tmp_path / "in")
    common = ["generate", "--input", str(tmp_path / "in"), "--count", "6", "--size", "48", "--style", "legacy",
              "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "a"), "--split", "test", "--split-fractions",
                 "train=0.5,test=0.5", "--split-seed", "0"]) == 0
    doc = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert doc["split"]["name"] == "test" and doc["split"]["fractions"] == {"train": 0.5, "test": 0.5}
    assert main([*common, "--out", str(tmp_path / "b"), "--split", "holdout"]) == 2
    assert "--split: got 'holdout'; allowed: one of the --split-fractions names: train, val, test" in (
        capsys.readouterr().err)
    assert main([*common, "--out", str(tmp_path / "b"), "--split", "train", "--split-fractions", "train=0.9"]) == 2
    assert "--split-fractions: got 'train=0.9'" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
    generate = parser()._subparsers._group_actions[0].choices["generate"]
    helps = {a.dest: a.help for a in generate._actions}
    assert "(default: train=0.8,val=0.1,test=0.1)" in helps["split_fractions"]
    assert "(default: 0)" in helps["split_seed"] and "(default: none" in helps["split"]
