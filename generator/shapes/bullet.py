"""Bullets: a cylinder with a tangent ogive nose, optionally mushroomed."""

from __future__ import annotations

import torch

from generator.shapes.axial import axial_parts, midpoints
from generator.shapes.solid import EPS, mm_to_px, params_4d

BULLET_BODY_PIECES = 3
BULLET_OGIVE_SLICES = 8


class Bullet:
    """Cylinder + tangent ogive along u (base at -u, nose at +u), optionally mushroomed.

    The body is BULLET_BODY_PIECES coaxial cylinders and the ogive BULLET_OGIVE_SLICES more,
    at the tangent-ogive radius of each slice's midpoint; mushroom_frac in [0, 1] blends the
    nose toward a flared, expanded profile (a deformed, fired bullet).
    """

    def extent_px(self, params, spacing_mm):
        half = (params["body_length_mm"] + params["ogive_length_mm"]) / 2.0
        return mm_to_px(half + params["diameter_mm"], spacing_mm)

    def field(self, params, dx_px, dy_px, spacing_mm):
        radius, body, ogive, m = (params[name].reshape(-1, 1) for name in
                                  ("diameter_mm", "body_length_mm", "ogive_length_mm", "mushroom_frac"))  # (N, 1)
        radius = radius / 2.0
        start = -(body + ogive) / 2.0
        piece = body / BULLET_BODY_PIECES
        body_at = start + midpoints(BULLET_BODY_PIECES, body) * piece  # (N, 3) piece centres
        rho = (radius * radius + ogive * ogive) / (2.0 * radius)
        step = ogive / BULLET_OGIVE_SLICES
        xk = midpoints(BULLET_OGIVE_SLICES, ogive) * step  # (N, 8) slice midpoints from the ogive's base
        r_ogive = torch.sqrt((rho * rho - xk * xk).clamp_min(0.0)) + (radius - rho)
        r_flare = radius * (1.0 + 0.6 * xk / ogive.clamp_min(EPS))
        centre = torch.cat([body_at, start + body + xk], 1)
        half = torch.cat([(piece / 2.0).expand_as(body_at), (step / 2.0).expand_as(xk)], 1)
        radii = torch.cat([radius.expand_as(body_at), torch.lerp(r_ogive, r_flare, m)], 1)
        return axial_parts(params_4d(params), dx_px, dy_px, spacing_mm, centre, half, radii)
