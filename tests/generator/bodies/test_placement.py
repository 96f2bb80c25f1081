"""Placement helpers: the 3-D pose of wire objects; objects kept on the film."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from kornia.geometry.conversions import axis_angle_to_rotation_matrix

from generator.anatomy.estimate import nominal_anatomy
from generator.bodies import placement as pl
from generator.bodies.context import PlacementContext
from generator.bodies.physical import SAMPLERS as PHYSICAL_SAMPLERS
from generator.render import physical
from generator.render.annotate import clip_window
from generator.render.rasterise import object_masks, rasterise
from generator.shapes import kinds
from generator.spec import ObjectSpec


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


# -- on_film: no foreign body is labelled as a sliver at the film's edge -------------------------

def _disc(centre, diameter_mm=20.0):
    params = pl.disc_params(diameter_mm=diameter_mm, thickness_mm=1.5, material="steel", tilt_deg=0.0, angle_deg=0.0)
    return ObjectSpec(cls="coin", kind=kinds.PHYS_DISC, center_px=centre, material="steel", params=params)


CTX = PlacementContext(height=512, width=400, spacing_mm=(0.8, 0.8), anatomy=nominal_anatomy(512, 400))


@pytest.mark.parametrize("centre", [(0.0, 0.0), (399.9, 511.9), (0.0, 256.0), (200.0, 511.0)])
def test_on_film_moves_an_edge_object_by_its_extent_and_no_further(centre):
    (moved,) = pl.on_film((_disc(centre),), CTX)
    ext = pl.extent_px(_disc(centre), CTX.spacing_mm)
    assert ext == pytest.approx((10.0 + 1.5) / 0.8 + 1.0)  # radius + thickness in px, + 1 px
    x, y = moved.center_px
    assert ext <= x <= CTX.width - ext and ext <= y <= CTX.height - ext
    # the least move: a coordinate that was already far enough in is untouched
    for was, now, size in zip(centre, moved.center_px, (CTX.width, CTX.height)):
        assert now == (was if ext <= was <= size - ext else pytest.approx(min(max(was, ext), size - ext)))


def test_on_film_keeps_an_object_already_on_the_film_as_drawn():
    obj = _disc((200.0, 250.0))
    assert pl.on_film((obj,), CTX)[0] is obj


def test_an_object_larger_than_a_quarter_of_the_film_may_run_off_it_with_its_centre_inside():
    big = _disc((0.0, 5.0), diameter_mm=300.0)  # radius 188 px > 0.25 * 400
    ext = pl.extent_px(big, CTX.spacing_mm)
    assert ext > pl.WHOLE_ON_FILM_SHARE * 400
    x, y = pl.on_film((big,), CTX)[0].center_px
    assert (x, y) == (pytest.approx(ext / 2), pytest.approx(ext / 2))


@pytest.mark.parametrize("name", sorted(PHYSICAL_SAMPLERS))
def test_every_class_drawn_at_the_film_edge_is_rasterised_wholly_on_the_film(name):
    """Objects drawn with their centre forced to an edge or corner are, after on_film, masks
    that the film's border does not cut (the slivers this rule exists to prevent)."""
    rng = np.random.default_rng(3)
    corners = [(0.0, 0.0), (399.9, 0.0), (0.0, 511.9), (200.0, 0.0), (399.9, 300.0)]
    objects = []
    for k in range(10):
        drawn = PHYSICAL_SAMPLERS[name](rng, CTX)
        objects += [dataclasses.replace(o, center_px=corners[(k + j) % len(corners)]) for j, o in enumerate(drawn)]
    placed = pl.on_film(tuple(objects), CTX)
    windows = rasterise([placed], torch.tensor([CTX.spacing_mm]), torch.device("cpu"), image_hw=(512, 400))
    masks = object_masks(windows, physical.MASK_THRESHOLD)
    big = [pl.extent_px(o, CTX.spacing_mm) > pl.WHOLE_ON_FILM_SHARE * 400 for o in placed]
    for k, obj in enumerate(placed):
        window, row0, col0, _ = masks[(0, k)]
        on, _, _ = clip_window(window, row0, col0, 512, 400)
        if not big[k]:
            assert on.sum() == window.sum() > 0, f"{name} object {k} at {obj.center_px} is cut by the film's edge"
