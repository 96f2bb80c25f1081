"""Coaxial-stack kernels (bullet): length, volume, end-on chord."""

import math

import pytest

from generator.shapes import kinds
from tests.generator.shapes.fields import box as _box
from tests.generator.shapes.fields import field as _field


def test_bullet_length_and_volume(device):
    params = {"diameter_mm": 9.0, "body_length_mm": 8.5, "ogive_length_mm": 7.0, "mushroom_frac": 0.0,
              "elevation_deg": 0.0, "angle_deg": 0.0, "mu_per_mm": 1.0}
    f = _field(kinds.PHYS_BULLET, params, spacing=0.25, device=device)
    w, h = _box(f)
    assert w * 0.25 == pytest.approx(15.5, abs=0.6) and h * 0.25 == pytest.approx(9.0, abs=0.6)
    body = math.pi * 4.5**2 * 8.5
    assert f.sum() * 0.0625 > body and f.sum() * 0.0625 < body + math.pi * 4.5**2 * 7.0
    end_on = _field(kinds.PHYS_BULLET, params | {"elevation_deg": 90.0}, spacing=0.25, device=device)
    assert end_on.max() == pytest.approx(15.5, abs=0.5)  # the beam runs down the whole length
