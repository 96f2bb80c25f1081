"""An object's frame on the image: in-plane turn and the angle units of tilts and elevations.

`rotate(dx, dy, angle_deg)` gives (u, v), u along the object's in-plane reference axis, v
across it (image axes, y down). Flat solids (discs, prisms) tilt about u by `tilt_deg`
(0 = face-on, 90 = edge-on). Elongated solids (bullets, rods) lie along u and rise out of
the image plane by `elevation_deg` (0 = lying flat, 90 = end-on).
"""

from __future__ import annotations

import math

import torch

DEG = math.pi / 180.0


def rotate(dx: torch.Tensor, dy: torch.Tensor, angle_deg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Offsets expressed in an object's frame turned by angle_deg (image axes, y down).

    Returns (u, v): u along the object's long axis, v across it.
    """
    a = angle_deg * (math.pi / 180.0)
    c, s = torch.cos(a), torch.sin(a)
    return c * dx + s * dy, -s * dx + c * dy
