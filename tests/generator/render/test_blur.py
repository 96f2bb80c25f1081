"""Gaussian taps cut at each object's own 3 sigma, blurs as matrices or shifted adds, and the
linear upsampling matrix, each against the plain torch operation it stands for."""

import pytest
import torch
import torch.nn.functional as F

from generator.render.blur import (
    cut_px,
    gauss_matrix,
    gauss_taps,
    psf_taps,
    shifted_blur,
    upsample_matrix,
    widest_cut_px,
)


def test_taps_are_cut_at_each_objects_own_three_sigma(device):
    sigma = torch.tensor([0.3, 1.0, 2.5], device=device)
    assert cut_px(sigma).tolist() == [1.0, 3.0, 8.0]
    assert widest_cut_px(sigma) == 8
    taps = gauss_taps(sigma, 8)  # (3, 17)
    assert taps.shape == (3, 17)
    torch.testing.assert_close(taps.sum(1), torch.ones(3, device=device))
    offsets = torch.arange(-8, 9, device=device)
    for i, cut in enumerate((1, 3, 8)):
        assert bool((taps[i, offsets.abs() > cut] == 0).all()) and bool((taps[i, offsets.abs() <= cut] > 0).all())
        alone = gauss_taps(sigma[i : i + 1], cut)[0]  # the same object in a batch of its own
        torch.testing.assert_close(taps[i, 8 - cut : 9 + cut], alone, rtol=0, atol=1e-7)
        assert torch.equal(taps[i], taps[i].flip(0))
    assert psf_taps(torch.tensor([[0.3, 1.0]], device=device)).shape == (1, 2, 7)


def _conv_rows(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Zero-padded per-object 1-D convolution along the last axis: x (N, h, w), taps (N, K)."""
    n, r = x.shape[0], (taps.shape[1] - 1) // 2
    out = F.conv1d(F.pad(x, (r, r)).reshape(1, -1, x.shape[2] + 2 * r), taps.repeat_interleave(x.shape[1], 0)[:, None],
                   groups=n * x.shape[1])
    return out.view_as(x)


def test_gauss_matrix_is_a_zero_padded_convolution_and_its_blocks_are_smaller_ones(device):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 5, 30, generator=g).to(device)
    sigma = torch.tensor([0.8, 2.0], device=device)
    m = gauss_matrix(30, sigma, 6)  # (2, 30, 30)
    expected = _conv_rows(x, gauss_taps(sigma, 6))
    torch.testing.assert_close(x @ m.transpose(1, 2), expected, rtol=0, atol=1e-6)
    assert torch.equal(m, m.transpose(1, 2))
    torch.testing.assert_close(gauss_matrix(12, sigma, 6), m[:, :12, :12], rtol=0, atol=0)


def test_shifted_blur_is_the_separable_zero_padded_convolution(device):
    g = torch.Generator().manual_seed(2)
    x = torch.rand(3, 20, 17, generator=g).to(device)
    taps = psf_taps(torch.tensor([[0.4, 0.9], [1.2, 0.3], [0.6, 0.6]], device=device))  # (3, 2, 2 r + 1)
    r = (taps.shape[-1] - 1) // 2
    got = shifted_blur(F.pad(x, (r,) * 4), taps, r)
    expected = _conv_rows(_conv_rows(x, taps[:, 1]).transpose(1, 2), taps[:, 0]).transpose(1, 2)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("n", [16, 18, 23, 1])
def test_upsample_matrix_is_bilinear_upsampling_by_the_factor(device, n):
    """Cell centres back to pixels with align_corners=False, scale exactly 1/4 even where the
    last cell is partial (rows past the image are zero)."""
    small = -(-n // 4)
    cells = torch.rand(1, 1, small, 3, generator=torch.Generator().manual_seed(n)).to(device)
    m = upsample_matrix(n, 4, device)
    assert m.shape == (4 * small, small)
    assert bool((m[n:] == 0).all())
    expected = F.interpolate(cells, scale_factor=(4, 1), mode="bilinear", align_corners=False)[0, 0, :n]
    torch.testing.assert_close(m[:n] @ cells[0, 0], expected, rtol=0, atol=1e-6)
