"""Magnets: 2-10 small neodymium spheres or discs touching in a chain or a cluster.

| params                 | range / source                                              |
|------------------------|-------------------------------------------------------------|
| spheres: diameter      | 3-10 mm (magnetic desk-toy balls are 5 mm; 3-10 mm sold)    |
| discs: diameter x thick| 3-10 x 1-3 mm, stacked face to face (0.1 mm plating gap)   |
| count                  | 2-10                                                        |
| arrangement            | chain (each next magnet touches the previous, direction     |
|                        | random-walks by <= 35 deg) or cluster (touching a random    |
|                        | earlier magnet), built in 3-D and projected                 |
| mu_per_mm              | steel (Fe is ~70 % of NdFeB by mass; the Nd content makes   |
|                        | real magnets denser still, so this is a lower bound)        |
Placement: stomach/bowel (80 %; magnets are found after passing the oesophagus),
oesophagus (20 %).
"""

from __future__ import annotations

import numpy as np

from generator.bodies import placement as pl
from generator.bodies.context import PlacementContext
from generator.shapes import kinds
from generator.shapes.spheres import SPHERE_SLOTS
from generator.spec import ObjectSpec

REGIONS = {"stomach_bowel": 0.8, "oesophagus_upper": 0.1, "oesophagus_lower": 0.1}


def _unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def sphere_positions(rng: np.random.Generator, n: int, diameter_mm: float, chain: bool) -> np.ndarray:
    """(n, 3) centres of n touching spheres."""
    pts = [np.zeros(3)]
    direction = _unit(rng)
    while len(pts) < n:
        if chain:
            direction = direction + 0.6 * _unit(rng)
            direction /= np.linalg.norm(direction)
            cand = pts[-1] + diameter_mm * direction
        else:
            cand = pts[int(rng.integers(len(pts)))] + diameter_mm * _unit(rng)
        if all(np.linalg.norm(cand - p) >= diameter_mm * 0.999 for p in pts):
            pts.append(cand)
    return np.array(pts)


def sample_magnets(rng: np.random.Generator, ctx: PlacementContext) -> tuple[ObjectSpec, ...]:
    out = []
    for _ in range(pl.object_count(rng)):
        n = int(rng.integers(2, 11))
        centre = pl.place(rng, ctx, REGIONS)
        if rng.random() < 0.5:
            d = float(rng.uniform(3.0, 10.0))
            pos = sphere_positions(rng, min(n, SPHERE_SLOTS), d, chain=rng.random() < 0.6)
            params = pl.sphere_params(pos[:, :2], np.full(len(pos), d), "steel")
            out.append(ObjectSpec(cls="magnets", kind=kinds.PHYS_SPHERES, center_px=centre, material="steel",
                                  params=params))
        else:
            d, t = float(rng.uniform(3.0, 10.0)), float(rng.uniform(1.0, 3.0))
            segs = [(np.array([0.0, 0.0, k * (t + 0.1)]), np.array([0.0, 0.0, k * (t + 0.1) + t]), d) for k in range(n)]
            tilt, angle = float(rng.uniform(0.0, 90.0)), float(rng.uniform(0.0, 360.0))
            params = pl.wire_params(segs, pl.rotation(tilt, angle), "steel", tilt, angle)
            out.append(ObjectSpec(cls="magnets", kind=kinds.PHYS_WIRE, center_px=centre, material="steel",
                                  params=params))
    return tuple(out)

