"""The numpy display levels give exactly the floats of composite.display_levels."""

import numpy as np
import pytest
import torch

from generator.render.composite import display_levels
from generator.render.levels import display_levels_np


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
