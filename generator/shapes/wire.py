"""Wires: straight round segments posed in 3-D (chains, hoops, hooks, zips, underwire,
stacked disc magnets)."""

from __future__ import annotations

import torch

from generator.shapes.chords import cylinder_chord
from generator.shapes.solid import EPS, Parts, mm_to_px, sub_window_half_px, thin, used_slots

WIRE_SLOTS = 24


class Wire:
    """Up to WIRE_SLOTS straight round segments in 3-D (chains, hoops, hooks, zips,
    underwire, stacked disc magnets). Segment k runs from (s{k}_x0_mm, s{k}_y0_mm,
    s{k}_z0_mm) to (s{k}_x1_mm, ...), image axes with z along the beam, already posed by
    the sampler; diameter 0, or a slot left out of the params, = unused."""

    def extent_px(self, params, spacing_mm):
        x0, y0, x1, y1, diameter = (params.slots(f"s{{}}_{name}", range(WIRE_SLOTS))
                                    for name in ("x0_mm", "y0_mm", "x1_mm", "y1_mm", "diameter_mm"))
        ext = torch.maximum(torch.hypot(x0, y0), torch.hypot(x1, y1)) + diameter
        return mm_to_px(ext.amax(dim=1), spacing_mm)

    def field(self, params, dx_px, dy_px, spacing_mm):
        used = used_slots(params, WIRE_SLOTS)
        if not used:
            return torch.zeros_like(dx_px + dy_px)
        x0, y0, z0, x1, y1, z1, diameter = (params.slots(f"s{{}}_{name}", used)
                                            for name in ("x0_mm", "y0_mm", "z0_mm", "x1_mm", "y1_mm", "z1_mm",
                                                         "diameter_mm"))
        half = sub_window_half_px(torch.hypot(x1 - x0, y1 - y0) / 2.0 + diameter, spacing_mm)
        parts = Parts(dx_px, dy_px, spacing_mm, diameter > 0)
        ax, ay, az = parts.part(x1 - x0), parts.part(y1 - y0), parts.part(z1 - z0)
        length = torch.sqrt(ax * ax + ay * ay + az * az).clamp_min(EPS)
        in_plane = torch.hypot(ax, ay)
        # axis direction in the image plane (x when the segment runs along the beam)
        ex = torch.where(in_plane > EPS, ax / in_plane.clamp_min(EPS), torch.ones_like(ax))
        ey = torch.where(in_plane > EPS, ay / in_plane.clamp_min(EPS), torch.zeros_like(ay))
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        pcx, pcy = parts.part(cx), parts.part(cy)
        wide, scale = thin(parts.part(diameter), parts.spacing_mm, 2)
        mu = parts.each(params["mu_per_mm"])

        def chord(x, y):
            # Along and across the segment: affine in (x, y), one broadcast add each.
            along = (ex * x - (pcx * ex + pcy * ey)) + ey * y
            across = (pcx * ey - pcy * ex - ey * x) + ex * y
            return (mu * scale) * cylinder_chord(across, along, in_plane / length, az.abs() / length, length / 2.0,
                                                 wide / 2.0)

        parts.add(cx, cy, half, chord)
        return parts.result()
