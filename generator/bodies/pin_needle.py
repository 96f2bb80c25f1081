"""Pins, needles and nails: thin steel rods with a head and a tapered tip.

| item          | shaft length x diameter (mm) | head (diameter x length)  | tip      |
|---------------|------------------------------|---------------------------|----------|
| sewing needle | 30-50 x 0.6-1.0              | none (eye: same diameter) | 3-5 mm   |
| straight pin  | 25-35 x 0.5-0.7              | 1.5-2.5 x 1.5-2.5 (ball)  | 1.5-3 mm |
| nail          | 25-75 x 2.0-4.0              | 5-9 x 0.8-1.5 (flat head) | 3-6 mm   |
Sizes from ISO 2965-style needle and DIN 1151 wire-nail tables (typical household items).
elevation_deg 0-60 out of plane, angle_deg 0-360; material steel.
Placement: thorax and soft tissue (60 %), swallowed: oesophagus or stomach/bowel (40 %).
"""

from __future__ import annotations

import numpy as np

from generator.bodies import placement as pl
from generator.bodies.context import PlacementContext
from generator.bodies.materials import mu_per_mm
from generator.rng import pick
from generator.shapes import kinds
from generator.spec import ObjectSpec

REGIONS = {"thorax": 0.6, "oesophagus_upper": 0.15, "stomach_bowel": 0.25}


def rod_params(rng: np.random.Generator, item: str | None = None) -> dict[str, float]:
    item = item or pick(rng, ("needle", "pin", "nail"))
    if item == "needle":
        length, d = rng.uniform(30, 50), rng.uniform(0.6, 1.0)
        head_d, head_l, tip = d, 0.0, rng.uniform(3, 5)
    elif item == "pin":
        length, d = rng.uniform(25, 35), rng.uniform(0.5, 0.7)
        head_d = rng.uniform(1.5, 2.5)
        head_l, tip = head_d, rng.uniform(1.5, 3)
    else:
        length, d = rng.uniform(25, 75), rng.uniform(2.0, 4.0)
        head_d, head_l, tip = rng.uniform(5, 9), rng.uniform(0.8, 1.5), rng.uniform(3, 6)
    return {"shaft_length_mm": float(length - tip - head_l), "shaft_diameter_mm": float(d),
            "head_diameter_mm": float(head_d), "head_length_mm": float(head_l), "tip_length_mm": float(tip),
            "elevation_deg": float(rng.uniform(0, 60)), "angle_deg": float(rng.uniform(0, 360)),
            "mu_per_mm": mu_per_mm("steel")}


def sample_pin_needle(rng: np.random.Generator, ctx: PlacementContext) -> tuple[ObjectSpec, ...]:
    return tuple(ObjectSpec(cls="pin_needle", kind=kinds.PHYS_ROD, center_px=pl.place(rng, ctx, REGIONS),
                            material="steel", params=rod_params(rng))
                 for _ in range(pl.object_count(rng)))
