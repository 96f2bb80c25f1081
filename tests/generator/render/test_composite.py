"""Attenuation-domain compositing: calibration, saturation, blur, noise."""

import numpy as np
import pytest
import torch

from generator.render import composite
from generator.render.composite import composite_attenuation, counter_normal, intensity_scale


def _phantom(b=2, h=96, w=96, device=torch.device("cpu")):
    """Dark lungs (0.2) beside a bright spine band (0.8), a few brighter bone pixels (0.9)."""
    img = torch.full((b, 1, h, w), 0.2, device=device)
    img[:, :, :, 40:56] = 0.8
    img[:, :, 0:8, 44:52] = 0.9
    return img


def _kw(b, device, **over):
    kw = dict(water_equiv_mm=torch.full((b,), 60.0), psf_sigma_px=torch.full((b, 2), 0.5),
              scatter_fraction=torch.zeros(b), scatter_sigma_px=torch.full((b, 2), 10.0),
              noise_sigma=torch.zeros(b), noise_seed=torch.arange(b, dtype=torch.int64))
    kw.update(over)
    return {k: v.to(device) for k, v in kw.items()}


def test_noise_is_a_pure_function_of_seed_and_pixel(device):
    a = counter_normal(torch.tensor([7, 8], device=device), 64, 80)
    alone = counter_normal(torch.tensor([8], device=device), 64, 80)
    assert torch.equal(a[1], alone[0])  # independent of the rest of the batch
    assert not torch.allclose(a[0], a[1])
    z = counter_normal(torch.arange(4, device=device), 256, 256).flatten().cpu()
    assert abs(float(z.mean())) < 0.01 and abs(float(z.std()) - 1.0) < 0.02


@pytest.mark.parametrize("height, width", [(300, 270), (64, 80), (131, 127)])
def test_noise_is_two_cyclically_shifted_bank_tiles(device, height, width):
    """The documented construction, written out with explicit modulo indexing: pixel (r, c)
    is (t1[(r + a1) % 127, (c + b1) % 127] + t2[(r + a2) % 131, (c + b2) % 131]) / sqrt(2)."""
    seeds = torch.tensor([0, 12345, 2**32 - 1], dtype=torch.int64)
    expected = torch.zeros(3, height, width, dtype=torch.float64)
    for stream, side in enumerate(composite._NOISE_TILES):
        bank = composite._hashed_normal(torch.arange(composite._NOISE_BANK), side, side * side)
        h = composite._mix32(seeds ^ (0x5BD1E995 * (stream + 1) & composite._MASK32))
        h2 = composite._mix32(h ^ 0x27D4EB2F)
        for i, (t, a, c) in enumerate(zip((h % composite._NOISE_BANK).tolist(), (h2 % side).tolist(),
                                          ((h2 >> 16) % side).tolist())):
            tile = bank[t].view(side, side).double()
            rows = (torch.arange(height) + a) % side
            cols = (torch.arange(width) + c) % side
            expected[i] += tile[rows][:, cols]
    got = counter_normal(seeds.to(device), height, width)[:, 0].cpu().double()
    torch.testing.assert_close(got, expected / 2**0.5, rtol=0, atol=1e-6)


def test_noise_tiles_by_views_and_by_gather_agree(device):
    seeds = torch.tensor([3, 77, 2**31 + 5, 9], dtype=torch.int64, device=device)
    for stream, side in enumerate(composite._NOISE_TILES):
        views = composite._noise_tiles(seeds, stream, side, gather=False)
        assert torch.equal(views, composite._noise_tiles(seeds, stream, side, gather=True))
        assert views.shape == (4, side, side)


def test_dense_metal_reaches_but_never_exceeds_the_brightest_anatomy(device):
    img = _phantom(device=device)
    tau = torch.zeros_like(img)
    tau[0, :, 60:80, 10:30] = 50.0  # 10 mm of lead: saturating
    out = composite_attenuation(img, tau, **_kw(2, device))
    assert float(out[0, 0, 65:75, 15:25].min()) == pytest.approx(float(img[0].max()), abs=1e-3)
    assert float(out.max()) <= float(img.max()) + 1e-6


def test_a_coin_over_bright_anatomy_stays_visible(device):
    img = _phantom(device=device)
    img[:, :, 0:8, 44:52] = 0.8
    img[:, :, 0:2, 44:46] = 0.95  # a few very bright pixels: above the 99.5 % quantile (0.8)
    tau = torch.zeros_like(img)
    tau[0, :, 60:80, 42:54] = 1.394 * 1.75  # a copper-nickel coin over the spine band (0.8)
    out = composite_attenuation(img, tau, **_kw(2, device))
    assert float(intensity_scale(img)[1][0]) == pytest.approx(0.8, abs=1 / 2046)  # histogram bin centre
    # headroom up to the film's brightest pixel (0.95): the coin takes most of it
    assert float(out[0, 0, 70, 48] - img[0, 0, 70, 48]) > 0.1


def test_plastic_stays_faint_and_metal_does_not(device):
    img = _phantom(device=device)
    tau = torch.zeros_like(img)
    tau[0, :, 60:80, 10:30] = 0.0229 * 3.0  # 3 mm plastic
    tau[1, :, 60:80, 10:30] = 1.394 * 1.75  # a copper-nickel coin
    out = composite_attenuation(img, tau, **_kw(2, device))
    gain_plastic = float(out[0, 0, 70, 20] - img[0, 0, 70, 20])
    gain_coin = float(out[1, 0, 70, 20] - img[1, 0, 70, 20])
    span = 0.9 - 0.2
    assert 0.0 < gain_plastic < 0.08 * span  # a few percent of the display span: faint
    assert gain_coin > 0.6 * span


def test_negatives_get_the_same_noise_as_positives_away_from_objects(device):
    img = _phantom(device=device)
    tau = torch.zeros_like(img)
    tau[1, :, 60:70, 10:20] = 2.0
    kw = _kw(2, device, noise_sigma=torch.full((2,), 0.01), noise_seed=torch.tensor([5, 5]))
    out = composite_attenuation(img, tau, **kw)
    assert torch.equal(out[0, :, :40], out[1, :, :40])  # same seed, same pipeline
    assert float((out[0] - img[0]).std()) == pytest.approx(0.01, rel=0.15)


def test_scatter_fills_in_dense_metal_and_leaves_a_faint_halo(device):
    img = _phantom(device=device)
    tau = torch.zeros_like(img)
    tau[:, :, 60:80, 10:30] = 50.0  # 9 mm of lead: no primary gets through
    sharp = composite_attenuation(img, tau, **_kw(2, device))
    kw = _kw(2, device, scatter_fraction=torch.full((2,), 0.3), scatter_sigma_px=torch.full((2, 2), 10.0))
    scattered = composite_attenuation(img, tau, **kw)
    centre_sharp = float(sharp[0, 0, 70, 20] - img[0, 0, 70, 20])
    centre = float(scattered[0, 0, 70, 20] - img[0, 0, 70, 20])
    assert centre_sharp == pytest.approx(0.7, abs=1e-3)  # up to the film's brightest pixel (0.9)
    assert 0.3 < centre < centre_sharp - 0.1  # scatter fills in under the metal
    halo = float(scattered[0, 0, 90, 20] - img[0, 0, 90, 20])  # 10 px (one sigma) below the block
    assert float(sharp[0, 0, 90, 20] - img[0, 0, 90, 20]) == 0.0
    assert 0.003 < halo < 0.05  # faint, never a bright blob


def test_windowed_optical_depth_gives_the_same_image_as_whole_images(device):
    from generator.render.rasterise import ObjectWindows, accumulate

    OpticalDepth, WindowedOpticalDepth, attenuate = (composite.OpticalDepth, composite.WindowedOpticalDepth,
                                                     composite.attenuate)
    display_levels, psf_taps, psf_windows = composite.display_levels, composite.psf_taps, composite.psf_windows

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
    whole = attenuate(img.clone(), OpticalDepth(accumulate(windows, 3, h, w, "sum", device), fraction, scatter_px), **kw)
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
    sharp = composite_attenuation(img, tau, **_kw(2, device, psf_sigma_px=torch.tensor([[0.3, 0.3], [3.0, 3.0]])))
    rows = sharp[:, 0, 32, 16:48].cpu().numpy()
    assert _edge_width_px(rows[1]) > _edge_width_px(rows[0]) + 3


def test_shape_errors_say_what_they_got():
    with pytest.raises(ValueError, match=r"got \(2, 64, 64\)"):
        composite_attenuation(torch.zeros(2, 64, 64), torch.zeros(2, 64, 64), **_kw(2, torch.device("cpu")))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
def test_cpu_and_cuda_composite_agree():
    img = _phantom()
    tau = torch.zeros_like(img)
    tau[:, :, 60:80, 10:30] = 1.3
    kw = dict(noise_sigma=torch.full((2,), 0.01), scatter_fraction=torch.full((2,), 0.1))
    a = composite_attenuation(img, tau, **_kw(2, torch.device("cpu"), **kw))
    b = composite_attenuation(img.cuda(), tau.cuda(), **_kw(2, torch.device("cuda"), **kw)).cpu()
    assert float((a - b).abs().max()) < 1e-4
