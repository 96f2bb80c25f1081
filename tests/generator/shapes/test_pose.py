"""Object frames: Kornia's rotation gives the written-out turn bit for bit, in y-down axes."""

import math

import pytest
import torch

from generator.shapes.pose import cos_sin, rotate


def _written_out(dx, dy, angle_deg):
    a = angle_deg * (math.pi / 180.0)
    c, s = torch.cos(a), torch.sin(a)
    return c * dx + s * dy, -s * dx + c * dy


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rotate_is_bitwise_the_written_out_turn(dtype, device):
    g = torch.Generator().manual_seed(0)
    dx = (torch.randn(64, 1, 37, 4, generator=g, dtype=dtype) * 50).to(device)
    dy = (torch.randn(64, 37, 1, 4, generator=g, dtype=dtype) * 50).to(device)
    angle = ((torch.rand(64, 1, 1, 1, generator=g, dtype=dtype) - 0.25) * 800).to(device)  # -200 .. 600 deg
    u, v = rotate(dx, dy, angle)
    ref_u, ref_v = _written_out(dx, dy, angle)
    assert u.shape == v.shape == (64, 37, 37, 4) and u.dtype == dtype
    assert torch.equal(u, ref_u) and torch.equal(v, ref_v)


def test_rotate_turns_the_long_axis_toward_plus_y(device):
    angle = torch.tensor([[[90.0]]], device=device)
    u, v = rotate(torch.tensor([[[0.0]]], device=device), torch.tensor([[[1.0]]], device=device), angle)
    assert u.item() == pytest.approx(1.0) and v.item() == pytest.approx(0.0, abs=1e-7)  # +y is along the object
    u, v = rotate(torch.tensor([[[1.0]]], device=device), torch.tensor([[[0.0]]], device=device), angle)
    assert u.item() == pytest.approx(0.0, abs=1e-7) and v.item() == pytest.approx(-1.0)


def test_cos_sin_is_bitwise_degrees_times_pi_over_180(device):
    deg = torch.linspace(-90.0, 450.0, 541, device=device).view(-1, 1, 1, 1)
    c, s = cos_sin(deg)
    a = deg * (math.pi / 180.0)
    assert torch.equal(c, torch.cos(a)) and torch.equal(s, torch.sin(a))
    assert c[90].item() == 1.0 and s[180].item() == pytest.approx(1.0)
