"""The contract between foreign-body shapes and the batched renderer.

A shape *kind* turns per-object parameters into a value field on a pixel window around the
object's centre: coverage in [0, 1] for the legacy style, projected thickness in mm along
the beam for the physical style. Kinds are pure tensor functions, batched over objects,
identical on CPU and CUDA. A class sampler (coin, bullet, ...) draws an object's params
with an explicit numpy Generator and names the kind that rasterises it; the params it
draws are exactly what the spec stores, so any object can be replayed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np
import torch

from generator.spec import ObjectSpec


class Shape(Protocol):
    """A rasteriser for one kind. Tensors in `params` are (N, 1, 1) float32."""

    kind: str

    def extent_px(self, params: dict[str, torch.Tensor], spacing_mm: torch.Tensor) -> torch.Tensor:
        """(N,) half-size in pixels of a square window that contains the whole object.

        spacing_mm: (N, 2) row, col mm per pixel of the output image.
        """
        ...

    def field(
        self,
        params: dict[str, torch.Tensor],
        dx_px: torch.Tensor,
        dy_px: torch.Tensor,
        spacing_mm: torch.Tensor,
    ) -> torch.Tensor:
        """(N, S, S) field at pixel centres offset (dx_px, dy_px) from the object centre.

        dx_px, dy_px: (N, S, S) float32, x right and y down, in output pixels;
        spacing_mm: (N, 2, 1, 1) row, col mm per pixel.
        """
        ...


@dataclass(frozen=True, kw_only=True)
class PlacementContext:
    """What a class sampler may know about the image it places an object on."""

    height: int
    width: int
    spacing_mm: tuple[float, float]  # (row, col) of the output image
    body_mask: np.ndarray | None = None  # (H, W) bool, where the patient is; None = unknown
    anatomy: Any = None  # generator.anatomy.Anatomy (body, lungs, mediastinum, landmarks); None = unknown
    display_levels: tuple[float, float, float] | None = None  # (dark, bright, peak) of the image; None = unknown


Sampler = Callable[[np.random.Generator, PlacementContext], tuple[ObjectSpec, ...]]

SHAPES: dict[str, Shape] = {}


def register_shape(shape: Shape) -> Shape:
    if shape.kind in SHAPES:
        raise ValueError(f"shape kind {shape.kind!r} registered twice")
    SHAPES[shape.kind] = shape
    return shape


def rotate(dx: torch.Tensor, dy: torch.Tensor, angle_deg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Offsets expressed in an object's frame turned by angle_deg (image axes, y down).

    Returns (u, v): u along the object's long axis, v across it.
    """
    a = angle_deg * (math.pi / 180.0)
    c, s = torch.cos(a), torch.sin(a)
    return c * dx + s * dy, -s * dx + c * dy
