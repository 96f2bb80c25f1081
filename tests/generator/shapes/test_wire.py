"""Wire kernel: segment volume and 3-D pose."""

import math

import numpy as np
import pytest

from generator.bodies import placement as pl
from generator.shapes import kinds
from tests.generator.shapes.fields import box as _box
from tests.generator.shapes.fields import field as _field


def test_wire_segment_volume_and_pose(device):
    segs = [(np.array([-10.0, 0, 0]), np.array([10.0, 0, 0]), 1.0)]
    p = pl.wire_params(segs, pl.rotation(0.0, 90.0), "steel", 0.0, 90.0)
    f = _field(kinds.PHYS_WIRE, p, spacing=0.25, device=device) / pl.mu_per_mm("steel")
    w, h = _box(f)
    assert h * 0.25 == pytest.approx(20.0, abs=1.1) and w * 0.25 == pytest.approx(1.0, abs=0.6)  # turned to vertical
    assert f.sum() * 0.0625 == pytest.approx(math.pi * 0.25 * 20.0, rel=0.03)
