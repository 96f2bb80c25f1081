"""How a radiograph's intensity is calibrated: display levels and the attenuation gain k.

A displayed radiograph is (after the detector's log and windowing) close to linear in the
line integral of attenuation A along each ray, brighter where A is larger: p = a + k A.
A foreign body adds its optical depth tau = mu * t, so p += k * tau. We estimate k per image
from the image's own intensity scale: the span from its dark end (air, lung) to its
brightest anatomy corresponds to `water_equiv_mm` of water-equivalent tissue (drawn per
sample; processed CR/DR compresses the raw ~150-250 mm lung-to-spine difference into this).
Display saturation is a soft ceiling at the film's brightest pixel (dense bone, or metal
already on the film): dense metal reaches it but never exceeds it, thin plastic stays faint.
The ceiling is the maximum, not the bright-anatomy quantile that sets k: with the quantile,
a coin over the spine or the upper abdomen (already near that level) had no headroom left
and vanished, whereas real coins there are plainly visible.

The levels (dark, bright, peak) are a property of the source alone: a build measures them
once per source on the host with `display_levels_np` (numpy, one (H, W) image), which
returns exactly the floats of the batched torch `display_levels`. The quantiles there are
order statistics of the 1024-bin codes of every 4th row and column; binning is monotone,
so the code of the k-th smallest value is the k-th smallest code, and partitions of the
raw values find both quantiles without a histogram.
"""

from __future__ import annotations

import numpy as np
import torch

from generator.bodies.materials import mu_per_mm

SCALE_STRIDE = 4  # intensity quantiles on every 4th row and column
SCALE_BINS = 1024  # quantiles to 1/1024 of the display range
DARK_QUANTILE = 0.02
BRIGHT_QUANTILE = 0.995


def intensity_scale(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(dark, bright): (B,) quantiles of each image (air/lung end and brightest anatomy).

    images: (B, 1, H, W) float32, nominally in [0, 1]. From a 1024-bin histogram of every
    4th row and column (one bincount for the batch: a sort per image cost more than the
    rest of compositing); each quantile is its bin's centre, within 1/2046 of the exact
    order statistic for images in [0, 1].
    """
    b = images.shape[0]
    sub = images[:, 0, ::SCALE_STRIDE, ::SCALE_STRIDE].reshape(b, -1)  # (B, n)
    bins = (sub.clamp(0.0, 1.0) * (SCALE_BINS - 1)).round().to(torch.int64)
    offset = torch.arange(b, device=images.device)[:, None] * SCALE_BINS
    hist = torch.bincount((bins + offset).reshape(-1), minlength=b * SCALE_BINS).view(b, SCALE_BINS)
    cdf = torch.cumsum(hist, dim=1)  # (B, bins)
    last = sub.shape[1] - 1

    def quantile(q: float) -> torch.Tensor:
        rank = int(round(q * last)) + 1  # the rank-th smallest value (1-based)
        idx = torch.searchsorted(cdf, torch.full((b, 1), rank, device=images.device, dtype=cdf.dtype))
        return idx.flatten().to(torch.float32) / (SCALE_BINS - 1)

    return quantile(DARK_QUANTILE), quantile(BRIGHT_QUANTILE)


def display_levels(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dark, bright, peak): (B,) each: `intensity_scale` and the brightest pixel (the soft
    ceiling). A property of the source alone, so a build measures it once per source."""
    dark, bright = intensity_scale(images)
    return dark, bright, images.reshape(images.shape[0], -1).amax(dim=1)


def display_levels_np(img: np.ndarray) -> tuple[float, float, float]:
    """(dark, bright, peak) of img (H, W) float32, nominally in [0, 1]: the same floats as
    `display_levels(torch.from_numpy(img)[None, None])`, each bin centre / 1023 or the
    brightest pixel."""
    if img.ndim != 2:
        raise ValueError(f"expected (H, W), got {tuple(img.shape)}")
    sub = img[::SCALE_STRIDE, ::SCALE_STRIDE].flatten()  # (n,) a copy, partitioned in place
    last = sub.size - 1
    # 0-based, as `intensity_scale`
    dark_rank, bright_rank = (round(q * last) for q in (DARK_QUANTILE, BRIGHT_QUANTILE))
    # Two single-rank partitions cost less than one with both ranks: the bright one leaves
    # the smaller values in front, where the dark one is.
    sub.partition(bright_rank)
    if dark_rank < bright_rank:
        sub[:bright_rank].partition(dark_rank)
    values = sub[[dark_rank, bright_rank]]  # (2,) in img's dtype
    # `intensity_scale`'s binning in the image's dtype: clamp, scale, round half to even
    codes = np.rint(np.clip(values, 0.0, 1.0) * np.float32(SCALE_BINS - 1))
    dark, bright = codes.astype(np.float32) / np.float32(SCALE_BINS - 1)
    return float(dark), float(bright), float(img.max())


def attenuation_gain(dark: torch.Tensor, bright: torch.Tensor, water_equiv_mm: torch.Tensor) -> torch.Tensor:
    """k: (B,) display units per unit optical depth, from each image's own intensity scale."""
    return (bright - dark).clamp_min(0.05) / (mu_per_mm("water") * water_equiv_mm)
