"""Bullets: cylinder + tangent ogive of real calibres, lead or jacketed, any 3-D pose,
optionally deformed (mushroomed) or fragmented.

Dimensions from C.I.P. / SAAMI cartridge and projectile drawings (bullet diameter x
length, ogive length estimated from the drawings' nose profile):

| calibre       | diameter_mm | length_mm | ogive_mm | construction                       |
|---------------|-------------|-----------|----------|------------------------------------|
| .22 LR        | 5.7         | 11.5      | 4.0      | plain lead, round nose             |
| 9 mm Luger    | 9.02        | 15.5      | 7.0      | FMJ: lead core, gilding-metal jacket |
| 5.56 NATO     | 5.70        | 23.0      | 13.0     | FMJ                                |
| .45 ACP       | 11.48       | 17.0      | 7.5      | FMJ                                |
| .38 Special   | 9.07        | 16.0      | 6.0      | plain lead, round nose             |
| 7.62x39       | 7.92        | 26.8      | 14.0     | FMJ                                |

| params          | range / source                                                     |
|-----------------|--------------------------------------------------------------------|
| body_length_mm  | length - ogive; x 0.6-0.8 when deformed                            |
| mushroom_frac   | 0 intact; 0.3-1 deformed (30 % of bullets)                         |
| elevation_deg   | 0-70 out of the image plane; angle_deg 0-360 in plane              |
| mu_per_mm       | lead, or FMJ = 88 % lead + 12 % brass by volume (jacket ~0.5 mm)   |
Fragmented (20 %): 2-6 angular lead fragments of 1-4 mm within 25 mm of the bullet.
Placement: anywhere in the thorax or its soft tissue.
"""

from __future__ import annotations

import numpy as np

from generator.bodies import placement as pl
from generator.bodies.context import PlacementContext
from generator.bodies.materials import mixture_mu_per_mm, mu_per_mm
from generator.rng import pick
from generator.shapes import kinds
from generator.spec import ObjectSpec

CALIBRES = {
    "22lr": (5.7, 11.5, 4.0, False),
    "9mm": (9.02, 15.5, 7.0, True),
    "5.56": (5.70, 23.0, 13.0, True),
    "45acp": (11.48, 17.0, 7.5, True),
    "38spl": (9.07, 16.0, 6.0, False),
    "7.62x39": (7.92, 26.8, 14.0, True),
}
FMJ_MU_PER_MM = mixture_mu_per_mm({"lead": 0.88, "brass": 0.12})
REGIONS = {"thorax": 1.0}


def bullet_params(rng: np.random.Generator, calibre: str | None = None) -> tuple[dict[str, float], str]:
    diameter, length, ogive, jacketed = CALIBRES[calibre or pick(rng, sorted(CALIBRES))]
    deformed = rng.random() < 0.3
    shrink = float(rng.uniform(0.6, 0.8)) if deformed else 1.0
    params = {
        "diameter_mm": diameter,
        "body_length_mm": (length - ogive) * shrink,
        "ogive_length_mm": ogive * shrink,
        "mushroom_frac": float(rng.uniform(0.3, 1.0)) if deformed else 0.0,
        "elevation_deg": float(rng.uniform(0.0, 70.0)),
        "angle_deg": float(rng.uniform(0.0, 360.0)),
        "mu_per_mm": FMJ_MU_PER_MM if jacketed else mu_per_mm("lead"),
    }
    return params, "lead_brass_jacket" if jacketed else "lead"


def sample_bullet(rng: np.random.Generator, ctx: PlacementContext) -> tuple[ObjectSpec, ...]:
    out = []
    for _ in range(pl.object_count(rng)):
        params, material = bullet_params(rng)
        centre = pl.place(rng, ctx, REGIONS)
        out.append(ObjectSpec(cls="bullet", kind=kinds.PHYS_BULLET, center_px=centre, material=material, params=params))
        if rng.random() < 0.2:
            for _ in range(int(rng.integers(2, 7))):
                poly = pl.convex_polygon(rng, float(rng.uniform(1.0, 4.0)), float(rng.uniform(0.5, 1.0)), 6)
                frag = pl.prism_params(poly, thickness_mm=float(rng.uniform(0.5, 2.0)), material="lead",
                                       tilt_deg=float(rng.uniform(0, 90)), angle_deg=float(rng.uniform(0, 360)))
                offset = rng.normal(0.0, 10.0, 2).clip(-25, 25)
                out.append(ObjectSpec(cls="bullet", kind=kinds.PHYS_FRAGMENT,
                                      center_px=pl.near(rng, ctx, centre, tuple(offset)), material="lead", params=frag))
    return tuple(out)
