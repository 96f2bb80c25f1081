"""Projected thickness of parametric 3-D solids along the beam: what the physical style's
kernels share.

Each physical kind returns, on an object's pixel window, the line integral of attenuation
`mu * t` (dimensionless optical depth) where `t` is the chord length in mm of the ray
through the solid: the beam runs along +z, perpendicular to the image. Chords are analytic
(a cylinder, a sphere and a convex prism are intersections of slabs and quadrics, so a
ray's chord is an interval intersection; `generator.shapes.chords`), evaluated at 2 x 2
sub-pixel points and averaged, which gives partial-volume edges. Offsets are converted from
output pixels to mm with the image's own spacing, so an object has the same size in mm on
every image. Frames and angles: `generator.shapes.pose`.

All kernels are batched over the N objects of one kind: params are (N, 1, 1) tensors and
every operation is elementwise on (N, S, S, 4) tensors; the only Python loops run over a
fixed, small number of parts (slots, slices), never over objects or pixels.
"""

from __future__ import annotations

import math

import torch

from generator.shapes.base import ParamTable

# Sub-pixel sample offsets (px) for 2 x 2 supersampling.
_SUB_X = (-0.25, 0.25, -0.25, 0.25)
_SUB_Y = (-0.25, -0.25, 0.25, 0.25)
EPS = 1e-6

_SUB_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def _sub_offsets(dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
    """The sub-pixel offsets as tensors, made once per (dtype, device)."""
    key = (dtype, str(device))
    if key not in _SUB_CACHE:
        _SUB_CACHE[key] = (torch.tensor(_SUB_X, dtype=dtype, device=device),
                           torch.tensor(_SUB_Y, dtype=dtype, device=device))
    return _SUB_CACHE[key]


def used_slots(params: ParamTable, slots: int) -> list[int]:
    """Slots with a non-zero diameter in at least one object of the group (one host sync):
    the others contribute nothing and are skipped."""
    d = params.slots("s{}_diameter_mm", range(slots))  # (N, K)
    return [k for k, used in enumerate((d > 0).any(dim=0).tolist()) if used]


def supersampled_mm(dx_px, dy_px, spacing_mm):
    """Pixel offsets -> x, y offsets in mm at 2 x 2 sub-pixel points, (N, 1, S, 4) and
    (N, S, 1, 4) from (N, 1, S) and (N, S, 1): they broadcast to (N, S, S, 4)."""
    ox, oy = _sub_offsets(dx_px.dtype, dx_px.device)
    row_mm = spacing_mm[:, 0:1, :, :]  # (N, 1, 1, 1)
    col_mm = spacing_mm[:, 1:2, :, :]
    return (dx_px[..., None] + ox) * col_mm, (dy_px[..., None] + oy) * row_mm


def params_4d(params: ParamTable) -> ParamTable:
    """(N, 1, 1) params -> (N, 1, 1, 1) so they broadcast against (N, S, S, 4)."""
    return params.with_dims(3)


def thin(size_mm: torch.Tensor, spacing_mm: torch.Tensor, power: int):
    """Widen a dimension thinner than the sub-pixel pitch, returning (size, mu factor).

    A 0.1 mm razor blade edge-on falls between the 2 x 2 sub-pixel samples and would
    vanish; widening it to the pitch and scaling mu by (size / widened)^power (1 for a
    slab, 2 for a round wire) keeps the line integral, i.e. the object's mass, exact.
    """
    pitch = 0.5 * spacing_mm.amax(dim=1, keepdim=True)  # (N, 1, 1, 1)
    wide = torch.maximum(size_mm, pitch)
    return wide, (size_mm / wide) ** power


def mm_to_px(extent_mm: torch.Tensor, spacing_mm: torch.Tensor) -> torch.Tensor:
    """(N,) window half-size in pixels for an (N, ...) half-extent in mm; spacing_mm (N, 2)."""
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


def sub_window_half_px(half_mm: torch.Tensor, spacing_mm: torch.Tensor) -> int:
    """Sub-window half size in pixels for parts of half-extent half_mm (N, K): one host sync."""
    min_spacing = spacing_mm.reshape(-1, 2).min(dim=1).values  # (N,)
    return int(math.ceil(float((half_mm.reshape(min_spacing.shape[0], -1) / min_spacing[:, None]).max()))) + 1


class Parts:
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
        x, y = supersampled_mm(dx, dy, self.spacing_mm)
        vals = chord_fn(x, y).mean(-1).reshape(flat.shape) * valid  # (M, s*s)
        self.out.scatter_add_(0, (flat + (self.obj * self.size * self.size)[:, None]).reshape(-1), vals.reshape(-1))

    def result(self) -> torch.Tensor:
        return self.out.view(-1, self.size, self.size)
