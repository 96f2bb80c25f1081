"""The realism discriminator: AUROC near 1 for trivially different crops, near 0.5 for one
distribution, patient-disjoint folds, normalisation that removes brightness and window."""

import numpy as np
import pytest

from generator.tools.discriminator import (
    DiscriminatorConfig,
    auroc,
    crop,
    discriminate,
    grouped_folds,
    normalise_crops,
    patient_id,
)

P = 16
FAST = DiscriminatorConfig(epochs=15, folds=3, repeats=2, bootstrap=200)


def _discs(rng: np.random.Generator, n: int, amplitude: float) -> np.ndarray:
    """(n, P, P) crops: a disc of radius 3 px of `amplitude` on a noisy background whose
    brightness and noise vary per crop."""
    yy, xx = np.mgrid[:P, :P] - (P - 1) / 2
    disc = (np.hypot(yy, xx) < 3).astype(np.float32)
    base = rng.uniform(0.2, 0.8, (n, 1, 1))
    noise = rng.uniform(0.005, 0.02, (n, 1, 1)) * rng.standard_normal((n, P, P))
    return (base + noise + amplitude * disc).astype(np.float32)


def _groups(n: int, per_patient: int = 2) -> list[str]:
    return [f"{i // per_patient:08d}" for i in range(n)]


def test_trivially_different_crops_are_told_apart():
    rng = np.random.default_rng(0)
    r = discriminate(_discs(rng, 60, 0.1), _groups(60), _discs(rng, 60, -0.1), _groups(60), FAST, seed=0)
    assert r["auc"] > 0.95
    assert len(r["auc_per_seed"]) == 2 and min(r["auc_per_seed"]) > 0.9
    assert r["auc_ci95"][0] > 0.85
    assert r["crops"] == {"real": 60, "synthetic": 60}
    assert r["patients"] == {"real": 30, "synthetic": 30, "total": 30}


def test_crops_of_one_distribution_are_indistinguishable():
    rng = np.random.default_rng(1)
    r = discriminate(_discs(rng, 80, 0.1), _groups(80), _discs(rng, 80, 0.1), _groups(80), FAST, seed=0)
    assert abs(r["auc"] - 0.5) < 0.12
    assert r["auc_ci95"][0] < 0.5  # not above chance


def test_discriminate_is_deterministic_for_a_seed():
    rng = np.random.default_rng(2)
    a, b = _discs(rng, 24, 0.05), _discs(rng, 24, 0.0)
    config = DiscriminatorConfig(epochs=3, folds=2, repeats=1, bootstrap=50)
    first = discriminate(a, _groups(24), b, _groups(24), config, seed=5)
    assert discriminate(a, _groups(24), b, _groups(24), config, seed=5) == first


def test_too_few_patients_gives_no_auc_rather_than_a_figure():
    rng = np.random.default_rng(3)
    r = discriminate(_discs(rng, 4, 0.1), ["a"] * 4, _discs(rng, 4, 0.0), ["a"] * 4, FAST, seed=0)
    assert r["auc"] is None and "too few" in r["note"]


@pytest.mark.parametrize("seed", range(5))
def test_grouped_folds_never_put_one_patient_on_both_sides(seed):
    rng = np.random.default_rng(seed)
    groups = [f"{g:08d}" for g in rng.integers(0, 40, 300)]
    fold = grouped_folds(groups, 5, np.random.default_rng(seed))
    for g in set(groups):
        assert len({int(f) for f, h in zip(fold, groups) if h == g}) == 1  # train XOR test, in every fold
    assert set(fold.tolist()) == set(range(5))
    sizes = np.bincount([fold[groups.index(g)] for g in set(groups)])
    assert sizes.max() - sizes.min() <= 1  # patients dealt round-robin


def test_patient_id_parses_nih_names_and_keeps_other_files_apart():
    assert patient_id("00001280_004.png") == patient_id("00001280_000.png") == "00001280"
    assert patient_id("chest.png") != patient_id("other.png")


def test_auroc_counts_ties_half():
    assert auroc(np.array([0, 0, 1, 1]), np.array([0.1, 0.5, 0.5, 0.9])) == 0.875
    assert auroc(np.array([0, 1]), np.array([0.3, 0.3])) == 0.5
    assert auroc(np.array([1, 1, 0]), np.array([0.1, 0.2, 0.3])) == 0.0


def test_normalisation_removes_brightness_and_window():
    rng = np.random.default_rng(4)
    crops = _discs(rng, 5, 0.1)
    assert np.allclose(normalise_crops(crops), normalise_crops(0.5 * crops + 0.2), atol=1e-5)
    out = normalise_crops(crops)
    assert out.shape == crops.shape and out.dtype == np.float32
    assert (out[:, P // 2, P // 2] > 2).all()  # the disc stands out of its own ring


def test_crop_is_in_mm_on_anisotropic_films():
    px = np.zeros((100, 100), np.float32)
    px[40:61, 45:56] = 1.0  # 21 rows x 11 cols: a 10.5 x 11 mm square at 0.5 x 1.0 mm spacing
    c = crop(px, 50, 50, (0.5, 1.0), crop_mm=20.0, crop_px=20)  # 1 mm per crop pixel
    assert c.shape == (20, 20)
    rows, cols = np.nonzero(c > 0.5)
    assert abs((rows.max() - rows.min() + 1) - (cols.max() - cols.min() + 1)) <= 1  # square in mm
