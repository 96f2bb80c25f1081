"""Shrapnel: irregular angular metal fragments, and clusters of shotgun pellets.

| params                 | range / source                                              |
|------------------------|-------------------------------------------------------------|
| fragments per cluster  | 1-8, within 30 mm of the cluster centre                     |
| fragment size          | 2-15 mm across, aspect 0.3-1, 5-8 vertices (convex hull)   |
| thickness_mm           | 0.8-5                                                       |
| fragment material      | steel 70 % (casings, IED contents), lead 15 %, brass 15 %  |
| tilt_deg, angle_deg    | 0-90, 0-360                                                 |
| pellet diameter_mm     | shot sizes (SAAMI / industry charts): #9 2.0, #7.5 2.4,     |
|                        | #4 3.3, BB 4.6, 00 buckshot 8.4                             |
| pellets per object     | 5-12 (12 slots), spread 10-60 mm; lead 75 %, steel shot 25 %|
Placement: anywhere in the thorax or its soft tissue.
"""

from __future__ import annotations

import numpy as np

from generator.bodies import placement as pl
from generator.bodies.context import PlacementContext
from generator.rng import cumulative, pick
from generator.shapes import kinds
from generator.shapes.spheres import SPHERE_SLOTS
from generator.spec import ObjectSpec

SHOT_MM = (2.0, 2.4, 3.3, 4.6, 8.4)
_MATERIAL_CDF = cumulative((0.7, 0.15, 0.15))  # steel, lead, brass
REGIONS = {"thorax": 1.0}


def fragment_params(rng: np.random.Generator) -> tuple[dict[str, float], str]:
    material = pick(rng, ("steel", "lead", "brass"), _MATERIAL_CDF)
    poly = pl.convex_polygon(rng, float(rng.uniform(2.0, 15.0)), float(rng.uniform(0.3, 1.0)), int(rng.integers(5, 9)))
    params = pl.prism_params(poly, thickness_mm=float(rng.uniform(0.8, 5.0)), material=material,
                             tilt_deg=float(rng.uniform(0, 90)), angle_deg=float(rng.uniform(0, 360)))
    return params, material


def pellet_params(rng: np.random.Generator) -> tuple[dict[str, float], str]:
    material = "lead" if rng.random() < 0.75 else "steel"
    d = pick(rng, SHOT_MM)
    n = int(rng.integers(5, SPHERE_SLOTS + 1))
    spread = float(rng.uniform(10.0, 60.0))
    centres = rng.normal(0.0, spread / 4.0, (n, 2)).clip(-spread / 2, spread / 2)
    # deformed pellets: 0.8-1.0 of nominal
    return pl.sphere_params(centres, d * rng.uniform(0.8, 1.0, n), material), material


def sample_shrapnel(rng: np.random.Generator, ctx: PlacementContext) -> tuple[ObjectSpec, ...]:
    out = []
    for _ in range(pl.object_count(rng)):
        centre = pl.place(rng, ctx, REGIONS)
        if rng.random() < 0.5:
            params, material = pellet_params(rng)
            out.append(ObjectSpec(cls="shrapnel", kind=kinds.PHYS_SPHERES, center_px=centre, material=material,
                                  params=params))
            continue
        for k in range(int(rng.integers(1, 9))):
            params, material = fragment_params(rng)
            at = centre if k == 0 else pl.near(rng, ctx, centre, tuple(rng.normal(0.0, 10.0, 2).clip(-30, 30)))
            out.append(ObjectSpec(cls="shrapnel", kind=kinds.PHYS_FRAGMENT, center_px=at, material=material,
                                  params=params))
    return tuple(out)
