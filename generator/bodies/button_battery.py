"""Button (coin-cell) batteries: a can plus a smaller anode cap, which gives the double-ring
("halo") edge face-on and the step-off side-on that tell a battery from a coin.

Sizes from IEC 60086-2 designations (diameter x height, mm): CR2032 20.0 x 3.2, CR2025
20.0 x 2.5, CR2016 20.0 x 1.6, CR2450 24.5 x 5.0, CR1632 16.0 x 3.2, LR44 11.6 x 5.4,
LR1130 11.6 x 3.1, LR41 7.9 x 3.6.

| params            | range / source                                                   |
|-------------------|------------------------------------------------------------------|
| diameter_mm       | can diameter (table)                                             |
| thickness_mm      | height - cap step                                                |
| cap_diameter_mm   | 0.75-0.85 x diameter (the negative cap; manufacturer drawings)   |
| cap_thickness_mm  | step height 0.15-0.25 x height                                   |
| mu_per_mm         | 0.75 x steel: stainless can and cap with MnO2 / Zn cathode and   |
|                   | lighter anode and separator inside (volume-averaged estimate)    |
| tilt_deg          | 0-90, mostly face-on; angle_deg 0-180                            |
Placement: upper oesophagus (50 %), lower oesophagus (10 %), stomach/bowel (40 %).
"""

from __future__ import annotations

import numpy as np

from generator.bodies import placement as pl
from generator.bodies.context import PlacementContext
from generator.rng import pick
from generator.shapes import kinds
from generator.spec import ObjectSpec

CELLS = {"CR2032": (20.0, 3.2), "CR2025": (20.0, 2.5), "CR2016": (20.0, 1.6), "CR2450": (24.5, 5.0),
         "CR1632": (16.0, 3.2), "LR44": (11.6, 5.4), "LR1130": (11.6, 3.1), "LR41": (7.9, 3.6)}
CONTENT_MU_SCALE = 0.75
REGIONS = {"oesophagus_upper": 0.5, "oesophagus_lower": 0.1, "stomach_bowel": 0.4}


def battery_params(rng: np.random.Generator, cell: str | None = None,
                   tilt_deg: float | None = None) -> dict[str, float]:
    diameter, height = CELLS[cell or pick(rng, sorted(CELLS))]
    step = height * float(rng.uniform(0.15, 0.25))
    return pl.disc_params(diameter_mm=diameter, thickness_mm=height - step, material="steel",
                          tilt_deg=pl.pose_deg(rng) if tilt_deg is None else tilt_deg,
                          angle_deg=float(rng.uniform(0.0, 180.0)),
                          cap_diameter_mm=diameter * float(rng.uniform(0.75, 0.85)), cap_thickness_mm=step,
                          mu_scale=CONTENT_MU_SCALE)


def sample_button_battery(rng: np.random.Generator, ctx: PlacementContext) -> tuple[ObjectSpec, ...]:
    return tuple(ObjectSpec(cls="button_battery", kind=kinds.PHYS_DISC, center_px=pl.place(rng, ctx, REGIONS),
                            material="steel", params=battery_params(rng))
                 for _ in range(pl.object_count(rng)))
