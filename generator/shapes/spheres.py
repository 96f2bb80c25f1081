"""Sphere groups: magnet balls, shotgun pellets, beads."""

from __future__ import annotations

import torch

from generator.shapes.chords import sphere_chord
from generator.shapes.solid import Parts, mm_to_px, sub_window_half_px, used_slots

SPHERE_SLOTS = 12


class Spheres:
    """Up to SPHERE_SLOTS spheres (magnet balls, shotgun pellets, beads); unused slots have
    diameter 0 or are left out of the params. s{k}_x_mm, s{k}_y_mm: in-plane centre offsets
    in image axes."""

    def extent_px(self, params, spacing_mm):
        x, y, d = (params.slots(f"s{{}}_{name}", range(SPHERE_SLOTS)) for name in ("x_mm", "y_mm", "diameter_mm"))
        ext = torch.hypot(x, y) + d / 2.0
        return mm_to_px(ext.amax(dim=1), spacing_mm)

    def field(self, params, dx_px, dy_px, spacing_mm):
        used = used_slots(params, SPHERE_SLOTS)
        if not used:
            return torch.zeros_like(dx_px + dy_px)
        radii = params.slots("s{}_diameter_mm", used) / 2.0
        parts = Parts(dx_px, dy_px, spacing_mm, radii > 0)
        cx, cy = params.slots("s{}_x_mm", used), params.slots("s{}_y_mm", used)
        mu, pcx, pcy, r = parts.each(params["mu_per_mm"]), parts.part(cx), parts.part(cy), parts.part(radii)
        parts.add(cx, cy, sub_window_half_px(radii, spacing_mm), lambda x, y: mu * sphere_chord(x - pcx, y - pcy, r))
        return parts.result()
