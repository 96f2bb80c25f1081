"""The `jewellery_clothing` class: jewellery here, clothing metal in
`generator.bodies.clothing`; together the most common metal on real chest films, and the
heaviest class of the physical style's default mix (`generator.render.styles`).

| item        | geometry (mm)                                              | material          |
|-------------|------------------------------------------------------------|-------------------|
| necklace    | chain: 20-segment U arc 60-120 wide, 40-120 deep, wire      | brass or steel    |
|             | 0.8-2.0; pendant (50 %): disc 10-25 x 1-2 at the lowest point |                |
| earring     | hoop 10-30 across (16 segments, wire 0.8-1.5) or stud ball 3-6 | brass or steel |
| ring        | a hollow finger ring (`sheet_metal.finger_ring`), on a hand | gold_14k, steel,  |
|             | over the chest or swallowed                                 | brass             |
Typical retail dimensions. Placement: neck for necklaces and earrings; rings over the
thorax or in the oesophagus / stomach. Chains and wires are posed in 3-D (tilt 0-30 deg,
in-plane turn +-15 deg, or 0-360 for small items).

Item mix (share of a `jewellery_clothing` object): buttons 0.20, snaps 0.10, rivets 0.07,
zip 0.12, hooks 0.10, underwire 0.12, safety_pin 0.05, necklace 0.12, earring 0.06,
ring 0.06: clothing first, as on real films.
"""

from __future__ import annotations

import numpy as np

from generator.bodies import clothing, sheet_metal
from generator.bodies import placement as pl
from generator.bodies.context import PlacementContext
from generator.rng import cumulative, pick
from generator.shapes import kinds
from generator.spec import ObjectSpec

CLS = clothing.CLS
ITEMS = {"buttons": 0.20, "snaps": 0.10, "rivets": 0.07, "zip": 0.12, "hooks": 0.10, "underwire": 0.12,
         "safety_pin": 0.05, "necklace": 0.12, "earring": 0.06, "ring": 0.06}
_ITEM_NAMES, _ITEM_CDF = tuple(ITEMS), cumulative(tuple(ITEMS.values()))


def _necklace(rng, ctx, metal) -> list[ObjectSpec]:
    w, depth = rng.uniform(60, 120), rng.uniform(40, 120)
    centre = pl.place(rng, ctx, {"neck": 1.0})
    out = [clothing.wire(rng, centre, clothing.arc(w, depth, 20, rng.uniform(0.8, 2.0)), metal, small=False)]
    if rng.random() < 0.5:
        disc = pl.disc_params(diameter_mm=float(rng.uniform(10, 25)), thickness_mm=float(rng.uniform(1, 2)),
                              material=metal, tilt_deg=float(rng.uniform(0, 40)), angle_deg=float(rng.uniform(0, 180)))
        at = pl.near(rng, ctx, centre, (0.0, depth / 2.0 + disc["diameter_mm"] / 2.0))
        out.append(ObjectSpec(cls=CLS, kind=kinds.PHYS_DISC, center_px=at, material=metal, params=disc))
    return out


def _earring(rng, ctx, metal) -> list[ObjectSpec]:
    centre = pl.place(rng, ctx, {"neck": 1.0})
    if rng.random() < 0.5:
        segs = clothing.hoop(rng.uniform(10, 30), 16, rng.uniform(0.8, 1.5))
        return [clothing.wire(rng, centre, segs, metal, small=True)]
    params = pl.sphere_params(np.zeros((1, 2)), np.array([rng.uniform(3, 6)]), metal)
    return [ObjectSpec(cls=CLS, kind=kinds.PHYS_SPHERES, center_px=centre, material=metal, params=params)]


def _ring(rng, ctx) -> list[ObjectSpec]:
    material = pick(rng, ("gold_14k", "gold_14k", "steel", "brass"))
    params = sheet_metal.finger_ring(rng, material, pl.pose_deg(rng, 0.4), float(rng.uniform(0, 180)))
    centre = pl.place(rng, ctx, {"thorax": 0.6, "oesophagus_upper": 0.2, "stomach_bowel": 0.2})
    return [ObjectSpec(cls=CLS, kind=kinds.PHYS_SHEET, center_px=centre, material=material, params=params)]


def _item(rng: np.random.Generator, ctx: PlacementContext, item: str) -> list[ObjectSpec]:
    metal = pick(rng, ("brass", "steel"))
    if item == "necklace":
        return _necklace(rng, ctx, metal)
    if item == "earring":
        return _earring(rng, ctx, metal)
    if item == "ring":
        return _ring(rng, ctx)
    if item == "buttons":
        return clothing.buttons(rng, ctx, metal)
    if item == "snaps":
        return clothing.snaps(rng, ctx, metal)
    if item == "rivets":
        return clothing.rivets(rng, ctx)
    if item == "zip":
        return clothing.zip_chain(rng, ctx)
    if item == "hooks":
        return clothing.hooks(rng, ctx)
    if item == "safety_pin":
        return clothing.safety_pin(rng, ctx)
    return clothing.underwire(rng, ctx)


def sample_jewellery_clothing(rng: np.random.Generator, ctx: PlacementContext) -> tuple[ObjectSpec, ...]:
    out: list[ObjectSpec] = []
    for _ in range(pl.object_count(rng)):
        out += _item(rng, ctx, pick(rng, _ITEM_NAMES, _ITEM_CDF))
    return tuple(out)
