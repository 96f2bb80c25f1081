"""Analytic chords (mm along the beam, +z) through the quadric solids the kinds are built of.

A cylinder or a sphere is an intersection of slabs and quadrics, so a ray's chord is an
interval intersection: closed-form, elementwise, the same on CPU and CUDA.
"""

from __future__ import annotations

import torch

from generator.shapes.solid import EPS


def cylinder_chord(u, v, sin_t, cos_t, half_len_mm, radius_mm):
    """Chord (mm) along z of a ray at (u, v) through a cylinder centred at the origin.

    The cylinder's axis is (0, sin_t, cos_t) in (u, v, z): tilted from the beam by theta
    toward +v. A ray point (u, v, s) is inside when u^2 + (v cos - s sin)^2 <= R^2 (radial)
    and |v sin + s cos| <= h (axial); each is an interval in s, the chord is their overlap.
    Where |u| >= R the radial interval is a single point, so the chord is 0 there.
    """
    inv_s = 1.0 / sin_t.clamp_min(EPS)
    inv_c = 1.0 / cos_t.clamp_min(EPS)
    q = torch.addcmul(radius_mm * radius_mm, u, u, value=-1.0).clamp_min_(0.0).sqrt_().mul_(inv_s)
    radial = v * (cos_t * inv_s)  # centre of the radial interval
    axial = v * (sin_t * inv_c)  # minus the centre of the axial one
    half_axial = half_len_mm * inv_c
    hi = torch.minimum(radial + q, half_axial - axial)
    lo = torch.maximum(radial - q, -half_axial - axial)
    return hi.sub_(lo).clamp_min_(0.0)


def sphere_chord(x, y, radius_mm):
    """Chord (mm) along z of a ray at (x, y) through a sphere of radius_mm centred at the origin."""
    return 2.0 * torch.sqrt((radius_mm * radius_mm - x * x - y * y).clamp_min(0.0))
