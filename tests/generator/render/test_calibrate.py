"""Intensity calibration: the display levels (torch and numpy, the same floats) and the gain k."""

import numpy as np
import pytest
import torch

from generator.bodies.materials import mu_per_mm
from generator.render.calibrate import attenuation_gain, display_levels, display_levels_np, intensity_scale


def _torch_levels(img: np.ndarray) -> tuple[float, float, float]:
    return tuple(float(v) for v in display_levels(torch.from_numpy(img)[None, None]))


@pytest.mark.parametrize("shape", [(390, 320), (1024, 1024), (37, 53), (4, 4), (1, 1), (5, 2)])
def test_equals_torch_on_random_images(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(5):
        img = rng.random(shape, dtype=np.float32) ** rng.uniform(0.3, 3.0)
        assert display_levels_np(img) == _torch_levels(img)


def test_equals_torch_with_ties_constant_regions_and_out_of_range_values():
    rng = np.random.default_rng(0)
    img = (np.round(rng.random((390, 320)) * 12) / 12).astype(np.float32)  # 13 levels: many ties
    img[:100] = 0.0  # constant regions: dark quantile on a tie
    img[-40:] = 0.75
    assert display_levels_np(img) == _torch_levels(img)
    flat = np.full((64, 48), 0.3, dtype=np.float32)
    assert display_levels_np(flat) == _torch_levels(flat)
    clipped = rng.random((200, 160), dtype=np.float32) * np.float32(1.4) - np.float32(0.2)  # clamped before binning
    assert display_levels_np(clipped) == _torch_levels(clipped)


def test_rounds_half_to_even_like_torch():
    # values whose float32 code is exactly k + 0.5: torch.round sends them to the even neighbour
    k = np.arange(1023)
    v = ((k + 0.5) / 1023).astype(np.float32)
    exact = v * np.float32(1023) == (k + 0.5).astype(np.float32)
    halves, even = v[exact], k[exact] % 2 == 0
    assert even.sum() > 50 and (~even).sum() > 50
    for value, code in [(halves[even][7], k[exact][even][7]), (halves[~even][7], k[exact][~even][7])]:
        img = np.full((40, 40), value, dtype=np.float32)
        levels = display_levels_np(img)
        assert levels == _torch_levels(img)
        assert levels[0] == float(np.float32(code + code % 2) / np.float32(1023))
    img = np.resize(np.random.default_rng(1).permutation(halves), (96, 80)).astype(np.float32)
    for arranged in (img, img[::-1], np.sort(img, axis=None).reshape(img.shape)):
        arranged = np.ascontiguousarray(arranged)
        assert display_levels_np(arranged) == _torch_levels(arranged)


def test_rejects_batched_input():
    with pytest.raises(ValueError, match=r"expected \(H, W\)"):
        display_levels_np(np.zeros((1, 8, 8), dtype=np.float32))


def test_intensity_scale_is_the_bin_centre_of_the_quantiles_of_every_fourth_pixel(device):
    img = torch.full((2, 1, 200, 160), 0.2, device=device)
    img[0, :, :, 80:] = 0.7  # half the subsampled pixels: dark end 0.2, bright end 0.7
    img[1] = torch.linspace(0.0, 1.0, 200 * 160, device=device).view(1, 200, 160)
    img[1, :, 1::4] = 5.0  # rows the stride never reads
    dark, bright = intensity_scale(img)
    assert dark.shape == bright.shape == (2,)
    assert float(dark[0]) == pytest.approx(0.2, abs=1 / 2046) and float(bright[0]) == pytest.approx(0.7, abs=1 / 2046)
    sub = img[1, 0, ::4, ::4].flatten().sort().values.cpu()
    last = sub.numel() - 1
    for got, q in ((dark[1], 0.02), (bright[1], 0.995)):
        assert float(got) == pytest.approx(float(sub[round(q * last)]), abs=1 / 2046)
    _, _, peak = display_levels(img)
    assert torch.equal(peak.cpu(), torch.tensor([0.7, 5.0]))  # the brightest pixel, every pixel read


def test_attenuation_gain_maps_the_span_to_water_equiv_mm():
    k = attenuation_gain(torch.tensor([0.2, 0.5]), torch.tensor([0.8, 0.52]), torch.tensor([50.0, 50.0]))
    water = mu_per_mm("water")
    torch.testing.assert_close(k, torch.tensor([0.6, 0.05]) / (water * 50.0))  # a flat film: at least 0.05
