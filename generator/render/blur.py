"""Gaussian blurs and linear upsampling for compositing, as taps and small matrices.

Every Gaussian is cut at each object's (or image's) own 3 sigma, at least one pixel, and
normalised over what is kept, so an image never depends on what else is in its batch:
only the tap array's length (the batch's widest cut) does. Blurs are zero-padded
convolutions. Tensors are float32; sigmas and radii are in pixels.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F


def cut_px(sigma_px: torch.Tensor) -> torch.Tensor:
    """Where a Gaussian of sigma_px is cut: ceil(3 sigma), at least 1 (same shape as sigma)."""
    return torch.ceil(3.0 * sigma_px).clamp_min(1.0)


def widest_cut_px(sigma_px: torch.Tensor) -> int:
    """The widest `cut_px` of a batch of sigmas, in pixels (a host sync: once per call)."""
    return int(cut_px(sigma_px.clamp_min(0.05)).max())


def gauss_taps(sigma_px: torch.Tensor, radius: int) -> torch.Tensor:
    """(N, 2 radius + 1) Gaussian taps per object, each cut at its own 3 sigma (at least one
    pixel) and normalised over what is kept: an object's blur never depends on the other
    objects in its batch, only `radius` (the batch's widest cut) does."""
    offsets = torch.arange(-radius, radius + 1, device=sigma_px.device, dtype=torch.float32)
    sigma = sigma_px.clamp_min(0.05)[:, None]
    w = torch.exp(-0.5 * (offsets[None, :] / sigma) ** 2) * (offsets.abs()[None, :] <= cut_px(sigma))
    return w / w.sum(1, keepdim=True)


def gauss_matrix(n: int, sigma_px: torch.Tensor, radius: int) -> torch.Tensor:
    """(N, n, n): a 1-D Gaussian blur along one axis as a matrix, per object.

    Taps |i - j| <= radius (`gauss_taps`), zero beyond the window (a zero-padded
    convolution): blurring is a product of small matrices, which on CPU runs several times
    faster than a convolution with a different kernel per object. The matrix is symmetric
    and Toeplitz, so its leading (m, m) block is the matrix for m.
    """
    taps = gauss_taps(sigma_px, radius)  # (N, 2 radius + 1)
    # p[k]: the tap at offset k - (n - 1), offsets -(n - 1) .. n - 1; M[i, j] = p[n - 1 + j - i].
    p = F.pad(taps, (n - 1, n - 1))[:, radius : radius + 2 * n - 1]
    return p.unfold(1, n, 1).flip(1)


def shifted_blur(x: torch.Tensor, taps: torch.Tensor, radius: int) -> torch.Tensor:
    """Separable Gaussian of x (N, h + 2 radius, w + 2 radius), zero-padded by the caller,
    with per-object row and column taps (N, 2, 2 radius + 1): returns (N, h, w). A few
    shifted multiply-adds: the PSF is narrow, so this beats both a per-object convolution
    and a matrix product."""
    n = x.shape[0]
    h, w = x.shape[1] - 2 * radius, x.shape[2] - 2 * radius
    taps_r, taps_c = taps.view(n, 2, 1, 1, -1).unbind(1)
    y = sum(x[:, :, k : k + w] * taps_c[..., k] for k in range(2 * radius + 1))  # (N, h + 2r, w)
    return sum(y[:, k : k + h] * taps_r[..., k] for k in range(2 * radius + 1))  # (N, h, w)


@functools.lru_cache(maxsize=64)
def upsample_matrix(n: int, factor: int, device: torch.device) -> torch.Tensor:
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


def psf_taps(psf_sigma_px: torch.Tensor) -> torch.Tensor:
    """(N, 2, 2 r + 1) row and column taps of the detector PSF, per image, from its sigma
    (N, 2) row, col in pixels; r is the batch's widest cut. Made once per batch."""
    r = widest_cut_px(psf_sigma_px)
    return gauss_taps(psf_sigma_px.reshape(-1), r).view(-1, 2, 2 * r + 1)
