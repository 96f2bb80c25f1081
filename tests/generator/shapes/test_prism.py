"""Prism kernel: through-slot, edge-on line, vertex-slot trimming."""

import math

import numpy as np
import pytest
import torch

from generator.bodies import placement as pl
from generator.bodies.blade import blade_params
from generator.shapes import kinds
from generator.shapes.prism import PRISM_VERTICES, _distinct_vertices, polygon_halfplanes, prism_chord
from tests.generator.shapes.fields import box as _box
from tests.generator.shapes.fields import field as _field


def test_razor_blade_slot_and_edge_on_line(device):
    rng = np.random.default_rng(0)
    p = blade_params(rng, "razor") | {"tilt_deg": 0.0, "angle_deg": 0.0}
    f = _field(kinds.PHYS_PRISM, p, spacing=0.25, device=device)
    assert f[100, 100] == 0.0 and f[100, 100 + 70] > 0  # through-slot at the centre, steel beside it
    w, h = _box(f)
    assert w * 0.25 == pytest.approx(43.0, abs=0.6) and h * 0.25 == pytest.approx(22.0, abs=0.6)
    edge = _field(kinds.PHYS_PRISM, p | {"tilt_deg": 90.0}, spacing=0.25, device=device)
    assert _box(edge)[1] <= 2 and edge.max() > 10 * f.max()  # edge-on: a thin, much denser line


def test_prism_groups_drop_only_the_repeated_vertex_slots(device):
    triangle = pl.prism_params(np.array([[0.0, 0.0], [20.0, 6.0], [0.0, 12.0]]), thickness_mm=1.0,
                               material="steel", tilt_deg=30.0, angle_deg=20.0)
    pentagon = pl.prism_params(np.array([[-20.0, -4.0], [8.0, -4.0], [19.0, 0.0], [10.0, 4.0], [-20.0, 4.0]]),
                               thickness_mm=0.4, material="steel", tilt_deg=60.0, angle_deg=100.0)
    xs, ys = (torch.tensor([[p[f"v{k}_{axis}_mm"] for k in range(PRISM_VERTICES)] for p in (triangle, pentagon)],
                           device=device) for axis in ("x", "y"))
    kept = _distinct_vertices(xs, ys)
    assert kept[0].shape == (2, 5)  # the pentagon's five; the triangle's repeats past its third go
    assert _distinct_vertices(xs[:1], ys[:1])[0].shape == (1, 3)
    grid = torch.linspace(-25.0, 25.0, 41, device=device)
    x, y = grid.view(1, 1, -1, 1).expand(2, 1, -1, 4), grid.view(1, -1, 1, 1).expand(2, -1, 1, 4)
    angle, tilt = (torch.tensor(deg, device=device).view(2, 1, 1, 1) * (math.pi / 180)
                   for deg in ([20.0, 100.0], [30.0, 60.0]))
    pose = ((torch.cos(angle), torch.sin(angle)), (torch.sin(tilt), torch.cos(tilt)),
            torch.tensor([0.5, 0.2], device=device).view(2, 1, 1, 1))
    every = prism_chord(x, y, *pose, polygon_halfplanes(xs, ys))
    assert float(every.amax()) > 0.5
    assert torch.equal(prism_chord(x, y, *pose, polygon_halfplanes(*kept)), every)
