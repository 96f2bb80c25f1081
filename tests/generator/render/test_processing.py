"""Film processing of the inserted increase: undershoot sign and width, cap, a default
button's exposure."""

import math

import numpy as np
import pytest
import torch

from generator.bodies import sheet_metal
from generator.render import physical, processing
from generator.render.rasterise import rasterise
from generator.shapes import kinds
from generator.spec import ObjectSpec


def _phi(x: float) -> float:
    """The standard normal CDF."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _step(width=200, edge=100, level=0.3):
    """(1, 1, 64, width): an increase of `level` left of column `edge`, 0 right of it (rows: far
    more than 3 sigma, so row 32 sees no top or bottom edge)."""
    y = torch.zeros(1, 1, 64, width)
    y[..., :edge] = level
    return y


def test_undershoot_is_dark_and_as_wide_as_documented():
    sigma, gain, level, edge = 4.0, 0.6, 0.3, 100
    sigma_px = torch.tensor([[[sigma, sigma], [1.0, 1.0]]])  # (1, S, 2): the second scale off
    e = processing.enhance(_step(level=level, edge=edge), sigma_px, torch.tensor([[gain, 0.0]]))[0, 0, 32].numpy()
    outside = e[edge:]
    d = np.arange(len(outside)) + 0.5  # pixel centres' distance from the edge
    assert (outside[d < 3 * sigma] < 0).all()  # darker than the film: the undershoot's sign
    assert outside[0] == pytest.approx(-gain * level * _phi(-0.5 / sigma), rel=0.05)
    # within 10 % of its edge depth (-gain level / 2) by 1.64 sigma, nothing beyond the 3 sigma cut
    assert abs(outside[int(np.ceil(1.645 * sigma))]) <= 0.1 * gain * level / 2 + 1e-4
    assert np.abs(outside[d > 3 * sigma + 1]).max() < 1e-6
    inside = e[:edge]
    assert inside[-1] > level and inside[-1] == pytest.approx(level + gain * level * _phi(-0.5 / sigma), rel=0.05)
    far = 3 * int(sigma) + 2  # beyond both the edge and the zero padding at column 0
    assert inside[far : edge - far] == pytest.approx(level, abs=1e-5)  # far inside: unchanged


def test_no_gain_is_the_identity_and_the_coarse_scale_adds_undershoot():
    y = _step()
    sigma_px = torch.tensor([[[1.5, 1.5], [4.0, 4.0]]])
    assert torch.allclose(processing.enhance(y, sigma_px, torch.zeros(1, 2)), y)
    fine = processing.enhance(y, sigma_px, torch.tensor([[0.5, 0.0]]))[0, 0, 32, 100:]
    both = processing.enhance(y, sigma_px, torch.tensor([[0.5, 0.3]]))[0, 0, 32, 100:]
    assert (both <= fine + 1e-7).all() and both[6] < fine[6] - 1e-3  # wider and deeper


def _render(p, spacing_mm, imaging_over=None, film=0.35):
    n = int(round(40 / spacing_mm))
    obj = ObjectSpec(cls="x", kind=kinds.PHYS_SHEET, center_px=(n / 2, n / 2), material="brass", params=p)
    mid = {k: (lo + hi) / 2 for k, (lo, hi) in {**physical.RANGES, **processing.RANGES}.items()}
    imaging = {**mid, "noise_sigma": 0.0, "noise_seed": 1, "spacing_row_mm": spacing_mm, "spacing_col_mm": spacing_mm,
               "display_dark": 0.15, "display_bright": 0.75, "display_peak": 0.95, **(imaging_over or {})}
    windows = rasterise([[obj]], torch.tensor([[spacing_mm, spacing_mm]]), torch.device("cpu"))
    return physical.composite(torch.full((1, 1, n, n), film), windows, [imaging])[0, 0].numpy(), n // 2


@pytest.mark.parametrize("spacing_mm", [0.2, 0.35])
def test_default_exposure_button_is_not_saturated_and_shows_its_holes(spacing_mm):
    p = sheet_metal.button(np.random.default_rng(3), "brass", 0.0, 0.0)
    assert "f0_x_mm" in p  # a sew-through button
    img, c = _render(p, spacing_mm)
    plate = img[c, c]
    holes = [img[c + round(p[f"f{j}_y_mm"] / spacing_mm), c + round(p[f"f{j}_x_mm"] / spacing_mm)]
             for j in range(4) if f"f{j}_x_mm" in p]
    assert img.max() < 0.95 - 0.05  # the film's ceiling is 0.95: the rim stays below it
    assert 0.35 + 0.05 < plate < 0.95 - 0.2  # one sheet: partial attenuation
    assert all(h < plate - 0.1 for h in holes)  # the holes read as holes


def test_processing_gives_the_object_a_dark_halo_in_the_film():
    p = sheet_metal.coin(np.random.default_rng(0), 20.0, 1.5, "copper_nickel", 0.0, 0.0)
    plain, c = _render(p, 0.2, {"enh_fine_gain": 0.0, "enh_coarse_gain": 0.0})
    processed, _ = _render(p, 0.2)
    ring = (slice(c - 2, c + 3), c + round(10.6 / 0.2))  # 0.6 mm beyond the rim
    assert plain[ring].min() >= 0.35 - 1e-6  # without processing nothing is darker than the film
    assert processed[ring].max() < 0.35 - 0.02  # with it, the undershoot
    assert processed.max() <= 0.95 + 1e-6  # overshoot stops at the film's ceiling
