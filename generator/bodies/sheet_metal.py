"""Parameters of `phys_sheet` objects: stamped clothing metal, coins with rim and relief,
hollow rings, layered button batteries. Each builder draws with the sample's rng and
returns the params a spec stores (slots of `generator.shapes.sheet`).

Sheet thickness: clothing hardware is stamped from 0.2-0.5 mm brass, steel or stainless
strip (press-fastener and jeans-rivet makers' drawings, e.g. Prym / YKK catalogues list
0.25-0.45 mm brass; EN 10140 cold-rolled strip), which is why real buttons and snaps
attenuate partially and show their holes, rims and embossing on a chest film instead of
saturating like a coin (1.5-2.3 mm of solid metal).

| item        | geometry (mm)                                                        | material      |
|-------------|----------------------------------------------------------------------|---------------|
| button      | 11.5-23 across (lignes 18-36, 1 L = 0.635 mm), sheet 0.25-0.5 with a | brass, steel  |
|             | rolled rim 1-1.8 wide (2.5-3.5 sheets in projection), 2 or 4 holes   |               |
|             | 1.5-2.2 on a 1.4-2.6 radius; or a shank button with embossed relief  |               |
| snap        | press stud: flange 10-15, sheet 0.25-0.4, boss 4-6 across 2-3 high, | brass, steel  |
|             | socket spring ring; stud and socket stacked (closed snap)            |               |
| rivet       | jeans rivet: cap 8-10, sheet 0.4-0.6 copper-plated brass, hollow     | brass         |
|             | post 2.5-3.5 across, 4-6 long, wall 0.4                              |               |
| ring        | finger ring: inner diameter 14-22 (ISO 8653 sizes 44-69), band 2-8   | gold_14k,     |
|             | wide, wall 1.2-2.5; a washer when face-on, a band when edge-on       | steel, brass  |
"""

from __future__ import annotations

import math

import numpy as np

from generator.bodies.materials import mu_per_mm
from generator.shapes.sheet import FEATURE_SLOTS, RING_SLOTS

SHEET_MM = (0.25, 0.5)


def sheet_params(rings: list[tuple[float, float, float, float, float]],
                 features: list[tuple[float, float, float, float, float, float]] = (), *,
                 tilt_deg: float, angle_deg: float) -> dict[str, float]:
    """rings: (outer, inner, height, z, mu) per annulus; features: (x, y, z, diameter, height,
    signed mu) per off-axis cylinder; mm and 1/mm. Unused slots are left out."""
    if len(rings) > RING_SLOTS or len(features) > FEATURE_SLOTS:
        raise ValueError(f"at most {RING_SLOTS} rings and {FEATURE_SLOTS} features, got {len(rings)}, {len(features)}")
    out = {"tilt_deg": float(tilt_deg), "angle_deg": float(angle_deg)}
    for k, ring in enumerate(rings):
        out.update({f"r{k}_{n}": round(float(v), 5) for n, v in
                    zip(("outer_mm", "inner_mm", "height_mm", "z_mm", "mu_per_mm"), ring)})
    for j, feat in enumerate(features):
        out.update({f"f{j}_{n}": round(float(v), 5) for n, v in
                    zip(("x_mm", "y_mm", "z_mm", "diameter_mm", "height_mm", "mu_per_mm"), feat)})
    return out


def _relief(rng: np.random.Generator, radius_mm: float, height_mm: float, mu: float, n: int) -> list:
    """n raised bumps (embossing: a head, letters, numerals) inside radius_mm."""
    out = []
    for _ in range(n):
        d = float(rng.uniform(1.5, 0.5 * radius_mm))
        r, a = float(rng.uniform(0, radius_mm - d / 2)), float(rng.uniform(0, 2 * math.pi))
        out.append((r * math.cos(a), r * math.sin(a), 0.0, d, height_mm, mu))
    return out


def button(rng: np.random.Generator, material: str, tilt_deg: float, angle_deg: float) -> dict[str, float]:
    """A stamped metal button: plate, rolled rim, 2 or 4 sew holes (or a shank with relief)."""
    mu = mu_per_mm(material)
    radius = float(rng.uniform(18, 36)) * 0.635 / 2.0
    sheet, rim = float(rng.uniform(*SHEET_MM)), float(rng.uniform(1.0, 1.8))
    rings = [(radius - rim / 2, 0.0, sheet, 0.0, mu), (radius, radius - rim, sheet * float(rng.uniform(2.5, 3.5)),
                                                         0.0, mu)]
    if rng.random() < 0.75:
        holes, hole_d, at = (2 if rng.random() < 0.4 else 4), float(rng.uniform(1.5, 2.2)), float(rng.uniform(1.4, 2.6))
        turn = float(rng.uniform(0, math.pi))
        features = [(at * math.cos(turn + 2 * math.pi * h / holes), at * math.sin(turn + 2 * math.pi * h / holes),
                     0.0, hole_d, sheet * 1.01, -mu) for h in range(holes)]
    else:
        features = _relief(rng, radius - rim, sheet, mu, int(rng.integers(2, 5)))
        rings.append((1.5, 1.1, 3.0, -1.5, mu))  # the shank loop behind the face
    return sheet_params(rings, features, tilt_deg=tilt_deg, angle_deg=angle_deg)


def snap(rng: np.random.Generator, material: str, tilt_deg: float, angle_deg: float) -> dict[str, float]:
    """A closed press stud: socket flange with its spring ring, the stud's boss inside it."""
    mu = mu_per_mm(material)
    radius, sheet = float(rng.uniform(5.0, 7.5)), float(rng.uniform(0.25, 0.4))
    boss, boss_h = float(rng.uniform(2.0, 3.0)), float(rng.uniform(2.0, 3.0))
    rings = [
        (radius, boss, sheet, -0.5, mu),  # socket flange
        (radius, boss, sheet, boss_h, mu),  # stud flange
        (boss + sheet, boss, boss_h, boss_h / 2, mu),  # boss wall
        (boss, 0.0, sheet, boss_h, mu),  # boss top
        (boss * 1.25, boss * 1.25 - 0.5, 0.6, 0.2, mu),  # spring ring (0.5 mm wire)
        (radius, radius - sheet * 2, 1.2, 0.0, mu),  # rolled edge
    ]
    return sheet_params(rings, tilt_deg=tilt_deg, angle_deg=angle_deg)


def rivet(rng: np.random.Generator, tilt_deg: float, angle_deg: float) -> dict[str, float]:
    """A jeans rivet: domed cap over a hollow post (the post reads as a bright inner ring)."""
    mu = mu_per_mm("brass")
    radius, sheet = float(rng.uniform(4.0, 5.0)), float(rng.uniform(0.4, 0.6))
    post, length = float(rng.uniform(1.25, 1.75)), float(rng.uniform(4.0, 6.0))
    rings = [(radius, 0.0, sheet, 0.0, mu), (radius, radius - 0.8, sheet * 2.5, 0.0, mu),
             (post, post - 0.4, length, -length / 2, mu), (post * 1.6, 0.0, sheet, -length, mu)]
    return sheet_params(rings, tilt_deg=tilt_deg, angle_deg=angle_deg)


def finger_ring(rng: np.random.Generator, material: str, tilt_deg: float, angle_deg: float) -> dict[str, float]:
    """A hollow band: an annulus along its axis (a washer face-on, a band edge-on)."""
    inner = float(rng.uniform(14.0, 22.0)) / 2.0
    wall, band = float(rng.uniform(1.2, 2.5)), float(rng.uniform(2.0, 8.0))
    return sheet_params([(inner + wall, inner, band, 0.0, mu_per_mm(material))], tilt_deg=tilt_deg,
                        angle_deg=angle_deg)


def coin(rng: np.random.Generator, diameter_mm: float, thickness_mm: float, material: str, tilt_deg: float,
         angle_deg: float, hole_mm: float = 0.0) -> dict[str, float]:
    """A struck coin: raised rim 0.6-1.5 wide, field recessed 0.05-0.25 per face, 3-6 relief
    motifs raised back to the rim's height; a central hole for holed coins (5 yen, 50 yen)."""
    mu, radius = mu_per_mm(material), diameter_mm / 2.0
    rim, recess = float(rng.uniform(0.6, 1.5)), float(rng.uniform(0.05, 0.25))
    field = thickness_mm - 2 * recess
    rings = [(radius, radius - rim, thickness_mm, 0.0, mu), (radius - rim, hole_mm / 2.0, field, 0.0, mu)]
    features = _relief(rng, radius - rim - hole_mm / 2.0 if hole_mm else radius - rim, recess, mu,
                       int(rng.integers(3, 7)))
    features = [(x, y, s * (field + recess) / 2.0, d, h, m) for (x, y, _, d, h, m), s in
                zip(features, [1, -1] * 4)]  # relief on both faces
    if hole_mm:
        # keep the relief off the hole
        features = [f for f in features if math.hypot(f[0], f[1]) - f[3] / 2 > hole_mm / 2]
    return sheet_params(rings, features, tilt_deg=tilt_deg, angle_deg=angle_deg)


def battery(diameter_mm: float, height_mm: float, *, cap_ratio: float, step_mm: float, wall_mm: float,
            content_mu: float, tilt_deg: float, angle_deg: float) -> dict[str, float]:
    """A coin cell's layers (IEC 60086 construction): a stainless can (the positive; wall
    `wall_mm`), a smaller cap (the negative) pressed into it through a polymer gasket and
    standing `step_mm` proud of the can's rim, and the cell's contents between.

    Face-on the can's wall and the cap's wall are seen end-on: two bright rings, at the
    can's radius and at the cap's (the double ring, "halo"); side-on the cap's step is the
    step-off. Contents: volume-averaged mu `content_mu` (MnO2 / Li or Zn / KOH gel)."""
    steel, radius = mu_per_mm("steel"), diameter_mm / 2.0
    cap_r, can_h = radius * cap_ratio, height_mm - step_mm
    cap_depth = step_mm + 0.5 * can_h
    z_bottom, z_top = -height_mm / 2.0, height_mm / 2.0
    rings = [
        (radius, 0.0, wall_mm, z_bottom + wall_mm / 2, steel),  # can floor
        (radius, radius - wall_mm, can_h, z_bottom + can_h / 2, steel),  # can wall
        (cap_r, 0.0, wall_mm, z_top - wall_mm / 2, steel),  # cap top
        (cap_r, cap_r - wall_mm, cap_depth, z_top - cap_depth / 2, steel),  # cap wall
        (radius - wall_mm, 0.0, height_mm - 2 * wall_mm - step_mm, z_bottom + can_h / 2, content_mu),
    ]
    return sheet_params(rings, tilt_deg=tilt_deg, angle_deg=angle_deg)
