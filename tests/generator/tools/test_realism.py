"""The realism tool's detector: the white top-hat keeps small bright structures only, one
detection per object, none on a peak clipped at the stored film's 8-bit ceiling."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from generator.tools.realism import Stored, _load, detect_metal, white_tophat


def test_white_tophat_keeps_small_bright_structures_and_equals_the_max_pool_opening():
    rng = np.random.default_rng(0)
    px = (0.3 + 0.02 * rng.random((120, 100))).astype(np.float32)
    px[:, 40:70] += 0.4  # a wide band (the spine): wider than the square, removed
    px[20:24, 10:14] += 0.5  # a small stud: narrower than the square, kept
    px[0:3, 95:100] += 0.3  # at the image corner: pixels beyond the image are ignored, kept
    th = white_tophat(px, 10)  # an 11 x 11 square
    assert th.shape == px.shape and th.dtype == np.float32
    assert th[20:24, 10:14].min() > 0.45
    assert th[0:3, 95:100].min() > 0.25
    assert th[60:100, 45:65].max() < 0.05
    x = torch.from_numpy(px)[None, None]  # the opening as erosion then dilation by max-pooling
    opened = F.max_pool2d(-F.max_pool2d(-x, 11, 1, 5), 11, 1, 5)
    assert np.array_equal(th, (x - opened)[0, 0].numpy())  # min and max are exact: bit for bit


def _film_with(structures) -> np.ndarray:
    """(256, 256) float32 soft tissue with small bright structures added by `structures(px)`."""
    rng = np.random.default_rng(1)
    px = (0.4 + 0.01 * rng.random((256, 256))).astype(np.float32)
    structures(px)
    return px


def test_detect_metal_takes_one_detection_per_object():
    def ring_and_stud(px):
        yy, xx = np.mgrid[:256, :256]
        d = np.hypot(yy - 128, xx - 100)
        px[(d > 9) & (d < 11)] += 0.45  # a ring 14 mm across at 0.7 mm: several maxima
        px[126:130, 200:204] += 0.5  # a stud 70 mm away
    points = detect_metal(_film_with(ring_and_stud), (0.7, 0.7))
    assert len(points) == 2  # the ring once, the stud once
    assert any(abs(r - 128) <= 12 and abs(c - 100) <= 12 for r, c in points)
    assert any(126 <= r < 130 and 200 <= c < 204 for r, c in points)


def _two_studs(px):
    px[60:64, 60:64] += 0.5
    px[180:184, 180:184] += 0.5


def _clipped_first(px):
    clipped = np.zeros_like(px)
    clipped[60:64, 60:64] = 1.0  # the first stud is burnt-in text at 255 on the stored film
    return Stored(clipped=clipped, floor=np.zeros_like(px))


def _outlined_first(px):
    floor = np.zeros_like(px)
    floor[58, 58:66] = 1.0  # a black border 3 px (2.1 mm) above the first stud: an outlined arrow
    floor[184 + 8, 180:184] = 1.0  # black 8 px (5.6 mm) below the second: farther than OUTLINE_MM
    return Stored(clipped=np.zeros_like(px), floor=floor)


@pytest.mark.parametrize("stored", [_clipped_first, _outlined_first], ids=["clipped", "outlined"])
def test_detect_metal_drops_burnt_in_annotations(stored):
    px = _film_with(_two_studs)
    assert len(detect_metal(px, (0.7, 0.7))) == 2
    points = detect_metal(px, (0.7, 0.7), stored(px))
    assert len(points) == 1 and 180 <= points[0][0] < 184


def test_load_maps_the_stored_films_ceiling_at_work_size(tmp_path):
    stored = np.full((1024, 1024), 120, dtype=np.uint8)
    stored[100:400, 500:502] = 255  # a 2-pixel letter stroke at the ceiling
    stored[600:900, 500:502] = 250  # as bright to the eye, not clipped
    stored[100:400, 700:702] = 3  # a 2-pixel black outline at the floor
    Image.fromarray(stored).save(tmp_path / "film.png")
    px, spacing, limits = _load(tmp_path / "film.png", (0.2, 0.2))
    clipped = limits.clipped
    assert px.shape == clipped.shape == limits.floor.shape == (512, 512) and spacing == (0.4, 0.4)
    assert limits.floor[100, 350] == 1.0 and limits.floor[:, :340].max() == 0.0
    assert px[100, 250] < 250 / 255  # the resize blurs the stroke below the ceiling...
    assert clipped[100, 250] == 1.0  # ...its footprint is still all at 255
    assert clipped[350, 250] == 0.0 and clipped[:, :240].max() == 0.0
