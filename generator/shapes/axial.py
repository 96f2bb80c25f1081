"""Coaxial cylinder stacks along an object's u axis: the body of the elongated solids
(bullets, rods), each piece on its own sub-window."""

from __future__ import annotations

import torch

from generator.shapes.chords import cylinder_chord
from generator.shapes.pose import cos_sin, rotate
from generator.shapes.solid import Parts, sub_window_half_px, thin


def _axial_chord(u, v, cos_e, sin_e, centre_mm, half_len_mm, radius_mm):
    """A cylinder whose axis lies along u, raised out of plane by elevation e, centred at
    centre_mm along that axis: the general cylinder with the roles of u and v swapped."""
    return cylinder_chord(v, u - centre_mm * cos_e, cos_e, sin_e, half_len_mm, radius_mm)


def axial_parts(p, dx_px, dy_px, spacing_mm, centre_mm, half_len_mm, radius_mm):
    """Sum of coaxial cylinders along an object's u axis, each on its own sub-window.

    p: the object's params as (N, 1, 1, 1) (angle_deg, elevation_deg, mu_per_mm);
    centre_mm, half_len_mm, radius_mm: (N, K), the K pieces' centres along the axis, half
    lengths and radii.
    """
    ca, sa = cos_sin(p["angle_deg"].reshape(-1, 1))  # (N, 1)
    ce, se = cos_sin(p["elevation_deg"].reshape(-1, 1))
    w, h, r = centre_mm, half_len_mm, radius_mm
    half = sub_window_half_px(h * ce + r, spacing_mm)
    parts = Parts(dx_px, dy_px, spacing_mm, torch.ones_like(w, dtype=torch.bool))
    d, scale = thin(2.0 * parts.part(r), parts.spacing_mm, 2)
    mu, angle, ce_k, se_k = (parts.each(t) for t in (p["mu_per_mm"], p["angle_deg"], ce, se))
    w_k, h_k = parts.part(w), parts.part(h)

    def chord(x, y):
        u, v = rotate(x, y, angle)
        return mu * scale * _axial_chord(u, v, ce_k, se_k, w_k, h_k, d / 2.0)

    parts.add(w * ce * ca, w * ce * sa, half, chord)
    return parts.result()


def midpoints(k: int, like: torch.Tensor) -> torch.Tensor:
    """(1, k): 0.5, 1.5, ..., k - 0.5, the midpoints of k equal pieces in units of a piece."""
    return torch.arange(k, dtype=like.dtype, device=like.device)[None, :] + 0.5
