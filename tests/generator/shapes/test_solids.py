"""Projected-thickness kernels: physical size, pose, partial volume, CPU/GPU agreement."""

import math

import numpy as np
import pytest
import torch

import generator.shapes.solids  # noqa: F401  (registers the kinds)
from generator.bodies import placement as pl
from generator.bodies.button_battery import battery_params
from generator.render.rasterise import accumulate, rasterise
from generator.spec import ObjectSpec


def _field(kind, params, spacing=0.5, size=200, device=torch.device("cpu")):
    obj = ObjectSpec(cls="x", kind=kind, center_px=(size / 2, size / 2), material="steel", params=params)
    windows = rasterise([[obj]], torch.tensor([[spacing, spacing]]), device)
    return accumulate(windows, 1, size, size, "sum", device)[0, 0].cpu().numpy()


def _coin(tilt=0.0, angle=0.0, d=24.0, t=2.0):
    return pl.disc_params(diameter_mm=d, thickness_mm=t, material="steel", tilt_deg=tilt, angle_deg=angle)


def _box(field, thr=0.02):
    ys, xs = np.nonzero(field > thr)
    return xs.max() - xs.min() + 1, ys.max() - ys.min() + 1


def test_coin_box_doubles_in_pixels_at_half_the_spacing(device):
    w1, h1 = _box(_field("phys_disc", _coin(), spacing=0.5, device=device))
    w2, h2 = _box(_field("phys_disc", _coin(), spacing=0.25, size=400, device=device))
    assert w1 == 48 and h1 == 48  # 24 mm at 0.5 mm/px
    assert abs(w2 - 2 * w1) <= 1 and abs(h2 - 2 * h1) <= 1


@pytest.mark.parametrize("tilt", [0.0, 60.0, 90.0])
def test_coin_tilt_circle_ellipse_bar(tilt, device):
    d, t = 24.0, 2.0
    w, h = _box(_field("phys_disc", _coin(tilt=tilt, d=d, t=t), device=device))
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
    field = _field("phys_disc", _coin(tilt=tilt, angle=30.0), device=device)
    volume_mm3 = field.sum() * 0.25 / pl.mu_per_mm("steel")
    assert volume_mm3 == pytest.approx(math.pi * 12.0**2 * 2.0, rel=0.01)


def test_face_on_edges_are_partial_volume(device):
    field = _field("phys_disc", _coin(), device=device)
    peak = field.max()
    edge = field[(field > 0) & (field < 0.9 * peak)]
    assert edge.size > 20  # anti-aliased rim, not a hard step


def test_button_battery_double_ring_and_step_off(device):
    rng = np.random.default_rng(0)
    face = battery_params(rng, "CR2032", tilt_deg=0.0) | {"angle_deg": 0.0}
    f = _field("phys_disc", face, spacing=0.1, size=260, device=device)
    mu = face["mu_per_mm"]
    centre, rim = f[130, 130] / mu, f[130, 130 + 95] / mu  # 9.5 mm out: between cap and can edge
    assert centre == pytest.approx(3.2, abs=0.01)
    assert rim == pytest.approx(face["thickness_mm"], abs=0.01) and rim < centre - 0.4
    side = _field("phys_disc", face | {"tilt_deg": 90.0}, spacing=0.1, size=260, device=device)
    across_mid = (side[:, 130] > 0.02).sum() * 0.1  # through the cap: full height
    across_rim = (side[:, 130 + 92] > 0.02).sum() * 0.1  # beyond the cap: can only
    assert across_mid == pytest.approx(3.2, abs=0.25)
    assert across_rim == pytest.approx(face["thickness_mm"], abs=0.25) and across_rim < across_mid - 0.4


def test_spheres_touch_in_a_chain(device):
    params = pl.sphere_params(np.array([[-5.0, 0.0], [0.0, 0.0], [5.0, 0.0]]), np.full(3, 5.0), "steel")
    f = _field("phys_spheres", params, spacing=0.25, device=device) / pl.mu_per_mm("steel")
    assert f.max() == pytest.approx(5.0, abs=0.05)
    row = f[100]
    assert (row > 0.02).sum() * 0.25 == pytest.approx(15.0, abs=0.5)  # three 5 mm balls end to end
    assert f.sum() * 0.0625 == pytest.approx(3 * math.pi / 6 * 125.0, rel=0.02)


def test_bullet_length_and_volume(device):
    params = {"diameter_mm": 9.0, "body_length_mm": 8.5, "ogive_length_mm": 7.0, "mushroom_frac": 0.0,
              "elevation_deg": 0.0, "angle_deg": 0.0, "mu_per_mm": 1.0}
    f = _field("phys_bullet", params, spacing=0.25, device=device)
    w, h = _box(f)
    assert w * 0.25 == pytest.approx(15.5, abs=0.6) and h * 0.25 == pytest.approx(9.0, abs=0.6)
    body = math.pi * 4.5**2 * 8.5
    assert f.sum() * 0.0625 > body and f.sum() * 0.0625 < body + math.pi * 4.5**2 * 7.0
    end_on = _field("phys_bullet", params | {"elevation_deg": 90.0}, spacing=0.25, device=device)
    assert end_on.max() == pytest.approx(15.5, abs=0.5)  # the beam runs down the whole length


def test_razor_blade_slot_and_edge_on_line(device):
    rng = np.random.default_rng(0)
    from generator.bodies.blade import blade_params

    p = blade_params(rng, "razor") | {"tilt_deg": 0.0, "angle_deg": 0.0}
    f = _field("phys_prism", p, spacing=0.25, device=device)
    assert f[100, 100] == 0.0 and f[100, 100 + 70] > 0  # through-slot at the centre, steel beside it
    w, h = _box(f)
    assert w * 0.25 == pytest.approx(43.0, abs=0.6) and h * 0.25 == pytest.approx(22.0, abs=0.6)
    edge = _field("phys_prism", p | {"tilt_deg": 90.0}, spacing=0.25, device=device)
    assert _box(edge)[1] <= 2 and edge.max() > 10 * f.max()  # edge-on: a thin, much denser line


def test_wire_segment_volume_and_pose(device):
    segs = [(np.array([-10.0, 0, 0]), np.array([10.0, 0, 0]), 1.0)]
    p = pl.wire_params(segs, pl.rotation(0.0, 90.0), "steel", 0.0, 90.0)
    f = _field("phys_wire", p, spacing=0.25, device=device) / pl.mu_per_mm("steel")
    w, h = _box(f)
    assert h * 0.25 == pytest.approx(20.0, abs=1.1) and w * 0.25 == pytest.approx(1.0, abs=0.6)  # turned to vertical
    assert f.sum() * 0.0625 == pytest.approx(math.pi * 0.25 * 20.0, rel=0.03)


def test_prism_groups_drop_only_the_repeated_vertex_slots(device):
    from generator.shapes.solids import PRISM_VERTICES, _distinct_vertices, polygon_halfplanes, prism_chord

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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
def test_cpu_and_cuda_give_the_same_thickness():
    p = _coin(tilt=47.0, angle=20.0)
    a = _field("phys_disc", p, device=torch.device("cpu"))
    b = _field("phys_disc", p, device=torch.device("cuda"))
    assert np.abs(a - b).max() < 1e-4 * a.max()
