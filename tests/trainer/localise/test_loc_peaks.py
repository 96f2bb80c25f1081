"""Marks from a segmenter's probability maps (`trainer.localise.segmenter.peaks`)."""

import torch

from trainer.localise.segmenter import PEAK_RADIUS_PX, peaks


def _map(h=64, w=64):
    return torch.zeros(1, 2, h, w)


def test_a_saturated_plateau_is_one_mark_and_leaves_marks_for_the_other_objects():
    probs = _map()
    probs[0, 0, 10:30, 10:30] = 1.0  # a confident object: every pixel rounds to exactly 1.0
    probs[0, 1, 50, 50] = 0.7  # a second object, another class
    probs[0, 0, 40, 8] = 0.3
    out = peaks(probs, max_peaks=3)[0]
    pts = out["points"]
    assert pts.shape == (3, 3)
    assert pts[:, 0].tolist() == [1.0, 0.699999988079071, 0.30000001192092896]
    assert pts[0, 1:].tolist() == [10.5, 10.5]  # the plateau's first pixel in raster order
    assert pts[1, 1:].tolist() == [50.5, 50.5] and pts[2, 1:].tolist() == [8.5, 40.5]
    assert out["labels"].tolist() == [0, 1, 0]


def test_a_saturated_ring_is_one_mark():
    probs = _map()
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    d = ((yy - 32) ** 2 + (xx - 32) ** 2).float().sqrt()
    probs[0, 0][(d >= 12) & (d <= 16)] = 1.0  # a hollow ring (a washer, a ring) wider than the radius
    pts = peaks(probs)[0]["points"]
    assert pts.shape == (1, 3) and pts[0, 0] == 1.0
    assert 12 <= float(torch.hypot(pts[0, 1] - 32.5, pts[0, 2] - 32.5)) <= 17  # on the ring


def test_plateaus_farther_apart_than_the_radius_are_separate_marks():
    probs = _map()
    r = PEAK_RADIUS_PX
    probs[0, 0, 20, 20:23] = 0.9  # a 3-pixel tie: one mark
    probs[0, 0, 20, 23 + r] = 0.9  # the same score just beyond the radius of the first: its own mark
    probs[0, 0, 20 + r, 20] = 0.9  # within the radius (Chebyshev) of the first: suppressed
    pts = peaks(probs)[0]["points"]
    assert pts[:, 1:].tolist() == [[20.5, 20.5], [23.5 + r, 20.5]]


def test_strict_maxima_are_unchanged_and_limited():
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(2, 1, 48, 48, generator=g)
    for out in peaks(probs, max_peaks=5):
        s = out["points"][:, 0]
        assert len(s) == 5 and torch.all(s[:-1] >= s[1:])
    assert peaks(torch.zeros(1, 1, 16, 16))[0]["points"].shape == (0, 3)  # nothing above min_score
