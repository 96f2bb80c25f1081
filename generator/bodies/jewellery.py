"""Jewellery and clothing metal, the most common metal on real chest films.

| item        | geometry (mm)                                              | material          |
|-------------|------------------------------------------------------------|-------------------|
| necklace    | chain: 20-segment U arc 60-120 wide, 40-120 deep, wire      | brass or steel    |
|             | 0.8-2.0; pendant (50 %): disc 10-25 x 1-2 at the lowest point |                |
| earring     | hoop 10-30 across (16 segments, wire 0.8-1.5) or stud ball 3-6 | brass or steel |
| hooks       | bra hook-and-eye: 2-3 U hooks 6 x 4, wire 0.8-1.0, 6 apart | steel             |
| zip         | 20 teeth 4-6 across, 1.5-2.5 thick, pitch 2.5-3.5          | brass or aluminium|
| buttons     | 1-3 discs in a column 60-100 apart: metal 14-20 x 1.5-2.5  | brass/steel/plastic|
|             | or plastic 10-25 x 2-4                                     |                   |
| underwire   | 16-segment U arc 100-130 wide, 50-80 deep, wire 1.5-2.0;   | steel             |
|             | a pair left and right of the midline (70 %)                |                   |
Typical retail dimensions. Placement: neck for necklaces and earrings; the chest wall
surface for clothing (buttons and zips near the midline, underwire at the lower thorax).
Chains and wires are posed in 3-D (tilt 0-30 deg, in-plane turn +-15 deg, or 0-360 for
small items).
"""

from __future__ import annotations

import math

import numpy as np

from generator.bodies import placement as pl
from generator.bodies.context import PlacementContext
from generator.rng import cumulative, pick
from generator.shapes import kinds
from generator.spec import ObjectSpec

CLS = "jewellery_clothing"
ITEMS = {"necklace": 0.25, "earring": 0.1, "hooks": 0.15, "zip": 0.15, "buttons": 0.15, "underwire": 0.2}
_ITEM_NAMES, _ITEM_CDF = tuple(ITEMS), cumulative(tuple(ITEMS.values()))


def _arc(width_mm: float, depth_mm: float, n: int, d_mm: float) -> list:
    t = np.linspace(-1.0, 1.0, n + 1)
    pts = np.stack([width_mm / 2 * t, depth_mm * (1 - t * t), np.zeros_like(t)], axis=1)
    return [(pts[k], pts[k + 1], d_mm) for k in range(n)]


def _hoop(diameter_mm: float, n: int, d_mm: float) -> list:
    a = np.linspace(0, 2 * math.pi, n + 1)
    pts = np.stack([diameter_mm / 2 * np.cos(a), diameter_mm / 2 * np.sin(a), np.zeros_like(a)], axis=1)
    return [(pts[k], pts[k + 1], d_mm) for k in range(n)]


def _wire(rng, ctx, centre, segs, material, small: bool) -> ObjectSpec:
    tilt = float(rng.uniform(0, 60 if small else 30))
    angle = float(rng.uniform(0, 360)) if small else float(rng.uniform(-15, 15))
    params = pl.wire_params(segs, pl.rotation(tilt, angle), material, tilt, angle)
    return ObjectSpec(cls=CLS, kind=kinds.PHYS_WIRE, center_px=centre, material=material, params=params)


def _item(rng: np.random.Generator, ctx: PlacementContext, item: str) -> list[ObjectSpec]:
    metal = pick(rng, ("brass", "steel"))
    if item == "necklace":
        w, depth = rng.uniform(60, 120), rng.uniform(40, 120)
        centre = pl.place(rng, ctx, {"neck": 1.0})
        out = [_wire(rng, ctx, centre, _arc(w, depth, 20, rng.uniform(0.8, 2.0)), metal, small=False)]
        if rng.random() < 0.5:
            disc = pl.disc_params(diameter_mm=float(rng.uniform(10, 25)), thickness_mm=float(rng.uniform(1, 2)),
                                  material=metal, tilt_deg=float(rng.uniform(0, 40)),
                                  angle_deg=float(rng.uniform(0, 180)))
            at = pl.near(rng, ctx, centre, (0.0, depth / 2.0 + disc["diameter_mm"] / 2.0))
            out.append(ObjectSpec(cls=CLS, kind=kinds.PHYS_DISC, center_px=at, material=metal, params=disc))
        return out
    if item == "earring":
        centre = pl.place(rng, ctx, {"neck": 1.0})
        if rng.random() < 0.5:
            return [_wire(rng, ctx, centre, _hoop(rng.uniform(10, 30), 16, rng.uniform(0.8, 1.5)), metal, small=True)]
        params = pl.sphere_params(np.zeros((1, 2)), np.array([rng.uniform(3, 6)]), metal)
        return [ObjectSpec(cls=CLS, kind=kinds.PHYS_SPHERES, center_px=centre, material=metal, params=params)]
    if item == "hooks":
        segs = []
        wd = rng.uniform(0.8, 1.0)
        for k in range(int(rng.integers(2, 4))):
            x = 6.0 * k
            a, b, c, d = (np.array(p, dtype=float) for p in ([x, 0, 0], [x, 6, 0], [x + 4, 6, 0], [x + 4, 1.5, 0]))
            segs += [(a, b, wd), (b, c, wd), (c, d, wd)]
        return [_wire(rng, ctx, pl.place(rng, ctx, {"chest_wall": 1.0}), segs, "steel", small=True)]
    if item == "zip":
        pitch, tw, td = rng.uniform(2.5, 3.5), rng.uniform(4, 6), rng.uniform(1.5, 2.5)
        segs = [(np.array([-tw / 2, k * pitch, 0.0]), np.array([tw / 2, k * pitch, 0.0]), td) for k in range(20)]
        material = "brass" if rng.random() < 0.6 else "aluminium"
        spec = _wire(rng, ctx, pl.place(rng, ctx, {"chest_wall": 1.0}), segs, material, small=False)
        return [spec]
    if item == "buttons":
        plastic = rng.random() < 0.4
        material = "plastic" if plastic else metal
        d = float(rng.uniform(10, 25) if plastic else rng.uniform(14, 20))
        t = float(rng.uniform(2, 4) if plastic else rng.uniform(1.5, 2.5))
        centre = pl.place(rng, ctx, {"chest_wall": 1.0})
        gap = float(rng.uniform(60, 100))
        out = []
        for k in range(int(rng.integers(1, 4))):
            params = pl.disc_params(diameter_mm=d, thickness_mm=t, material=material,
                                    tilt_deg=float(rng.uniform(0, 30)), angle_deg=float(rng.uniform(0, 180)))
            out.append(ObjectSpec(cls=CLS, kind=kinds.PHYS_DISC, center_px=pl.near(rng, ctx, centre, (0.0, k * gap)),
                                  material=material, params=params))
        return out
    w, depth, wd = rng.uniform(100, 130), rng.uniform(50, 80), rng.uniform(1.5, 2.0)
    centre = pl.place(rng, ctx, {"chest_wall": 1.0})
    segs = _arc(w, depth, 16, wd)
    out = [_wire(rng, ctx, centre, segs, "steel", small=False)]
    if rng.random() < 0.7:
        out.append(_wire(rng, ctx, pl.near(rng, ctx, centre, (w * 1.1, 0.0)), segs, "steel", small=False))
    return out


def sample_jewellery_clothing(rng: np.random.Generator, ctx: PlacementContext) -> tuple[ObjectSpec, ...]:
    out: list[ObjectSpec] = []
    for _ in range(pl.object_count(rng)):
        out += _item(rng, ctx, pick(rng, _ITEM_NAMES, _ITEM_CDF))
    return tuple(out)
