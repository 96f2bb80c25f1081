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

Blur and scatter act on detected intensity, not on optical depth: the object lets through
T = exp(-tau) of the primary beam, its deficit D = 1 - T is in [0, 1], and the detector
sees, relative to the film without the object, I = 1 - D_det with
    D_det = PSF * ((1 - s) D + s G_wide * D),
s the scatter share of the detected signal (scatter is a wide blur of the primary field,
so it fills in the object's shadow and dims a faint, wide halo around it). The object's
effective optical depth is tau_eff = -log(1 - D_det): dense metal is bounded by the
scatter that fills in under it (about -log(s)), thin objects keep tau_eff ~ tau.

Pipeline (the same for positives and negatives; a negative's optical depth is zero):
  1. detector blur: Gaussian PSF (sigma in mm, converted with the image's spacing) on the
     object's deficit only; the radiograph already carries its own detector blur.
  2. scatter: D_det as above (G_wide: sigma in mm, at 1/4 resolution), then tau_eff.
  3. p_new = p + H (1 - exp(-k tau_eff / H)), H = ceiling - p (soft ceiling, slope k at 0).
  4. quantum noise N(0, noise_sigma^2), a pure function of (noise_seed, pixel), identical on
     CPU and CUDA and independent of batch composition.
Steps 1-2 are linear in D: the PSF runs on each object's own window (`psf_windows`), the
scatter blur at 1/4 resolution (`OpticalDepth`); `attenuate` (steps 3-4) forms tau_eff
only where it is used (per-image crops on CPU) and adds the noise everywhere.
`composite_attenuation` is the same pipeline on a dense (B, 1, H, W) optical-depth map.
All images are (B, 1, H, W) float32, bone bright, values in [0, 1].
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from generator.materials import mu_per_mm

_MASK32 = 0xFFFFFFFF
_SCALE_STRIDE = 4  # intensity quantiles on every 4th row and column
_SCALE_BINS = 1024  # quantiles to 1/1024 of the display range
DARK_QUANTILE = 0.02
BRIGHT_QUANTILE = 0.995
_GLOW_POOL = 4
_NOISE_TILES = (127, 131)  # coprime prime sides: the sum repeats only every 16,637 px
_NOISE_BANK = 64  # tiles per side in the bank


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


# Memo of the noise banks per (device, side): a pure function of the side, hashed once.
_BANKS: dict[tuple[str, int], torch.Tensor] = {}


def _noise_bank(side: int, device: torch.device) -> torch.Tensor:
    """(_NOISE_BANK, side, side) standard normal tiles, the same on every device."""
    key = (str(device), side)
    if key not in _BANKS:
        seeds = torch.arange(_NOISE_BANK, dtype=torch.int64, device=device)
        _BANKS[key] = _hashed_normal(seeds, side, side * side).reshape(_NOISE_BANK, side, side).contiguous()
    return _BANKS[key]


def _noise_tiles(seeds: torch.Tensor, stream: int, side: int) -> torch.Tensor:
    """(B, side, side): the bank tile chosen by each seed, cyclically shifted by its hash."""
    h = _mix32(seeds ^ (0x5BD1E995 * (stream + 1) & _MASK32))  # (B,)
    h2 = _mix32(h ^ 0x27D4EB2F)
    steps = torch.arange(side, device=seeds.device)
    rows = (steps[None, :] + (h2 % side)[:, None]) % side  # (B, s)
    cols = (steps[None, :] + ((h2 >> 16) % side)[:, None]) % side  # (B, s)
    b = len(seeds)
    base = (h % _NOISE_BANK)[:, None] * side  # (B, 1) first row of each chosen tile
    bank = _noise_bank(side, seeds.device).view(-1, side)  # (bank * s, s) rows
    # Whole-row copies (index_select) instead of an elementwise gather: rows, then columns
    # as the rows of the transposed tile.
    tiles = bank.index_select(0, (base + rows).reshape(-1)).view(b, side, side).transpose(1, 2).contiguous()
    tiles = tiles.view(-1, side).index_select(0, (torch.arange(b, device=seeds.device)[:, None] * side + cols).reshape(-1))
    return tiles.view(b, side, side).transpose(1, 2)


def _strip(tiles: torch.Tensor, width: int) -> torch.Tensor:
    """(B, s, s) tiles repeated along columns to (B, s, W)."""
    return torch.cat([tiles] * -(-width // tiles.shape[-1]), dim=2)[:, :, :width]


def add_noise(images: torch.Tensor, sigma: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
    """images + sigma * counter_normal(seeds, H, W), as a new tensor.

    images: (B, 1, H, W) float32; sigma: (B,) float32; seeds: (B,) int64 in [0, 2^32).
    The tiles are never expanded to full images: rows repeat with the tile's period, so
    each component is one broadcast multiply-add over (B, H // s, s, W) plus the last rows.
    """
    b, _, h, w = images.shape
    seeds = seeds.to(torch.int64) & _MASK32
    scale = (sigma / math.sqrt(len(_NOISE_TILES))).view(-1, 1, 1, 1)
    out = torch.empty_like(images)
    src = images
    for stream, side in enumerate(_NOISE_TILES):
        strip = _strip(_noise_tiles(seeds, stream, side), w)  # (B, s, W)
        full = (h // side) * side
        if full:
            torch.addcmul(src[:, 0, :full].view(b, -1, side, w), scale, strip[:, None],
                          out=out[:, 0, :full].view(b, -1, side, w))
        if full < h:
            torch.addcmul(src[:, 0, full:], scale[..., 0], strip[:, : h - full], out=out[:, 0, full:])
        src = out
    return out


def counter_normal(seeds: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, 1, H, W) standard normal noise, a pure function of (seed, pixel index).

    seeds: (B,) int64 in [0, 2^32). Hashing every pixel costs ~30 full-image integer ops,
    so each image takes, for each of two coprime prime sides (127, 131), one tile of a
    fixed bank of hashed normal tiles, cyclically shifted; both chosen by a hash of its seed.
    Pixel (r, c) is (t1[(r + a1) % 127, (c + b1) % 127] + t2[(r + a2) % 131, ...]) / sqrt(2):
    exactly normal, no repeat within 16,637 px, 64^2 * 127^2 * 131^2 ~ 10^12 distinct fields.
    """
    out = torch.zeros(len(seeds), 1, height, width, device=seeds.device)
    return add_noise(out, torch.ones(len(seeds), device=seeds.device), seeds)


def intensity_scale(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(dark, bright): (B,) quantiles of each image (air/lung end and brightest anatomy).

    From a 1024-bin histogram of every 4th row and column (one bincount for the batch: a
    sort per image cost more than the rest of compositing); each quantile is its bin's centre,
    within 1/2046 of the exact order statistic for images in [0, 1].
    """
    b = images.shape[0]
    sub = images[:, 0, ::_SCALE_STRIDE, ::_SCALE_STRIDE].reshape(b, -1)  # (B, n)
    bins = (sub.clamp(0.0, 1.0) * (_SCALE_BINS - 1)).round().to(torch.int64)
    offset = torch.arange(b, device=images.device)[:, None] * _SCALE_BINS
    hist = torch.bincount((bins + offset).reshape(-1), minlength=b * _SCALE_BINS).view(b, _SCALE_BINS)
    cdf = torch.cumsum(hist, dim=1)  # (B, bins)
    last = sub.shape[1] - 1

    def quantile(q: float) -> torch.Tensor:
        rank = int(round(q * last)) + 1  # the rank-th smallest value (1-based)
        idx = torch.searchsorted(cdf, torch.full((b, 1), rank, device=images.device, dtype=cdf.dtype))
        return idx.flatten().to(torch.float32) / (_SCALE_BINS - 1)

    return quantile(DARK_QUANTILE), quantile(BRIGHT_QUANTILE)


def display_levels(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dark, bright, peak): (B,) each: `intensity_scale` and the brightest pixel (the soft
    ceiling). A property of the source alone, so a build measures it once per source."""
    dark, bright = intensity_scale(images)
    return dark, bright, images.reshape(images.shape[0], -1).amax(dim=1)


def attenuation_gain(dark: torch.Tensor, bright: torch.Tensor, water_equiv_mm: torch.Tensor) -> torch.Tensor:
    """k: (B,) display units per unit optical depth, from each image's own intensity scale."""
    return (bright - dark).clamp_min(0.05) / (mu_per_mm("water") * water_equiv_mm)


def _radius(sigma_px: torch.Tensor) -> int:
    return max(1, int(math.ceil(3.0 * float(sigma_px.max()))))  # host sync: once per call


def _gauss_matrix(n: int, sigma_px: torch.Tensor, radius: int) -> torch.Tensor:
    """(N, n, n): a 1-D Gaussian blur along one axis as a matrix, per object.

    Taps |i - j| <= radius, normalised over the whole kernel and zero beyond the window
    (a zero-padded convolution): blurring is a product of small matrices, which on CPU runs
    several times faster than a convolution with a different kernel per object.
    """
    i = torch.arange(n, device=sigma_px.device)
    d = i[None, :] - i[:, None]  # (n, n) column minus row
    taps = _gauss_taps(sigma_px, radius)  # (N, 2 radius + 1)
    return taps[:, (d + radius).clamp(0, 2 * radius)] * (d.abs() <= radius)


def _gauss_taps(sigma_px: torch.Tensor, radius: int) -> torch.Tensor:
    """(N, 2 radius + 1) normalised Gaussian taps per object."""
    taps = torch.arange(-radius, radius + 1, device=sigma_px.device, dtype=torch.float32)
    w = torch.exp(-0.5 * (taps[None, :] / sigma_px.clamp_min(0.05)[:, None]) ** 2)
    return w / w.sum(1, keepdim=True)


def _shifted_blur(x: torch.Tensor, sigma_px: torch.Tensor, radius: int) -> torch.Tensor:
    """Separable Gaussian of x (N, h + 2 radius, w + 2 radius), zero-padded by the caller,
    per-object sigma (N, 2) row, col: returns (N, h, w). A few shifted multiply-adds: the
    PSF is narrow, so this beats both a per-object convolution and a matrix product."""
    n = x.shape[0]
    h, w = x.shape[1] - 2 * radius, x.shape[2] - 2 * radius
    taps_c = _gauss_taps(sigma_px[:, 1], radius).view(n, 1, 1, -1)
    taps_r = _gauss_taps(sigma_px[:, 0], radius).view(n, 1, 1, -1)
    y = sum(x[:, :, k : k + w] * taps_c[..., k] for k in range(2 * radius + 1))  # (N, h + 2r, w)
    return sum(y[:, k : k + h] * taps_r[..., k] for k in range(2 * radius + 1))  # (N, h, w)


def _separable(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """rows @ x @ cols^T for x (N, h, w), rows (N or 1, h', h), cols (N or 1, w', w)."""
    return torch.matmul(torch.matmul(rows, x), cols.transpose(-1, -2))


@functools.lru_cache(maxsize=64)
def _upsample_matrix(n: int, factor: int, device: torch.device) -> torch.Tensor:
    """(n, ceil(n / factor)): linear interpolation from cell centres back to pixels, edges
    clamped (bilinear upsampling with align_corners=False, along one axis). Cached: a build
    has few output sizes."""
    small = -(-n // factor)
    x = ((torch.arange(n, device=device, dtype=torch.float32) + 0.5) / factor - 0.5).clamp(0.0, small - 1)
    lo = x.floor().long()
    hi = (lo + 1).clamp_max(small - 1)
    m = torch.zeros(n, small, device=device)
    rows = torch.arange(n, device=device)
    m.index_put_((rows, lo), 1.0 - (x - lo), accumulate=True)
    m.index_put_((rows, hi), x - lo, accumulate=True)
    return m


def deficit(tau: torch.Tensor) -> torch.Tensor:
    """D = 1 - exp(-tau): the share of the primary beam an optical depth tau removes."""
    return -torch.expm1(-tau)


def psf_windows(tau: torch.Tensor, psf_sigma_px: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Step 1 on each object's own window: tau (N, 1, h, w) optical depth, psf_sigma_px
    (N, 2) row, col. Returns the blurred deficit PSF * D, (N, 1, h + 2 r, w + 2 r), and r,
    the PSF radius: window pixel (i, j) moves to (i + r, j + r)."""
    r = _radius(psf_sigma_px)
    return _shifted_blur(F.pad(deficit(tau[:, 0]), (2 * r,) * 4), psf_sigma_px, r)[:, None], r


def glow_margin_px(scatter_sigma_px: torch.Tensor) -> int:
    """How far (px) the scatter glow carries signal beyond the objects: 3 sigma, in whole
    low-resolution cells, plus the interpolation's reach."""
    return _GLOW_POOL * (_radius(scatter_sigma_px / _GLOW_POOL) + 2)


class OpticalDepth:
    """Effective optical depth of a batch after steps 1-2, tau_eff = -log(1 - D_det),
    D_det = (1 - s) sharp + s glow, kept in two parts so it is only formed where used.

    sharp: (B, 1, H, W) PSF-blurred deficit (objects' deficits add; where objects overlap
    this overstates the product of their transmissions, and D_det is capped below 1);
    glow: (B, H/4, W/4) the wide scatter blur of `sharp` at 1/4 resolution (mean over
    4 x 4 cells, then Gaussian), interpolated back linearly (one small matrix product per
    axis); fraction: (B,) the scatter share s.
    """

    def __init__(self, sharp: torch.Tensor, fraction: torch.Tensor, scatter_sigma_px: torch.Tensor):
        self.sharp, self.fraction = sharp, fraction
        h, w = sharp.shape[-2:]
        small = F.avg_pool2d(sharp, _GLOW_POOL, ceil_mode=True)[:, 0]  # (B, h4, w4)
        wide_px = scatter_sigma_px / _GLOW_POOL
        rw = _radius(wide_px)
        self.glow = _separable(small, _gauss_matrix(small.shape[1], wide_px[:, 0], rw),
                               _gauss_matrix(small.shape[2], wide_px[:, 1], rw))
        self._up_rows = _upsample_matrix(h, _GLOW_POOL, sharp.device)  # (H, h4)
        self._up_cols = _upsample_matrix(w, _GLOW_POOL, sharp.device)  # (W, w4)

    def dense(self) -> torch.Tensor:
        """(B, 1, H, W)."""
        glow = _separable(self.glow, self._up_rows[None], self._up_cols[None])[:, None]
        return _effective(torch.lerp(self.sharp, glow, self.fraction.view(-1, 1, 1, 1)))

    def crop(self, i: int, r0: int, r1: int, c0: int, c1: int) -> torch.Tensor:
        """(1, r1 - r0, c1 - c0): image i's rows r0:r1 and columns c0:c1."""
        glow = _separable(self.glow[i], self._up_rows[r0:r1], self._up_cols[c0:c1])
        return _effective(torch.lerp(self.sharp[i, :, r0:r1, c0:c1], glow[None], self.fraction[i]))


_MAX_DEFICIT = 1.0 - 1e-6  # tau_eff <= 13.8: far beyond any display's ceiling


def _effective(detected_deficit: torch.Tensor) -> torch.Tensor:
    """tau_eff = -log(1 - D_det), in place."""
    return detected_deficit.clamp_(0.0, _MAX_DEFICIT).neg_().log1p_().neg_()


def attenuate(images: torch.Tensor, optical_depth: OpticalDepth, *,
              levels: tuple[torch.Tensor, torch.Tensor, torch.Tensor], water_equiv_mm: torch.Tensor,
              noise_sigma: torch.Tensor, noise_seed: torch.Tensor,
              boxes: list[tuple[int, int, int, int] | None] | None = None) -> torch.Tensor:
    """Steps 3-4: the (already spread) optical depth into the image, then noise.

    images: (B, 1, H, W) float32; levels: `display_levels(images)`; water_equiv_mm,
    noise_sigma: (B,) float32; noise_seed: (B,) int64. boxes: per image (row0, row1, col0,
    col1) holding all of its optical depth, or None for an image without any; None = all of
    every image (one batched pass, best on a GPU; boxes save the CPU most of the image).
    The result is the same.
    Returns (B, 1, H, W) float32 in [0, 1].
    """
    dark, bright, ceiling = levels  # the ceiling is the peak: never below `bright`, a quantile
    k = attenuation_gain(dark, bright, water_equiv_mm)
    out = add_noise(images, noise_sigma, noise_seed)
    if boxes is None:
        out += _added(images, optical_depth.dense(), k.view(-1, 1, 1, 1), ceiling.view(-1, 1, 1, 1))
    else:
        for i, box in enumerate(boxes):
            if box is not None:
                r0, r1, c0, c1 = box
                crop = (i, slice(None), slice(r0, r1), slice(c0, c1))
                out[crop] += _added(images[crop], optical_depth.crop(i, r0, r1, c0, c1), k[i], ceiling[i])
    return out.clamp_(0.0, 1.0)


def _added(p: torch.Tensor, tau: torch.Tensor, k: torch.Tensor, ceiling: torch.Tensor) -> torch.Tensor:
    """Step 3's increase H (1 - exp(-k tau / H)), H = ceiling - p; exactly 0 where tau is 0."""
    headroom = (ceiling - p).clamp_min_(0.0)
    return torch.expm1(tau * -k / headroom.clamp_min(1e-6)).mul_(headroom).neg_()


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
    """Composite a dense optical-depth map into radiographs; see the module docstring.

    images, optical_depth: (B, 1, H, W) float32; water_equiv_mm, scatter_fraction,
    noise_sigma: (B,) float32; psf_sigma_px, scatter_sigma_px: (B, 2) row, col pixels;
    noise_seed: (B,) int64. Returns (B, 1, H, W) float32 in [0, 1].
    """
    if images.ndim != 4 or images.shape[1] != 1 or optical_depth.shape != images.shape:
        raise ValueError(f"expected images and optical_depth (B, 1, H, W), got {tuple(images.shape)} "
                         f"and {tuple(optical_depth.shape)}")
    h, w = images.shape[-2:]
    sharp, r = psf_windows(optical_depth, psf_sigma_px)  # the whole map as one window per image
    depth = OpticalDepth(sharp[..., r : r + h, r : r + w], scatter_fraction, scatter_sigma_px)
    return attenuate(images, depth, levels=display_levels(images), water_equiv_mm=water_equiv_mm,
                     noise_sigma=noise_sigma, noise_seed=noise_seed)
