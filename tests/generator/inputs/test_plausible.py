"""Physical plausibility at the edge (issue 15): implausible spacing from a DICOM header, a CSV
row or --default-spacing-mm is a reject or a ConfigError with the reason; object windows are
capped by the image; an output keeps 32 px on its short side."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from generator.bodies import placement as pl
from generator.config import BuildConfig, RunConfig, SourceConfig
from generator.errors import ConfigError
from generator.inputs import read as images
from generator.inputs.plausible import aspect_problem, spacing_problem
from generator.inputs.read import RejectedInput
from generator.inputs.sources import list_sources
from generator.render.rasterise import accumulate, rasterise
from generator.run.build import build
from generator.shapes import kinds
from generator.spec import ObjectSpec
from tests.generator.dicom_fixtures import cr_dataset


def _dicom(path: Path, **elements) -> Path:
    ramp = np.tile(np.round(np.linspace(0, 4095, 80)).astype(np.uint16), (64, 1))
    cr_dataset(ramp, **elements).save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("value", [1e-6, 0.002, 1e6, 6.0])
def test_an_implausible_dicom_spacing_rejects_the_file_with_the_reason(tmp_path, value):
    with pytest.raises(RejectedInput, match=r"implausible PixelSpacing .* mm \(allowed: 0.02-5.0 mm per axis\)"):
        images.read_image(_dicom(tmp_path / "s.dcm", PixelSpacing=[value, value]))


def test_plausible_and_absent_dicom_spacings_still_read(tmp_path):
    assert images.read_image(_dicom(tmp_path / "a.dcm", PixelSpacing=[0.02, 5.0])).spacing_mm == (0.02, 5.0)
    assert images.read_image(_dicom(tmp_path / "b.dcm", PixelSpacing=[0, 0])).spacing_mm is None


def _png(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((40, 40), 100, np.uint8)).save(path)


def test_csv_spacing_that_is_text_nan_inf_zero_negative_or_implausible_rejects_the_row(tmp_path):
    cells = {"text": "abc", "nan": "nan", "inf": "inf", "zero": "0", "neg": "-0.2", "tiny": "1e-6", "huge": "1e6",
             "half": "", "ok": "0.2"}
    lines = ["Path,SpacingY_mm,SpacingX_mm"]
    for name, cell in cells.items():
        _png(tmp_path / f"{name}.png")
        lines.append(f"{name}.png,{cell},{'0.2' if name == 'half' else cell}")
    _png(tmp_path / "blank.png")
    lines.append("blank.png,,")
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    listed = list_sources(SourceConfig(input=str(tmp_path / "m.csv"), reject_paths=True))
    assert {s.rel: s.spacing_mm for s in listed.sources} == {"ok.png": (0.2, 0.2), "blank.png": None}
    reasons = {r["source"]: r["reason"] for r in listed.rejects}
    assert len(reasons) == 8
    for name in ("text", "nan", "inf", "zero", "neg"):
        assert reasons[f"{name}.png"].startswith("spacing columns SpacingY_mm,SpacingX_mm:"), reasons
    assert "not a positive finite number" in reasons["nan.png"] and "not a positive finite" in reasons["neg.png"]
    assert "implausible spacing" in reasons["tiny.png"] and "implausible spacing" in reasons["huge.png"]
    assert "one of the two is blank" in reasons["half.png"]


@pytest.mark.parametrize("value", [0.0, -1.0, 1e-6, 1e6, float("nan"), float("inf")])
def test_an_implausible_default_spacing_is_a_config_error(value):
    with pytest.raises(ConfigError, match="--default-spacing-mm: .*allowed: a pixel spacing of 0.02-5.0 mm"):
        SourceConfig(default_spacing_mm=value).validate()
    assert SourceConfig(default_spacing_mm=0.14).validate().default_spacing_mm == 0.14


def test_spacing_and_aspect_rules():
    assert spacing_problem((0.14, 0.16), "x") is None
    assert spacing_problem((0.14, float("nan")), "x") == "implausible x 0.14\\nan mm (allowed: 0.02-5.0 mm per axis)"
    assert aspect_problem(1024, 1024, 512) is None and aspect_problem(32, 512, 512) is None
    assert aspect_problem(32, 16384, 512) == ("aspect ratio 512.0:1 (32x16384 px) leaves 1 px on the short side "
                                              "at --size 512 (at least 32)")


def test_object_windows_are_capped_by_the_image_and_the_pixels_stay_the_same():
    coin = pl.disc_params(diameter_mm=25.0, thickness_mm=2.0, material="steel", tilt_deg=0.0, angle_deg=0.0)
    obj = ObjectSpec(cls="coin", kind=kinds.PHYS_DISC, center_px=(20.0, 30.0), material="steel", params=coin)
    spacing = torch.tensor([[0.1, 0.1]])  # 250 px wide on a 48 x 64 image
    free = rasterise([[obj]], spacing, torch.device("cpu"))
    capped = rasterise([[obj]], spacing, torch.device("cpu"), image_hw=(48, 64))
    assert free[0].values.shape[-1] > 250 and capped[0].values.shape[-1] == 2 * 65 + 1
    cpu = torch.device("cpu")
    assert torch.equal(accumulate(free, 1, 48, 64, "sum", cpu), accumulate(capped, 1, 48, 64, "sum", cpu))
    tiny = rasterise([[obj]], torch.tensor([[1e-6, 1e-6]]), cpu, image_hw=(48, 64))  # 25 million px uncapped
    assert tiny[0].values.shape == (1, 131, 131)


def test_a_strip_film_is_rejected_and_the_build_goes_on(tmp_path):
    films = tmp_path / "films"
    films.mkdir()
    Image.fromarray(np.full((32, 4000), 90, np.uint8)).save(films / "strip.png")
    Image.fromarray(np.full((96, 80), 120, np.uint8)).save(films / "film.png")
    report = build(BuildConfig(count=8, seed=1, size=64, style="legacy",
                               sources=SourceConfig(input=str(films), reject_paths=True)),
                   RunConfig(out=str(tmp_path / "out"), progress=False))
    assert report.samples == 8
    reasons = [r.reason for r in report.manifest.all_rejects()]
    assert len(reasons) == 1 and reasons[0].startswith("aspect ratio 125.0:1 (32x4000 px) leaves 1 px")


def test_a_csv_none_of_whose_rows_resolve_under_root_says_so(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "m.csv").write_text("Path\n" + "".join(f"images/{i:08d}_000.png\n" for i in range(245)))
    with pytest.raises(ConfigError, match=f"--root: .*245 of 245 rows not found under {tmp_path / 'root'}"):
        list_sources(SourceConfig(input=str(tmp_path / "m.csv"), root=str(tmp_path / "root")))


def test_rejects_name_inputs_by_source_id_unless_paths_are_asked_for(tmp_path):
    """NIH names carry patient numbers: by default neither rejects.jsonl nor dataset.json holds them."""
    films = tmp_path / "films"
    films.mkdir()
    Image.fromarray(np.full((96, 80), 120, np.uint8)).save(films / "00012345_000.png")
    (films / "00067890_001.png").write_bytes(b"")  # rejected: empty
    (tmp_path / "m.csv").write_text("Path\n00012345_000.png\n00099999_002.png\n")
    for name, source in (("folder", str(films)), ("csv", str(tmp_path / "m.csv"))):
        out = tmp_path / name
        if name == "csv":
            (tmp_path / "00012345_000.png").write_bytes((films / "00012345_000.png").read_bytes())
        build(BuildConfig(count=4, seed=1, size=64, style="legacy", sources=SourceConfig(input=source)),
              RunConfig(out=str(out), progress=False))
        rejects = (out / "rejects.jsonl").read_text()
        assert rejects.count("\n") == 1 and '"source": "' in rejects
        for text in (rejects, (out / "dataset.json").read_text()):
            assert "00067890" not in text and "00099999" not in text and "00012345" not in text
    by_path = tmp_path / "paths"
    build(BuildConfig(count=4, seed=1, size=64, style="legacy",
                      sources=SourceConfig(input=str(films), reject_paths=True)),
          RunConfig(out=str(by_path), progress=False))
    assert '"source": "00067890_001.png"' in (by_path / "rejects.jsonl").read_text()
