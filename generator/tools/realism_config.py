"""The settings of `radiopaque realism` and its discriminator, apart from the code that runs
them: this module imports nothing heavy, so the command's parser can show their defaults
without importing torch."""

from __future__ import annotations

from dataclasses import dataclass

CROP_MM = 24.0
CROP_PX = 32


@dataclass(frozen=True, kw_only=True)
class DiscriminatorConfig:
    epochs: int = 40
    folds: int = 5
    repeats: int = 3  # seeds seed, seed + 1, ...: spread of the AUROC
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    width: int = 16  # channels of the first conv layer (then 2x, 4x)
    bootstrap: int = 1000  # patient-bootstrap resamples for the 95 % interval

    def __post_init__(self):
        for name in ("epochs", "folds", "repeats", "batch_size", "width"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
        if self.folds < 2:
            raise ValueError(f"folds: expected >= 2, got {self.folds}")



@dataclass(frozen=True, kw_only=True)
class RealismConfig:
    data: str
    n_images: int = 60
    seed: int = 0
    crop_mm: float = CROP_MM  # side of every crop, real and synthetic alike
    crop_px: int = CROP_PX
    discriminator: DiscriminatorConfig = DiscriminatorConfig()

    def __post_init__(self):
        if self.n_images < 1:
            raise ValueError(f"n_images: expected >= 1, got {self.n_images}")
        if self.seed < 0:
            raise ValueError(f"seed: expected >= 0, got {self.seed}")
        if not self.crop_mm > 0:
            raise ValueError(f"crop_mm: expected > 0, got {self.crop_mm}")
        if self.crop_px < 8 or self.crop_px % 4:
            raise ValueError(f"crop_px: expected a multiple of 4 >= 8, got {self.crop_px}")
