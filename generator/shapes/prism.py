"""Prisms: convex polygons extruded and tilted (blades, knife and scalpel tips, angular
shrapnel fragments), with an optional rectangular through-slot."""

from __future__ import annotations

import torch

from generator.shapes.pose import cos_sin
from generator.shapes.solid import EPS, mm_to_px, params_4d, supersampled_mm, thin

PRISM_VERTICES = 8
_BIG = 1e6


def prism_chord(x, y, turn, tilt, half_thickness_mm, planes):
    """Chord (mm) along z through a convex polygon extruded by 2 * half_thickness, tilted
    about its u axis, at image-plane offsets x (N, 1, S, 4) and y (N, S, 1, 4) in mm.

    turn: (cos, sin) of the in-plane angle and tilt: (sin, cos) of the tilt, (N, 1, 1, 1)
    each, as in `rotate`; planes: (n1, n2, d), (N, K) each, the polygon's half-planes
    n1 x1 + n2 x2 <= d in its own plane (x1 = u, x2 across). With the tilt,
    x2 = v cos - s sin and the normal coordinate is v sin + s cos, so each half-plane bounds
    the ray parameter s from one side by r / g (r = d - n1 u - n2 v cos, g = -n2 sin):
    an affine function of (x, y), evaluated as a broadcast add of a row and a column term.
    """
    (ca, sa), (st, ct) = turn, tilt
    inv_c = 1.0 / ct.clamp_min(EPS)
    # Slab |v sin + s cos| <= h: s in (-+h - v sin) / cos, with v = -sa x + ca y.
    slope_x, slope_y = st * sa * inv_c, -st * ca * inv_c
    slab = slope_x * x + slope_y * y  # (N, S, S, 4)
    half = half_thickness_mm * inv_c
    n1, n2, d = (t[:, None, None, None, :] for t in planes)  # (N, 1, 1, 1, K)
    g = -n2 * st[..., None]
    upper = g >= 0  # the plane bounds s from above (s <= r / g)
    g = torch.where(upper, g.clamp_min(EPS), g.clamp_max(-EPS))
    ct5, ca5, sa5 = ct[..., None], ca[..., None], sa[..., None]
    a = (n2 * ct5 * sa5 - n1 * ca5) / g  # d(bound)/dx
    b = -(n1 * sa5 + n2 * ct5 * ca5) / g  # d(bound)/dy
    c = d / g
    inf = torch.tensor(float("inf"), device=x.device)
    by = b * y[..., None]  # (N, S, 1, 4, K)
    hi = (a * x[..., None] + torch.where(upper, c, inf) + by).amin(-1)
    lo = (a * x[..., None] + torch.where(upper, -inf, c) + by).amax(-1)
    hi = torch.minimum(hi, half + slab)
    lo = torch.maximum(lo, slab - half)
    return hi.sub_(lo).clamp_min_(0.0)


def polygon_halfplanes(xs: torch.Tensor, ys: torch.Tensor):
    """Outward half-planes (n1, n2, d), (N, K) each, of convex polygons given by their (N, K)
    vertex coordinates (any winding). Repeated vertices (unused slots) give degenerate
    edges, which are switched off."""
    cx, cy = xs.mean(1, keepdim=True), ys.mean(1, keepdim=True)
    ex, ey = xs.roll(-1, 1) - xs, ys.roll(-1, 1) - ys
    length = torch.sqrt(ex * ex + ey * ey)
    degenerate = length < 1e-6
    inv = 1.0 / length.clamp_min(1e-6)
    n1 = torch.where(degenerate, 0.0, ey * inv)
    n2 = torch.where(degenerate, 0.0, -ex * inv)
    d = n1 * xs + n2 * ys
    sign = torch.where((n1 * cx + n2 * cy) > d, -1.0, 1.0)  # the centroid must satisfy n . c <= d
    return n1 * sign, n2 * sign, torch.where(degenerate, _BIG, d * sign)


def _distinct_vertices(xs: torch.Tensor, ys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The leading vertex slots of (N, K) polygons up to the last slot where any of them has a
    new vertex (one host sync). Specs fill missing vertices by repeating the last, which
    makes degenerate edges: the slots dropped held only those, so the polygons' half-planes
    are the same and a blade group (3-5 vertices) costs about half of eight slots."""
    new = (xs[:, 1:] != xs[:, :-1]) | (ys[:, 1:] != ys[:, :-1])  # (N, K - 1) slot k + 1 differs from k
    used = new.any(dim=0).tolist()
    k = next((j + 2 for j in reversed(range(len(used))) if used[j]), 1)
    return xs[:, :k], ys[:, :k]


def _rect(half_a, half_b):
    """Half-planes of axis-aligned rectangles |x1| <= a, |x2| <= b; half_a, half_b: (N,)."""
    one, zero = torch.ones_like(half_a), torch.zeros_like(half_a)
    return (torch.stack([one, -one, zero, zero], 1), torch.stack([zero, zero, one, -one], 1),
            torch.stack([half_a, half_a, half_b, half_b], 1))


class Prism:
    """A convex polygon (PRISM_VERTICES vertex slots, repeats allowed) extruded by
    thickness_mm and tilted about u; an optional centred rectangular through-slot
    (hole_length_mm along u x hole_width_mm, 0 = none) as in a double-edged razor blade.
    Blades, knife and scalpel tips, angular shrapnel fragments (a kind of their own, so
    they are not evaluated on blade-sized windows)."""

    def extent_px(self, params, spacing_mm):
        ext = torch.hypot(params.slots("v{}_x_mm", range(PRISM_VERTICES)),
                          params.slots("v{}_y_mm", range(PRISM_VERTICES))).amax(dim=1)
        return mm_to_px(ext + params["thickness_mm"].reshape(-1), spacing_mm)

    def field(self, params, dx_px, dy_px, spacing_mm):
        p = params_4d(params)
        x, y = supersampled_mm(dx_px, dy_px, spacing_mm)
        turn, (ct, st) = cos_sin(p["angle_deg"]), cos_sin(p["tilt_deg"])
        tilt = (st, ct)
        thick, scale = thin(p["thickness_mm"], spacing_mm, 1)
        outline = polygon_halfplanes(*_distinct_vertices(params.slots("v{}_x_mm", range(PRISM_VERTICES)),
                                                        params.slots("v{}_y_mm", range(PRISM_VERTICES))))
        chord = prism_chord(x, y, turn, tilt, thick / 2.0, outline)
        hole_length, hole_width = params["hole_length_mm"].reshape(-1), params["hole_width_mm"].reshape(-1)
        if bool((hole_length > 0).any()):  # a host sync; fragments and most blades have no hole
            chord -= prism_chord(x, y, turn, tilt, thick / 2.0, _rect(hole_length / 2.0, hole_width / 2.0))
        return (p["mu_per_mm"] * scale * chord.clamp_min_(0.0)).mean(-1)
