"""The physical style (`--style physical`, the default): parametric 3-D solids with real
dimensions and materials, placed by anatomical priors, composited in the attenuation domain.

Spec side: one sampler per class (generator/bodies/<class>.py, listed in
generator/bodies/physical.py) draws an object's solid, size, material, 3-D pose and
anatomical position; `sample_imaging` here draws the per-image imaging parameters below.
Render side: shape kernels (generator/shapes/<kind>.py) give
each object's optical depth mu * t on its own window; `composite` spreads each window
(detector blur, scatter glow), adds overlapping objects along the beam and maps the sum
into the image (generator/render/attenuate.py).

Imaging parameters (stored in the spec's `imaging`):
| name              | range            | meaning / source                                         |
|-------------------|------------------|----------------------------------------------------------|
| water_equiv_mm    | 30-70            | k calibration: the image's dark-to-brightest-anatomy span |
|                   |                  | equals this much water (processed CR/DR compresses the   |
|                   |                  | raw 150-250 mm lung-to-spine difference; checked with    |
|                   |                  | `radiopaque realism` against real metal on cxr-nih)      |
| psf_sigma_mm      | 0.10-0.35        | detector PSF: CR/DR presampling MTF50 of about 1.5-3      |
|                   |                  | lp/mm (IEC 62220-1 measurements) ~ Gaussian sigma        |
| resample_sigma_px | sqrt(1/6), fixed | the film's own resize to output size: an anti-aliased    |
|                   | (0 in specs made | linear (triangle, +-1 output px) filter, variance 1/6    |
|                   | before it, and   | px^2; the film's structures went through it, the object  |
|                   | for a film kept  | is drawn at output size, so it gets the same blur, added |
|                   | at its size)     | in quadrature to the PSF (`prepare.resize_to`)           |
| source_sigma_     | 0, or stored     | a resize the film went through before it reached us: a   |
| row_mm, _col_mm   | pitch / sqrt(6)  | stored pitch coarser than a detector's own (> 0.2 mm per |
|                   | per axis (absent | axis, e.g. NIH ChestX-ray14's 1024 px PNGs at 0.3-0.45   |
|                   | in specs made    | mm) was resampled; modelled as our own resize is (a      |
|                   | before it: 0)    | triangle of half-width one stored pixel), added in       |
|                   |                  | quadrature (`source_resample_sigma_mm`)                  |
| scatter_fraction  | 0.10-0.40        | scatter share s of the detected signal, SPR / (1 + SPR): |
|                   |                  | grid chest technique, scatter-to-primary ratio ~0.1-0.7  |
|                   |                  | from lung to mediastinum (published PA chest measurements)|
| scatter_sigma_mm  | 5-20             | width of the scatter point-spread (its core; measured    |
|                   |                  | chest scatter kernels have long tails beyond this)      |
| noise_sigma       | 0.002-0.010      | quantum noise s.d. in display units (8-bit CXR: 0.5-2.5 LSB)|
| noise_seed        | 0 .. 2^31-1      | counter-based noise stream (same on CPU and CUDA)        |
| enh_*             | see processing   | vendor-style enhancement of the inserted increase, with  |
|                   |                  | its undershoot (`generator.render.processing`)           |
| display_dark,     | measured, not    | the source's 2 % and 99.5 % intensity quantiles and its  |
| display_bright,   | drawn            | brightest pixel (`calibrate.display_levels`): k and the  |
| display_peak      |                  | soft ceiling; measured once per source at prepare time   |
| spacing_row_mm,   | the image's      | converts the mm parameters to pixels at render time      |
| spacing_col_mm    | spacing          |                                                          |
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch

from generator.bodies.context import PlacementContext
from generator.render.attenuate import attenuate
from generator.render.blur import psf_taps
from generator.render.calibrate import display_levels
from generator.render.optical_depth import OpticalDepth, WindowedOpticalDepth, psf_windows
from generator.render.processing import processing_of, sample_processing
from generator.render.rasterise import ObjectWindows, accumulate

# Optical depth above which a pixel belongs to an object: 0.02 is 0.02 mm of steel or 1 mm of
# water, below what a reader can see, so masks cover the whole visible object.
MASK_THRESHOLD = 0.02

# How steps 1-2 (PSF and scatter) run: "whole" = `OpticalDepth` on whole images,
# "windowed" = `WindowedOpticalDepth` on one box per image, "auto" = the device's way.
OPTICAL_DEPTHS = ("auto", "whole", "windowed")

# The blur of `generator.inputs.prepare.resize_to` in output pixels (a triangle of half-width
# one output pixel has variance 1/6): a fixed value, not drawn, stored in each spec.
RESAMPLE_SIGMA_PX = (1.0 / 6.0) ** 0.5

# A stored pitch coarser than this is not a detector's own: CR plates and DR panels read chests
# at 0.10-0.20 mm (0.1, 0.139, 0.143, 0.148, 0.15, 0.16, 0.175, 0.2 mm are common), so a
# coarser file was resampled before it reached us.
NATIVE_PITCH_MAX_MM = 0.2

RANGES = {
    "water_equiv_mm": (30.0, 70.0),
    "psf_sigma_mm": (0.10, 0.35),
    "scatter_fraction": (0.10, 0.40),
    "scatter_sigma_mm": (5.0, 20.0),
    "noise_sigma": (0.002, 0.010),
}


def source_resample_sigma_mm(stored_spacing_mm: tuple[float, float] | None) -> tuple[float, float]:
    """(row, col) Gaussian sigma in mm of a resize the film went through before it reached us,
    from the pitch of the file as stored: 0 on an axis whose pitch could be a detector's own
    (<= `NATIVE_PITCH_MAX_MM`) or when the pitch is unknown (None); otherwise the same model as
    our own resize (`RESAMPLE_SIGMA_PX`): an anti-aliased linear filter of half-width one stored
    pixel, variance pitch^2 / 6. NIH ChestX-ray14 (2000-3000 px originals at 0.139-0.168 mm,
    resized to 1024 px): 0.14-0.18 mm."""
    if stored_spacing_mm is None:
        return 0.0, 0.0
    row, col = (float(p) / 6.0**0.5 if p > NATIVE_PITCH_MAX_MM else 0.0 for p in stored_spacing_mm)
    return row, col


def _resized(ctx: PlacementContext) -> bool:
    """Whether the film was resized to output size (its pitch changed); unknown counts as yes.
    A film kept at its own size went through no resize filter, so its objects get none."""
    if ctx.source_spacing_mm is None:
        return True
    return not all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(ctx.source_spacing_mm, ctx.spacing_mm))


def sample_imaging(rng: np.random.Generator, ctx: PlacementContext) -> dict[str, float]:
    out = {name: float(rng.uniform(lo, hi)) for name, (lo, hi) in RANGES.items()}
    out["noise_seed"] = int(rng.integers(0, 2**31 - 1))
    out.update(sample_processing(rng))
    out["resample_sigma_px"] = RESAMPLE_SIGMA_PX if _resized(ctx) else 0.0
    out["source_sigma_row_mm"], out["source_sigma_col_mm"] = source_resample_sigma_mm(ctx.source_spacing_mm)
    out["spacing_row_mm"], out["spacing_col_mm"] = float(ctx.spacing_mm[0]), float(ctx.spacing_mm[1])
    if ctx.display_levels is not None:
        out["display_dark"], out["display_bright"], out["display_peak"] = map(float, ctx.display_levels)
    return out


def _levels(images: torch.Tensor, imaging: list[dict]):
    """The specs' measured display levels; measured here when a spec lacks them (a context
    that did not know its image)."""
    if all("display_peak" in im for im in imaging):
        dev = images.device
        return tuple(_column(imaging, name, dev) for name in ("display_dark", "display_bright", "display_peak"))
    return display_levels(images)


def _column(imaging: list[dict], name: str, device, default: float | None = None) -> torch.Tensor:
    """(B,) float32: each spec's `name`; `default` where a spec lacks it (None: required)."""
    return torch.tensor([float(im[name] if default is None else im.get(name, default)) for im in imaging],
                        dtype=torch.float32, device=device)


def composite(images: torch.Tensor, windows: list[ObjectWindows], imaging: list[dict], *,
              optical_depth: Literal["auto", "whole", "windowed"] = "auto") -> torch.Tensor:
    """images: (B, 1, H, W) float32 [0, 1], overwritten with the result; windows: optical
    depth per object (from `render.rasterise`); imaging: per image, the dict from
    `sample_imaging`.

    optical_depth: the algorithm for the PSF and scatter, one of `OPTICAL_DEPTHS`: "whole"
    (one batched pass over whole images), "windowed" (one box per image around its objects)
    or "auto": whole on CUDA, where one batched pass beats a loop over boxes and its host
    syncs, windowed elsewhere, where most of an image holds no object. Both give the same
    image up to float rounding.
    """
    if optical_depth not in OPTICAL_DEPTHS:
        raise ValueError(f"optical_depth: got {optical_depth!r}; allowed: {', '.join(OPTICAL_DEPTHS)}")
    b, _, h, w = images.shape
    dev = images.device
    spacing = torch.stack([_column(imaging, "spacing_row_mm", dev), _column(imaging, "spacing_col_mm", dev)], 1)
    # Blur terms absent from specs made before them count as 0.
    resample_px = _column(imaging, "resample_sigma_px", dev, default=0.0)
    source_mm = torch.stack([_column(imaging, f"source_sigma_{axis}_mm", dev, default=0.0)
                             for axis in ("row", "col")], 1)  # (B, 2)
    blur_mm = torch.hypot(_column(imaging, "psf_sigma_mm", dev)[:, None], source_mm)  # (B, 2): PSF and source resize
    psf_px = torch.hypot(blur_mm / spacing, resample_px[:, None])  # (B, 2)
    scatter_px = _column(imaging, "scatter_sigma_mm", dev)[:, None] / spacing  # (B, 2)
    fraction = _column(imaging, "scatter_fraction", dev)
    taps = psf_taps(psf_px)  # (B, 2, 2 r + 1)
    sharp = []
    for win in windows:
        values, r = psf_windows(win.values[:, None], taps[win.batch_index])
        steps = torch.arange(-r, win.rows.shape[1] + r, device=dev)
        sharp.append(ObjectWindows(values[:, 0], win.rows[:, :1] + steps, win.cols[:, :1] + steps, win.batch_index,
                                   win.object_index))
    if optical_depth == "auto":
        optical_depth = "whole" if dev.type == "cuda" else "windowed"
    # Deficits of separate objects add (OpticalDepth states where that approximates).
    if optical_depth == "whole":
        depth = OpticalDepth(accumulate(sharp, b, h, w, "sum", dev), fraction, scatter_px)
    else:
        depth = WindowedOpticalDepth(sharp, h, w, fraction, scatter_px)
    return attenuate(
        images,
        depth,
        levels=_levels(images, imaging),
        water_equiv_mm=_column(imaging, "water_equiv_mm", dev),
        noise_sigma=_column(imaging, "noise_sigma", dev),
        noise_seed=torch.tensor([int(im["noise_seed"]) for im in imaging], dtype=torch.int64, device=dev),
        processing=processing_of(imaging, spacing),
    )
