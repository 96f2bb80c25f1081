"""Anatomical placement priors and shared helpers of the physical style's class samplers.

Regions are defined from the image's estimated anatomy (`generator.anatomy.estimate`), in units of
its own lung height (Lh, apex to diaphragm) and thorax width (Tw), never in fixed pixel
fractions. Image-right is the patient's left on a PA/AP film.

| region           | where (x, y)                                                          |
|------------------|-----------------------------------------------------------------------|
| oesophagus_upper | midline +- 0.03 Tw; apex - 0.12 Lh .. apex + 0.35 Lh (thoracic inlet,  |
|                  | upper mediastinum, trachea: where swallowed coins/batteries lodge)    |
| oesophagus_lower | midline + 0.05 Tw +- 0.03 Tw; diaphragm - 0.2 Lh .. - 0.02 Lh (GOJ)   |
| stomach_bowel    | below the diaphragm: stomach under the left hemidiaphragm (midline +  |
|                  | 0.05..0.35 Tw) or bowel (midline +- 0.4 Tw); diaphragm .. + 0.6 Lh     |
| thorax           | anywhere from apex - 0.1 Lh to diaphragm + 0.15 Lh across the thorax  |
| neck             | midline +- 0.1 Tw; apex - 0.35 Lh .. apex + 0.05 Lh                    |
| chest_wall       | across the thorax, apex .. diaphragm + 0.1 Lh (clothing on the skin)  |

A drawn centre outside the body mask, or on a burnt-out (clipped white) part of the film
where an object cannot show (`Anatomy.shows`), is redrawn (up to MAX_REDRAWS times, then a
uniformly drawn pixel where objects show, or of the body when there is none), so no object
centre ever lies in the air outside the patient or on a label-only white patch.

Every foreign body is then kept on the film (`on_film`): a centre drawn near the film's edge
(the neck and abdomen regions reach past it, and are clamped onto it) is moved inward the least
distance that puts the object's bounding circle on the film. Without that, an earring or a
fragment centred on the top edge was labelled as a 1-3 pixel sliver that no reader would box
and no detector can find. Objects larger than WHOLE_ON_FILM_SHARE of the film's smaller side
(long necklaces) may still run off the film, as real ones do, with their centre at least half
their extent inside it.
"""

from __future__ import annotations

import dataclasses
import math
from functools import lru_cache

import numpy as np
import torch

from generator.anatomy.estimate import Anatomy, nominal_anatomy
from generator.bodies.context import PlacementContext
from generator.bodies.materials import mu_per_mm
from generator.rng import cumulative, pick
from generator.shapes.base import ParamTable, object_spacing
from generator.shapes.prism import PRISM_VERTICES
from generator.shapes.registry import SHAPES
from generator.shapes.spheres import SPHERE_SLOTS
from generator.shapes.wire import WIRE_SLOTS
from generator.spec import ObjectSpec

MAX_REDRAWS = 30
# Objects whose bounding circle's radius is at most this share of the film's smaller side are
# kept wholly on the film (module docstring).
WHOLE_ON_FILM_SHARE = 0.25
# Objects per positive image: 1 most of the time, sometimes 2-3 of the same class.
OBJECT_COUNT_P = (0.78, 0.15, 0.07)
_OBJECT_COUNT_CDF = cumulative(OBJECT_COUNT_P)


@lru_cache(maxsize=64)
def _regions(weights: tuple[tuple[str, float], ...]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Region names and their cumulative distribution, once per weights table."""
    return tuple(name for name, _ in weights), cumulative([w for _, w in weights])


@lru_cache(maxsize=16)
def _nominal(height: int, width: int) -> Anatomy:
    return nominal_anatomy(height, width)


def anatomy_of(ctx: PlacementContext) -> Anatomy:
    an = getattr(ctx, "anatomy", None)
    if an is not None:
        return an
    if ctx.body_mask is not None:
        return dataclasses.replace(_nominal(ctx.height, ctx.width), body_grid=ctx.body_mask)
    return _nominal(ctx.height, ctx.width)


def _draw(rng: np.random.Generator, an: Anatomy, region: str) -> tuple[float, float]:
    lh, tw, mid = max(an.lung_height_px, 1.0), max(an.thorax_width_px, 1.0), an.midline_x_px
    apex, base = an.apex_y_px, an.diaphragm_y_px
    if region == "oesophagus_upper":
        return mid + rng.normal(0, 0.03 * tw), rng.uniform(apex - 0.12 * lh, apex + 0.35 * lh)
    if region == "oesophagus_lower":
        return mid + 0.05 * tw + rng.normal(0, 0.03 * tw), rng.uniform(base - 0.2 * lh, base - 0.02 * lh)
    if region == "stomach_bowel":
        x = mid + (rng.uniform(0.05, 0.35) if rng.random() < 0.5 else rng.uniform(-0.4, 0.4)) * tw
        return x, rng.uniform(base, base + 0.6 * lh)
    if region == "thorax":
        return (rng.uniform(an.thorax_x0_px - 0.05 * tw, an.thorax_x1_px + 0.05 * tw),
                rng.uniform(apex - 0.1 * lh, base + 0.15 * lh))
    if region == "neck":
        return mid + rng.normal(0, 0.1 * tw), rng.uniform(apex - 0.35 * lh, apex + 0.05 * lh)
    if region == "chest_wall":
        return rng.uniform(an.thorax_x0_px, an.thorax_x1_px), rng.uniform(apex, base + 0.1 * lh)
    raise KeyError(f"unknown region {region!r}")


def place(rng: np.random.Generator, ctx: PlacementContext, weights: dict[str, float]) -> tuple[float, float]:
    """A centre (x, y) in output pixels from a mixture of regions, always inside the body."""
    an = anatomy_of(ctx)
    names, cdf = _regions(tuple(weights.items()))
    region = pick(rng, names, cdf)
    for _ in range(MAX_REDRAWS):
        x, y = _draw(rng, an, region)
        # Films often stop just below the diaphragm: keep abdominal draws on the film.
        x = min(max(float(x), 0.0), ctx.width - 1e-3)
        y = min(max(float(y), 0.0), ctx.height - 1e-3)
        if an.shows(x, y):
            return x, y
    ys, xs = np.nonzero(an.showing_mask)
    if len(xs) == 0:
        ys, xs = np.nonzero(an.body_mask)
    k = int(rng.integers(len(xs)))
    return float(xs[k] + rng.uniform()), float(ys[k] + rng.uniform())


def extent_px(obj: ObjectSpec, spacing_mm: tuple[float, float]) -> float:
    """Radius in output pixels of a circle about obj's centre that holds the whole object
    (its shape's rasterisation window half-size, a bound, not the tightest one)."""
    names = sorted(obj.params)
    params = ParamTable(names, torch.tensor([[obj.params[name]] for name in names], dtype=torch.float32))
    ext = float(SHAPES[obj.kind].extent_px(params, object_spacing(params, torch.tensor([spacing_mm]))).reshape(-1)[0])
    return ext if math.isfinite(ext) else 0.0


def on_film(objects: tuple[ObjectSpec, ...], ctx: PlacementContext) -> tuple[ObjectSpec, ...]:
    """objects, each moved the least distance that keeps it on the (height, width) film (see the
    module docstring); an object already on the film keeps its drawn centre."""
    out = []
    limit = WHOLE_ON_FILM_SHARE * min(ctx.height, ctx.width)
    for obj in objects:
        ext = extent_px(obj, ctx.spacing_mm)
        margin = ext if ext <= limit else ext / 2.0
        x, y = obj.center_px
        x = _inside(x, margin, ctx.width)
        y = _inside(y, margin, ctx.height)
        out.append(obj if (x, y) == tuple(obj.center_px) else dataclasses.replace(obj, center_px=(x, y)))
    return tuple(out)


def _inside(v: float, margin: float, size: int) -> float:
    """v moved into [margin, size - margin]; only onto the film when the object is wider than it."""
    if 2.0 * margin >= size:
        margin = 0.0
    return float(min(max(v, margin), size - margin))


def near(rng: np.random.Generator, ctx: PlacementContext, centre: tuple[float, float],
         offset_mm: tuple[float, float]) -> tuple[float, float]:
    """centre moved by offset_mm (x, y); the centre itself when that leaves where objects show."""
    x = centre[0] + offset_mm[0] / ctx.spacing_mm[1]
    y = centre[1] + offset_mm[1] / ctx.spacing_mm[0]
    return (x, y) if anatomy_of(ctx).shows(x, y) else centre


def object_count(rng: np.random.Generator) -> int:
    return pick(rng, (1, 2, 3), _OBJECT_COUNT_CDF)


def pose_deg(rng: np.random.Generator, face_on_p: float = 0.6) -> float:
    """Tilt of a flat object from face-on: mostly near face-on (lying in a coronal plane,
    as in the oesophagus), sometimes oblique or edge-on (trachea, sagittal)."""
    r = rng.random()
    if r < face_on_p:
        return float(rng.uniform(0.0, 25.0))
    if r < face_on_p + 0.25:
        return float(rng.uniform(25.0, 75.0))
    return float(rng.uniform(75.0, 90.0))


def rotation(tilt_deg: float, angle_deg: float) -> np.ndarray:
    """3 x 3 rotation: tilt about x, then turn by angle about the beam (z), image axes.

    Kornia's `axis_angle_to_rotation_matrix` gives the same matrix to an ulp (and the same
    builds), but through a dozen torch calls per object: written out in floats it costs a
    small part of that, and a sampler calls it once per wire object.
    """
    t, a = math.radians(tilt_deg), math.radians(angle_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(t), -math.sin(t)], [0, math.sin(t), math.cos(t)]])
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    return rz @ rx


def wire_params(segments: list[tuple[np.ndarray, np.ndarray, float]], rot: np.ndarray, material: str,
                tilt_deg: float, angle_deg: float, mu_scale: float = 1.0) -> dict[str, float]:
    """phys_wire params: segments (p0, p1, diameter_mm) in the object frame, posed by rot and
    re-centred on their bounding box; slots past the segments are left out (the renderer
    reads a missing slot as 0, unused)."""
    if len(segments) > WIRE_SLOTS:
        raise ValueError(f"at most {WIRE_SLOTS} segments, got {len(segments)}")
    pts = np.array([(p0, p1) for p0, p1, _ in segments], dtype=np.float64).reshape(-1, 3) @ rot.T  # (2 K, 3)
    pts -= (pts.min(0) + pts.max(0)) / 2.0
    params = {"mu_per_mm": mu_per_mm(material) * mu_scale, "tilt_deg": tilt_deg, "angle_deg": angle_deg}
    for k, (ends, (_, _, d)) in enumerate(zip(np.round(pts, 4).reshape(-1, 6).tolist(), segments)):
        params.update(zip(_WIRE_NAMES[k], ends))
        params[f"s{k}_diameter_mm"] = float(d)
    return params


_WIRE_NAMES = [[f"s{k}_{name}_mm" for name in ("x0", "y0", "z0", "x1", "y1", "z1")] for k in range(WIRE_SLOTS)]


def sphere_params(centres_mm: np.ndarray, diameters_mm: np.ndarray, material: str) -> dict[str, float]:
    """phys_spheres params from (K, 2) in-plane centres (re-centred) and (K,) diameters;
    slots past the K spheres are left out (the renderer reads a missing slot as 0, unused)."""
    if len(centres_mm) > SPHERE_SLOTS:
        raise ValueError(f"at most {SPHERE_SLOTS} spheres, got {len(centres_mm)}")
    c = centres_mm - (centres_mm.min(0) + centres_mm.max(0)) / 2.0
    params = {"mu_per_mm": mu_per_mm(material), "tilt_deg": 0.0, "angle_deg": 0.0}
    for k, ((x, y), d) in enumerate(zip(c.tolist(), np.asarray(diameters_mm).tolist())):
        params[f"s{k}_x_mm"], params[f"s{k}_y_mm"] = round(x, 4), round(y, 4)
        params[f"s{k}_diameter_mm"] = float(d)
    return params


def disc_params(*, diameter_mm: float, thickness_mm: float, material: str, tilt_deg: float, angle_deg: float,
                cap_diameter_mm: float = 0.0, cap_thickness_mm: float = 0.0, mu_scale: float = 1.0) -> dict[str, float]:
    mu = mu_per_mm(material) * mu_scale
    return {"diameter_mm": diameter_mm, "thickness_mm": thickness_mm, "cap_diameter_mm": cap_diameter_mm,
            "cap_thickness_mm": cap_thickness_mm, "tilt_deg": tilt_deg, "angle_deg": angle_deg,
            "mu_per_mm": mu, "cap_mu_per_mm": mu}


def prism_params(vertices_mm: np.ndarray, *, thickness_mm: float, material: str, tilt_deg: float, angle_deg: float,
                 hole_length_mm: float = 0.0, hole_width_mm: float = 0.0) -> dict[str, float]:
    """phys_prism params from a convex polygon (K <= 8, K, 2); missing vertices repeat the last."""
    v = np.round(vertices_mm - (vertices_mm.min(0) + vertices_mm.max(0)) / 2.0, 4).tolist()
    params = {"thickness_mm": thickness_mm, "hole_length_mm": hole_length_mm, "hole_width_mm": hole_width_mm,
              "tilt_deg": tilt_deg, "angle_deg": angle_deg, "mu_per_mm": mu_per_mm(material)}
    for k in range(PRISM_VERTICES):
        params[f"v{k}_x_mm"], params[f"v{k}_y_mm"] = v[min(k, len(v) - 1)]
    return params


def convex_polygon(rng: np.random.Generator, size_mm: float, aspect: float, n: int) -> np.ndarray:
    """(n, 2) vertices of an irregular convex polygon about size_mm across (angular fragments)."""
    angles = np.sort(rng.uniform(0.0, 2 * math.pi, n))
    radii = rng.uniform(0.6, 1.0, n) * size_mm / 2.0
    pts = np.stack([radii * np.cos(angles), radii * np.sin(angles) * aspect], axis=1)
    return _hull(pts)


def _hull(pts: np.ndarray) -> np.ndarray:
    """Convex hull (monotone chain), counter-clockwise; in Python floats, which for a handful
    of points is several times faster than numpy rows (and the same float64 arithmetic)."""
    p = pts[np.lexsort((pts[:, 1], pts[:, 0]))].tolist()

    def half(seq):
        out: list[list[float]] = []
        for q in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (q[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (q[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(q)
        return out

    lower, upper = half(p), half(p[::-1])
    return np.array(lower[:-1] + upper[:-1])
