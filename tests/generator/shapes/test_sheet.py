"""Sheet kind: layered batteries (double ring, step-off), button holes, hollow rings, volume."""

import math

import numpy as np
import pytest

from generator.bodies import sheet_metal
from generator.bodies.button_battery import battery_params
from generator.bodies.materials import mu_per_mm
from generator.shapes import kinds
from tests.generator.shapes.fields import field


def _radial_profile(f: np.ndarray, centre: int, spacing: float, radius_mm: float, step: float = 0.1) -> np.ndarray:
    """Mean field over annuli `step` mm wide, from the centre out to radius_mm."""
    ys, xs = np.indices(f.shape)
    r = np.hypot(xs + 0.5 - centre, ys + 0.5 - centre) * spacing
    bins = np.arange(0.0, radius_mm + step, step)
    idx = np.digitize(r.ravel(), bins)
    return np.array([f.ravel()[idx == k].mean() for k in range(1, len(bins))])


def _rings(profile: np.ndarray, min_rise: float) -> list[int]:
    """Indices of local maxima standing at least min_rise above the profile on both sides."""
    out = []
    for k in range(1, len(profile) - 1):
        if profile[k] >= profile[k - 1] and profile[k] > profile[k + 1]:
            inside = profile[max(0, k - 8) : k].min()
            outside = profile[k + 1 : k + 9].min()
            if profile[k] - max(inside, outside) > min_rise:
                out.append(k)
    return out


@pytest.mark.parametrize("cell", ["CR2032", "CR2025", "LR44"])
def test_face_on_battery_radial_profile_has_two_rings(cell, device):
    p = battery_params(np.random.default_rng(0), cell, tilt_deg=0.0)
    f = field(kinds.PHYS_SHEET, p, spacing=0.1, size=300, device=device)
    profile = _radial_profile(f, 150, 0.1, p["r0_outer_mm"] + 1.0)
    rings = _rings(profile, min_rise=0.1)
    assert len(rings) == 2, rings
    cap_mm, can_mm = (0.1 * (k + 0.5) for k in rings)
    assert cap_mm == pytest.approx(p["r2_outer_mm"], abs=0.3)  # the cap's wall
    assert can_mm == pytest.approx(p["r0_outer_mm"], abs=0.3)  # the can's wall


def test_face_on_battery_rings_survive_a_film_pixel():
    p = battery_params(np.random.default_rng(1), "CR2032", tilt_deg=0.0)
    f = field(kinds.PHYS_SHEET, p, spacing=0.35, size=80)
    profile = _radial_profile(f, 40, 0.35, 11.0, step=0.35)
    assert np.isfinite(profile).all()
    assert len(_rings(profile, min_rise=0.05)) == 2


def test_side_on_battery_shows_the_step_off(device):
    p = battery_params(np.random.default_rng(0), "CR2032", tilt_deg=90.0) | {"angle_deg": 0.0}
    f = field(kinds.PHYS_SHEET, p, spacing=0.1, size=260, device=device)
    through_cap = (f[:, 130] > 0.02).sum() * 0.1
    beyond_cap = (f[:, 130 + 92] > 0.02).sum() * 0.1  # 9.2 mm out: past the cap (8 mm), inside the can (10)
    assert through_cap == pytest.approx(3.2, abs=0.25)
    step = 3.2 - beyond_cap
    assert 0.15 * 3.2 - 0.25 <= step <= 0.25 * 3.2 + 0.25 and step > 0.3


def test_button_shows_its_holes(device):
    p = sheet_metal.button(np.random.default_rng(3), "brass", 0.0, 0.0)
    f = field(kinds.PHYS_SHEET, p, spacing=0.1, size=300, device=device)
    plate = mu_per_mm("brass") * p["r0_height_mm"]
    holes = [(p[f"f{j}_x_mm"], p[f"f{j}_y_mm"]) for j in range(4) if f"f{j}_x_mm" in p]
    assert len(holes) in (2, 4)
    for x, y in holes:
        assert f[150 + round(y / 0.1), 150 + round(x / 0.1)] < 0.05 * plate  # open
    assert f[150, 150] == pytest.approx(plate, rel=0.02)  # between the holes: one sheet
    assert f.max() > 2 * plate  # the rolled rim


def test_ring_is_hollow_and_keeps_its_volume(device):
    p = sheet_metal.finger_ring(np.random.default_rng(4), "gold_14k", 0.0, 0.0)
    f = field(kinds.PHYS_SHEET, p, spacing=0.1, size=300, device=device)
    assert f[150, 150] == 0.0
    outer, inner, band = p["r0_outer_mm"], p["r0_inner_mm"], p["r0_height_mm"]
    assert f[150, 150 + round((outer + inner) / 2 / 0.1)] == pytest.approx(band * mu_per_mm("gold_14k"), rel=0.02)
    tilted = field(kinds.PHYS_SHEET, p | {"tilt_deg": 50.0, "angle_deg": 20.0}, spacing=0.1, size=300, device=device)
    volume = tilted.sum() * 0.01 / mu_per_mm("gold_14k")
    assert volume == pytest.approx(math.pi * (outer**2 - inner**2) * band, rel=0.01)
