"""Coins: struck discs of real currency sizes with a raised rim, recessed field and relief
on both faces (`phys_sheet`, see `generator.bodies.sheet_metal.coin`), in any 3-D pose.

Dimensions (diameter x thickness, mm) from the issuing mints' published specifications
(US Mint, European Central Bank, Royal Mint, Japan Mint, Royal Canadian Mint). Multi-layer
and plated coins are modelled by their dominant metal (see `generator.bodies.materials`).
Children swallow most coins seen on chest films (US poison-centre and paediatric series:
the peak is at 6 months to 3 years), and the coins they swallow are the common small ones,
so the table holds the small denominations (dime, cent, 1 and 2 euro cent, 1 yen) beside
the large; holed coins (5 and 50 yen) show a hole.

| params                 | range / source                                                |
|------------------------|---------------------------------------------------------------|
| diameter, thickness    | 16.25-26.5 x 1.2-2.8 (table below)                            |
| rim                    | 0.6-1.5 wide, full thickness (struck coins)                   |
| field                  | recessed 0.05-0.25 per face inside the rim                    |
| relief                 | 3-6 motifs 1.5 mm-half the field radius, raised to rim height |
| tilt_deg               | 0-90, mostly face-on (coronal in the oesophagus), some edge-on|
| angle_deg              | 0-180, in-plane direction of the tilt axis                    |
Placement: oesophagus at the thoracic inlet / upper mediastinum (60 %), lower oesophagus
(10 %), passed into the stomach or bowel (30 %).
"""

from __future__ import annotations

import numpy as np

from generator.bodies import placement as pl
from generator.bodies import sheet_metal
from generator.bodies.context import PlacementContext
from generator.rng import pick
from generator.shapes import kinds
from generator.spec import ObjectSpec

# name: (diameter_mm, thickness_mm, material, hole_mm)
COINS = {
    "us_cent": (19.05, 1.52, "zinc", 0.0),
    "us_nickel": (21.21, 1.95, "copper_nickel", 0.0),
    "us_dime": (17.91, 1.35, "copper_nickel", 0.0),
    "us_quarter": (24.26, 1.75, "copper_nickel", 0.0),
    "euro_1c": (16.25, 1.67, "steel", 0.0),
    "euro_2c": (18.75, 1.67, "steel", 0.0),
    "euro_10c": (19.75, 1.93, "brass", 0.0),
    "euro_1": (23.25, 2.33, "copper_nickel", 0.0),
    "euro_2": (25.75, 2.20, "copper_nickel", 0.0),
    "uk_1p": (20.30, 1.65, "steel", 0.0),
    "uk_10p": (24.50, 1.85, "steel", 0.0),
    "uk_1_pound": (23.43, 2.80, "brass", 0.0),
    "jp_5_yen": (22.00, 1.50, "brass", 5.0),
    "jp_50_yen": (21.00, 1.70, "copper_nickel", 4.0),
    "jp_100_yen": (22.60, 1.70, "copper_nickel", 0.0),
    "ca_loonie": (26.50, 1.95, "steel", 0.0),
}
REGIONS = {"oesophagus_upper": 0.6, "oesophagus_lower": 0.1, "stomach_bowel": 0.3}


def coin_params(rng: np.random.Generator, name: str | None = None) -> tuple[dict[str, float], str]:
    name = name or pick(rng, sorted(COINS))
    diameter, thickness, material, hole = COINS[name]
    params = sheet_metal.coin(rng, diameter, thickness, material, pl.pose_deg(rng), float(rng.uniform(0.0, 180.0)),
                              hole_mm=hole)
    return params, material


def sample_coin(rng: np.random.Generator, ctx: PlacementContext) -> tuple[ObjectSpec, ...]:
    out = []
    for _ in range(pl.object_count(rng)):
        params, material = coin_params(rng)
        out.append(ObjectSpec(cls="coin", kind=kinds.PHYS_SHEET, center_px=pl.place(rng, ctx, REGIONS),
                              material=material, params=params))
    return tuple(out)
