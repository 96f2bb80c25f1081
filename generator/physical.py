"""The physical style (`--style physical`, the default): parametric 3-D solids with real
dimensions and materials, placed by anatomical priors, composited in the attenuation domain.

Spec side: one sampler per class (generator/bodies/<class>.py) draws an object's solid,
size, material, 3-D pose and anatomical position; `sample_imaging` draws the per-image
imaging parameters below. Render side: shape kernels (generator/bodies/solids.py) give
each object's optical depth mu * t; `accumulate(..., "sum")` adds overlapping objects
along the beam; `composite` (generator/composite.py) maps it into the image.

Imaging parameters (stored in the spec's `imaging`):
| name              | range            | meaning / source                                         |
|-------------------|------------------|----------------------------------------------------------|
| water_equiv_mm    | 30-70            | k calibration: the image's dark-to-brightest-anatomy span |
|                   |                  | equals this much water (processed CR/DR compresses the   |
|                   |                  | raw 150-250 mm lung-to-spine difference; checked with    |
|                   |                  | `radiopaque realism` against real metal on cxr-nih)      |
| psf_sigma_mm      | 0.10-0.35        | detector PSF: CR/DR presampling MTF50 of about 1.5-3      |
|                   |                  | lp/mm (IEC 62220-1 measurements) ~ Gaussian sigma        |
| scatter_fraction  | 0.0-0.15         | share of the object signal spread as scatter glow (grid  |
|                   |                  | chest technique: scatter-to-primary ~0.2-0.5 behind a grid)|
| scatter_sigma_mm  | 5-20             | width of the scatter glow                                |
| noise_sigma       | 0.002-0.010      | quantum noise s.d. in display units (8-bit CXR: 0.5-2.5 LSB)|
| noise_seed        | 0 .. 2^31-1      | counter-based noise stream (same on CPU and CUDA)        |
| spacing_row_mm,   | the image's      | converts the mm parameters to pixels at render time      |
| spacing_col_mm    | spacing          |                                                          |
"""

from __future__ import annotations

import numpy as np
import torch

from generator.bodies.base import PlacementContext
from generator.bodies.blade import sample_blade
from generator.bodies.bullet import sample_bullet
from generator.bodies.button_battery import sample_button_battery
from generator.bodies.coin import sample_coin
from generator.bodies.jewellery import sample_jewellery_clothing
from generator.bodies.magnets import sample_magnets
from generator.bodies.pin_needle import sample_pin_needle
from generator.bodies.shrapnel import sample_shrapnel
from generator.composite import composite_attenuation

SAMPLERS = {
    "coin": sample_coin,
    "button_battery": sample_button_battery,
    "magnets": sample_magnets,
    "bullet": sample_bullet,
    "shrapnel": sample_shrapnel,
    "pin_needle": sample_pin_needle,
    "blade": sample_blade,
    "jewellery_clothing": sample_jewellery_clothing,
}
FIELD_REDUCE = "sum"  # optical depths add along the beam
# Optical depth above which a pixel belongs to an object: 0.02 is 0.02 mm of steel or 1 mm of
# water, below what a reader can see, so masks cover the whole visible object.
MASK_THRESHOLD = 0.02

RANGES = {
    "water_equiv_mm": (30.0, 70.0),
    "psf_sigma_mm": (0.10, 0.35),
    "scatter_fraction": (0.0, 0.15),
    "scatter_sigma_mm": (5.0, 20.0),
    "noise_sigma": (0.002, 0.010),
}


def sample_imaging(rng: np.random.Generator, ctx: PlacementContext) -> dict[str, float]:
    out = {name: float(rng.uniform(lo, hi)) for name, (lo, hi) in RANGES.items()}
    out["noise_seed"] = int(rng.integers(0, 2**31 - 1))
    out["spacing_row_mm"], out["spacing_col_mm"] = float(ctx.spacing_mm[0]), float(ctx.spacing_mm[1])
    return out


def _column(imaging: list[dict], name: str, device) -> torch.Tensor:
    return torch.tensor([float(im[name]) for im in imaging], dtype=torch.float32, device=device)


def composite(images: torch.Tensor, field: torch.Tensor, imaging: list[dict]) -> torch.Tensor:
    """images, field: (B, 1, H, W); imaging: per image, the dict from `sample_imaging`."""
    dev = images.device
    spacing = torch.stack([_column(imaging, "spacing_row_mm", dev), _column(imaging, "spacing_col_mm", dev)], 1)
    return composite_attenuation(
        images,
        field,
        water_equiv_mm=_column(imaging, "water_equiv_mm", dev),
        psf_sigma_px=_column(imaging, "psf_sigma_mm", dev)[:, None] / spacing,
        scatter_fraction=_column(imaging, "scatter_fraction", dev),
        scatter_sigma_px=_column(imaging, "scatter_sigma_mm", dev)[:, None] / spacing,
        noise_sigma=_column(imaging, "noise_sigma", dev),
        noise_seed=torch.tensor([int(im["noise_seed"]) for im in imaging], dtype=torch.int64, device=dev),
    )
