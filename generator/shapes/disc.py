"""Discs: coins, button batteries, washers, disc magnets; a coaxial stack of two cylinders."""

from __future__ import annotations

import torch

from generator.shapes.chords import cylinder_chord
from generator.shapes.pose import cos_sin, rotate
from generator.shapes.solid import mm_to_px, params_4d, supersampled_mm, thin


class Disc:
    """Coaxial stack: a base cylinder (diameter_mm x thickness_mm) plus a cap on one face.

    cap_thickness_mm > 0 adds a cylinder of cap_diameter_mm on the face (a button battery's
    anode cap: the step-off side-on, the double ring face-on); < 0 removes one (a coin's
    recessed field inside its raised rim). Face-on at tilt 0, edge-on at 90; the tilt axis
    (the ellipse's long axis) points along angle_deg.
    """

    def extent_px(self, params, spacing_mm):
        ext = params["diameter_mm"] / 2.0 + params["thickness_mm"] + params["cap_thickness_mm"].abs()
        return mm_to_px(ext, spacing_mm)

    def field(self, params, dx_px, dy_px, spacing_mm):
        p = params_4d(params)
        x, y = supersampled_mm(dx_px, dy_px, spacing_mm)
        u, v = rotate(x, y, p["angle_deg"])
        ct, st = cos_sin(p["tilt_deg"])
        cap = p["cap_thickness_mm"]
        thick, scale = thin(p["thickness_mm"], spacing_mm, 1)
        base = scale * cylinder_chord(u, v, st, ct, thick / 2.0, p["diameter_mm"] / 2.0)
        w = p["thickness_mm"] / 2.0 + cap / 2.0  # cap centre along the axis
        cap_chord = cylinder_chord(u, v - w * st, st, ct, cap.abs() / 2.0, p["cap_diameter_mm"] / 2.0)
        out = p["mu_per_mm"] * base + torch.sign(cap) * p["cap_mu_per_mm"] * cap_chord
        return out.clamp_min(0.0).mean(-1)
