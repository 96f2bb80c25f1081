"""Bit-packed grids: packing round trips, and morphology and reconstruction against plain
numpy references on random grids."""

import numpy as np
import pytest

from generator.anatomy.bitgrid import MARGIN, bit_grid


def _random_grids(seed, count=200, max_side=40):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        h, w = (int(v) for v in rng.integers(1, max_side, 2))
        yield rng, rng.random((h, w)) < rng.uniform(0.1, 0.9)


def _square_ref(x, size, op, pad_value):
    """op (np.logical_or / np.logical_and) over the size x size square, shifted slices of a padded copy."""
    r = size // 2
    h, w = x.shape
    p = np.pad(x, r, constant_values=pad_value)
    out = np.full_like(x, op is np.logical_and)
    for dy in range(size):
        for dx in range(size):
            out = op(out, p[dy : dy + h, dx : dx + w])
    return out


def _reconstruct_ref(marker, mask):
    """Iterated 4-connected dilation of marker within mask until stable."""
    current = marker & mask
    while True:
        grown = current.copy()
        grown[1:] |= current[:-1]
        grown[:-1] |= current[1:]
        grown[:, 1:] |= current[:, :-1]
        grown[:, :-1] |= current[:, 1:]
        grown &= mask
        if (grown == current).all():
            return current
        current = grown


def test_pack_unpack_round_trip_and_below():
    for rng, x in _random_grids(0, count=50):
        grid = bit_grid(*x.shape)
        v = grid.pack(x)
        assert v & ~grid.interior == 0
        assert (grid.unpack(v) == x).all() and v.bit_count() == x.sum()
        values = rng.random(x.shape, dtype=np.float32)
        assert grid.below(values, 0.4) == grid.pack(values < np.float32(0.4))
    edge = bit_grid(5, 6).unpack(bit_grid(5, 6).edge)
    assert edge[0].all() and edge[-1].all() and edge[:, 0].all() and edge[:, -1].all() and not edge[1:-1, 1:-1].any()


@pytest.mark.parametrize("size", [1, 3, 5, 7])
def test_dilate_erode_opening_match_references(size):
    for _, x in _random_grids(size):
        grid = bit_grid(*x.shape)
        v = grid.pack(x)
        dilated = _square_ref(x, size, np.logical_or, False)
        assert (grid.unpack(grid.dilate(v, size)) == dilated).all()
        for border_value in (True, False):
            eroded = _square_ref(x, size, np.logical_and, border_value)
            assert (grid.unpack(grid.erode(v, size, border_value=border_value)) == eroded).all()
        opened = _square_ref(_square_ref(x, size, np.logical_and, True), size, np.logical_or, False)
        assert (grid.unpack(grid.opening(v, size)) == opened).all()


def test_rejects_squares_wider_than_the_margin():
    grid = bit_grid(10, 10)
    with pytest.raises(ValueError, match="odd size"):
        grid.dilate(grid.interior, 2 * MARGIN + 3)
    with pytest.raises(ValueError, match="odd size"):
        grid.erode(grid.interior, 4)


def test_reconstruct_matches_iterated_dilation():
    for rng, mask in _random_grids(1, count=400, max_side=60):
        grid = bit_grid(*mask.shape)
        marker = rng.random(mask.shape) < rng.uniform(0.0, 0.05)
        if rng.random() < 0.5:  # the border, as estimate_anatomy seeds the background
            marker = np.ones_like(mask)
            marker[1:-1, 1:-1] = False
        got = grid.unpack(grid.reconstruct(grid.pack(marker), grid.pack(mask)))
        assert (got == _reconstruct_ref(marker, mask)).all()


def test_reconstruct_follows_a_long_winding_path():
    # a serpentine corridor: every row run turns, so the fill needs one pass per turn
    h, w = 41, 64
    mask = np.zeros((h, w), dtype=bool)
    mask[::2, 1:-1] = True
    for r in range(1, h, 2):
        mask[r, w - 2 if r % 4 == 1 else 1] = True
    marker = np.zeros_like(mask)
    marker[0, 1] = True
    grid = bit_grid(h, w)
    got = grid.unpack(grid.reconstruct(grid.pack(marker), grid.pack(mask)))
    assert (got == mask).all()
    cut = mask.copy()
    cut[20, 1:-1] = False  # the corridor broken: nothing beyond row 20 is reached
    got = grid.unpack(grid.reconstruct(grid.pack(marker), grid.pack(cut)))
    assert (got == _reconstruct_ref(marker, cut)).all() and not got[21:].any()
