"""Clothing metal (part of the `jewellery_clothing` class): the metal real chest films show
most often (the object-CXR challenge's largest categories are buttons and zips).

| item        | geometry (mm)                                              | material            |
|-------------|------------------------------------------------------------|---------------------|
| buttons     | 1-4 stamped buttons (`sheet_metal.button`) in a column      | brass, steel        |
|             | 60-100 apart (shirt, coat); 20 % plastic 10-25 x 2-4         | (or plastic)        |
| snaps       | 1-4 press studs (`sheet_metal.snap`) 40-80 apart            | brass, steel        |
| rivets      | 1-3 jeans rivets (`sheet_metal.rivet`), lower film edge     | brass               |
| zip         | 20 interlocked teeth: 4-6 wide, stamped 0.8-1.2 thick,      | brass, aluminium    |
|             | pitch 2.5-3.5 (YKK #3-#5 metal chain), a slider 8-11 x     | zinc alloy slider   |
|             | 12-15 of 1.0-1.6 mm projected metal with a pull tab         | (steel's mu)        |
| hooks       | bra hook-and-eye: 2-3 U hooks 6 x 4, wire 0.6-0.9, 6 apart | steel               |
| underwire   | 16-segment U arc 100-130 wide, 50-80 deep; flat steel wire | steel               |
|             | 2-3 x 0.8-1.0, as a round wire of the same section (1.2-1.8)|                     |
|             | a pair left and right of the midline (70 %)                |                     |
| safety_pin  | 20-50 long, wire 0.7-1.0, coil 3-5 across, clasp head       | steel               |
Typical retail dimensions and the makers' catalogues cited in `sheet_metal`. Placement:
the chest wall surface (buttons, snaps and zips near the midline, underwire at the lower
thorax). Flat items tilt 0-30 deg (they lie on the skin, facing the beam).
"""

from __future__ import annotations

import math

import numpy as np

from generator.bodies import placement as pl
from generator.bodies import sheet_metal
from generator.bodies.context import PlacementContext
from generator.bodies.materials import mu_per_mm
from generator.shapes import kinds
from generator.spec import ObjectSpec

CLS = "jewellery_clothing"


def arc(width_mm: float, depth_mm: float, n: int, d_mm: float) -> list:
    t = np.linspace(-1.0, 1.0, n + 1)
    pts = np.stack([width_mm / 2 * t, depth_mm * (1 - t * t), np.zeros_like(t)], axis=1)
    return [(pts[k], pts[k + 1], d_mm) for k in range(n)]


def hoop(diameter_mm: float, n: int, d_mm: float, centre=(0.0, 0.0)) -> list:
    a = np.linspace(0, 2 * math.pi, n + 1)
    pts = np.stack([centre[0] + diameter_mm / 2 * np.cos(a), centre[1] + diameter_mm / 2 * np.sin(a),
                    np.zeros_like(a)], axis=1)
    return [(pts[k], pts[k + 1], d_mm) for k in range(n)]


def wire(rng, centre, segs, material, small: bool, cls: str = CLS) -> ObjectSpec:
    tilt = float(rng.uniform(0, 60 if small else 30))
    angle = float(rng.uniform(0, 360)) if small else float(rng.uniform(-15, 15))
    params = pl.wire_params(segs, pl.rotation(tilt, angle), material, tilt, angle)
    return ObjectSpec(cls=cls, kind=kinds.PHYS_WIRE, center_px=centre, material=material, params=params)


def _sheets(rng, ctx, make, count: int, gap_mm: float, material: str) -> list[ObjectSpec]:
    centre = pl.place(rng, ctx, {"chest_wall": 1.0})
    return [ObjectSpec(cls=CLS, kind=kinds.PHYS_SHEET, center_px=pl.near(rng, ctx, centre, (0.0, k * gap_mm)),
                       material=material, params=make(float(rng.uniform(0, 30)), float(rng.uniform(0, 180))))
            for k in range(count)]


def buttons(rng: np.random.Generator, ctx: PlacementContext, metal: str) -> list[ObjectSpec]:
    if rng.random() < 0.2:
        d, t = float(rng.uniform(10, 25)), float(rng.uniform(2, 4))
        return _sheets(rng, ctx, lambda tilt, angle: sheet_metal.sheet_params(
            [(d / 2, 0.0, t, 0.0, mu_per_mm("plastic"))], tilt_deg=tilt, angle_deg=angle),
            int(rng.integers(1, 4)), float(rng.uniform(60, 100)), "plastic")
    return _sheets(rng, ctx, lambda tilt, angle: sheet_metal.button(rng, metal, tilt, angle),
                   int(rng.integers(1, 5)), float(rng.uniform(60, 100)), metal)


def snaps(rng: np.random.Generator, ctx: PlacementContext, metal: str) -> list[ObjectSpec]:
    return _sheets(rng, ctx, lambda tilt, angle: sheet_metal.snap(rng, metal, tilt, angle),
                   int(rng.integers(1, 5)), float(rng.uniform(40, 80)), metal)


def rivets(rng: np.random.Generator, ctx: PlacementContext) -> list[ObjectSpec]:
    return _sheets(rng, ctx, lambda tilt, angle: sheet_metal.rivet(rng, tilt, angle),
                   int(rng.integers(1, 4)), float(rng.uniform(15, 40)), "brass")


def zip_chain(rng: np.random.Generator, ctx: PlacementContext) -> list[ObjectSpec]:
    pitch, tw, td = rng.uniform(2.5, 3.5), rng.uniform(4, 6), rng.uniform(0.8, 1.2)
    # Teeth alternate from the two tapes and interlock past the middle.
    segs = [(np.array([-tw / 2 if k % 2 else -tw * 0.1, k * pitch / 2, 0.0]),
             np.array([tw * 0.1 if k % 2 else tw / 2, k * pitch / 2, 0.0]), td) for k in range(20)]
    material = "brass" if rng.random() < 0.6 else "aluminium"
    centre = pl.place(rng, ctx, {"chest_wall": 1.0})
    chain = wire(rng, centre, segs, material, small=False)
    w, length = float(rng.uniform(8, 11)), float(rng.uniform(12, 15))
    body = np.array([[-w / 2, 0], [w / 2, 0], [w * 0.3, length], [-w * 0.3, length]])
    slider = pl.prism_params(body, thickness_mm=float(rng.uniform(1.0, 1.6)), material="steel",
                             tilt_deg=float(rng.uniform(0, 20)), angle_deg=chain.params["angle_deg"] + 90.0,
                             hole_length_mm=float(rng.uniform(3, 5)), hole_width_mm=float(rng.uniform(1.5, 2.5)))
    at = pl.near(rng, ctx, centre, (0.0, -20.0 * pitch / 4 - length / 2))
    return [chain, ObjectSpec(cls=CLS, kind=kinds.PHYS_PRISM, center_px=at, material="steel", params=slider)]


def hooks(rng: np.random.Generator, ctx: PlacementContext) -> list[ObjectSpec]:
    segs = []
    wd = rng.uniform(0.6, 0.9)
    for k in range(int(rng.integers(2, 4))):
        x = 6.0 * k
        a, b, c, d = (np.array(p, dtype=float) for p in ([x, 0, 0], [x, 6, 0], [x + 4, 6, 0], [x + 4, 1.5, 0]))
        segs += [(a, b, wd), (b, c, wd), (c, d, wd)]
    return [wire(rng, pl.place(rng, ctx, {"chest_wall": 1.0}), segs, "steel", small=True)]


def underwire(rng: np.random.Generator, ctx: PlacementContext) -> list[ObjectSpec]:
    w, depth, wd = rng.uniform(100, 130), rng.uniform(50, 80), rng.uniform(1.2, 1.8)
    centre = pl.place(rng, ctx, {"chest_wall": 1.0})
    segs = arc(w, depth, 16, wd)
    out = [wire(rng, centre, segs, "steel", small=False)]
    if rng.random() < 0.7:
        out.append(wire(rng, pl.near(rng, ctx, centre, (w * 1.1, 0.0)), segs, "steel", small=False))
    return out


def safety_pin(rng: np.random.Generator, ctx: PlacementContext) -> list[ObjectSpec]:
    length, wd, coil = rng.uniform(20, 50), rng.uniform(0.7, 1.0), rng.uniform(3, 5)
    spread = rng.uniform(3, 6)
    top, bottom = np.array([length, spread / 2, 0.0]), np.array([length, -spread / 2, 0.0])
    origin = np.array([0.0, 0.0, 0.0])
    segs = [(origin + [coil / 2, coil / 4, 0], top, wd), (origin + [coil / 2, -coil / 4, 0], bottom, wd)]
    segs += hoop(coil, 8, wd)
    head_w = spread + 2.0
    segs += [(np.array([length - 1, -head_w / 2, 0]), np.array([length + 4, -head_w / 2, 0]), 1.2),
             (np.array([length + 4, -head_w / 2, 0]), np.array([length + 4, head_w / 2, 0]), 1.2),
             (np.array([length + 4, head_w / 2, 0]), np.array([length - 1, head_w / 2, 0]), 1.2)]
    return [wire(rng, pl.place(rng, ctx, {"chest_wall": 0.7, "neck": 0.3}), segs, "steel", small=True)]
