"""Training augmentation on batched tensors with Kornia (same code on CPU and GPU).

Input and output: (B, 1, H, W) float32 in [0, 1]. Geometric: small rotation, shift and
scale (one affine). Photometric: brightness and contrast. Flips only when asked: a
horizontal flip swaps left and right, and for classes tied to anatomy side (a left-sided
finding, situs) it changes the label's meaning, so `hflip` defaults to off.

Kornia draws its parameters from torch's global generators only (it takes no generator), so
the trainer runs each call under `trainer.rng.forked_rng`, seeded per (seed, epoch, rank,
step): the output is a function of that seed, and the process's RNG is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True, kw_only=True)
class AugmentConfig:
    rotation_deg: float = 7.0
    shift_fraction: float = 0.05
    scale_range: tuple[float, float] = (0.9, 1.1)
    brightness: float = 0.1  # factor range 1 +- brightness
    contrast: float = 0.1
    hflip: bool = False
    vflip: bool = False
    p: float = 0.8


def build_augment(cfg: AugmentConfig = AugmentConfig()) -> nn.Module:
    """A module mapping (B, 1, H, W) -> (B, 1, H, W), random per sample."""
    import kornia.augmentation as K

    ops: list[nn.Module] = [
        K.RandomAffine(degrees=cfg.rotation_deg, translate=(cfg.shift_fraction, cfg.shift_fraction),
                       scale=cfg.scale_range, padding_mode="border", p=cfg.p),
        K.RandomBrightness(brightness=(1 - cfg.brightness, 1 + cfg.brightness), p=cfg.p),
        K.RandomContrast(contrast=(1 - cfg.contrast, 1 + cfg.contrast), p=cfg.p),
    ]
    if cfg.hflip:
        ops.append(K.RandomHorizontalFlip(p=0.5))
    if cfg.vflip:
        ops.append(K.RandomVerticalFlip(p=0.5))
    return _Clamp01(nn.Sequential(*ops))


class _Clamp01(nn.Module):
    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"expected (B, 1, H, W), got {tuple(x.shape)}")
        return self.inner(x).clamp(0.0, 1.0)


def mixup(images: torch.Tensor, targets: torch.Tensor, alpha: float, generator: torch.Generator):
    """MixUp (Zhang et al. 2018): `(mixed images, targets_b, lam)`; the loss is
    lam * loss(targets) + (1 - lam) * loss(targets_b). One lam per batch from Beta(alpha, alpha);
    lam and the pairing are drawn from `generator` only."""
    lam = 1.0
    if alpha > 0:
        # torch's Beta sampler takes no generator: numpy draws lam, seeded from `generator`.
        lam = float(np.random.default_rng(int(torch.randint(2**62, (), generator=generator))).beta(alpha, alpha))
    perm = torch.randperm(images.shape[0], generator=generator).to(images.device)
    return lam * images + (1 - lam) * images[perm], targets[perm], lam
