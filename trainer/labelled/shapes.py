"""Rasterised shapes: the pixels whose centre lies inside a rectangle, ellipse or polygon.

Coordinates as in `trainer.labelled.record`: pixel (r, c) has its centre at (c + 0.5, r + 0.5).
Work is confined to the shape's window, so a small shape on a large film stays cheap.
"""

from __future__ import annotations

import numpy as np


def _centres(x0: int, x1: int, y0: int, y1: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres of columns x0..x1-1 and rows y0..y1-1, as (1, W) and (H, 1) float64."""
    xs = np.arange(x0, x1, dtype=np.float64)[None, :] + 0.5
    ys = np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5
    return xs, ys


def _window(x_lo: float, x_hi: float, y_lo: float, y_hi: float, height: int, width: int) -> tuple[int, ...]:
    return (max(int(np.floor(x_lo)), 0), min(int(np.ceil(x_hi)), width),
            max(int(np.floor(y_lo)), 0), min(int(np.ceil(y_hi)), height))


def shape_mask(kind: str, coords: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W) bool of the pixels whose centre lies in a shape (edges included).

    kind: "rectangle" or "ellipse" (coords x1 y1 x2 y2, the bounding box) or "polygon"
    (coords x1 y1 ... xn yn, even-odd rule), all in pixels.
    """
    out = np.zeros((height, width), dtype=bool)
    if kind == "polygon":
        px, py = coords[0::2], coords[1::2]
        x0, x1, y0, y1 = _window(px.min(), px.max(), py.min(), py.max(), height, width)
    else:
        bx0, by0, bx1, by1 = coords
        x0, x1, y0, y1 = _window(bx0, bx1, by0, by1, height, width)
    if x1 <= x0 or y1 <= y0:
        return out
    xs, ys = _centres(x0, x1, y0, y1)
    if kind == "rectangle":
        inside = (xs >= bx0) & (xs <= bx1) & (ys >= by0) & (ys <= by1)
    elif kind == "ellipse":
        cx, cy, ax, ay = (bx0 + bx1) / 2, (by0 + by1) / 2, (bx1 - bx0) / 2, (by1 - by0) / 2
        inside = ((xs - cx) / ax) ** 2 + ((ys - cy) / ay) ** 2 <= 1
    elif kind == "polygon":
        inside = np.zeros((y1 - y0, x1 - x0), dtype=bool)
        n = px.size
        for i in range(n):  # crossing number: flip on every edge a rightward ray crosses
            xa, ya, xb, yb = px[i], py[i], px[(i + 1) % n], py[(i + 1) % n]
            if ya == yb:
                continue
            spans = (ys >= min(ya, yb)) & (ys < max(ya, yb))  # (h, 1)
            x_cross = xa + (ys - ya) * (xb - xa) / (yb - ya)  # (h, 1)
            inside ^= spans & (xs < x_cross)
    else:
        raise ValueError(f"shape kind must be rectangle, ellipse or polygon, got {kind!r}")
    out[y0:y1, x0:x1] = inside
    return out
