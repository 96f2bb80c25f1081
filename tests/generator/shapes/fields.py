"""Helpers for the shape tests: one object rendered through the rasteriser onto a canvas."""

import numpy as np
import torch

from generator.render.rasterise import accumulate, rasterise
from generator.spec import ObjectSpec


def field(kind, params, spacing=0.5, size=200, device=torch.device("cpu")):
    """(size, size) numpy field of one object of `kind` centred on the canvas."""
    obj = ObjectSpec(cls="x", kind=kind, center_px=(size / 2, size / 2), material="steel", params=params)
    windows = rasterise([[obj]], torch.tensor([[spacing, spacing]]), device)
    return accumulate(windows, 1, size, size, "sum", device)[0, 0].cpu().numpy()


def box(values, thr=0.02):
    """(width, height) in pixels of the region above thr."""
    ys, xs = np.nonzero(values > thr)
    return xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
