"""Effective optical depth of foreign bodies after detector blur and scatter (steps 1-2).

Blur and scatter act on detected intensity, not on optical depth: the object lets through
T = exp(-tau) of the primary beam, its deficit D = 1 - T is in [0, 1], and the detector
sees, relative to the film without the object, I = 1 - D_det with
    D_det = PSF * ((1 - s) D + s G_wide * D),
s the scatter share of the detected signal (scatter is a wide blur of the primary field,
so it fills in the object's shadow and dims a faint, wide halo around it). The object's
effective optical depth is tau_eff = -log(1 - D_det): dense metal is bounded by the
scatter that fills in under it (about -log(s)), thin objects keep tau_eff ~ tau.

  1. detector blur: Gaussian PSF (sigma in mm, converted with the image's spacing) on the
     object's deficit only; the radiograph already carries its own detector blur.
  2. scatter: D_det as above (G_wide: sigma in mm, at 1/4 resolution), then tau_eff.
Both steps are linear in D: the PSF runs on each object's own window (`psf_windows`), the
scatter blur at 1/4 resolution, either on whole images (`OpticalDepth`, one batched pass
with Kornia's separable filter and bilinear resize: the GPU's way) or on one box per image
around its objects (`WindowedOpticalDepth`, small matrix products: the CPU's way; the same
result up to float rounding). Both Gaussians are cut at each image's own 3 sigma
(generator.render.blur), so an image never depends on what else is in its batch.
Either class yields `regions()`: (image, rows, cols, tau_eff) for `attenuate` to add.
"""

from __future__ import annotations

import itertools

import kornia
import numpy as np
import torch
import torch.nn.functional as F

from generator.render.blur import cut_px, gauss_matrix, gauss_taps, shifted_blur, upsample_matrix, widest_cut_px

_GLOW_POOL = 4


def deficit(tau: torch.Tensor) -> torch.Tensor:
    """D = 1 - exp(-tau): the share of the primary beam an optical depth tau removes."""
    return -torch.expm1(-tau)


def psf_windows(tau: torch.Tensor, taps: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Step 1 on each object's own window: tau (N, 1, h, w) optical depth, taps (N, 2, 2 r + 1)
    its image's `psf_taps`. Returns the blurred deficit PSF * D, (N, 1, h + 2 r, w + 2 r),
    and r, the PSF radius: window pixel (i, j) moves to (i + r, j + r)."""
    r = (taps.shape[-1] - 1) // 2
    return shifted_blur(F.pad(deficit(tau[:, 0]), (2 * r,) * 4), taps, r)[:, None], r


def glow_blur(cells: torch.Tensor, wide_px: torch.Tensor) -> torch.Tensor:
    """The scatter Gaussian on whole canvases: cells (B, 1, h, w) float32, wide_px (B, 2) row,
    col sigma in cells; zero-padded, each image's taps cut at its own 3 sigma (`gauss_taps`:
    Kornia's Gaussian kernels share one length and keep their tails, so they would tie an
    image to its batch). Returns (B, 1, h, w)."""
    r = widest_cut_px(wide_px)
    rows, cols = gauss_taps(wide_px[:, 0], r), gauss_taps(wide_px[:, 1], r)  # (B, 2 r + 1) each
    return kornia.filters.filter2d_separable(cells, cols, rows, border_type="constant")


def glow_upsample(glow: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """glow (B, 1, h, w) on 4 x 4 cells back to pixels (B, 1, height, width): bilinear with
    align_corners=False at exactly 4x (the last cell may hang past the image), edges clamped,
    the same interpolation as `upsample_matrix`."""
    size = (_GLOW_POOL * glow.shape[-2], _GLOW_POOL * glow.shape[-1])
    return kornia.geometry.transform.resize(glow, size, interpolation="bilinear",
                                            align_corners=False)[..., :height, :width]


class OpticalDepth:
    """Effective optical depth of a batch after steps 1-2 on whole images, tau_eff =
    -log(1 - D_det), D_det = (1 - s) sharp + s glow: one batched pass, the GPU's way.

    sharp: (B, 1, H, W) PSF-blurred deficit (objects' deficits add; where objects overlap
    this overstates the product of their transmissions, and D_det is capped below 1);
    glow: (B, 1, H/4, W/4) the wide scatter blur of `sharp` at 1/4 resolution (sum over
    4 x 4 cells / 16, pixels beyond the image counting as no deficit, then `glow_blur`),
    interpolated back linearly (`glow_upsample`); fraction: (B,) the scatter share s.
    """

    def __init__(self, sharp: torch.Tensor, fraction: torch.Tensor, scatter_sigma_px: torch.Tensor):
        self.sharp, self.fraction = sharp, fraction
        cells = F.avg_pool2d(sharp, _GLOW_POOL, ceil_mode=True, divisor_override=_GLOW_POOL**2)  # (B, 1, h4, w4)
        self.glow = glow_blur(cells, scatter_sigma_px / _GLOW_POOL)

    def regions(self):
        """One region: every pixel of every image, (B, 1, H, W)."""
        glow = glow_upsample(self.glow, *self.sharp.shape[-2:])
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
        self.radius = widest_cut_px(self.wide_px)
        # Each image's glow reaches its own Gaussian cut; one more cell holds the pixels that
        # interpolate between the last glowing cell and the first dark one.
        margins = (cut_px(self.wide_px.clamp_min(0.05)).amax(dim=1) + 1).to(torch.int64).tolist()
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
        blur_rows = gauss_matrix(max(self.boxes[i][1] - self.boxes[i][0] for i in present),
                                  self.wide_px[index, 0], self.radius)
        blur_cols = gauss_matrix(max(self.boxes[i][3] - self.boxes[i][2] for i in present),
                                  self.wide_px[index, 1], self.radius) * (1.0 / g**2)  # cell sums -> means
        up_rows = upsample_matrix(h, g, self.canvas.device)  # (g h4, h4): rows past the image are zero
        up_cols = upsample_matrix(w, g, self.canvas.device)
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
