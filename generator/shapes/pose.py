"""An object's frame on the image: in-plane turn and the angles of tilts and elevations.

`rotate(dx, dy, angle_deg)` gives (u, v), u along the object's in-plane reference axis, v
across it (image axes, y down). Flat solids (discs, prisms) tilt about u by `tilt_deg`
(0 = face-on, 90 = edge-on). Elongated solids (bullets, rods) lie along u and rise out of
the image plane by `elevation_deg` (0 = lying flat, 90 = end-on).

The maths is Kornia's (`kornia.geometry.conversions`): its `angle_to_rotation_matrix` is
[[cos, sin], [-sin, cos]] of `deg2rad(angle)`, which is exactly the turn into the object's
frame in y-down image axes, and gives the same float32 bits as writing it out.
"""

from __future__ import annotations

import torch
from kornia.geometry.conversions import angle_to_rotation_matrix, deg2rad


def rotate(dx: torch.Tensor, dy: torch.Tensor, angle_deg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Offsets expressed in an object's frame turned by angle_deg (image axes, y down).

    angle_deg broadcasts against dx and dy (per object: (N, 1, 1) or (N, 1, 1, 1)).
    Returns (u, v): u along the object's long axis, v across it.
    """
    r = angle_to_rotation_matrix(angle_deg)  # (*angle_deg.shape, 2, 2)
    return r[..., 0, 0] * dx + r[..., 0, 1] * dy, r[..., 1, 0] * dx + r[..., 1, 1] * dy


def cos_sin(angle_deg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos, sin) of angles in degrees, elementwise, same shape as angle_deg."""
    a = deg2rad(angle_deg)
    return torch.cos(a), torch.sin(a)
