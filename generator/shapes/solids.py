"""Projected thickness of parametric 3-D solids along the beam: the physical style's kernels.

Each shape kind returns, on an object's pixel window, the line integral of attenuation
`mu * t` (dimensionless optical depth) where `t` is the chord length in mm of the ray
through the solid: the beam runs along +z, perpendicular to the image. Chords are analytic
(a cylinder, a sphere and a convex prism are intersections of slabs and quadrics, so a
ray's chord is an interval intersection), evaluated at 2 x 2 sub-pixel points and averaged,
which gives partial-volume edges. Offsets are converted from output pixels to mm with the
image's own spacing, so an object has the same size in mm on every image.

Frames: `rotate(dx, dy, angle_deg)` gives (u, v), u along the object's in-plane reference
axis, v across it (image axes, y down). Flat solids (discs, prisms) tilt about u by
`tilt_deg` (0 = face-on, 90 = edge-on). Elongated solids (bullets, rods) lie along u and
rise out of the image plane by `elevation_deg` (0 = lying flat, 90 = end-on).

All kernels are batched over the N objects of one kind: params are (N, 1, 1) tensors and
every operation is elementwise on (N, S, S, 4) tensors; the only Python loops run over a
fixed, small number of parts (slots, slices), never over objects or pixels.
"""

from __future__ import annotations

import math

import torch

from generator.bodies.base import ParamTable, register_shape, rotate

# Sub-pixel sample offsets (px) for 2 x 2 supersampling.
_SUB_X = (-0.25, 0.25, -0.25, 0.25)
_SUB_Y = (-0.25, -0.25, 0.25, 0.25)
_EPS = 1e-6
_BIG = 1e6
DEG = math.pi / 180.0

SPHERE_SLOTS = 12
WIRE_SLOTS = 24
PRISM_VERTICES = 8
BULLET_BODY_PIECES = 3
BULLET_OGIVE_SLICES = 8
ROD_SHAFT_PIECES = 8
ROD_TIP_SLICES = 4


_SUB_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def _sub_offsets(dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
    """The sub-pixel offsets as tensors, made once per (dtype, device)."""
    key = (dtype, str(device))
    if key not in _SUB_CACHE:
        _SUB_CACHE[key] = (torch.tensor(_SUB_X, dtype=dtype, device=device),
                           torch.tensor(_SUB_Y, dtype=dtype, device=device))
    return _SUB_CACHE[key]


def _used_slots(params: ParamTable, slots: int) -> list[int]:
    """Slots with a non-zero diameter in at least one object of the group (one host sync):
    the others contribute nothing and are skipped."""
    d = params.slots("s{}_diameter_mm", range(slots))  # (N, K)
    return [k for k, used in enumerate((d > 0).any(dim=0).tolist()) if used]


def _supersampled_mm(dx_px, dy_px, spacing_mm):
    """Pixel offsets -> x, y offsets in mm at 2 x 2 sub-pixel points, (N, 1, S, 4) and
    (N, S, 1, 4) from (N, 1, S) and (N, S, 1): they broadcast to (N, S, S, 4)."""
    ox, oy = _sub_offsets(dx_px.dtype, dx_px.device)
    row_mm = spacing_mm[:, 0:1, :, :]  # (N, 1, 1, 1)
    col_mm = spacing_mm[:, 1:2, :, :]
    return (dx_px[..., None] + ox) * col_mm, (dy_px[..., None] + oy) * row_mm


def _p4(params: ParamTable) -> ParamTable:
    """(N, 1, 1) params -> (N, 1, 1, 1) so they broadcast against (N, S, S, 4)."""
    return params.with_dims(3)


def _thin(size_mm: torch.Tensor, spacing_mm: torch.Tensor, power: int):
    """Widen a dimension thinner than the sub-pixel pitch, returning (size, mu factor).

    A 0.1 mm razor blade edge-on falls between the 2 x 2 sub-pixel samples and would
    vanish; widening it to the pitch and scaling mu by (size / widened)^power (1 for a
    slab, 2 for a round wire) keeps the line integral, i.e. the object's mass, exact.
    """
    pitch = 0.5 * spacing_mm.amax(dim=1, keepdim=True)  # (N, 1, 1, 1)
    wide = torch.maximum(size_mm, pitch)
    return wide, (size_mm / wide) ** power


def _mm_to_px(extent_mm: torch.Tensor, spacing_mm: torch.Tensor) -> torch.Tensor:
    return extent_mm.reshape(-1) / spacing_mm.min(dim=1).values + 1.0


def _slot_grid(dx0, dy0, size: int, spacing_mm, cx_mm, cy_mm, half_px: int):
    """A (2 half_px + 1)^2 sub-window of an object's window around one part's centre.

    Parts (segments, spheres, slices) are small next to the whole object, so each is
    evaluated on its own sub-window and added into the object's window: the cost follows
    the parts' area, not (window area x number of parts).
    dx0, dy0: (M,) pixel offset of window pixel (0, 0) from the object centre; size: window
    side S; spacing_mm: (M, 2, 1, 1); cx_mm, cy_mm: (M,) part centre relative to the object
    centre, image axes. Returns sub-window pixel offsets dx, dy (M, s, s), flat indices into
    the (S*S) window (M, s*s) and a validity mask (M, s*s) for sub-window pixels outside it;
    dx is (M, 1, s) and dy (M, s, 1), which broadcast to the sub-window.
    """
    m = dx0.shape[0]
    jc = cx_mm / spacing_mm[:, 1, 0, 0] - dx0
    ic = cy_mm / spacing_mm[:, 0, 0, 0] - dy0
    steps = torch.arange(2 * half_px + 1, device=dx0.device)
    j = torch.floor(jc).to(torch.int64)[:, None] - half_px + steps  # (M, s)
    i = torch.floor(ic).to(torch.int64)[:, None] - half_px + steps
    valid = ((i >= 0) & (i < size))[:, :, None] & ((j >= 0) & (j < size))[:, None, :]  # (M, s, s)
    dx = (dx0[:, None] + j.to(dx0.dtype))[:, None, :]  # (M, 1, s): broadcasts against dy
    dy = (dy0[:, None] + i.to(dx0.dtype))[:, :, None]  # (M, s, 1)
    flat = i.clamp(0, size - 1)[:, :, None] * size + j.clamp(0, size - 1)[:, None, :]
    return dx, dy, flat.reshape(m, -1), valid.reshape(m, -1)


def _half_px(half_mm: torch.Tensor, spacing_mm: torch.Tensor) -> int:
    """Sub-window half size in pixels for parts of half-extent half_mm (N, K): one host sync."""
    min_spacing = spacing_mm.reshape(-1, 2).min(dim=1).values  # (N,)
    return int(math.ceil(float((half_mm.reshape(min_spacing.shape[0], -1) / min_spacing[:, None]).max()))) + 1


class _Parts:
    """Accumulates the parts of N objects, evaluated together on sub-windows, into (N, S, S)
    windows. Part tensors are (N, K), K part slots per object; `used` (N, K) bool marks the
    M parts that exist (a 4-link earring beside a 20-link necklace has 4), and only those
    are evaluated. `part` gathers an (N, K) tensor's used entries and `each` repeats an
    object's (N, 1, 1, 1) parameter for its used parts, both as (M, 1, 1, 1)."""

    def __init__(self, dx_px, dy_px, spacing_mm, used: torch.Tensor):
        self.obj, self.slot = used.nonzero(as_tuple=True)  # (M,) each, grouped by object
        n, self.size = dx_px.shape[0], dx_px.shape[-1]  # dx_px: (N, 1, S)
        self.dx0 = dx_px[:, 0, 0][self.obj]  # (M,)
        self.dy0 = dy_px[:, 0, 0][self.obj]
        self.spacing_mm = spacing_mm[self.obj]  # (M, 2, 1, 1)
        self.out = torch.zeros(n * self.size * self.size, dtype=dx_px.dtype, device=dx_px.device)

    def each(self, t: torch.Tensor) -> torch.Tensor:
        return t.reshape(-1, 1, 1, 1)[self.obj]

    def part(self, t: torch.Tensor) -> torch.Tensor:
        return t[self.obj, self.slot].reshape(-1, 1, 1, 1)

    def add(self, cx_mm, cy_mm, half_px: int, chord_fn) -> None:
        """cx_mm, cy_mm: (N, K) part centres; chord_fn(x_mm, y_mm) -> (M, s, s, 4) optical
        depth at offsets from the object centre."""
        dx, dy, flat, valid = _slot_grid(self.dx0, self.dy0, self.size, self.spacing_mm, cx_mm[self.obj, self.slot],
                                         cy_mm[self.obj, self.slot], half_px)
        x, y = _supersampled_mm(dx, dy, self.spacing_mm)
        vals = chord_fn(x, y).mean(-1).reshape(flat.shape) * valid  # (M, s*s)
        self.out.scatter_add_(0, (flat + (self.obj * self.size * self.size)[:, None]).reshape(-1), vals.reshape(-1))

    def result(self) -> torch.Tensor:
        return self.out.view(-1, self.size, self.size)


def cylinder_chord(u, v, sin_t, cos_t, half_len_mm, radius_mm):
    """Chord (mm) along z of a ray at (u, v) through a cylinder centred at the origin.

    The cylinder's axis is (0, sin_t, cos_t) in (u, v, z): tilted from the beam by theta
    toward +v. A ray point (u, v, s) is inside when u^2 + (v cos - s sin)^2 <= R^2 (radial)
    and |v sin + s cos| <= h (axial); each is an interval in s, the chord is their overlap.
    Where |u| >= R the radial interval is a single point, so the chord is 0 there.
    """
    inv_s = 1.0 / sin_t.clamp_min(_EPS)
    inv_c = 1.0 / cos_t.clamp_min(_EPS)
    q = torch.addcmul(radius_mm * radius_mm, u, u, value=-1.0).clamp_min_(0.0).sqrt_().mul_(inv_s)
    radial = v * (cos_t * inv_s)  # centre of the radial interval
    axial = v * (sin_t * inv_c)  # minus the centre of the axial one
    half_axial = half_len_mm * inv_c
    hi = torch.minimum(radial + q, half_axial - axial)
    lo = torch.maximum(radial - q, -half_axial - axial)
    return hi.sub_(lo).clamp_min_(0.0)


def sphere_chord(x, y, radius_mm):
    return 2.0 * torch.sqrt((radius_mm * radius_mm - x * x - y * y).clamp_min(0.0))


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
    inv_c = 1.0 / ct.clamp_min(_EPS)
    # Slab |v sin + s cos| <= h: s in (-+h - v sin) / cos, with v = -sa x + ca y.
    slope_x, slope_y = st * sa * inv_c, -st * ca * inv_c
    slab = slope_x * x + slope_y * y  # (N, S, S, 4)
    half = half_thickness_mm * inv_c
    n1, n2, d = (t[:, None, None, None, :] for t in planes)  # (N, 1, 1, 1, K)
    g = -n2 * st[..., None]
    upper = g >= 0  # the plane bounds s from above (s <= r / g)
    g = torch.where(upper, g.clamp_min(_EPS), g.clamp_max(-_EPS))
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


class _Disc:
    """Coaxial stack: a base cylinder (diameter_mm x thickness_mm) plus a cap on one face.

    cap_thickness_mm > 0 adds a cylinder of cap_diameter_mm on the face (a button battery's
    anode cap: the step-off side-on, the double ring face-on); < 0 removes one (a coin's
    recessed field inside its raised rim). Face-on at tilt 0, edge-on at 90; the tilt axis
    (the ellipse's long axis) points along angle_deg.
    """

    kind = "phys_disc"

    def extent_px(self, params, spacing_mm):
        ext = params["diameter_mm"] / 2.0 + params["thickness_mm"] + params["cap_thickness_mm"].abs()
        return _mm_to_px(ext, spacing_mm)

    def field(self, params, dx_px, dy_px, spacing_mm):
        p = _p4(params)
        x, y = _supersampled_mm(dx_px, dy_px, spacing_mm)
        u, v = rotate(x, y, p["angle_deg"])
        t = p["tilt_deg"] * DEG
        st, ct = torch.sin(t), torch.cos(t)
        cap = p["cap_thickness_mm"]
        thick, scale = _thin(p["thickness_mm"], spacing_mm, 1)
        base = scale * cylinder_chord(u, v, st, ct, thick / 2.0, p["diameter_mm"] / 2.0)
        w = p["thickness_mm"] / 2.0 + cap / 2.0  # cap centre along the axis
        cap_chord = cylinder_chord(u, v - w * st, st, ct, cap.abs() / 2.0, p["cap_diameter_mm"] / 2.0)
        out = p["mu_per_mm"] * base + torch.sign(cap) * p["cap_mu_per_mm"] * cap_chord
        return out.clamp_min(0.0).mean(-1)


class _Spheres:
    """Up to SPHERE_SLOTS spheres (magnet balls, shotgun pellets, beads); unused slots have
    diameter 0 or are left out of the params. s{k}_x_mm, s{k}_y_mm: in-plane centre offsets
    in image axes."""

    kind = "phys_spheres"

    def extent_px(self, params, spacing_mm):
        x, y, d = (params.slots(f"s{{}}_{name}", range(SPHERE_SLOTS)) for name in ("x_mm", "y_mm", "diameter_mm"))
        ext = torch.hypot(x, y) + d / 2.0
        return _mm_to_px(ext.amax(dim=1), spacing_mm)

    def field(self, params, dx_px, dy_px, spacing_mm):
        used = _used_slots(params, SPHERE_SLOTS)
        if not used:
            return torch.zeros_like(dx_px + dy_px)
        radii = params.slots("s{}_diameter_mm", used) / 2.0
        parts = _Parts(dx_px, dy_px, spacing_mm, radii > 0)
        cx, cy = params.slots("s{}_x_mm", used), params.slots("s{}_y_mm", used)
        mu, pcx, pcy, r = parts.each(params["mu_per_mm"]), parts.part(cx), parts.part(cy), parts.part(radii)
        parts.add(cx, cy, _half_px(radii, spacing_mm), lambda x, y: mu * sphere_chord(x - pcx, y - pcy, r))
        return parts.result()


def _axial_chord(u, v, cos_e, sin_e, centre_mm, half_len_mm, radius_mm):
    """A cylinder whose axis lies along u, raised out of plane by elevation e, centred at
    centre_mm along that axis: the general cylinder with the roles of u and v swapped."""
    return cylinder_chord(v, u - centre_mm * cos_e, cos_e, sin_e, half_len_mm, radius_mm)


def _axial_parts(p, dx_px, dy_px, spacing_mm, centre_mm, half_len_mm, radius_mm):
    """Sum of coaxial cylinders along an object's u axis, each on its own sub-window.

    centre_mm, half_len_mm, radius_mm: (N, K), the K pieces' centres along the axis, half
    lengths and radii.
    """
    a = p["angle_deg"].reshape(-1, 1) * DEG  # (N, 1)
    e = p["elevation_deg"].reshape(-1, 1) * DEG
    ca, sa, ce, se = torch.cos(a), torch.sin(a), torch.cos(e), torch.sin(e)
    w, h, r = centre_mm, half_len_mm, radius_mm
    half = _half_px(h * ce + r, spacing_mm)
    parts = _Parts(dx_px, dy_px, spacing_mm, torch.ones_like(w, dtype=torch.bool))
    d, scale = _thin(2.0 * parts.part(r), parts.spacing_mm, 2)
    mu, angle, ce_k, se_k = (parts.each(t) for t in (p["mu_per_mm"], p["angle_deg"], ce, se))
    w_k, h_k = parts.part(w), parts.part(h)

    def chord(x, y):
        u, v = rotate(x, y, angle)
        return mu * scale * _axial_chord(u, v, ce_k, se_k, w_k, h_k, d / 2.0)

    parts.add(w * ce * ca, w * ce * sa, half, chord)
    return parts.result()


def _midpoints(k: int, like: torch.Tensor) -> torch.Tensor:
    """(1, k): 0.5, 1.5, ..., k - 0.5, the midpoints of k equal pieces in units of a piece."""
    return torch.arange(k, dtype=like.dtype, device=like.device)[None, :] + 0.5


class _Bullet:
    """Cylinder + tangent ogive along u (base at -u, nose at +u), optionally mushroomed.

    The body is BULLET_BODY_PIECES coaxial cylinders and the ogive BULLET_OGIVE_SLICES more,
    at the tangent-ogive radius of each slice's midpoint; mushroom_frac in [0, 1] blends the
    nose toward a flared, expanded profile (a deformed, fired bullet).
    """

    kind = "phys_bullet"

    def extent_px(self, params, spacing_mm):
        half = (params["body_length_mm"] + params["ogive_length_mm"]) / 2.0
        return _mm_to_px(half + params["diameter_mm"], spacing_mm)

    def field(self, params, dx_px, dy_px, spacing_mm):
        radius, body, ogive, m = (params[name].reshape(-1, 1) for name in
                                  ("diameter_mm", "body_length_mm", "ogive_length_mm", "mushroom_frac"))  # (N, 1)
        radius = radius / 2.0
        start = -(body + ogive) / 2.0
        piece = body / BULLET_BODY_PIECES
        body_at = start + _midpoints(BULLET_BODY_PIECES, body) * piece  # (N, 3) piece centres
        rho = (radius * radius + ogive * ogive) / (2.0 * radius)
        step = ogive / BULLET_OGIVE_SLICES
        xk = _midpoints(BULLET_OGIVE_SLICES, ogive) * step  # (N, 8) slice midpoints from the ogive's base
        r_ogive = torch.sqrt((rho * rho - xk * xk).clamp_min(0.0)) + (radius - rho)
        r_flare = radius * (1.0 + 0.6 * xk / ogive.clamp_min(_EPS))
        centre = torch.cat([body_at, start + body + xk], 1)
        half = torch.cat([(piece / 2.0).expand_as(body_at), (step / 2.0).expand_as(xk)], 1)
        radii = torch.cat([radius.expand_as(body_at), torch.lerp(r_ogive, r_flare, m)], 1)
        return _axial_parts(_p4(params), dx_px, dy_px, spacing_mm, centre, half, radii)


class _Rod:
    """Pins, needles, nails along u: head (at -u), shaft, tip tapering to a point (at +u)."""

    kind = "phys_rod"

    def extent_px(self, params, spacing_mm):
        half = (params["head_length_mm"] + params["shaft_length_mm"] + params["tip_length_mm"]) / 2.0
        return _mm_to_px(half + params["head_diameter_mm"], spacing_mm)

    def field(self, params, dx_px, dy_px, spacing_mm):
        head, shaft, tip, d_head, d_shaft = (params[name].reshape(-1, 1) for name in (
            "head_length_mm", "shaft_length_mm", "tip_length_mm", "head_diameter_mm", "shaft_diameter_mm"))
        start = -(head + shaft + tip) / 2.0
        shaft_k = _midpoints(ROD_SHAFT_PIECES, shaft)  # (1, 8)
        tip_k = _midpoints(ROD_TIP_SLICES, tip)  # (1, 4)
        piece, step = shaft / ROD_SHAFT_PIECES, tip / ROD_TIP_SLICES
        centre = torch.cat([start + head / 2.0, start + head + shaft_k * piece, start + head + shaft + tip_k * step], 1)
        half = torch.cat([head / 2.0, (piece / 2.0).expand(-1, ROD_SHAFT_PIECES),
                          (step / 2.0).expand(-1, ROD_TIP_SLICES)], 1)
        radii = torch.cat([d_head / 2.0, (d_shaft / 2.0).expand(-1, ROD_SHAFT_PIECES),
                           d_shaft / 2.0 * (1.0 - tip_k / ROD_TIP_SLICES)], 1)
        return _axial_parts(_p4(params), dx_px, dy_px, spacing_mm, centre, half, radii)


class _Prism:
    """A convex polygon (PRISM_VERTICES vertex slots, repeats allowed) extruded by
    thickness_mm and tilted about u; an optional centred rectangular through-slot
    (hole_length_mm along u x hole_width_mm, 0 = none) as in a double-edged razor blade.
    Blades, knife and scalpel tips, angular shrapnel fragments."""

    def __init__(self, kind: str = "phys_prism"):
        # Small fragments get their own kind so they are not evaluated on blade-sized windows.
        self.kind = kind

    def extent_px(self, params, spacing_mm):
        ext = torch.hypot(params.slots("v{}_x_mm", range(PRISM_VERTICES)),
                          params.slots("v{}_y_mm", range(PRISM_VERTICES))).amax(dim=1)
        return _mm_to_px(ext + params["thickness_mm"].reshape(-1), spacing_mm)

    def field(self, params, dx_px, dy_px, spacing_mm):
        p = _p4(params)
        x, y = _supersampled_mm(dx_px, dy_px, spacing_mm)
        a, t = p["angle_deg"] * DEG, p["tilt_deg"] * DEG
        turn, tilt = (torch.cos(a), torch.sin(a)), (torch.sin(t), torch.cos(t))
        thick, scale = _thin(p["thickness_mm"], spacing_mm, 1)
        outline = polygon_halfplanes(*_distinct_vertices(params.slots("v{}_x_mm", range(PRISM_VERTICES)),
                                                         params.slots("v{}_y_mm", range(PRISM_VERTICES))))
        chord = prism_chord(x, y, turn, tilt, thick / 2.0, outline)
        hole_length, hole_width = params["hole_length_mm"].reshape(-1), params["hole_width_mm"].reshape(-1)
        if bool((hole_length > 0).any()):  # a host sync; fragments and most blades have no hole
            chord -= prism_chord(x, y, turn, tilt, thick / 2.0, _rect(hole_length / 2.0, hole_width / 2.0))
        return (p["mu_per_mm"] * scale * chord.clamp_min_(0.0)).mean(-1)


class _Wire:
    """Up to WIRE_SLOTS straight round segments in 3-D (chains, hoops, hooks, zips,
    underwire, stacked disc magnets). Segment k runs from (s{k}_x0_mm, s{k}_y0_mm,
    s{k}_z0_mm) to (s{k}_x1_mm, ...), image axes with z along the beam, already posed by
    the sampler; diameter 0, or a slot left out of the params, = unused."""

    kind = "phys_wire"

    def extent_px(self, params, spacing_mm):
        x0, y0, x1, y1, diameter = (params.slots(f"s{{}}_{name}", range(WIRE_SLOTS))
                                    for name in ("x0_mm", "y0_mm", "x1_mm", "y1_mm", "diameter_mm"))
        ext = torch.maximum(torch.hypot(x0, y0), torch.hypot(x1, y1)) + diameter
        return _mm_to_px(ext.amax(dim=1), spacing_mm)

    def field(self, params, dx_px, dy_px, spacing_mm):
        used = _used_slots(params, WIRE_SLOTS)
        if not used:
            return torch.zeros_like(dx_px + dy_px)
        x0, y0, z0, x1, y1, z1, diameter = (params.slots(f"s{{}}_{name}", used)
                                            for name in ("x0_mm", "y0_mm", "z0_mm", "x1_mm", "y1_mm", "z1_mm",
                                                         "diameter_mm"))
        half = _half_px(torch.hypot(x1 - x0, y1 - y0) / 2.0 + diameter, spacing_mm)
        parts = _Parts(dx_px, dy_px, spacing_mm, diameter > 0)
        ax, ay, az = parts.part(x1 - x0), parts.part(y1 - y0), parts.part(z1 - z0)
        length = torch.sqrt(ax * ax + ay * ay + az * az).clamp_min(_EPS)
        in_plane = torch.hypot(ax, ay)
        # axis direction in the image plane (x when the segment runs along the beam)
        ex = torch.where(in_plane > _EPS, ax / in_plane.clamp_min(_EPS), torch.ones_like(ax))
        ey = torch.where(in_plane > _EPS, ay / in_plane.clamp_min(_EPS), torch.zeros_like(ay))
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        pcx, pcy = parts.part(cx), parts.part(cy)
        wide, scale = _thin(parts.part(diameter), parts.spacing_mm, 2)
        mu = parts.each(params["mu_per_mm"])

        def chord(x, y):
            # Along and across the segment: affine in (x, y), one broadcast add each.
            along = (ex * x - (pcx * ex + pcy * ey)) + ey * y
            across = (pcx * ey - pcy * ex - ey * x) + ex * y
            return (mu * scale) * cylinder_chord(across, along, in_plane / length, az.abs() / length, length / 2.0,
                                                 wide / 2.0)

        parts.add(cx, cy, half, chord)
        return parts.result()


DISC = register_shape(_Disc())
SPHERES = register_shape(_Spheres())
BULLET = register_shape(_Bullet())
ROD = register_shape(_Rod())
PRISM = register_shape(_Prism())
FRAGMENT = register_shape(_Prism(kind="phys_fragment"))
WIRE = register_shape(_Wire())
