"""realism_cues: each named measure separates crops that differ in it alone, and not crops
that do not."""

import numpy as np
import pytest

from generator.tools.realism_cues import CUES, cue_aurocs, cue_values, strongest

P = 32


def _discs(n: int, *, background: float = 0.4, radius: float = 6.0, gain: float = 0.4, soft: float = 0.0,
           inner_noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """(n, P, P) crops: a disc of `gain` over a flat background with 0.01 noise; `soft`: the
    edge ramp's half-width in px; `inner_noise`: extra noise inside the disc."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:P, :P] - (P - 1) / 2
    r = np.hypot(yy, xx)
    shape = np.clip((radius - r) / (2 * soft) + 0.5, 0, 1) if soft else (r <= radius).astype(float)
    out = background + gain * shape + 0.01 * rng.standard_normal((n, P, P))
    out += inner_noise * (r <= radius - 3) * rng.standard_normal((n, P, P))
    return out.astype(np.float32)


def test_the_same_crops_give_no_cue_and_each_difference_shows_in_its_own_cue():
    same = cue_aurocs(_discs(20, seed=1), _discs(20, seed=2), 0.75)
    assert set(same) == set(CUES)
    assert all(0.25 < v["auc"] < 0.75 for v in same.values())  # noise only: no cue stands out
    brighter = cue_aurocs(_discs(20, seed=1), _discs(20, background=0.6, seed=2), 0.75)
    assert brighter["background_level"]["auc"] == 1.0  # synthetic on the brighter anatomy
    assert brighter["contrast"]["auc"] == pytest.approx(0.5, abs=0.25)  # the same object on it
    assert brighter["background_level"]["real_median"] == pytest.approx(0.4, abs=0.01)
    soft = cue_aurocs(_discs(20, seed=1), _discs(20, soft=2.5, seed=2), 0.75)
    assert soft["edge_band"]["auc"] == 1.0  # soft edges: a wider 25-75 % band for the same size
    assert soft["area_mm2"]["auc"] == pytest.approx(0.5, abs=0.3)
    big = cue_values(_discs(4, radius=8.0), 0.5)["area_mm2"]
    assert np.allclose(big, np.pi * 8.0**2 * 0.25, rtol=0.1)  # pixels above half the contrast, in mm^2
    grainy = cue_aurocs(_discs(20, seed=1), _discs(20, inner_noise=0.05, seed=2), 0.75)
    assert grainy["core_texture"]["auc"] == 1.0  # noisier inside than its background
    assert grainy["background_texture"]["auc"] == pytest.approx(0.5, abs=0.3)  # the surroundings alike
    faint = cue_aurocs(_discs(10, seed=1), _discs(10, gain=0.1, seed=2), 0.75)
    assert faint["contrast"]["auc"] == 0.0 and faint["relative_contrast"]["auc"] == 0.0  # synthetic: fainter
    assert strongest(brighter, 1) == [("background_level", 1.0)]
    assert strongest(faint, 2)[0][1] == 0.0  # far from 0.5 either way


def test_a_crop_without_a_core_has_no_core_texture_and_is_left_out_of_its_auroc():
    tiny = _discs(5, radius=1.5)
    assert np.isnan(cue_values(tiny, 0.75)["core_texture"]).all()
    result = cue_aurocs(np.concatenate([_discs(5), tiny]), _discs(5, seed=3), 0.75)
    assert result["core_texture"]["n"] == [5, 5] and result["contrast"]["n"] == [10, 5]
    assert cue_aurocs(tiny, tiny, 0.75)["core_texture"]["auc"] is None


def test_crops_must_be_square_stacks():
    with pytest.raises(ValueError, match=r"expected \(N, P, P\) with P >= 8, got \(2, 8, 9\)"):
        cue_values(np.zeros((2, 8, 9), np.float32), 1.0)
