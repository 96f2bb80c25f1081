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
scatter blur at 1/4 resolution, either on whole images (`OpticalDepth`, one batched pass:
the GPU's way) or on one box per image around its objects (`WindowedOpticalDepth`: the
CPU's way; the same result); `attenuate` (steps 3-4) adds tau_eff where it is and the
noise everywhere. Both Gaussians are cut at each image's own 3 sigma, so an image never
depends on what else is in its batch.
`composite_attenuation` is the same pipeline on a dense (B, 1, H, W) optical-depth map.
All images are (B, 1, H, W) float32, bone bright, values in [0, 1].
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import torch
import torch.nn.functional as F

from generator.bodies.materials import mu_per_mm

_MASK32 = 0xFFFFFFFF
SCALE_STRIDE = 4  # intensity quantiles on every 4th row and column
SCALE_BINS = 1024  # quantiles to 1/1024 of the display range
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
    """(_NOISE_BANK, 2 side, 2 side): standard normal tiles, the same on every device, each
    repeated twice along both axes so that any cyclic shift of a tile is a plain view."""
    key = (str(device), side)
    if key not in _BANKS:
        seeds = torch.arange(_NOISE_BANK, dtype=torch.int64, device=device)
        tiles = _hashed_normal(seeds, side, side * side).reshape(_NOISE_BANK, side, side)
        _BANKS[key] = tiles.repeat(1, 2, 2)
    return _BANKS[key]


def _noise_tiles(seeds: torch.Tensor, stream: int, side: int, *, gather: bool | None = None) -> torch.Tensor:
    """(B, side, side): per seed, the bank tile chosen by its hash, cyclically shifted along
    rows and columns by its hash. On the CPU one copy of shifted views (a third of the time
    of a gather); on a GPU (gather=True) one gather, with no host sync."""
    h = _mix32(seeds ^ (0x5BD1E995 * (stream + 1) & _MASK32))  # (B,)
    h2 = _mix32(h ^ 0x27D4EB2F)
    bank = _noise_bank(side, seeds.device)
    if gather is None:
        gather = seeds.device.type != "cpu"
    if gather:
        r = torch.arange(side, device=seeds.device)
        rows = (r[None, :] + (h2 % side)[:, None])[:, :, None]  # (B, s, 1)
        cols = (r[None, :] + ((h2 >> 16) % side)[:, None])[:, None, :]  # (B, 1, s)
        return bank[(h % _NOISE_BANK)[:, None, None], rows, cols]  # (B, s, s)
    picks = torch.stack([h % _NOISE_BANK, h2 % side, (h2 >> 16) % side], 1).tolist()
    return torch.stack([bank[t, a : a + side, c : c + side] for t, a, c in picks])


def add_noise(images: torch.Tensor, sigma: torch.Tensor, seeds: torch.Tensor,
              out: torch.Tensor | None = None) -> torch.Tensor:
    """images + sigma * counter_normal(seeds, H, W), into `out` (a new tensor by default;
    `images` itself to add in place).

    images: (B, 1, H, W) float32; sigma: (B,) float32; seeds: (B,) int64 in [0, 2^32).
    The tiles are never expanded to full images: rows repeat with the tile's period, so
    each component is one broadcast multiply-add over (B, H // s, s, W) plus the last rows.
    """
    b, _, h, w = images.shape
    seeds = seeds.to(torch.int64) & _MASK32
    scale = (sigma / math.sqrt(len(_NOISE_TILES))).view(-1, 1, 1, 1)
    out = torch.empty_like(images) if out is None else out
    src = images
    for stream, side in enumerate(_NOISE_TILES):
        tile = _noise_tiles(seeds, stream, side)  # (B, s, s)
        # (B, s, W), contiguous: a broadcast over a W-long inner axis runs twice as fast as
        # one over the tile's s.
        strip = torch.cat([tile] * (w // side) + [tile[:, :, : w % side]], dim=2)
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


def attenuation_gain(dark: torch.Tensor, bright: torch.Tensor, water_equiv_mm: torch.Tensor) -> torch.Tensor:
    """k: (B,) display units per unit optical depth, from each image's own intensity scale."""
    return (bright - dark).clamp_min(0.05) / (mu_per_mm("water") * water_equiv_mm)


def _radius(sigma_px: torch.Tensor) -> int:
    """The widest `_cut` of a batch of sigmas, in pixels (a host sync: once per call)."""
    return int(_cut(sigma_px.clamp_min(0.05)).max())


def _gauss_matrix(n: int, sigma_px: torch.Tensor, radius: int) -> torch.Tensor:
    """(N, n, n): a 1-D Gaussian blur along one axis as a matrix, per object.

    Taps |i - j| <= radius (`_gauss_taps`), zero beyond the window (a zero-padded
    convolution): blurring is a product of small matrices, which on CPU runs several times
    faster than a convolution with a different kernel per object. The matrix is symmetric
    and Toeplitz, so its leading (m, m) block is the matrix for m.
    """
    taps = _gauss_taps(sigma_px, radius)  # (N, 2 radius + 1)
    # p[k]: the tap at offset k - (n - 1), offsets -(n - 1) .. n - 1; M[i, j] = p[n - 1 + j - i].
    p = F.pad(taps, (n - 1, n - 1))[:, radius : radius + 2 * n - 1]
    return p.unfold(1, n, 1).flip(1)


def _gauss_taps(sigma_px: torch.Tensor, radius: int) -> torch.Tensor:
    """(N, 2 radius + 1) Gaussian taps per object, each cut at its own 3 sigma (at least one
    pixel) and normalised over what is kept: an object's blur never depends on the other
    objects in its batch, only `radius` (the batch's widest cut) does."""
    offsets = torch.arange(-radius, radius + 1, device=sigma_px.device, dtype=torch.float32)
    sigma = sigma_px.clamp_min(0.05)[:, None]
    w = torch.exp(-0.5 * (offsets[None, :] / sigma) ** 2) * (offsets.abs()[None, :] <= _cut(sigma))
    return w / w.sum(1, keepdim=True)


def _cut(sigma_px: torch.Tensor) -> torch.Tensor:
    """Where a Gaussian of sigma_px is cut: ceil(3 sigma), at least 1 (same shape as sigma)."""
    return torch.ceil(3.0 * sigma_px).clamp_min(1.0)


def _shifted_blur(x: torch.Tensor, taps: torch.Tensor, radius: int) -> torch.Tensor:
    """Separable Gaussian of x (N, h + 2 radius, w + 2 radius), zero-padded by the caller,
    with per-object row and column taps (N, 2, 2 radius + 1): returns (N, h, w). A few
    shifted multiply-adds: the PSF is narrow, so this beats both a per-object convolution
    and a matrix product."""
    n = x.shape[0]
    h, w = x.shape[1] - 2 * radius, x.shape[2] - 2 * radius
    taps_r, taps_c = taps.view(n, 2, 1, 1, -1).unbind(1)
    y = sum(x[:, :, k : k + w] * taps_c[..., k] for k in range(2 * radius + 1))  # (N, h + 2r, w)
    return sum(y[:, k : k + h] * taps_r[..., k] for k in range(2 * radius + 1))  # (N, h, w)


def _separable(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """rows @ x @ cols^T for x (N, h, w), rows (N or 1, h', h), cols (N or 1, w', w)."""
    return torch.matmul(torch.matmul(rows, x), cols.transpose(-1, -2))


@functools.lru_cache(maxsize=64)
def _upsample_matrix(n: int, factor: int, device: torch.device) -> torch.Tensor:
    """(factor * ceil(n / factor), ceil(n / factor)): linear interpolation from cell centres
    back to pixels, edges clamped (bilinear upsampling with align_corners=False, along one
    axis); the rows past pixel n - 1 (a partial last cell) are zero. Cached: a build has few
    output sizes."""
    small = -(-n // factor)
    x = ((torch.arange(n, device=device, dtype=torch.float32) + 0.5) / factor - 0.5).clamp(0.0, small - 1)
    lo = x.floor().long()
    hi = (lo + 1).clamp_max(small - 1)
    m = torch.zeros(factor * small, small, device=device)
    rows = torch.arange(n, device=device)
    m.index_put_((rows, lo), 1.0 - (x - lo), accumulate=True)
    m.index_put_((rows, hi), x - lo, accumulate=True)
    return m


def deficit(tau: torch.Tensor) -> torch.Tensor:
    """D = 1 - exp(-tau): the share of the primary beam an optical depth tau removes."""
    return -torch.expm1(-tau)


def psf_taps(psf_sigma_px: torch.Tensor) -> torch.Tensor:
    """(N, 2, 2 r + 1) row and column taps of the detector PSF, per image, from its sigma
    (N, 2) row, col in pixels; r is the batch's widest cut. Made once per batch."""
    r = _radius(psf_sigma_px)
    return _gauss_taps(psf_sigma_px.reshape(-1), r).view(-1, 2, 2 * r + 1)


def psf_windows(tau: torch.Tensor, taps: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Step 1 on each object's own window: tau (N, 1, h, w) optical depth, taps (N, 2, 2 r + 1)
    its image's `psf_taps`. Returns the blurred deficit PSF * D, (N, 1, h + 2 r, w + 2 r),
    and r, the PSF radius: window pixel (i, j) moves to (i + r, j + r)."""
    r = (taps.shape[-1] - 1) // 2
    return _shifted_blur(F.pad(deficit(tau[:, 0]), (2 * r,) * 4), taps, r)[:, None], r


class OpticalDepth:
    """Effective optical depth of a batch after steps 1-2 on whole images, tau_eff =
    -log(1 - D_det), D_det = (1 - s) sharp + s glow: one batched pass, the GPU's way.

    sharp: (B, 1, H, W) PSF-blurred deficit (objects' deficits add; where objects overlap
    this overstates the product of their transmissions, and D_det is capped below 1);
    glow: (B, H/4, W/4) the wide scatter blur of `sharp` at 1/4 resolution (sum over 4 x 4
    cells / 16, pixels beyond the image counting as no deficit, then a zero-padded
    Gaussian), interpolated back linearly (one small matrix product per axis); fraction:
    (B,) the scatter share s.
    """

    def __init__(self, sharp: torch.Tensor, fraction: torch.Tensor, scatter_sigma_px: torch.Tensor):
        self.sharp, self.fraction = sharp, fraction
        h, w = sharp.shape[-2:]
        cells = F.avg_pool2d(sharp, _GLOW_POOL, ceil_mode=True, divisor_override=_GLOW_POOL**2)[:, 0]  # (B, h4, w4)
        wide_px = scatter_sigma_px / _GLOW_POOL
        rw = _radius(wide_px)
        self.glow = _separable(cells, _gauss_matrix(cells.shape[1], wide_px[:, 0], rw),
                               _gauss_matrix(cells.shape[2], wide_px[:, 1], rw))
        self._up_rows = _upsample_matrix(h, _GLOW_POOL, sharp.device)[:h]  # (H, h4)
        self._up_cols = _upsample_matrix(w, _GLOW_POOL, sharp.device)[:w]  # (W, w4)

    def regions(self):
        """One region: every pixel of every image, (B, 1, H, W)."""
        glow = _separable(self.glow, self._up_rows[None], self._up_cols[None])[:, None]
        yield slice(None), slice(None), slice(None), _effective(torch.lerp(self.sharp, glow,
                                                                           self.fraction.view(-1, 1, 1, 1)))


class WindowedOpticalDepth:
    """The same tau_eff as `OpticalDepth`, formed from the objects' windows on one box per
    image (its objects plus the scatter's reach, in whole 4 x 4 cells) and never on whole
    images: the CPU's way, where most of an image holds no object.

    windows: `render.ObjectWindows` of PSF-blurred deficits (all kinds of the batch);
    fraction: (B,) scatter share; scatter_sigma_px: (B, 2) row, col. Outside its box an
    image's glow is exactly zero (the Gaussian is truncated at 3 sigma and the box reaches
    beyond that), so the result equals the whole-image one up to float rounding.
    """

    def __init__(self, windows, height: int, width: int, fraction: torch.Tensor, scatter_sigma_px: torch.Tensor):
        self.height, self.width, self.fraction = height, width, fraction
        self.wide_px = scatter_sigma_px / _GLOW_POOL
        self.radius = _radius(self.wide_px)
        # Each image's glow reaches its own Gaussian cut; one more cell holds the pixels that
        # interpolate between the last glowing cell and the first dark one.
        margins = (_cut(self.wide_px.clamp_min(0.05)).amax(dim=1) + 1).to(torch.int64).tolist()
        self.boxes = _cell_boxes(windows, height, width, margins)
        dev = fraction.device
        sizes = [(q1 - q0) * (p1 - p0) * _GLOW_POOL**2 for q0, q1, p0, p1 in (b or (0, 0, 0, 0) for b in self.boxes)]
        self.offsets = [0, *itertools.accumulate(sizes)]
        self.canvas = torch.zeros(self.offsets[-1], device=dev)  # every image's box, one after another
        table = torch.tensor([[self.offsets[i], _GLOW_POOL * q0, _GLOW_POOL * p0, _GLOW_POOL * (p1 - p0)]
                              for i, (q0, _, p0, p1) in enumerate(b or (0, 0, 0, 0) for b in self.boxes)],
                             dtype=torch.int64, device=dev)  # (B, 4) offset, first row, first col, row stride
        for win in windows:
            offset, row0, col0, stride = (t[:, None, None] for t in table[win.batch_index].unbind(1))
            rows, cols = win.rows[:, :, None], win.cols[:, None, :]  # (N, S, 1), (N, 1, S)
            inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
            flat = offset + (rows - row0) * stride + (cols - col0)
            self.canvas.scatter_add_(0, torch.where(inside, flat, 0).reshape(-1),
                                     torch.where(inside, win.values, 0.0).reshape(-1))

    def regions(self):
        """Per image with objects: (i, rows, cols, tau_eff (1, rows, cols))."""
        present = [i for i, box in enumerate(self.boxes) if box]
        if not present:
            return
        g, h, w = _GLOW_POOL, self.height, self.width
        index = torch.tensor(present, device=self.canvas.device)
        blur_rows = _gauss_matrix(max(self.boxes[i][1] - self.boxes[i][0] for i in present),
                                  self.wide_px[index, 0], self.radius)
        blur_cols = _gauss_matrix(max(self.boxes[i][3] - self.boxes[i][2] for i in present),
                                  self.wide_px[index, 1], self.radius) * (1.0 / g**2)  # cell sums -> means
        up_rows = _upsample_matrix(h, g, self.canvas.device)  # (g h4, h4): rows past the image are zero
        up_cols = _upsample_matrix(w, g, self.canvas.device)
        for j, i in enumerate(present):
            q0, q1, p0, p1 = self.boxes[i]
            nr, nc = q1 - q0, p1 - p0
            sharp = self.canvas[self.offsets[i] : self.offsets[i + 1]].view(g * nr, g * nc)
            # Sum each cell's g rows, then one product sums its g columns and blurs along rows
            # of cells (the blur matrix is symmetric, each of its rows repeated g times).
            cells = blur_rows[j, :nr, :nr] @ (sharp.view(nr, g, g * nc).sum(1)
                                               @ blur_cols[j, :nc, :nc].repeat_interleave(g, dim=0))
            glow = (up_rows[g * q0 : g * q1, q0:q1] @ cells) @ up_cols[g * p0 : g * p1, p0:p1].T
            hh, ww = min(g * nr, h - g * q0), min(g * nc, w - g * p0)
            tau = _effective(torch.lerp(sharp[:hh, :ww], glow[:hh, :ww], self.fraction[i]))[None]
            yield i, slice(g * q0, g * q0 + hh), slice(g * p0, g * p0 + ww), tau


def _cell_boxes(windows, height: int, width: int, margins: list[int]) -> list[tuple[int, int, int, int] | None]:
    """Per image (q0, q1, p0, p1): the 4 x 4 cells holding its windows' in-image pixels, widened
    by its margin (cells) and clipped to the image; None for an image without any such pixel."""
    batch = len(margins)
    lo = np.full((batch, 2), np.iinfo(np.int64).max)
    hi = np.full((batch, 2), np.iinfo(np.int64).min)
    for win in windows:
        size = win.rows.shape[1]
        first = torch.stack([win.rows[:, 0], win.cols[:, 0]], 1).cpu().numpy()  # (N, 2)
        bi = win.batch_index.cpu().numpy()
        np.minimum.at(lo, bi, np.maximum(first, 0))
        np.maximum.at(hi, bi, np.minimum(first + size, (height, width)))
    cells = (-(-height // _GLOW_POOL), -(-width // _GLOW_POOL))
    boxes: list[tuple[int, int, int, int] | None] = []
    for (r0, c0), (r1, c1), m in zip(lo.tolist(), hi.tolist(), margins):
        if r0 >= r1 or c0 >= c1:
            boxes.append(None)
            continue
        boxes.append((max(r0 // _GLOW_POOL - m, 0), min(-(-r1 // _GLOW_POOL) + m, cells[0]),
                      max(c0 // _GLOW_POOL - m, 0), min(-(-c1 // _GLOW_POOL) + m, cells[1])))
    return boxes


_MAX_DEFICIT = 1.0 - 1e-6  # tau_eff <= 13.8: far beyond any display's ceiling


def _effective(detected_deficit: torch.Tensor) -> torch.Tensor:
    """tau_eff = -log(1 - D_det), in place."""
    return detected_deficit.clamp_(0.0, _MAX_DEFICIT).neg_().log1p_().neg_()


def attenuate(images: torch.Tensor, optical_depth: OpticalDepth | WindowedOpticalDepth, *,
              levels: tuple[torch.Tensor, torch.Tensor, torch.Tensor], water_equiv_mm: torch.Tensor,
              noise_sigma: torch.Tensor, noise_seed: torch.Tensor) -> torch.Tensor:
    """Steps 3-4: the (already spread) optical depth into the image, then noise, written into
    `images` (a batch the caller owns: a fresh image-size buffer costs more than the noise).

    images: (B, 1, H, W) float32; levels: `display_levels(images)`; water_equiv_mm,
    noise_sigma: (B,) float32; noise_seed: (B,) int64. The optical depth is added where its
    `regions()` say (whole images, or one box per image).
    Returns `images`, now in [0, 1].
    """
    dark, bright, ceiling = levels  # the ceiling is the peak: never below `bright`, a quantile
    k = attenuation_gain(dark, bright, water_equiv_mm).view(-1, 1, 1, 1)
    ceiling = ceiling.view(-1, 1, 1, 1)
    # Step 3 reads the film without noise: form every increase before the noise goes in.
    lost = [(i, rows, cols, _lost_headroom(images[i, :, rows, cols], tau, k[i], ceiling[i]))
            for i, rows, cols, tau in optical_depth.regions()]
    add_noise(images, noise_sigma, noise_seed, out=images)
    for i, rows, cols, minus_increase in lost:
        images[i, :, rows, cols] -= minus_increase
    return images.clamp_(0.0, 1.0)


def _lost_headroom(p: torch.Tensor, tau: torch.Tensor, k: torch.Tensor, ceiling: torch.Tensor) -> torch.Tensor:
    """Minus step 3's increase, H expm1(-k tau / H) with H = ceiling - p: exactly 0 where tau
    is 0. Written over `tau` (a region's own tensor): five passes where a fresh tensor for
    each step took eight."""
    headroom = (ceiling - p).clamp_min_(0.0)
    return tau.mul_(-k).div_(headroom.clamp_min(1e-6)).expm1_().mul_(headroom)


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
    sharp, r = psf_windows(optical_depth, psf_taps(psf_sigma_px))  # the whole map as one window per image
    depth = OpticalDepth(sharp[..., r : r + h, r : r + w], scatter_fraction, scatter_sigma_px)
    return attenuate(images.clone(), depth, levels=display_levels(images), water_equiv_mm=water_equiv_mm,
                     noise_sigma=noise_sigma, noise_seed=noise_seed)
