"""Counter-based quantum noise: a pure function of seed and pixel, built from bank tiles."""

import pytest
import torch

from generator.render import noise
from generator.render.noise import add_noise, counter_normal


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
    for stream, side in enumerate(noise._NOISE_TILES):
        bank = noise._hashed_normal(torch.arange(noise._NOISE_BANK), side, side * side)
        h = noise._mix32(seeds ^ (0x5BD1E995 * (stream + 1) & noise._MASK32))
        h2 = noise._mix32(h ^ 0x27D4EB2F)
        for i, (t, a, c) in enumerate(zip((h % noise._NOISE_BANK).tolist(), (h2 % side).tolist(),
                                          ((h2 >> 16) % side).tolist())):
            tile = bank[t].view(side, side).double()
            rows = (torch.arange(height) + a) % side
            cols = (torch.arange(width) + c) % side
            expected[i] += tile[rows][:, cols]
    got = counter_normal(seeds.to(device), height, width)[:, 0].cpu().double()
    torch.testing.assert_close(got, expected / 2**0.5, rtol=0, atol=1e-6)


def test_noise_tiles_by_views_and_by_gather_agree(device):
    """Both algorithms run on every device (the CPU included); each device defaults to one."""
    seeds = torch.tensor([3, 77, 2**31 + 5, 9], dtype=torch.int64, device=device)
    for stream, side in enumerate(noise._NOISE_TILES):
        views = noise._noise_tiles(seeds, stream, side, gather=False)
        assert torch.equal(views, noise._noise_tiles(seeds, stream, side, gather=True))
        assert torch.equal(views, noise._noise_tiles(seeds, stream, side))
        assert views.shape == (4, side, side)


def test_add_noise_scales_by_sigma_in_place_or_into_a_new_tensor(device):
    images = torch.full((2, 1, 140, 133), 0.5, device=device)  # past both tile sides: the partial rows too
    sigma = torch.tensor([0.01, 0.0], device=device)
    seeds = torch.tensor([4, 4], device=device)
    fresh = add_noise(images, sigma, seeds)
    assert torch.equal(images, torch.full_like(images, 0.5))  # a new tensor by default
    torch.testing.assert_close(fresh[0] - 0.5, 0.01 * counter_normal(seeds[:1], 140, 133)[0], rtol=0, atol=1e-6)
    assert torch.equal(fresh[1], images[1])  # sigma 0: unchanged
    assert add_noise(images, sigma, seeds, out=images) is images
    assert torch.equal(images, fresh)
