"""Coins: discs of real currency sizes with a raised rim, in any 3-D orientation.

Dimensions (diameter x thickness, mm) from the issuing mints' published specifications
(US Mint, European Central Bank, Royal Mint, Japan Mint, Royal Canadian Mint). Multi-layer
and plated coins are modelled by their dominant metal (see `generator.bodies.materials`).

| params            | range / source                                                    |
|-------------------|-------------------------------------------------------------------|
| diameter_mm       | 16.25-26.5 (table below)                                          |
| thickness_mm      | 1.35-2.8 (table below)                                            |
| cap_diameter_mm   | diameter - 2 x rim width, rim width 0.6-1.5 mm (struck coins)     |
| cap_thickness_mm  | -(0.05-0.25): the field recessed inside the raised rim            |
| tilt_deg          | 0-90, mostly face-on (coronal in the oesophagus), some edge-on    |
| angle_deg         | 0-180, in-plane direction of the tilt axis                        |
| mu_per_mm         | material mu at 60 keV                                             |
Placement: oesophagus at the thoracic inlet / upper mediastinum (60 %), lower oesophagus
(10 %), passed into the stomach or bowel (30 %).
"""

from __future__ import annotations

import numpy as np

from generator.bodies import placement as pl
from generator.bodies.context import PlacementContext
from generator.rng import pick
from generator.shapes import kinds
from generator.spec import ObjectSpec

# name: (diameter_mm, thickness_mm, material)
COINS = {
    "us_cent": (19.05, 1.52, "zinc"),
    "us_nickel": (21.21, 1.95, "copper_nickel"),
    "us_dime": (17.91, 1.35, "copper_nickel"),
    "us_quarter": (24.26, 1.75, "copper_nickel"),
    "euro_1c": (16.25, 1.67, "steel"),
    "euro_10c": (19.75, 1.93, "brass"),
    "euro_1": (23.25, 2.33, "copper_nickel"),
    "euro_2": (25.75, 2.20, "copper_nickel"),
    "uk_1p": (20.30, 1.65, "steel"),
    "uk_10p": (24.50, 1.85, "steel"),
    "uk_1_pound": (23.43, 2.80, "brass"),
    "jp_100_yen": (22.60, 1.70, "copper_nickel"),
    "ca_loonie": (26.50, 1.95, "steel"),
}
REGIONS = {"oesophagus_upper": 0.6, "oesophagus_lower": 0.1, "stomach_bowel": 0.3}


def coin_params(rng: np.random.Generator, name: str | None = None) -> tuple[dict[str, float], str]:
    name = name or pick(rng, sorted(COINS))
    diameter, thickness, material = COINS[name]
    rim = float(rng.uniform(0.6, 1.5))
    params = pl.disc_params(diameter_mm=diameter, thickness_mm=thickness, material=material,
                            tilt_deg=pl.pose_deg(rng), angle_deg=float(rng.uniform(0.0, 180.0)),
                            cap_diameter_mm=diameter - 2 * rim, cap_thickness_mm=-float(rng.uniform(0.05, 0.25)))
    return params, material


def sample_coin(rng: np.random.Generator, ctx: PlacementContext) -> tuple[ObjectSpec, ...]:
    out = []
    for _ in range(pl.object_count(rng)):
        params, material = coin_params(rng)
        out.append(ObjectSpec(cls="coin", kind=kinds.PHYS_DISC, center_px=pl.place(rng, ctx, REGIONS),
                              material=material, params=params))
    return tuple(out)
