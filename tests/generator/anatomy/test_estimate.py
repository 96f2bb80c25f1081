"""Body / lung / mediastinum estimation and the placement priors built on it."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from generator.anatomy.estimate import WHITE_HEADROOM, _otsu, _pool, _smooth, estimate_anatomy, nominal_anatomy
from generator.bodies.context import PlacementContext
from generator.bodies.physical import SAMPLERS
from generator.rng import sample_rng

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def _phantom(h=256, w=240):
    """A frontal chest phantom: air, a body ellipse, two dark lungs, a bright mediastinum."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.full((h, w), 0.03, dtype=np.float32)
    body = ((xx - w / 2) / (0.42 * w)) ** 2 + ((yy - 0.55 * h) / (0.6 * h)) ** 2 <= 1
    img[body] = 0.65
    lungs = np.zeros_like(body)
    for cx in (0.3 * w, 0.7 * w):
        lungs |= ((xx - cx) / (0.14 * w)) ** 2 + ((yy - 0.45 * h) / (0.25 * h)) ** 2 <= 1
    img[lungs] = 0.25
    img[(np.abs(xx - w / 2) < 0.04 * w) & body] = 0.85  # spine
    return img, body, lungs


def test_phantom_body_lungs_and_landmarks():
    img, body, lungs = _phantom()
    an = estimate_anatomy(torch.from_numpy(img))
    assert an.estimated
    assert an.body_mask.shape == img.shape
    inter = (an.body_mask & body).sum() / (an.body_mask | body).sum()
    assert inter > 0.9
    assert not an.body_mask[0, 0] and not an.body_mask[-1, -1]
    lung_iou = (an.lung_mask & lungs).sum() / (an.lung_mask | lungs).sum()
    assert lung_iou > 0.6
    assert an.midline_x_px == pytest.approx(120, abs=0.05 * 240)
    assert an.apex_y_px == pytest.approx(0.2 * 256, abs=0.06 * 256)
    assert an.diaphragm_y_px == pytest.approx(0.7 * 256, abs=0.06 * 256)
    assert not (an.mediastinum_mask & an.lung_mask).any()
    assert an.mediastinum_mask[:, 110:130].any()


def test_nominal_fallback_for_featureless_images():
    an = estimate_anatomy(torch.full((100, 120), 0.5))
    assert an.body_mask.all() and not an.estimated
    nom = nominal_anatomy(100, 120)
    assert nom.apex_y_px < nom.diaphragm_y_px and 0 < nom.midline_x_px < 120


def test_priors_follow_anatomy_on_the_phantom():
    img, _, _ = _phantom()
    an = estimate_anatomy(torch.from_numpy(img))
    ctx = PlacementContext(height=256, width=240, spacing_mm=(1.2, 1.2), body_mask=an.body_mask, anatomy=an)
    ys = {c: [] for c in ("coin", "magnets")}
    for i in range(150):
        for c in ys:
            ys[c] += [o.center_px[1] for o in SAMPLERS[c](sample_rng(3, i), ctx)]
    # coins mostly at the thoracic inlet, magnets mostly below the diaphragm
    assert np.median(ys["coin"]) < an.apex_y_px + 0.4 * an.lung_height_px
    assert np.median(ys["magnets"]) > an.diaphragm_y_px - 0.05 * an.lung_height_px


def _burnt_out_phantom():
    """The phantom with its abdomen (below the lungs) clipped white: the film's brightest pixels."""
    img, body, lungs = _phantom()
    patch = body.copy()
    patch[: int(0.78 * img.shape[0])] = False
    img[patch] = 1.0
    return img, patch


def test_a_burnt_out_patch_is_white_where_objects_cannot_show():
    img, patch = _burnt_out_phantom()
    an = estimate_anatomy(torch.from_numpy(img))
    white = an.body_mask & ~an.showing_mask
    assert (white & patch).sum() / patch.sum() > 0.8 and not (white & ~patch).any()
    ys, xs = np.nonzero(patch)
    x, y = float(np.median(xs)), float(np.median(ys))
    assert an.contains(x, y) and not an.shows(x, y)
    assert an.shows(0.3 * 240, 0.45 * 256)  # a lung
    # without a burnt-out patch only the film's brightest structure is white (the 0.85 spine:
    # the renderer's soft ceiling is the brightest pixel); lungs and soft tissue show
    plain, body, _ = _phantom()
    an_plain = estimate_anatomy(torch.from_numpy(plain))
    white = an_plain.body_mask & ~an_plain.showing_mask
    assert white.any() and (plain[white] > 0.85 - WHITE_HEADROOM).mean() > 0.5
    below = an_plain.body_mask & (plain < 0.85 - WHITE_HEADROOM)
    assert an_plain.showing_mask[below].mean() > 0.95


def test_no_object_centre_on_a_burnt_out_patch():
    """Magnets go mostly below the diaphragm, where this phantom is clipped white: every centre
    is redrawn onto film that can show it (without the rule, 4 in 10 land on the patch)."""
    img, patch = _burnt_out_phantom()
    an = estimate_anatomy(torch.from_numpy(img))
    def centres(anatomy):
        ctx = PlacementContext(height=256, width=240, spacing_mm=(1.2, 1.2), anatomy=anatomy)
        return [o.center_px for i in range(100) for c in ("magnets", "coin")
                for o in SAMPLERS[c](sample_rng(5, i), ctx)]

    def on_patch(points):
        return np.mean([patch[int(y), int(x)] for x, y in points])

    drawn = centres(an)
    assert len(drawn) >= 200 and all(an.shows(x, y) for x, y in drawn)
    assert on_patch(drawn) < 0.02  # the working grid's cells straddle the patch's rim
    assert on_patch(centres(dataclasses.replace(an, white_grid=None))) > 0.2


def test_no_object_centre_outside_the_body_on_real_radiographs():
    folder = SHARED / "cxr-nih"
    if not folder.exists():
        pytest.skip(f"{folder} not found: ../shared/data (real radiographs) is not beside this checkout")
    files = sorted(folder.glob("*.png"))
    anatomies = []
    for f in files:
        px = np.asarray(Image.open(f).convert("L").resize((256, 256), Image.BILINEAR), dtype=np.float32) / 255.0
        anatomies.append(estimate_anatomy(torch.from_numpy(px)))
    classes = sorted(SAMPLERS)
    checked = 0
    for i in range(1000):
        rng = sample_rng(11, i)
        an = anatomies[int(rng.integers(len(anatomies)))]
        ctx = PlacementContext(height=256, width=256, spacing_mm=(1.4, 1.4), body_mask=an.body_mask, anatomy=an)
        for obj in SAMPLERS[classes[i % len(classes)]](rng, ctx):
            x, y = obj.center_px
            assert an.body_mask[int(y), int(x)], f"sample {i}: {obj.cls} centre ({x:.1f}, {y:.1f}) outside the body"
            checked += 1
    assert checked >= 1000


@pytest.mark.parametrize("shape, factor", [((390, 320), 4), ((1024, 1024), 11), ((37, 5), 3), ((2, 9), 4)])
def test_pool_is_the_mean_over_edge_replicated_cells(shape, factor):
    img = np.random.default_rng(factor).random(shape, dtype=np.float32)
    h, w = shape
    hb, wb = -(-h // factor), -(-w // factor)
    padded = np.pad(img.astype(np.float64), ((0, hb * factor - h), (0, wb * factor - w)), mode="edge")
    ref = padded.reshape(hb, factor, wb, factor).mean((1, 3))
    got = _pool(img, factor)
    assert got.dtype == np.float32 and got.shape == (hb, wb)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)


def test_smooth_is_a_separable_gaussian_with_replicated_border():
    x = np.random.default_rng(1).random((98, 80), dtype=np.float32)
    sigma, r = 1.5, 5
    taps = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    taps /= taps.sum()
    p = np.pad(x.astype(np.float64), r, mode="edge")
    rows = sum(t * p[:, k : k + x.shape[1]] for k, t in enumerate(taps))
    ref = sum(t * rows[k : k + x.shape[0]] for k, t in enumerate(taps))
    np.testing.assert_allclose(_smooth(x), ref, rtol=0, atol=1e-6)


def test_otsu_maximises_the_between_class_variance_of_64_bins():
    rng = np.random.default_rng(2)
    for _ in range(20):
        dark, bright = rng.normal(rng.uniform(0.1, 0.4), 0.05, 3000), rng.normal(rng.uniform(0.5, 0.9), 0.08, 5000)
        x = np.concatenate([dark, bright]).astype(np.float32)
        lo, hi = float(x.min()), float(x.max())
        centres = np.linspace(lo, hi, 64)
        hist = np.bincount(np.rint((x - lo) * np.float32(63 / (hi - lo))).astype(int), minlength=64)
        between = []
        for k in range(64):  # each class's mean of bin centres
            below, above = hist[: k + 1], hist[k + 1 :]
            if below.sum() == 0 or above.sum() == 0:
                between.append(0.0)
                continue
            m0, m1 = below @ centres[: k + 1] / below.sum(), above @ centres[k + 1 :] / above.sum()
            between.append(below.sum() * above.sum() * (m0 - m1) ** 2)
        # empty bins between the modes tie exactly: the first of the best
        best = np.flatnonzero(np.asarray(between) >= max(between) * (1 - 1e-12))[0]
        assert _otsu(x) == centres[best]
    assert _otsu(np.full(10, 0.25, dtype=np.float32)) == np.float32(0.25)
