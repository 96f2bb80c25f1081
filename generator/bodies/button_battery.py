"""Button (coin-cell) batteries as layered `phys_sheet` objects: a stainless can, a smaller
cap pressed into it standing proud of the rim, and the contents between
(`generator.bodies.sheet_metal.battery`). Face-on the can's and the cap's walls, seen
end-on, give the double ring ("halo") that tells a battery from a coin; side-on the cap
gives the step-off.

Sizes from IEC 60086-2 designations (diameter x height, mm): CR2032 20.0 x 3.2, CR2025
20.0 x 2.5, CR2016 20.0 x 1.6, CR2450 24.5 x 5.0, CR1632 16.0 x 3.2, LR44 11.6 x 5.4,
LR1130 11.6 x 3.1, LR41 7.9 x 3.6, and the zinc-air hearing-aid cells children swallow
most often after 20 mm lithium cells (National Capital Poison Center button-battery
series): 675 11.6 x 5.4, 13 7.9 x 5.4, 312 7.9 x 3.6, 10 5.8 x 3.6.

| params         | range / source                                                        |
|----------------|-----------------------------------------------------------------------|
| wall_mm        | 0.20-0.30: can and cap sheet (manufacturers' cell drawings: 0.2-0.3   |
|                | mm nickel-plated stainless)                                           |
| cap_ratio      | 0.75-0.85: cap / can diameter (manufacturers' drawings)               |
| step_mm        | 0.15-0.25 x height: how far the cap stands proud of the can's rim     |
| content_mu     | lithium MnO2 cells 0.08-0.14 /mm (MnO2 cathode ~3 g/cm3 at mu/rho     |
|                | ~0.35 cm2/g, lithium and separator ~0); alkaline and zinc-air cells   |
|                | 0.25-0.45 /mm (Zn gel anode, MnO2 / air cathode); volume-averaged      |
|                | estimates from NIST XCOM element values at 60 keV                     |
| tilt_deg       | 0-90, mostly face-on; angle_deg 0-180                                 |
Cell mix: 20 mm lithium cells 55 %, other lithium 15 %, alkaline 15 %, hearing-aid 15 %.
Placement: upper oesophagus (50 %), lower oesophagus (10 %), stomach/bowel (40 %).
"""

from __future__ import annotations

import numpy as np

from generator.bodies import placement as pl
from generator.bodies import sheet_metal
from generator.bodies.context import PlacementContext
from generator.rng import cumulative, pick
from generator.shapes import kinds
from generator.spec import ObjectSpec

# name: (diameter_mm, height_mm, chemistry, weight)
CELLS = {
    "CR2032": (20.0, 3.2, "lithium", 0.30), "CR2025": (20.0, 2.5, "lithium", 0.15),
    "CR2016": (20.0, 1.6, "lithium", 0.10), "CR2450": (24.5, 5.0, "lithium", 0.08),
    "CR1632": (16.0, 3.2, "lithium", 0.07), "LR44": (11.6, 5.4, "alkaline", 0.08),
    "LR1130": (11.6, 3.1, "alkaline", 0.04), "LR41": (7.9, 3.6, "alkaline", 0.03),
    "675": (11.6, 5.4, "zinc_air", 0.05), "13": (7.9, 5.4, "zinc_air", 0.04),
    "312": (7.9, 3.6, "zinc_air", 0.04), "10": (5.8, 3.6, "zinc_air", 0.02),
}
CONTENT_MU = {"lithium": (0.08, 0.14), "alkaline": (0.25, 0.45), "zinc_air": (0.25, 0.45)}
_CELL_NAMES = tuple(CELLS)
_CELL_CDF = cumulative([c[3] for c in CELLS.values()])
REGIONS = {"oesophagus_upper": 0.5, "oesophagus_lower": 0.1, "stomach_bowel": 0.4}


def battery_params(rng: np.random.Generator, cell: str | None = None,
                   tilt_deg: float | None = None) -> dict[str, float]:
    diameter, height, chemistry, _ = CELLS[cell or pick(rng, _CELL_NAMES, _CELL_CDF)]
    return sheet_metal.battery(diameter, height, cap_ratio=float(rng.uniform(0.75, 0.85)),
                               step_mm=height * float(rng.uniform(0.15, 0.25)), wall_mm=float(rng.uniform(0.2, 0.3)),
                               content_mu=float(rng.uniform(*CONTENT_MU[chemistry])),
                               tilt_deg=pl.pose_deg(rng) if tilt_deg is None else tilt_deg,
                               angle_deg=float(rng.uniform(0.0, 180.0)))


def sample_button_battery(rng: np.random.Generator, ctx: PlacementContext) -> tuple[ObjectSpec, ...]:
    return tuple(ObjectSpec(cls="button_battery", kind=kinds.PHYS_SHEET, center_px=pl.place(rng, ctx, REGIONS),
                            material="steel", params=battery_params(rng))
                 for _ in range(pl.object_count(rng)))
