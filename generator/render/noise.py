"""Quantum noise for compositing (step 4): N(0, sigma^2) per pixel, a pure function of
(noise_seed, pixel), identical on CPU and CUDA and independent of batch composition.

Seeds are (B,) int64 in [0, 2^32); images (B, 1, H, W) float32.
"""

from __future__ import annotations

import math

import torch

_MASK32 = 0xFFFFFFFF
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
    rows and columns by its hash. gather=False: one copy of shifted views (the CPU's way;
    it reads the picks on the host); gather=True: one gather, with no host sync (the GPU's
    way); None: the device's way. Both give the same tiles."""
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
