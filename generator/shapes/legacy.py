"""The prototype's flat white shapes (`--style legacy`): hard-edged coverage in {0, 1}, as
cv2's filled drawing was. Sizes are output pixels (the samplers in
`generator.bodies.legacy` scale them with the image)."""

from __future__ import annotations

import torch

from generator.shapes.pose import rotate


class FlatDisc:
    """A filled circle of radius_px."""

    def extent_px(self, params, spacing_mm):
        return params["radius_px"].reshape(-1) + 1.0

    def field(self, params, dx_px, dy_px, spacing_mm):
        r = params["radius_px"]
        return ((dx_px * dx_px + dy_px * dy_px) <= r * r).float()


class FlatPair:
    """Two touching discs of radius r along a random axis (a pair of magnets)."""

    def extent_px(self, params, spacing_mm):
        return 2.0 * params["radius_px"].reshape(-1) + 1.0

    def field(self, params, dx_px, dy_px, spacing_mm):
        r = params["radius_px"]
        u, v = rotate(dx_px, dy_px, params["angle_deg"])
        a = ((u - r) ** 2 + v * v) <= r * r
        b = ((u + r) ** 2 + v * v) <= r * r
        return (a | b).float()


class FlatBullet:
    """A length x width rectangle with a disc of radius width/2 centred on its front edge."""

    def extent_px(self, params, spacing_mm):
        half_len = params["length_px"].reshape(-1) / 2.0
        r = params["width_px"].reshape(-1) / 2.0
        return torch.sqrt((half_len + r) ** 2 + r * r) + 1.0

    def field(self, params, dx_px, dy_px, spacing_mm):
        half_len = params["length_px"] / 2.0
        r = params["width_px"] / 2.0
        u, v = rotate(dx_px, dy_px, params["angle_deg"])
        body = (u.abs() <= half_len) & (v.abs() <= r)
        nose = ((u - half_len) ** 2 + v * v) <= r * r
        return (body | nose).float()
