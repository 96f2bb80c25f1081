"""Rods: pins, needles, nails; head, shaft and a tip tapering to a point."""

from __future__ import annotations

import torch

from generator.shapes.axial import axial_parts, midpoints
from generator.shapes.solid import mm_to_px, params_4d

ROD_SHAFT_PIECES = 8
ROD_TIP_SLICES = 4


class Rod:
    """Pins, needles, nails along u: head (at -u), shaft, tip tapering to a point (at +u)."""

    def extent_px(self, params, spacing_mm):
        half = (params["head_length_mm"] + params["shaft_length_mm"] + params["tip_length_mm"]) / 2.0
        return mm_to_px(half + params["head_diameter_mm"], spacing_mm)

    def field(self, params, dx_px, dy_px, spacing_mm):
        head, shaft, tip, d_head, d_shaft = (params[name].reshape(-1, 1) for name in (
            "head_length_mm", "shaft_length_mm", "tip_length_mm", "head_diameter_mm", "shaft_diameter_mm"))
        start = -(head + shaft + tip) / 2.0
        shaft_k = midpoints(ROD_SHAFT_PIECES, shaft)  # (1, 8)
        tip_k = midpoints(ROD_TIP_SLICES, tip)  # (1, 4)
        piece, step = shaft / ROD_SHAFT_PIECES, tip / ROD_TIP_SLICES
        centre = torch.cat([start + head / 2.0, start + head + shaft_k * piece, start + head + shaft + tip_k * step], 1)
        half = torch.cat([head / 2.0, (piece / 2.0).expand(-1, ROD_SHAFT_PIECES),
                          (step / 2.0).expand(-1, ROD_TIP_SLICES)], 1)
        radii = torch.cat([d_head / 2.0, (d_shaft / 2.0).expand(-1, ROD_SHAFT_PIECES),
                           d_shaft / 2.0 * (1.0 - tip_k / ROD_TIP_SLICES)], 1)
        return axial_parts(params_4d(params), dx_px, dy_px, spacing_mm, centre, half, radii)
