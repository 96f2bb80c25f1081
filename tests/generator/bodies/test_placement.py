"""Placement helpers: the 3-D pose of wire objects."""

import math

import numpy as np
import pytest
import torch
from kornia.geometry.conversions import axis_angle_to_rotation_matrix

from generator.bodies import placement as pl


def test_rotation_is_kornias_tilt_about_x_then_turn_about_z():
    rng = np.random.default_rng(0)
    for tilt, angle in zip(rng.uniform(-90, 90, 200), rng.uniform(-360, 360, 200)):
        axis_angle = torch.tensor([[math.radians(tilt), 0, 0], [0, 0, math.radians(angle)]], dtype=torch.float64)
        rx, rz = axis_angle_to_rotation_matrix(axis_angle).numpy()
        np.testing.assert_allclose(pl.rotation(tilt, angle), rz @ rx, rtol=0, atol=1e-15)


def test_rotation_tilts_y_toward_the_beam_and_turns_x_toward_plus_y():
    r = pl.rotation(90.0, 0.0)
    np.testing.assert_allclose(r @ [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], atol=1e-15)  # tilt about x: y -> +z
    r = pl.rotation(0.0, 90.0)
    np.testing.assert_allclose(r @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-15)  # turn about z: x -> +y (down)
    r = pl.rotation(30.0, 70.0)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-15)
    assert np.linalg.det(r) == pytest.approx(1.0)
