"""The prototype's flat white shapes (`--style legacy`), kept for side-by-side comparison.

Sizes and placement reproduce the prototype, which drew with OpenCV on CheXpert-small
images (about 320x390): sizes are in output pixels at a 390 px long side and scale with
`--size`. The flat shapes they name are in `generator.shapes.legacy`.
"""

from __future__ import annotations

import numpy as np

from generator.bodies.context import PlacementContext
from generator.shapes import kinds
from generator.spec import ObjectSpec

PROTOTYPE_LONG_SIDE_PX = 390.0


def _scale(ctx: PlacementContext) -> float:
    return max(ctx.height, ctx.width) / PROTOTYPE_LONG_SIDE_PX


def _around(rng: np.random.Generator, centre: float, spread: float) -> float:
    return float(rng.uniform(centre - spread, centre + spread))


def sample_coin(rng: np.random.Generator, ctx: PlacementContext) -> tuple[ObjectSpec, ...]:
    """Filled circle r=10 px at x = 0.5 w (1 +- 0.01), y = h (0.15 +- 0.1)."""
    w, h = ctx.width, ctx.height
    centre = (_around(rng, 0.5 * w, 0.005 * w), _around(rng, 0.15 * h, 0.1 * h))
    params = {"radius_px": 10.0 * _scale(ctx)}
    return (ObjectSpec(cls="coin", kind=kinds.LEGACY_DISC, center_px=centre, material="white", params=params),)


def sample_magnets(rng: np.random.Generator, ctx: PlacementContext) -> tuple[ObjectSpec, ...]:
    """Two touching r=5 px circles at a random angle, x = w (0.7 +- 0.14), y = h (0.8 +- 0.05)."""
    w, h = ctx.width, ctx.height
    centre = (_around(rng, 0.7 * w, 0.14 * w), _around(rng, 0.8 * h, 0.05 * h))
    params = {"radius_px": 5.0 * _scale(ctx), "angle_deg": float(rng.uniform(0.0, 360.0))}
    return (ObjectSpec(cls="magnets", kind=kinds.LEGACY_PAIR, center_px=centre, material="white", params=params),)


def sample_bullet(rng: np.random.Generator, ctx: PlacementContext) -> tuple[ObjectSpec, ...]:
    """20x10 px rectangle with an r=5 px nose, centre x = w (0.5 +- 0.3), y = h (0.4 +- 0.3),
    turned uniformly in [0, 360)."""
    w, h = ctx.width, ctx.height
    s = _scale(ctx)
    centre = (_around(rng, 0.5 * w, 0.3 * w), _around(rng, 0.4 * h, 0.3 * h))
    params = {"length_px": 20.0 * s, "width_px": 10.0 * s, "angle_deg": float(rng.uniform(0.0, 360.0))}
    return (ObjectSpec(cls="bullet", kind=kinds.LEGACY_BULLET, center_px=centre, material="white", params=params),)


SAMPLERS = {"coin": sample_coin, "magnets": sample_magnets, "bullet": sample_bullet}
