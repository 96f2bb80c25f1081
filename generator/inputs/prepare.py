"""Bring a decoded radiograph to the build's output size, keeping track of its spacing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Prepared:
    """A source at output size. pixels: (1, H, W) float32 [0, 1] on the render device."""

    pixels: torch.Tensor
    spacing_mm: tuple[float, float]  # (row, col) of the output image
    meta: dict
    converted: str | None
    anatomy: Any = None  # generator.anatomy.estimate.Anatomy at output size, estimated once per source
    display_levels: tuple[float, float, float] | None = None  # calibrate.display_levels, once per source
    source_spacing_mm: tuple[float, float] | None = None  # (row, col) of the source as stored, before the resize


def output_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(H, W) with the long side `long_side` and the aspect kept (each side >= 1)."""
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_to(pixels: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(H0, W0) float32 -> (1, H, W), anti-aliased bilinear (area-like when shrinking)."""
    x = pixels[None, None]
    if tuple(x.shape[-2:]) != (height, width):
        x = F.interpolate(x, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    return x[0].clamp_(0.0, 1.0)


def prepare(
    pixels, spacing_mm: tuple[float, float], long_side: int, device: torch.device, meta: dict, converted: str | None
) -> Prepared:
    """pixels: (H0, W0) float32 numpy [0, 1]; spacing_mm: (row, col) at source resolution."""
    h0, w0 = pixels.shape
    h, w = output_size(h0, w0, long_side)
    t = torch.from_numpy(pixels).to(device=device, dtype=torch.float32)
    out = resize_to(t, h, w)
    spacing = (spacing_mm[0] * h0 / h, spacing_mm[1] * w0 / w)
    return Prepared(out, spacing, meta, converted, source_spacing_mm=(float(spacing_mm[0]), float(spacing_mm[1])))
