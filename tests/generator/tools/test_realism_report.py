"""`radiopaque realism`'s report: the documented JSON keys, counts only (no file names or
patient numbers), on small generated films; and the real command on a few cxr-nih films."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_data
from PIL import Image

from generator.tools.discriminator import DiscriminatorConfig
from generator.tools.realism import SYNTHETIC_CLASSES, RealismConfig, format_report, realism_report
from generator.tools.realism_cues import CUES

REPO = Path(__file__).resolve().parents[3]
NIH_NAME = re.compile(r"\d{8}_\d{3}")
STATS = {"median", "q1", "q3", "n"}


def _film(rng: np.random.Generator, studs: int) -> Image.Image:
    """A 512 px chest-like film: dark lungs, a bright mediastinum and spine, soft tissue,
    noise, and `studs` small bright discs (the 'real metal' the detector should find)."""
    yy, xx = np.mgrid[:512, :512] / 511.0
    px = 0.25 + 0.25 * np.exp(-((xx - 0.5) / 0.12) ** 2) + 0.2 * (np.abs(xx - 0.5) > 0.4)
    px += 0.15 * yy + 0.01 * rng.standard_normal(px.shape)
    for _ in range(studs):
        r, c = rng.integers(80, 430, 2)
        px[np.hypot(np.arange(512)[:, None] - r, np.arange(512)[None] - c) < 3] += 0.45
    return Image.fromarray((np.clip(px, 0, 1) * 255).astype(np.uint8))


@pytest.fixture(scope="module")
def films(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("films")
    rng = np.random.default_rng(0)
    for patient in range(4):
        for follow_up in range(2):
            _film(rng, 2).save(folder / f"{patient + 10000001:08d}_{follow_up:03d}.png")
    return folder


def _check_shape(result: dict) -> None:
    assert set(result) >= {"real", "synthetic", "per_class", "discriminator_auc", "discriminator", "config"}
    for side in (result["real"], result["synthetic"], *result["per_class"].values()):
        assert set(side) == {"contrast", "edge_mm"}
        assert set(side["contrast"]) == set(side["edge_mm"]) == STATS
    assert set(result["per_class"]) == set(SYNTHETIC_CLASSES)
    d = result["discriminator"]
    assert d["auc"] == result["discriminator_auc"]
    assert {"crops", "patients", "epochs", "folds", "seeds", "auc_per_seed", "auc_ci95", "caveats",
            "variants"} <= set(d)
    assert set(d["variants"]) == {"shape_matched", "detector_matched", "device_matched", "position_matched"}
    for v in (d, *d["variants"].values()):  # each selection's single cues, by name
        assert set(v["cues"]) == set(CUES)
        assert all(c["auc"] is None or 0.0 <= c["auc"] <= 1.0 for c in v["cues"].values())
    text = json.dumps(result)
    assert not NIH_NAME.search(text) and ".png" not in text  # counts only


def test_report_has_the_documented_keys_and_no_file_names(films):
    config = RealismConfig(data=str(films), n_images=8, seed=0,
                           discriminator=DiscriminatorConfig(epochs=2, folds=2, repeats=2, bootstrap=20))
    result = realism_report(config, sheet=films.parent / "sheet" / "crops.png")
    _check_shape(result)
    assert result["films"]["used"] == 8 and result["films"]["patients"] == 4
    sheet = np.asarray(Image.open(films.parent / "sheet" / "crops.png"))
    assert sheet.ndim == 2 and sheet.shape[1] == 16 * (32 * 3 + 2) + 2  # 16 crops of 32 px, magnified 3x
    assert sheet.shape[0] >= 6 * (14 + 32 * 3)  # real metal, then the five synthetic selections
    assert result["real"]["contrast"]["n"] >= 8  # the studs were found
    d = result["discriminator"]
    assert d["crops"]["real"] == d["crops"]["synthetic"] > 0  # as many synthetic crops as real, per film
    assert d["patients"]["total"] == 4 and d["seeds"] == [0, 1] and len(d["auc_per_seed"]) == 2
    assert 0.0 <= result["discriminator_auc"] <= 1.0
    devices = d["variants"]["device_matched"]  # our distractors against the real detections, one per crop
    assert set(devices["synthetic_classes"]) <= {"medical_device", "lead_marker"}
    assert sum(devices["synthetic_classes"].values()) == devices["crops"]["synthetic"] > 0
    assert "medical_device" not in d["variants"]["detector_matched"]["synthetic_classes"]
    twins = d["variants"]["position_matched"]  # foreign bodies on the real detections' mirror images
    assert set(twins["synthetic_classes"]) <= set(SYNTHETIC_CLASSES)
    assert sum(twins["synthetic_classes"].values()) == twins["crops"]["synthetic"] > 0
    assert result["config"]["n_images"] == 8 and result["config"]["discriminator"]["epochs"] == 2
    table = format_report(result)
    assert "all classes" in table and "shape-matched" in table and "10000001" not in table
    assert table.count("strongest single cues") == 5  # one line under each selection


def test_realism_command_on_a_few_real_films_writes_the_json(tmp_path):
    data = shared_data("cxr-nih")
    out = tmp_path / "realism.json"
    proc = subprocess.run([sys.executable, "-m", "radiopaque.cli", "realism", "--data", str(data), "--n-images", "8",
                           "--epochs", "1", "--folds", "2", "--repeats", "1", "--json", str(out),
                           "--sheet", str(tmp_path / "crops.png")],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    _check_shape(result)
    assert result["films"]["used"] == 8 and result["config"]["discriminator"]["folds"] == 2
    assert not NIH_NAME.search(proc.stdout)
    assert Image.open(tmp_path / "crops.png").size[0] > 0 and "wrote" in proc.stdout


def test_crop_sheet_shows_each_crop_against_its_own_background():
    from generator.tools.crop_sheet import GAP, LABEL_PX, MAGNIFY, crop_sheet

    crops = np.full((3, 16, 16), 0.4, dtype=np.float32) + 0.01 * np.random.default_rng(0).standard_normal((3, 16, 16))
    crops[:, 6:10, 6:10] += np.array([0.05, 0.2, 0.5])[:, None, None]  # faint, medium, bright studs
    sheet = np.asarray(crop_sheet({"real metal": crops, "synthetic": crops[:1]}, per_row=3)).astype(int)
    top = LABEL_PX + GAP
    centre = [sheet[top + 8 * MAGNIFY, GAP + k * (16 * MAGNIFY + GAP) + 8 * MAGNIFY] for k in range(3)]
    corner = sheet[top + 1, GAP + 1]
    assert corner < centre[0] < centre[1] <= centre[2]  # brighter studs, brighter tiles
    assert sheet.shape == (2 * (LABEL_PX + 16 * MAGNIFY + GAP) + GAP, 3 * (16 * MAGNIFY + GAP) + GAP)
    with pytest.raises(ValueError, match="one P for every block"):
        crop_sheet({"a": crops, "b": np.zeros((1, 8, 8), dtype=np.float32)})


def test_realism_sheet_must_be_a_png(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "radiopaque.cli", "realism", "--data", str(tmp_path),
                           "--sheet", str(tmp_path / "crops.jpg")], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and "--sheet" in proc.stderr and ".png" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_device_matched_crops_are_metal_distractors_never_the_plastic_marker_block():
    from generator.bodies.context import PlacementContext
    from generator.tools.realism_variants import devices

    ctx = PlacementContext(height=256, width=256, spacing_mm=(1.4, 1.4))
    seen = set()
    for seed in range(60):
        items = devices(np.random.default_rng(seed), ctx)
        assert items and all(d.material != "plastic" and d.params.get("mu_per_mm", d.params.get("r0_mu_per_mm")) > 0.3
                             for d in items)
        seen |= {d.material for d in items}
    assert {"steel", "copper", "lead"} <= seen
