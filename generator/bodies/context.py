"""What a class sampler sees and returns.

A class sampler (coin, bullet, ...) draws an object's params with an explicit numpy
Generator and names the shape kind that rasterises it (`generator.shapes.registry`); the
params it draws are exactly what the spec stores, so any object can be replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from generator.spec import ObjectSpec


@dataclass(frozen=True, kw_only=True)
class PlacementContext:
    """What a class sampler may know about the image it places an object on."""

    height: int
    width: int
    spacing_mm: tuple[float, float]  # (row, col) of the output image
    body_mask: np.ndarray | None = None  # (H, W) bool, where the patient is; None = unknown
    anatomy: Any = None  # generator.anatomy.estimate.Anatomy (body, lungs, mediastinum, landmarks); None = unknown
    display_levels: tuple[float, float, float] | None = None  # (dark, bright, peak) of the image; None = unknown
    source_spacing_mm: tuple[float, float] | None = None  # (row, col) pitch of the file as stored; None = unknown


Sampler = Callable[[np.random.Generator, PlacementContext], tuple[ObjectSpec, ...]]
