"""Disc kernel: physical size, tilt, volume, partial volume, cap, CPU/GPU agreement."""

import math

import numpy as np
import pytest
import torch

from generator.bodies import placement as pl
from generator.shapes import kinds
from tests.generator.shapes.fields import box as _box
from tests.generator.shapes.fields import field as _field


def _coin(tilt=0.0, angle=0.0, d=24.0, t=2.0):
    return pl.disc_params(diameter_mm=d, thickness_mm=t, material="steel", tilt_deg=tilt, angle_deg=angle)


def test_coin_box_doubles_in_pixels_at_half_the_spacing(device):
    w1, h1 = _box(_field(kinds.PHYS_DISC, _coin(), spacing=0.5, device=device))
    w2, h2 = _box(_field(kinds.PHYS_DISC, _coin(), spacing=0.25, size=400, device=device))
    assert w1 == 48 and h1 == 48  # 24 mm at 0.5 mm/px
    assert abs(w2 - 2 * w1) <= 1 and abs(h2 - 2 * h1) <= 1


@pytest.mark.parametrize("tilt", [0.0, 60.0, 90.0])
def test_coin_tilt_circle_ellipse_bar(tilt, device):
    d, t = 24.0, 2.0
    w, h = _box(_field(kinds.PHYS_DISC, _coin(tilt=tilt, d=d, t=t), device=device))
    w_mm, h_mm = w * 0.5, h * 0.5
    assert w_mm == pytest.approx(d, abs=1.0)  # tilt axis keeps the full diameter
    if tilt == 0.0:
        assert h_mm == pytest.approx(d, abs=1.0)  # circle
    elif tilt == 60.0:
        expected = (d * math.cos(math.radians(60)) + t * math.sin(math.radians(60))) / d
        assert h_mm / w_mm == pytest.approx(expected, rel=0.1)  # ellipse ~ cos 60 (+ thickness)
        assert h_mm / w_mm == pytest.approx(math.cos(math.radians(60)), rel=0.2)
    else:
        assert h_mm == pytest.approx(t, abs=1.0)  # bar T x D


@pytest.mark.parametrize("tilt", [0.0, 35.0, 90.0])
def test_projected_thickness_integrates_to_the_volume(tilt, device):
    field = _field(kinds.PHYS_DISC, _coin(tilt=tilt, angle=30.0), device=device)
    volume_mm3 = field.sum() * 0.25 / pl.mu_per_mm("steel")
    assert volume_mm3 == pytest.approx(math.pi * 12.0**2 * 2.0, rel=0.01)


def test_face_on_edges_are_partial_volume(device):
    field = _field(kinds.PHYS_DISC, _coin(), device=device)
    peak = field.max()
    edge = field[(field > 0) & (field < 0.9 * peak)]
    assert edge.size > 20  # anti-aliased rim, not a hard step


def test_disc_cap_gives_a_double_ring_and_step_off(device):
    # The cap geometry the disc kind still offers (button batteries are now layered
    # `phys_sheet` objects: tests/generator/shapes/test_sheet.py).
    face = pl.disc_params(diameter_mm=20.0, thickness_mm=2.6, material="steel", tilt_deg=0.0, angle_deg=0.0,
                          cap_diameter_mm=16.0, cap_thickness_mm=0.6, mu_scale=0.75)
    f = _field(kinds.PHYS_DISC, face, spacing=0.1, size=260, device=device)
    mu = face["mu_per_mm"]
    centre, rim = f[130, 130] / mu, f[130, 130 + 95] / mu  # 9.5 mm out: between cap and can edge
    assert centre == pytest.approx(3.2, abs=0.01)
    assert rim == pytest.approx(face["thickness_mm"], abs=0.01) and rim < centre - 0.4
    side = _field(kinds.PHYS_DISC, face | {"tilt_deg": 90.0}, spacing=0.1, size=260, device=device)
    across_mid = (side[:, 130] > 0.02).sum() * 0.1  # through the cap: full height
    across_rim = (side[:, 130 + 92] > 0.02).sum() * 0.1  # beyond the cap: can only
    assert across_mid == pytest.approx(3.2, abs=0.25)
    assert across_rim == pytest.approx(face["thickness_mm"], abs=0.25) and across_rim < across_mid - 0.4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
def test_cpu_and_cuda_give_the_same_thickness():
    p = _coin(tilt=47.0, angle=20.0)
    a = _field(kinds.PHYS_DISC, p, device=torch.device("cpu"))
    b = _field(kinds.PHYS_DISC, p, device=torch.device("cuda"))
    assert np.abs(a - b).max() < 1e-4 * a.max()
