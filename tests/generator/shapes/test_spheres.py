"""Sphere-group kernel: touching spheres, peak chord and volume."""

import math

import numpy as np
import pytest

from generator.bodies import placement as pl
from generator.shapes import kinds
from tests.generator.shapes.fields import field as _field


def test_spheres_touch_in_a_chain(device):
    params = pl.sphere_params(np.array([[-5.0, 0.0], [0.0, 0.0], [5.0, 0.0]]), np.full(3, 5.0), "steel")
    f = _field(kinds.PHYS_SPHERES, params, spacing=0.25, device=device) / pl.mu_per_mm("steel")
    assert f.max() == pytest.approx(5.0, abs=0.05)
    row = f[100]
    assert (row > 0.02).sum() * 0.25 == pytest.approx(15.0, abs=0.5)  # three 5 mm balls end to end
    assert f.sum() * 0.0625 == pytest.approx(3 * math.pi / 6 * 125.0, rel=0.02)
