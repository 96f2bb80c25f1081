"""Where the body, lung fields and mediastinum are on a frontal chest radiograph.

Intensity and morphology only (no learned model), at a working resolution of about 96 px
on the long side, returned at the output resolution:
  1. smooth; Otsu threshold splits dark (air, lung) from bright (soft tissue, bone);
  2. background = dark pixels connected to the image border (geodesic reconstruction
     from the border), at a stricter threshold so lungs do not leak out through the neck;
     body = everything else;
  3. lung fields = dark pixels inside the body, away from its edge;
  4. midline = brightest column (spine, mediastinum) in the central part of the body;
     lung apices and bases = first and last rows with substantial lung width;
  5. mediastinum = body, not lung, between the inner lung edges, from apex to base.
When the lungs cannot be found (lateral views, odd crops) the landmarks fall back to
nominal proportions of the body's bounding box, and `estimated` is False.
All coordinates are output pixels, origin top-left, x right, y down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

WORK_LONG_SIDE_PX = 96
_MIN_LUNG_FRACTION = 0.04


@dataclass(frozen=True, kw_only=True)
class Anatomy:
    """Region masks and landmarks of one image of `height` x `width` output pixels.

    The masks are estimated on a coarse grid (*_grid, (h, w) bool numpy covering the whole
    image); `body_mask` etc. give them at output resolution (nearest, computed on first
    use: placement only asks `contains`, which reads the grid).
    """

    height: int
    width: int
    body_grid: np.ndarray
    lung_grid: np.ndarray
    mediastinum_grid: np.ndarray
    midline_x_px: float
    apex_y_px: float  # top of the lung fields (thoracic inlet level)
    diaphragm_y_px: float  # bottom of the lung fields (hemidiaphragms)
    thorax_x0_px: float  # outer edge of the image-left lung
    thorax_x1_px: float  # outer edge of the image-right lung
    estimated: bool

    def contains(self, x: float, y: float) -> bool:
        """Whether output point (x, y) lies in the body (pixel convention of render.py)."""
        if not (0.0 <= x < self.width and 0.0 <= y < self.height):
            return False
        gh, gw = self.body_grid.shape
        return bool(self.body_grid[min(int(y * gh / self.height), gh - 1), min(int(x * gw / self.width), gw - 1)])

    @cached_property
    def body_mask(self) -> np.ndarray:
        return _upsample(self.body_grid, self.height, self.width)

    @cached_property
    def lung_mask(self) -> np.ndarray:
        return _upsample(self.lung_grid, self.height, self.width)

    @cached_property
    def mediastinum_mask(self) -> np.ndarray:
        return _upsample(self.mediastinum_grid, self.height, self.width)

    @property
    def lung_height_px(self) -> float:
        return self.diaphragm_y_px - self.apex_y_px

    @property
    def thorax_width_px(self) -> float:
        return self.thorax_x1_px - self.thorax_x0_px


def _otsu(x: np.ndarray, bins: int = 64) -> float:
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-6:
        return hi
    idx = np.rint((x.ravel() - lo) * ((bins - 1) / (hi - lo))).astype(np.int64)
    hist = np.bincount(idx, minlength=bins).astype(np.float64)
    centres = np.linspace(lo, hi, bins)
    w0 = np.cumsum(hist)
    w1 = hist.sum() - w0
    c0 = np.cumsum(hist * centres)
    m0 = c0 / np.maximum(w0, 1e-9)
    m1 = (c0[-1] - c0) / np.maximum(w1, 1e-9)
    return float(centres[int(np.argmax(w0 * w1 * (m0 - m1) ** 2))])


def _run_max(x: np.ndarray, size: int, axis: int, pad_value: bool) -> np.ndarray:
    """Running maximum (logical or) of a bool (H, W) over `size` neighbours along axis, centred."""
    r = size // 2
    p = _pad(x, axis, r, pad_value)
    n = x.shape[axis]
    out = _slice(p, axis, 0, n).copy()
    for k in range(1, size):
        out |= _slice(p, axis, k, n)
    return out


def _pad(x: np.ndarray, axis: int, r: int, value=None) -> np.ndarray:
    """x padded by r on both ends of axis with value (None: replicate the edge). np.pad
    costs ~70 us a call in Python overhead, more than the morphology itself."""
    shape = list(x.shape)
    shape[axis] += 2 * r
    p = np.empty(shape, dtype=x.dtype)
    _slice(p, axis, r, x.shape[axis])[...] = x
    n = x.shape[axis]
    _slice(p, axis, 0, r)[...] = _slice(x, axis, 0, 1) if value is None else value
    _slice(p, axis, r + n, r)[...] = _slice(x, axis, n - 1, 1) if value is None else value
    return p


def _slice(p: np.ndarray, axis: int, start: int, n: int) -> np.ndarray:
    """A view of n entries along axis from start (views: `take` copies)."""
    return p[start : start + n] if axis == 0 else p[:, start : start + n]


def _dilate(x: np.ndarray, size: int) -> np.ndarray:
    """Binary dilation of (H, W) bool by a size x size square (separable)."""
    return _run_max(_run_max(x, size, 1, False), size, 0, False)


def _erode(x: np.ndarray, size: int, border_value: bool = True) -> np.ndarray:
    return ~_run_max(_run_max(~x, size, 1, not border_value), size, 0, not border_value)


def _opening(x: np.ndarray, size: int) -> np.ndarray:
    return _dilate(_erode(x, size), size)


def _fill_runs(seed: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: mask pixels whose run (maximal horizontal stretch of mask) holds a seed."""
    h, w = mask.shape
    run = np.cumsum(~mask, axis=1) + np.arange(h)[:, None] * (w + 1)  # (H, W) run ids
    hit = np.bincount(run.ravel(), weights=seed.ravel(), minlength=h * (w + 1))
    return mask & (hit[run] > 0)


def _reconstruct(marker: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Morphological reconstruction (4-connected) of marker under mask, (H, W) bool.

    Alternating row and column passes each flood a whole run at once, so the number of
    passes follows the number of turns in the longest path, not its length.
    """
    current = marker & mask
    count = int(current.sum())
    while True:
        current = _fill_runs(current, mask)
        current = _fill_runs(current.T, mask.T).T
        new_count = int(current.sum())
        if new_count == count:
            return current
        count = new_count


def _upsample(m: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w) grid -> (height, width), nearest; the same cell rule as `Anatomy.contains`."""
    if m.shape == (height, width):
        return m
    rows = np.minimum(np.arange(height) * m.shape[0] // height, m.shape[0] - 1)
    cols = np.minimum(np.arange(width) * m.shape[1] // width, m.shape[1] - 1)
    return m[rows][:, cols]


def _smooth(x: np.ndarray, sigma_px: float = 1.5) -> np.ndarray:
    """Separable Gaussian (radius 3 sigma, replicated border) of (H, W) as shifted sums."""
    r = math.ceil(3 * sigma_px)
    weights = [math.exp(-0.5 * (k / sigma_px) ** 2) for k in range(-r, r + 1)]
    weights = [wk / sum(weights) for wk in weights]  # Python floats keep the sums float32
    for axis in (1, 0):
        p = _pad(x, axis, r)
        n = x.shape[axis]
        x = sum(wk * _slice(p, axis, k, n) for k, wk in enumerate(weights))
    return x


def _pool(img: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor x factor cells (edge cells padded by replication)."""
    if factor == 1:
        return img
    h, w = img.shape
    hp, wp = -(-h // factor) * factor, -(-w // factor) * factor
    p = img
    if hp > h:
        p = np.concatenate([p, np.repeat(p[-1:], hp - h, axis=0)], axis=0)
    if wp > w:
        p = np.concatenate([p, np.repeat(p[:, -1:], wp - w, axis=1)], axis=1)
    # Strided slice sums: numpy reduces a short inner axis ~20x slower than it adds arrays.
    cols = sum(p[:, k::factor] for k in range(factor))
    return sum(cols[k::factor] for k in range(factor)) * np.float32(1.0 / (factor * factor))


def _first_last(profile: np.ndarray, fraction: float) -> tuple[int, int] | None:
    if profile.size == 0 or profile.max() <= 0:
        return None
    idx = np.flatnonzero(profile > fraction * profile.max())
    return int(idx[0]), int(idx[-1])


def estimate_anatomy(pixels: torch.Tensor) -> Anatomy:
    """pixels: (1, H, W) or (H, W) float32 [0, 1], bone bright, any device.

    Runs on the host in numpy: the working grid is ~96 px, where numpy's per-operation
    overhead is far below torch's and a GPU would gain nothing.
    """
    img = pixels.reshape(pixels.shape[-2:]).float().cpu().numpy()
    height, width = img.shape
    # An integer pooling factor: fractional area resampling cost more than the rest.
    factor = max(1, round(max(height, width) / WORK_LONG_SIDE_PX))
    x = _smooth(_pool(img, factor))
    hs, ws = x.shape
    t = _otsu(x)
    dark_floor = float(np.partition(x.ravel(), max(0, round(0.01 * x.size) - 1))[max(0, round(0.01 * x.size) - 1)])
    t_bg = dark_floor + 0.5 * (t - dark_floor)
    # 2. background: dark and connected to the border
    dark_bg = x < t_bg
    border = np.zeros_like(dark_bg)
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
    body = _opening(~_reconstruct(border, dark_bg), 5)
    if body.sum() < 0.05 * hs * ws:  # nothing looked like a patient: treat the whole image as body
        body = np.ones_like(body)
    inner = _erode(body, 7, border_value=False)
    # 3. lungs: dark inside the body, away from its edge and from the image border
    t_lung = _otsu(x[inner]) if inner.any() else t
    lungs = _opening(inner & (x < t_lung), 3)
    anatomy = _landmarks(x, body, lungs)
    if anatomy is None:
        return _nominal(body, height, width)
    mid, apex, base, x0, x1, med = anatomy
    sx, sy = width / ws, height / hs
    return Anatomy(
        height=height,
        width=width,
        body_grid=body,
        lung_grid=lungs,
        mediastinum_grid=med,
        midline_x_px=(mid + 0.5) * sx,
        apex_y_px=apex * sy,
        diaphragm_y_px=(base + 1) * sy,
        thorax_x0_px=x0 * sx,
        thorax_x1_px=(x1 + 1) * sx,
        estimated=True,
    )


def _landmarks(x: np.ndarray, body: np.ndarray, lungs: np.ndarray):
    hs, ws = x.shape
    if lungs.mean() < _MIN_LUNG_FRACTION:
        return None
    rows = _first_last(lungs.sum(1), 0.3)
    cols_body = _first_last(body.sum(0), 0.05)
    if rows is None or cols_body is None:
        return None
    apex, base = rows
    c0, c1 = cols_body
    band = x[apex : base + 1].mean(0)  # column profile over the lung rows
    lo, hi = c0 + int(0.3 * (c1 - c0)), c0 + int(0.7 * (c1 - c0)) + 1
    if hi - lo < 3:
        return None
    seg = band[lo:hi]
    # 5-wide moving average, edges over the available neighbours only
    smooth = np.convolve(seg, np.ones(5), mode="same") / np.convolve(np.ones_like(seg), np.ones(5), mode="same")
    mid = lo + int(np.argmax(smooth))
    counts = lungs.sum(0).astype(np.float64)
    left, right = counts.copy(), counts.copy()
    left[mid:] = 0
    right[:mid] = 0
    lspan, rspan = _first_last(left, 0.15), _first_last(right, 0.15)
    if lspan is None or rspan is None or base - apex < 0.2 * hs:
        return None
    med = np.zeros_like(body)
    med[apex : base + 1, lspan[1] + 1 : rspan[0]] = True
    med &= body & ~lungs
    return mid, apex, base, lspan[0], rspan[1], med


def _nominal(body_grid: np.ndarray, height: int, width: int) -> Anatomy:
    """Landmarks at typical PA proportions of the body's bounding box (grid cells of
    `body_grid`, converted to output pixels)."""
    gh, gw = body_grid.shape
    sy, sx = height / gh, width / gw
    ys, xs = np.nonzero(body_grid)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    bw, bh = x1 - x0, y1 - y0
    yy, xx = np.mgrid[0:gh, 0:gw] + 0.5
    mid = x0 + 0.5 * bw
    apex, base = y0 + 0.12 * bh, y0 + 0.72 * bh
    lung = np.zeros((gh, gw), dtype=bool)
    for cx in (x0 + 0.3 * bw, x0 + 0.7 * bw):
        lung |= ((xx - cx) / (0.16 * bw)) ** 2 + ((yy - (apex + base) / 2) / ((base - apex) / 2)) ** 2 <= 1.0
    lung &= body_grid
    med = (np.abs(xx - mid) < 0.07 * bw) & (yy >= apex) & (yy <= base) & body_grid
    return Anatomy(height=height, width=width, body_grid=body_grid, lung_grid=lung, mediastinum_grid=med,
                   midline_x_px=float(mid * sx), apex_y_px=float(apex * sy), diaphragm_y_px=float(base * sy),
                   thorax_x0_px=float((x0 + 0.12 * bw) * sx), thorax_x1_px=float((x0 + 0.88 * bw) * sx),
                   estimated=False)


def nominal_anatomy(height: int, width: int) -> Anatomy:
    """Anatomy when no image is at hand: the whole frame is body, landmarks nominal."""
    return _nominal(np.ones((height, width), dtype=bool), height, width)
