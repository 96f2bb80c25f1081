"""Detector blur and scatter (steps 1-2): the PSF widens edges, scatter fills in under metal,
and the windowed optical depth (the CPU's way) equals the whole-image one (the GPU's way)."""

import numpy as np
import pytest
import torch

from generator.render.attenuate import attenuate, composite_attenuation
from generator.render.blur import gauss_matrix, psf_taps, upsample_matrix, widest_cut_px
from generator.render.calibrate import display_levels
from generator.render.optical_depth import OpticalDepth, WindowedOpticalDepth, glow_blur, glow_upsample, psf_windows
from generator.render.rasterise import ObjectWindows, accumulate
from tests.generator.render.phantoms import imaging_kw, phantom


def test_scatter_fills_in_dense_metal_and_leaves_a_faint_halo(device):
    img = phantom(device=device)
    tau = torch.zeros_like(img)
    tau[:, :, 60:80, 10:30] = 50.0  # 9 mm of lead: no primary gets through
    sharp = composite_attenuation(img, tau, **imaging_kw(2, device))
    kw = imaging_kw(2, device, scatter_fraction=torch.full((2,), 0.3), scatter_sigma_px=torch.full((2, 2), 10.0))
    scattered = composite_attenuation(img, tau, **kw)
    centre_sharp = float(sharp[0, 0, 70, 20] - img[0, 0, 70, 20])
    centre = float(scattered[0, 0, 70, 20] - img[0, 0, 70, 20])
    assert centre_sharp == pytest.approx(0.7, abs=1e-3)  # up to the film's brightest pixel (0.9)
    assert 0.3 < centre < centre_sharp - 0.1  # scatter fills in under the metal
    halo = float(scattered[0, 0, 90, 20] - img[0, 0, 90, 20])  # 10 px (one sigma) below the block
    assert float(sharp[0, 0, 90, 20] - img[0, 0, 90, 20]) == 0.0
    assert 0.003 < halo < 0.05  # faint, never a bright blob


def test_windowed_optical_depth_gives_the_same_image_as_whole_images(device):
    h, w = 98, 94  # partial 4 x 4 cells at the bottom and the right
    img = 0.2 + 0.05 * torch.rand(3, 1, h, w, generator=torch.Generator().manual_seed(0)).to(device)
    img[:, :, :, 60:72] = 0.8  # a bright band (the spine) sets the films' intensity scale
    # A block inside image 0; one hanging over image 1's bottom-right corner; image 2 empty.
    tau = torch.zeros(2, 1, 24, 24, device=device)
    tau[0] = 2.0  # fills its window: the glow reaches as far as it can
    tau[1, :, 4:20, 6:18] = 0.7
    sharp, r = psf_windows(tau, psf_taps(torch.full((2, 2), 0.8, device=device)))
    steps = torch.arange(-r, 24 + r, device=device)
    first = torch.tensor([[40, 10], [85, 80]], device=device)  # window origin (row, col)
    windows = [ObjectWindows(sharp[:, 0], first[:, :1] + steps, first[:, 1:] + steps,
                             torch.tensor([0, 1], device=device), torch.tensor([0, 0], device=device))]
    fraction = torch.tensor([0.3, 0.2, 0.1], device=device)
    scatter_px = torch.tensor([[6.0, 5.0], [3.0, 4.0], [6.0, 6.0]], device=device)
    kw = dict(levels=display_levels(img), water_equiv_mm=torch.full((3,), 50.0, device=device),
              noise_sigma=torch.full((3,), 0.01, device=device), noise_seed=torch.tensor([3, 4, 5], device=device))
    whole_depth = OpticalDepth(accumulate(windows, 3, h, w, "sum", device), fraction, scatter_px)
    whole = attenuate(img.clone(), whole_depth, **kw)
    windowed = attenuate(img.clone(), WindowedOpticalDepth(windows, h, w, fraction, scatter_px), **kw)
    assert float((whole - windowed).abs().max()) < 1e-5
    # The optical depth itself, where the display mapping does not compress it: the boxes hold
    # every pixel the glow reaches.
    dense = next(OpticalDepth(accumulate(windows, 3, h, w, "sum", device), fraction, scatter_px).regions())[-1]
    boxed = torch.zeros_like(dense)
    for i, rows, cols, tau in WindowedOpticalDepth(windows, h, w, fraction, scatter_px).regions():
        boxed[i, :, rows, cols] = tau
    assert float((dense - boxed).abs().max()) < 1e-6 * float(dense.max())
    assert float(dense[2].abs().max()) == 0.0
    assert float((whole[0] - img[0]).abs().max()) > 0.3  # the objects are there
    assert float((whole[1, :, 90:, 88:] - img[1, :, 90:, 88:]).mean()) > 0.05
    below = (slice(None), slice(40 + 24 + 2 * r + 2, 40 + 24 + 2 * r + 10), slice(10 + r + 2, 10 + r + 22))
    no_scatter = attenuate(img.clone(), WindowedOpticalDepth(windows, h, w, torch.zeros(3, device=device), scatter_px),
                           **kw)
    halo = windowed[0][below] - no_scatter[0][below]  # the same noise: the glow alone
    assert float(halo.min()) > 0.0 and 0.001 < float(halo.mean()) and float(halo.max()) < 0.02  # past the window, faint


def _edge_width_px(row: np.ndarray) -> float:
    lo, hi = row.min(), row.max()
    t10, t90 = lo + 0.1 * (hi - lo), lo + 0.9 * (hi - lo)
    return float(np.argmax(row >= t90) - np.argmax(row >= t10))


def test_psf_widens_the_edge(device):
    img = torch.full((2, 1, 64, 64), 0.2, device=device)
    img[:, :, :8, :8] = 0.9
    tau = torch.zeros_like(img)
    tau[:, :, 20:44, 32:] = 1.0
    psf_px = torch.tensor([[0.3, 0.3], [3.0, 3.0]])
    sharp = composite_attenuation(img, tau, **imaging_kw(2, device, psf_sigma_px=psf_px))
    rows = sharp[:, 0, 32, 16:48].cpu().numpy()
    assert _edge_width_px(rows[1]) > _edge_width_px(rows[0]) + 3


def test_whole_image_glow_is_the_windowed_paths_matrix_blur_and_upsampling(device):
    """Kornia's separable filter with our per-image taps and its bilinear resize give the
    products of the hand-written matrices the windowed path uses, up to float rounding."""
    cells = torch.rand(3, 1, 25, 24, generator=torch.Generator().manual_seed(4)).to(device)
    wide_px = torch.tensor([[1.2, 2.5], [4.0, 0.6], [0.3, 3.0]], device=device)  # (B, 2) row, col cells
    r = widest_cut_px(wide_px)
    blurred = glow_blur(cells, wide_px)
    expected = gauss_matrix(25, wide_px[:, 0], r) @ cells[:, 0] @ gauss_matrix(24, wide_px[:, 1], r)
    torch.testing.assert_close(blurred[:, 0], expected, rtol=0, atol=1e-6)
    alone = glow_blur(cells[2:], wide_px[2:])  # narrower taps in a batch of its own
    torch.testing.assert_close(blurred[2:], alone, rtol=0, atol=1e-6)
    h, w = 98, 94  # partial last cells
    up = glow_upsample(blurred, h, w)
    assert up.shape == (3, 1, h, w)
    rows, cols = upsample_matrix(h, 4, cells.device)[:h], upsample_matrix(w, 4, cells.device)[:w]
    torch.testing.assert_close(up[:, 0], rows @ blurred[:, 0] @ cols.T, rtol=0, atol=1e-6)
