"""Blades: razor blades and knife / scalpel tips, thin in one axis.

| item                  | outline (mm)                         | thickness_mm | source           |
|-----------------------|--------------------------------------|--------------|------------------|
| double-edge razor     | 43 x 22 rectangle, 30 x 2.5 centre slot | 0.08-0.12 | ISO-standard DE blade |
| utility-knife blade   | trapezoid 61 x 19, 15-20 deg ends    | 0.6          | ISO 8442 / DIN 5197 type |
| scalpel blade (#10/#11)| 38-40 x 7-9, pointed                | 0.35-0.4     | BS 2982          |
| knife tip (broken)    | triangle 20-60 x 10-25               | 1.0-2.5      | kitchen knives   |
tilt_deg 0-85 (edge-on shows a bright line, face-on a faint plate), angle_deg 0-360;
material steel. Placement: oesophagus / stomach (40 %), thorax and soft tissue (60 %).
"""

from __future__ import annotations

import numpy as np

from generator.bodies import placement as pl
from generator.bodies.context import PlacementContext
from generator.rng import pick
from generator.shapes import kinds
from generator.spec import ObjectSpec

REGIONS = {"thorax": 0.6, "oesophagus_upper": 0.2, "stomach_bowel": 0.2}


def blade_params(rng: np.random.Generator, item: str | None = None) -> dict[str, float]:
    item = item or pick(rng, ("razor", "utility", "scalpel", "knife_tip"))
    hole_l = hole_w = 0.0
    if item == "razor":
        poly = np.array([[-21.5, -11.0], [21.5, -11.0], [21.5, 11.0], [-21.5, 11.0]])
        thick, hole_l, hole_w = rng.uniform(0.08, 0.12), 30.0, 2.5
    elif item == "utility":
        poly = np.array([[-30.5, -9.5], [30.5, -9.5], [24.0, 9.5], [-24.0, 9.5]])
        thick = 0.6
    elif item == "scalpel":
        w = rng.uniform(7, 9)
        poly = np.array([[-20.0, -w / 2], [8.0, -w / 2], [19.0, 0.0], [10.0, w / 2], [-20.0, w / 2]])
        thick = rng.uniform(0.35, 0.4)
    else:
        length, w = rng.uniform(20, 60), rng.uniform(10, 25)
        poly = np.array([[0.0, 0.0], [length, w * rng.uniform(0.3, 0.6)], [0.0, w]])
        thick = rng.uniform(1.0, 2.5)
    return pl.prism_params(poly, thickness_mm=float(thick), material="steel", tilt_deg=float(rng.uniform(0, 85)),
                           angle_deg=float(rng.uniform(0, 360)), hole_length_mm=hole_l, hole_width_mm=hole_w)


def sample_blade(rng: np.random.Generator, ctx: PlacementContext) -> tuple[ObjectSpec, ...]:
    return tuple(ObjectSpec(cls="blade", kind=kinds.PHYS_PRISM, center_px=pl.place(rng, ctx, REGIONS),
                            material="steel", params=blade_params(rng))
                 for _ in range(pl.object_count(rng)))
