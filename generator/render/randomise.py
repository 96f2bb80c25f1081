"""Whole-film domain randomisation (`--randomise none|light|strong`): the acquisition,
processing, resolution and compression that vary between sites, applied to positives and
negatives alike after compositing, so a model cannot key on one site's look nor tell
positives from negatives by processing (pure tensor functions).

Per-sample values are drawn by `sample_randomise` into the spec's `randomise` and applied
by `whole_film`, in the order a film goes through them:
  1. detector blur  G_sigma (sigma `blur_sigma_mm`)
  2. quantum noise  + N(0, noise_sigma^2) (hashed, seed `noise_seed`: replayable)
  3. enhancement    p + enh_gain (p - G_{enh_sigma_mm} * p) (unsharp mask, reflect border)
  4. window, LUT    ((p - window_lo) / (window_hi - window_lo)) clamped to [0, 1], ^ gamma
  5. collimation    border bands (fractions `collim_top|bottom|left|right` of the height or
                    width) set to `collim_value` (1: unexposed, white; 0: masked, black)
  6. burnt-in       markers and text of the spec's distractors (`generator.render.burnt_in`)
  7. resolution     down to `resolution` x the size (antialiased) and back up (bilinear)
  8. JPEG quality   `jpeg_quality` replaces the build's --jpeg-quality for this sample
A step whose value is its identity (gain 0, sigma 0, window 0-1, gamma 1, resolution 1,
no border) is skipped. `--randomise light|strong` also burns in a laterality marker
(probability 0.3 / 0.6), listed with the distractors.

| name            | light          | strong         | source / reason                          |
|-----------------|----------------|----------------|------------------------------------------|
| gamma           | 0.85-1.18 (log)| 0.70-1.43 (log)| LUT / gamma differences between vendors  |
| window_lo, _hi  | 0-0.04, 0.96-1 | 0-0.08, 0.90-1 | window / level at export                 |
| enh_gain        | 0-0.3          | 0-0.8          | edge enhancement (as `render.processing`) |
| enh_sigma_mm    | 1-4            | 1-4            | its kernel                               |
| blur_sigma_mm   | 0-0.25         | 0-0.6          | detector MTF spread (CR vs DR)           |
| noise_sigma     | 0-0.005        | 0-0.012        | dose (1-3 LSB of an 8-bit film)          |
| resolution      | 0.75-1         | 0.5-1          | exported matrix / downsampled archives   |
| jpeg_quality    | 80-95          | 40-95          | archive compression (PACS, web exports)  |
| collimation     | p 0.2, <= 4 %  | p 0.5, <= 8 %  | shutters; never within 25 mm of an object|
"""

from __future__ import annotations

import math

import kornia
import numpy as np
import torch
import torch.nn.functional as F

from generator.names import RANDOMISE_LEVELS
from generator.render.blur import gauss_taps, widest_cut_px
from generator.render.burnt_in import BURNT_IN, paint
from generator.render.noise import add_noise

LEVELS = RANDOMISE_LEVELS  # listed in generator.names, which the CLI reads without importing torch
_RANGES = {
    "light": {"gamma": (0.85, 1.18), "window_lo": (0.0, 0.04), "window_hi": (0.96, 1.0), "enh_gain": (0.0, 0.3),
              "enh_sigma_mm": (1.0, 4.0), "blur_sigma_mm": (0.0, 0.25), "noise_sigma": (0.0, 0.005),
              "resolution": (0.75, 1.0), "jpeg_quality": (80, 95), "collimation_p": 0.2, "collimation_max": 0.04,
              "marker_p": 0.3},
    "strong": {"gamma": (0.70, 1.43), "window_lo": (0.0, 0.08), "window_hi": (0.90, 1.0), "enh_gain": (0.0, 0.8),
               "enh_sigma_mm": (1.0, 4.0), "blur_sigma_mm": (0.0, 0.6), "noise_sigma": (0.0, 0.012),
               "resolution": (0.5, 1.0), "jpeg_quality": (40, 95), "collimation_p": 0.5, "collimation_max": 0.08,
               "marker_p": 0.6},
}
CLEAR_MM = 25.0
SIDES = ("top", "bottom", "left", "right")


def sample_randomise(rng: np.random.Generator, level: str, height: int, width: int, spacing_mm: tuple[float, float],
                     centres_px: list[tuple[float, float]]) -> tuple[dict[str, float], bool]:
    """(the per-sample values, whether to burn in a marker); ({}, False) for level "none".
    centres_px: the objects' centres (x, y), which collimation keeps CLEAR_MM clear of."""
    if level not in LEVELS:
        raise ValueError(f"randomise: got {level!r}; allowed: {', '.join(LEVELS)}")
    if level == "none":
        return {}, False
    r = _RANGES[level]
    lo, hi = r["gamma"]
    out = {"gamma": float(math.exp(rng.uniform(math.log(lo), math.log(hi))))}
    for name in ("window_lo", "window_hi", "enh_gain", "enh_sigma_mm", "blur_sigma_mm", "noise_sigma", "resolution"):
        out[name] = float(rng.uniform(*r[name]))
    out["noise_seed"] = int(rng.integers(0, 2**31 - 1))
    out["jpeg_quality"] = int(rng.integers(r["jpeg_quality"][0], r["jpeg_quality"][1] + 1))
    collimate = rng.random() < r["collimation_p"]
    widths = rng.uniform(0.0, r["collimation_max"], 4)
    out["collim_value"] = float(rng.random() < 0.6)
    for side, frac in zip(SIDES, widths):
        size, across = (height, spacing_mm[0]) if side in ("top", "bottom") else (width, spacing_mm[1])
        room = min([_distance(side, c, height, width) for c in centres_px] + [float(size)]) - CLEAR_MM / across
        out[f"collim_{side}"] = float(max(0.0, min(frac * size, room)) / size) if collimate else 0.0
    return out, bool(rng.random() < r["marker_p"])


def _distance(side: str, centre: tuple[float, float], height: int, width: int) -> float:
    x, y = centre
    return {"top": y, "bottom": height - y, "left": x, "right": width - x}[side]


def _blur(img: torch.Tensor, sigma_px: tuple[float, float]) -> torch.Tensor:
    """img (1, 1, H, W) blurred by a Gaussian of (row, col) sigma in px, reflect border."""
    s = torch.tensor(sigma_px, dtype=torch.float32, device=img.device)
    r = min(widest_cut_px(s), min(img.shape[-2:]) // 2 - 1)
    rows, cols = gauss_taps(s[0:1], r), gauss_taps(s[1:2], r)
    return kornia.filters.filter2d_separable(img, cols, rows, border_type="reflect")


def film(img: torch.Tensor, rz: dict, spacing_mm: tuple[float, float]) -> torch.Tensor:
    """Steps 1-5 on one image (1, 1, H, W) float32 [0, 1]; returns a new tensor."""
    sr, sc = spacing_mm
    if rz.get("blur_sigma_mm", 0.0) > 0.02:
        img = _blur(img, (rz["blur_sigma_mm"] / sr, rz["blur_sigma_mm"] / sc))
    if rz.get("noise_sigma", 0.0) > 0.0:
        img = add_noise(img, torch.tensor([rz["noise_sigma"]], device=img.device),
                        torch.tensor([int(rz["noise_seed"])], dtype=torch.int64, device=img.device))
    if rz.get("enh_gain", 0.0) > 0.0:
        img = img + rz["enh_gain"] * (img - _blur(img, (rz["enh_sigma_mm"] / sr, rz["enh_sigma_mm"] / sc)))
    lo, hi = rz.get("window_lo", 0.0), rz.get("window_hi", 1.0)
    img = ((img - lo) / max(hi - lo, 1e-3)).clamp(0.0, 1.0)
    if abs(rz.get("gamma", 1.0) - 1.0) > 1e-6:
        img = img.pow(rz["gamma"])
    h, w = img.shape[-2:]
    value = rz.get("collim_value", 1.0)
    top, bottom = round(rz.get("collim_top", 0.0) * h), round(rz.get("collim_bottom", 0.0) * h)
    left, right = round(rz.get("collim_left", 0.0) * w), round(rz.get("collim_right", 0.0) * w)
    if top:
        img[..., :top, :] = value
    if bottom:
        img[..., h - bottom :, :] = value
    if left:
        img[..., :, :left] = value
    if right:
        img[..., :, w - right :] = value
    return img


def export(img: torch.Tensor, rz: dict) -> torch.Tensor:
    """Step 7 on one image (1, 1, H, W): down to `resolution` x its size and back up."""
    factor = rz.get("resolution", 1.0)
    if factor >= 0.999:
        return img
    h, w = img.shape[-2:]
    small = F.interpolate(img, size=(max(8, round(h * factor)), max(8, round(w * factor))), mode="bilinear",
                          align_corners=False, antialias=True)
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False).clamp(0.0, 1.0)


def whole_film(images: torch.Tensor, specs) -> torch.Tensor:
    """Steps 1-7 for a batch: images (B, 1, H, W) float32 [0, 1] after compositing, specs the
    batch's SampleSpecs (their `randomise` and burnt-in `distractors`). A spec with neither
    leaves its image as it is. Returns (B, 1, H, W) float32 [0, 1]."""
    out = []
    for b, spec in enumerate(specs):
        img = images[b : b + 1]
        rz = spec.randomise
        burnt = [d for d in spec.distractors if d.kind == BURNT_IN]
        if not rz and not burnt:
            out.append(img)
            continue
        img = film(img, rz, spec.spacing_mm) if rz else img.clone()
        for d in burnt:
            paint(img[0], d, spec.spacing_mm)
        out.append(export(img, rz) if rz else img)
    return torch.cat(out) if out else images
