"""Sheet metal and layered discs: coaxial annuli plus off-axis round features, posed in 3-D.

What stamped clothing metal (buttons, snaps, rivets, zip sliders), coins with rim and
relief, hollow rings and washers, and layered button batteries are made of. Every part is a
(possibly hollow) cylinder sharing the object's axis (rings) or parallel to it at an offset
in the plate (features), so a ray's chord through each is `cylinder_chord`'s interval and
the object's optical depth is their signed sum: a negative-mu feature is a punched hole or a
recess, a positive one a boss or raised relief.
"""

from __future__ import annotations

import torch

from generator.shapes.chords import cylinder_chord
from generator.shapes.pose import cos_sin, rotate
from generator.shapes.solid import mm_to_px, params_4d, supersampled_mm, thin

RING_SLOTS = 8
FEATURE_SLOTS = 8
RING_NAMES = ("outer_mm", "inner_mm", "height_mm", "z_mm", "mu_per_mm")
FEATURE_NAMES = ("x_mm", "y_mm", "z_mm", "diameter_mm", "height_mm", "mu_per_mm")


def _used(params, pattern: str, slots: int) -> list[int]:
    """Slots with a positive size in at least one object of the group (one host sync)."""
    d = params.slots(pattern, range(slots))  # (N, K)
    return [k for k, used in enumerate((d > 0).any(dim=0).tolist()) if used]


class Sheet:
    """Up to RING_SLOTS coaxial annuli and FEATURE_SLOTS off-axis cylinders in one frame.

    Ring k (r{k}_*): outer and inner radius (mm; inner 0 = a full disc), height along the
    axis (mm), axial centre z (mm, + toward the cap side), mu (1/mm). Feature j (f{j}_*):
    centre (x, y) in the plate (x along the tilt axis), axial centre z, diameter, height,
    signed mu (negative: a hole or recess in material of that mu). The axis is the beam at
    tilt_deg 0 (face-on) and lies in the image plane at 90 (edge-on); the tilt axis points
    along angle_deg. Unused slots have outer radius / diameter 0 or are left out. A wall or
    plate thinner than half a pixel is widened to it with mu scaled down (`thin`), so a
    0.25 mm can wall keeps its mass at any resolution. Output (N, S, S) optical depth >= 0.
    """

    def extent_px(self, params, spacing_mm):
        ro, rh, rz = (params.slots(f"r{{}}_{n}", range(RING_SLOTS)) for n in ("outer_mm", "height_mm", "z_mm"))
        ext = (ro + rh / 2.0 + rz.abs()).amax(dim=1)
        fx, fy, fz, fd, fh = (params.slots(f"f{{}}_{n}", range(FEATURE_SLOTS))
                              for n in ("x_mm", "y_mm", "z_mm", "diameter_mm", "height_mm"))
        ext = torch.maximum(ext, (torch.hypot(fx, fy) + fd / 2.0 + fz.abs() + fh / 2.0).amax(dim=1))
        return mm_to_px(ext, spacing_mm)

    def field(self, params, dx_px, dy_px, spacing_mm):
        p = params_4d(params)
        x, y = supersampled_mm(dx_px, dy_px, spacing_mm)  # (N, 1, S, 4), (N, S, 1, 4)
        u, v = rotate(x, y, p["angle_deg"])
        ct, st = cos_sin(p["tilt_deg"])
        out = torch.zeros_like(u + v)
        for k in _used(params, "r{}_outer_mm", RING_SLOTS):
            outer, inner, height, z, mu = (p.get(f"r{k}_{n}", torch.zeros_like(ct)) for n in RING_NAMES)
            height, h_scale = thin(height, spacing_mm, 1)
            wall, w_scale = thin(outer - inner, spacing_mm, 1)
            # A wall thinner than the pitch keeps its mid radius; a full disc (inner 0) its outer one.
            mid = torch.where(inner > 0, (outer + inner) / 2.0, outer - wall / 2.0)
            r_out, r_in = mid + wall / 2.0, (mid - wall / 2.0).clamp_min(0.0)
            vz = v - z * st
            chord = (cylinder_chord(u, vz, st, ct, height / 2.0, r_out)
                     - torch.where(inner > 0, cylinder_chord(u, vz, st, ct, height / 2.0, r_in), torch.zeros_like(vz)))
            out = out + (mu * h_scale * w_scale) * chord
        for j in _used(params, "f{}_diameter_mm", FEATURE_SLOTS):
            fx, fy, fz, diameter, height, mu = (p.get(f"f{j}_{n}", torch.zeros_like(ct)) for n in FEATURE_NAMES)
            height, h_scale = thin(height, spacing_mm, 1)
            diameter, d_scale = thin(diameter, spacing_mm, 2)
            chord = cylinder_chord(u - fx, v - (fy * ct + fz * st), st, ct, height / 2.0, diameter / 2.0)
            out = out + (mu * h_scale * d_scale) * chord
        return out.clamp_min(0.0).mean(-1)
