import os

import numpy as np
import pytest
from PIL import Image

from generator.config import SourceConfig
from generator.errors import ConfigError
from generator.inputs.sources import list_sources, source_id


def _png(path, value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((40, 40), value, np.uint8)).save(path)


def test_builtin_sample_is_rg1_from_pydicom_data():
    listed = list_sources(SourceConfig())
    assert len(listed.sources) == 1
    assert listed.sources[0].path.endswith("RG1_UNCR.dcm") and os.path.isfile(listed.sources[0].path)


def test_folder_is_recursive_sorted_and_ids_are_stable(tmp_path):
    _png(tmp_path / "b" / "2.png")
    _png(tmp_path / "a.png")
    (tmp_path / "notes.txt").write_text("x")
    listed = list_sources(SourceConfig(input=str(tmp_path)))
    assert [s.rel for s in listed.sources] == ["a.png", os.path.join("b", "2.png")]
    assert listed.sources[0].source_id == source_id("a.png")
    # the id hides the file name
    assert "a.png" not in listed.sources[0].source_id


def test_csv_manifest_rejects_bad_rows_and_reads_spacing(tmp_path):
    root = tmp_path / "data"
    _png(root / "x" / "ok.png")
    _png(root / "x" / "ok2.png")
    _png(tmp_path / "outside.png")
    csv = tmp_path / "train.csv"
    csv.write_text(
        "Path,Sex,Age,AP/PA,SpacingY_mm,SpacingX_mm\n"
        "x/ok.png,Female,45,PA,0.2,0.25\n"
        "x/ok.png,Female,45,PA,0.2,0.25\n"
        "x/missing.png,Male,3,AP,0.2,0.2\n"
        f"{tmp_path / 'outside.png'},Male,3,AP,0.2,0.2\n"
        "../outside.png,Male,3,AP,0.2,0.2\n"
        ",Male,3,AP,0.2,0.2\n"
        "x/ok2.png,Male,3,AP,,\n"
    )
    listed = list_sources(SourceConfig(input=str(csv), root=str(root)))
    assert [s.rel for s in listed.sources] == [os.path.join("x", "ok.png"), os.path.join("x", "ok2.png")]
    assert listed.sources[0].spacing_mm == (0.2, 0.25)
    assert listed.sources[0].meta == {"sex": "F", "age_years": 45, "view": "PA"}
    assert listed.sources[1].spacing_mm is None
    reasons = sorted(r["reason"] for r in listed.rejects)
    assert reasons == sorted([
        "duplicate path in manifest",
        "file listed in manifest does not exist",
        f"absolute path outside --root {root}",
        "path with '..' refused (must stay inside --root)",
        "empty path in manifest",
    ])


def test_missing_input_fails_fast_naming_the_option(tmp_path):
    with pytest.raises(ConfigError, match="--input"):
        list_sources(SourceConfig(input=str(tmp_path / "nope")))
    with pytest.raises(ConfigError, match="--input"):
        list_sources(SourceConfig(input=str(tmp_path)))  # empty folder


def test_csv_unknown_path_column(tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(ConfigError, match="--path-column"):
        list_sources(SourceConfig(input=str(csv)))
