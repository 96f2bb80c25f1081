"""Body / lung / mediastinum estimation and the placement priors built on it."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from generator.anatomy import estimate_anatomy, nominal_anatomy
from generator.bodies.base import PlacementContext
from generator.physical import SAMPLERS
from generator.rng import sample_rng

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


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
    img, body, _ = _phantom()
    an = estimate_anatomy(torch.from_numpy(img))
    ctx = PlacementContext(height=256, width=240, spacing_mm=(1.2, 1.2), body_mask=an.body_mask, anatomy=an)
    ys = {c: [] for c in ("coin", "magnets")}
    for i in range(150):
        for c in ys:
            ys[c] += [o.center_px[1] for o in SAMPLERS[c](sample_rng(3, i), ctx)]
    # coins mostly at the thoracic inlet, magnets mostly below the diaphragm
    assert np.median(ys["coin"]) < an.apex_y_px + 0.4 * an.lung_height_px
    assert np.median(ys["magnets"]) > an.diaphragm_y_px - 0.05 * an.lung_height_px


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
