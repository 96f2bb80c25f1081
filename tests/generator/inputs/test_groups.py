"""Which patient a film belongs to: the grouping rules, their order, and the pseudonymous ids."""

import hashlib
import os

import numpy as np
import pytest

from generator.config import SourceConfig
from generator.errors import ConfigError
from generator.inputs.dicom import patient_id
from generator.inputs.groups import group_id, group_key, rule_of
from generator.inputs.sources import list_sources
from tests.generator.dicom_fixtures import cr_dataset
from tests.generator.films import NIH_PATIENTS, ramp_png, write_nih_folder, write_patient_csv

CHEXPERT = "CheXpert-v1.0-small/train/patient00042/study3/view1_frontal.jpg"


@pytest.mark.parametrize("rel, expected", [
    ("00001280_004.png", ("nih", "nih:00001280")),
    (os.path.join("images", "00001280_004.png"), ("nih", "nih:00001280")),
    ("00001280_004.PNG", ("nih", "nih:00001280")),
    (CHEXPERT, ("chexpert", "chexpert:patient00042")),
    (os.path.join("valid", "patient00001", "study1", "view2_lateral.jpg"), ("chexpert", "chexpert:patient00001")),
    ("0001280_004.png", ("file", "file:0001280_004.png")),  # 7 digits: not an NIH name
    ("00001280_0041.png", ("file", "file:00001280_0041.png")),
    ("00001280_004.jpg", ("file", "file:00001280_004.jpg")),
    ("train/patient0042/view1.jpg", ("file", "file:train/patient0042/view1.jpg")),  # 4 digits
    ("٠٠٠٠١٢٨٠_٠٠٤.png", ("file", "file:٠٠٠٠١٢٨٠_٠٠٤.png")),  # digits, but not ASCII ones
    (os.path.join("a", "b", "film.dcm"), ("file", "file:a/b/film.dcm")),
])
def test_path_rules(rel, expected):
    assert group_key(rel) == expected
    assert rule_of(expected[1]) == expected[0]


def test_csv_value_wins_then_dicom_then_the_path():
    assert group_key(CHEXPERT, csv_group=" P-7 ", dicom_patient_id="D1") == ("csv", "csv:P-7")
    assert group_key(CHEXPERT, csv_group="  ", dicom_patient_id="D1") == ("dicom", "dicom:D1")
    assert group_key(CHEXPERT, csv_group="", dicom_patient_id=" \t") == ("chexpert", "chexpert:patient00042")
    assert group_key("00001280_004.png", dicom_patient_id="") == ("nih", "nih:00001280")


def test_group_id_is_a_salted_sha256_prefix():
    expected = hashlib.sha256(b"salt\x00nih:00001280").hexdigest()[:16]
    assert group_id("nih:00001280", "salt") == expected
    assert group_id("nih:00001280", "other salt") != expected
    assert group_id("nih:00001281", "salt") != expected
    assert "00001280" not in expected


def test_nih_folder_groups_films_by_patient_salted_by_the_listing(tmp_path):
    films = write_nih_folder(tmp_path)
    listed = list_sources(SourceConfig(input=str(tmp_path)))
    assert len(listed.sources) == sum(NIH_PATIENTS.values())
    by_patient = {s.rel.split("_")[0]: set() for s in listed.sources}
    for s in listed.sources:
        assert s.group == f"nih:{s.rel.split('_')[0]}"
        assert s.group_id == group_id(s.group, listed.fingerprint())
        by_patient[s.rel.split("_")[0]].add(s.group_id)
    assert set(by_patient) == set(films) and all(len(ids) == 1 for ids in by_patient.values())
    assert len({s.group_id for s in listed.sources}) == len(NIH_PATIENTS)
    # the raw key is never shown: not even in a repr that might reach a log
    assert all("nih:" not in repr(s) for s in listed.sources)


def test_csv_group_column(tmp_path):
    csv, films = write_patient_csv(tmp_path, column="Subject")
    listed = list_sources(SourceConfig(input=str(csv), group_column="Subject"))
    assert {s.group for s in listed.sources} == {f"csv:{p}" for p in films}
    for patient, rels in films.items():
        ids = {s.group_id for s in listed.sources if s.rel in [os.path.normpath(r) for r in rels]}
        assert len(ids) == 1
    # without the column each film is its own group
    alone = list_sources(SourceConfig(input=str(csv)))
    assert {s.group for s in alone.sources} == {f"file:{r}" for rels in films.values() for r in rels}


def test_csv_blank_group_value_falls_through(tmp_path):
    ramp_png(tmp_path / "patient00007" / "a.png", 90)
    ramp_png(tmp_path / "b.png", 90)
    (tmp_path / "m.csv").write_text("Path,Who\npatient00007/a.png,\nb.png,P9\n")
    listed = list_sources(SourceConfig(input=str(tmp_path / "m.csv"), group_column="Who"))
    assert [s.group for s in listed.sources] == ["chexpert:patient00007", "csv:P9"]


def test_unknown_group_column_names_the_columns(tmp_path):
    csv, _ = write_patient_csv(tmp_path)
    with pytest.raises(ConfigError, match=r"--group-column.*'Nope'.*\['Path', 'Sex', 'Age', 'PatientKey'\]"):
        list_sources(SourceConfig(input=str(csv), group_column="Nope"))
    with pytest.raises(ConfigError, match="--group-column.*CSV"):
        list_sources(SourceConfig(input=str(tmp_path / "films"), group_column="PatientKey"))


def _dicom(path, *, preamble=True, **elements):
    ds = cr_dataset(np.full((16, 16), 800, np.uint16), **elements)
    path.parent.mkdir(parents=True, exist_ok=True)
    if preamble:
        ds.save_as(path, enforce_file_format=True)
    else:  # a bare implicit-VR data set: no preamble, no "DICM", no file meta
        del ds.file_meta
        ds.save_as(path, implicit_vr=True, little_endian=True)


def test_dicom_patient_id_groups_films(tmp_path):
    _dicom(tmp_path / "a.dcm", PatientID="PID-SECRET-77")
    _dicom(tmp_path / "b", PatientID="PID-SECRET-77", preamble=False)  # bare, no suffix
    _dicom(tmp_path / "c.dcm", PatientID="OTHER-1")
    _dicom(tmp_path / "patient00003" / "d.dcm", PatientID="   ")  # blank: the path decides
    _dicom(tmp_path / "e.dcm")  # no PatientID at all
    (tmp_path / "f.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 40)  # header unreadable
    assert patient_id(tmp_path / "a.dcm") == "PID-SECRET-77"
    assert patient_id(tmp_path / "b") == "PID-SECRET-77"
    assert patient_id(tmp_path / "f.dcm") is None
    listed = list_sources(SourceConfig(input=str(tmp_path)))
    groups = {s.rel: s.group for s in listed.sources}
    assert groups == {"a.dcm": "dicom:PID-SECRET-77", "b": "dicom:PID-SECRET-77", "c.dcm": "dicom:OTHER-1",
                      os.path.join("patient00003", "d.dcm"): "chexpert:patient00003",
                      "e.dcm": "file:e.dcm", "f.dcm": "file:f.dcm"}
    ids = {s.rel: s.group_id for s in listed.sources}
    assert ids["a.dcm"] == ids["b"] != ids["c.dcm"]


def test_png_is_never_opened_as_dicom(tmp_path):
    ramp_png(tmp_path / "x.png", 80)
    assert patient_id(tmp_path / "x.png") is None
    assert patient_id(tmp_path / "missing.dcm") is None
