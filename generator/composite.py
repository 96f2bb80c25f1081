"""Attenuation-domain compositing of foreign bodies into radiographs (pure tensor functions).

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

Pipeline (the same for positives and negatives; a negative's optical depth is zero):
  1. detector blur: Gaussian PSF (sigma in mm, converted with the image's spacing) on the
     object's optical depth only; the radiograph already carries its own detector blur.
  2. scatter glow: a fraction of the object's signal spread with a wide Gaussian (scatter
     fills in under metal and leaves a faint halo around it).
  3. p_new = p + H (1 - exp(-k tau / H)), H = ceiling - p (soft ceiling, slope k at tau = 0).
  4. quantum noise N(0, noise_sigma^2), counter-based from (noise_seed, pixel index), so it
     is identical on CPU and CUDA and independent of batch composition.
All images are (B, 1, H, W) float32, bone bright, values in [0, 1].
"""

from __future__ import annotations

import math

import kornia
import torch
import torch.nn.functional as F

from generator.materials import mu_per_mm

_MASK32 = 0xFFFFFFFF
_SCALE_STRIDE = 4  # intensity quantiles on every 4th row and column
DARK_QUANTILE = 0.02
BRIGHT_QUANTILE = 0.995
_GLOW_POOL = 4
_NOISE_TILES = (127, 131)


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer finaliser (degski's 'hash32'), in int64 so products never overflow."""
    x = (((x >> 16) ^ x) * 0x45D9F3B) & _MASK32
    x = (((x >> 16) ^ x) * 0x45D9F3B) & _MASK32
    return (x >> 16) ^ x


def _hashed_normal(seeds: torch.Tensor, stream: int, count: int) -> torch.Tensor:
    """(B, count) standard normals, a pure function of (seed, stream, index).

    Indices (2j, 2j+1) share one Box-Muller draw from two chained 32-bit hashes of
    (seed, stream, j); 24-bit uniforms; float32 transcendentals.
    """
    pairs = (count + 1) // 2
    j = torch.arange(pairs, dtype=torch.int64, device=seeds.device)[None, :]  # (1, P)
    s = _mix32((seeds.to(torch.int64) & _MASK32) ^ (0x9E3779B9 + stream * 0x632BE5AB) & _MASK32)[:, None]  # (B, 1)
    h1 = _mix32((j * 0x2545F491 + s) & _MASK32)  # (B, P)
    h2 = _mix32(h1 ^ 0x68E31DA4)
    u1 = ((h1 >> 8).to(torch.float32) + 0.5) * (1.0 / 16777216.0)  # (0, 1)
    u2 = (h2 >> 8).to(torch.float32) * (1.0 / 16777216.0)  # [0, 1)
    r = torch.sqrt(-2.0 * torch.log(u1))
    phase = (2.0 * math.pi) * u2
    return torch.stack([r * torch.cos(phase), r * torch.sin(phase)], dim=-1).reshape(len(seeds), -1)[:, :count]


def counter_normal(seeds: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, 1, H, W) standard normal noise, a pure function of (seed, pixel index).

    seeds: (B,) int64 in [0, 2^32). Hashing every pixel costs ~30 full-image integer ops,
    so each image hashes two square tiles of coprime prime sides (127, 131) and pixel
    (r, c) takes (t1[r % 127, c % 127] + t2[r % 131, c % 131]) / sqrt(2): exactly normal,
    no repeat within 16,637 px, and about 1/8 of the hashing.
    """
    out = None
    for stream, side in enumerate(_NOISE_TILES):
        tile = _hashed_normal(seeds, stream, side * side).view(-1, 1, side, side)  # (B, 1, side, side)
        reps = (1, 1, -(-height // side), -(-width // side))
        part = tile.repeat(*reps)[:, :, :height, :width]
        out = part if out is None else out + part
    return out * (1.0 / math.sqrt(len(_NOISE_TILES)))


def intensity_scale(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(dark, bright): (B,) quantiles of each image (air/lung end and brightest anatomy)."""
    sub = images[:, 0, ::_SCALE_STRIDE, ::_SCALE_STRIDE].reshape(images.shape[0], -1)
    ordered = torch.sort(sub, dim=1).values
    last = ordered.shape[1] - 1
    dark = ordered[:, int(round(DARK_QUANTILE * last))]
    bright = ordered[:, int(round(BRIGHT_QUANTILE * last))]
    return dark, bright


def attenuation_gain(images: torch.Tensor, water_equiv_mm: torch.Tensor) -> torch.Tensor:
    """k: (B,) display units per unit optical depth, from each image's own intensity scale."""
    dark, bright = intensity_scale(images)
    return (bright - dark).clamp_min(0.05) / (mu_per_mm("water") * water_equiv_mm)


def _blur(x: torch.Tensor, sigma_px: torch.Tensor) -> torch.Tensor:
    """Gaussian blur with per-image (row, col) sigma in pixels; one kernel size per batch."""
    radius = max(1, int(math.ceil(3.0 * float(sigma_px.max()))))  # host sync: once per batch
    return kornia.filters.gaussian_blur2d(x, (2 * radius + 1, 2 * radius + 1), sigma_px.clamp_min(0.05),
                                          border_type="constant")


def detector_blur(optical_depth: torch.Tensor, psf_sigma_px: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) optical depth blurred by a Gaussian PSF; psf_sigma_px (B, 2) row, col."""
    return _blur(optical_depth, psf_sigma_px)


def scatter_glow(optical_depth: torch.Tensor, fraction: torch.Tensor, sigma_px: torch.Tensor) -> torch.Tensor:
    """Mix a fraction of the signal into a wide blur: (1 - f) tau + f G_wide * tau.

    The wide blur runs at 1/4 resolution (its sigma is many pixels) and is upsampled back.
    """
    h, w = optical_depth.shape[-2:]
    small = F.avg_pool2d(optical_depth, _GLOW_POOL, ceil_mode=True)
    wide = _blur(small, sigma_px / _GLOW_POOL)
    wide = F.interpolate(wide, size=(h, w), mode="bilinear", align_corners=False)
    f = fraction.view(-1, 1, 1, 1)
    return (1.0 - f) * optical_depth + f * wide


def composite_attenuation(
    images: torch.Tensor,
    optical_depth: torch.Tensor,
    *,
    water_equiv_mm: torch.Tensor,
    psf_sigma_px: torch.Tensor,
    scatter_fraction: torch.Tensor,
    scatter_sigma_px: torch.Tensor,
    noise_sigma: torch.Tensor,
    noise_seed: torch.Tensor,
) -> torch.Tensor:
    """Composite objects' optical depth into radiographs; see the module docstring.

    images, optical_depth: (B, 1, H, W) float32; water_equiv_mm, scatter_fraction,
    noise_sigma: (B,) float32; psf_sigma_px, scatter_sigma_px: (B, 2) row, col pixels;
    noise_seed: (B,) int64. Returns (B, 1, H, W) float32 in [0, 1].
    """
    if images.ndim != 4 or images.shape[1] != 1 or optical_depth.shape != images.shape:
        raise ValueError(f"expected images and optical_depth (B, 1, H, W), got {tuple(images.shape)} "
                         f"and {tuple(optical_depth.shape)}")
    b, _, h, w = images.shape
    tau = optical_depth
    # Blurring a zero field gives exactly zero, so only images with objects are filtered.
    has = (tau.reshape(b, -1).amax(dim=1) > 0).nonzero().flatten()
    if has.numel():
        sub = detector_blur(tau[has], psf_sigma_px[has])
        sub = scatter_glow(sub, scatter_fraction[has], scatter_sigma_px[has])
        tau = torch.zeros_like(tau).index_copy_(0, has, sub)
    dark, bright = intensity_scale(images)
    k = (bright - dark).clamp_min(0.05) / (mu_per_mm("water") * water_equiv_mm)  # attenuation_gain
    ceiling = torch.maximum(images.reshape(b, -1).amax(dim=1), bright)  # (B,)
    # Objects cover a small part of each image: the attenuation step runs on those pixels only.
    flat_tau = tau.reshape(-1)
    idx = (flat_tau > 0).nonzero().flatten()
    image_of = idx // (h * w)
    p = images.reshape(-1)[idx]
    headroom = (ceiling[image_of] - p).clamp_min(0.0)
    added = headroom * -torch.expm1(-k[image_of] * flat_tau[idx] / headroom.clamp_min(1e-6))
    noise = counter_normal(noise_seed, h, w)
    out = torch.addcmul(images, noise_sigma.view(-1, 1, 1, 1), noise)
    out.view(-1).index_add_(0, idx, added)
    return out.clamp_(0.0, 1.0)
