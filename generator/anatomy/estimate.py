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
  5. mediastinum = body, not lung, between the inner lung edges, from apex to base;
  6. white = cells within WHITE_HEADROOM of the film's brightest pixel: burnt-out (clipped)
     regions, such as an under-penetrated abdomen, where an inserted object cannot brighten
     the film and would be a label on nothing visible (placement avoids them).
When the lungs cannot be found (lateral views, odd crops) the landmarks fall back to
nominal proportions of the body's bounding box, and `estimated` is False.
All coordinates are output pixels, origin top-left, x right, y down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import torch

from generator.anatomy.bitgrid import bit_grid

WORK_LONG_SIDE_PX = 96
# A working cell whose mean is within this of the film's brightest pixel is burnt out: the
# compositing's soft ceiling is that pixel (render.physical), so an object there shows at most
# this much (0.04 = 10 grey levels of 255; a steel button battery on such a cell rendered 2).
WHITE_HEADROOM = 0.04
_MIN_LUNG_FRACTION = 0.04
_OTSU_BINS = 64
_BIN_MOMENTS = np.stack((np.ones(_OTSU_BINS), np.arange(_OTSU_BINS, dtype=np.float64)))  # (2, bins): 1, bin index
_BIN_MOMENTS.flags.writeable = False


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
    white_grid: np.ndarray | None = None  # burnt-out cells (step 6); None = none known

    def contains(self, x: float, y: float) -> bool:
        """Whether output point (x, y) lies in the body (pixel convention of render.py)."""
        if not (0.0 <= x < self.width and 0.0 <= y < self.height):
            return False
        return self._cell(self.body_grid, x, y)

    def shows(self, x: float, y: float) -> bool:
        """Whether an object at output point (x, y) lies in the body where the film is not burnt
        out, so that it can show."""
        return self.contains(x, y) and (self.white_grid is None or not self._cell(self.white_grid, x, y))

    def _cell(self, grid: np.ndarray, x: float, y: float) -> bool:
        """grid's cell under output point (x, y) (on the film)."""
        gh, gw = grid.shape
        return bool(grid[min(int(y * gh / self.height), gh - 1), min(int(x * gw / self.width), gw - 1)])

    @cached_property
    def showing_mask(self) -> np.ndarray:
        """(H, W) bool: where `shows` is true."""
        if self.white_grid is None:
            return self.body_mask
        return self.body_mask & ~_upsample(self.white_grid, self.height, self.width)

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


def _otsu(x: np.ndarray) -> float:
    """Otsu threshold of the values in x (any shape, float32): the centre of one of
    _OTSU_BINS bins spanning [min, max], each value in its nearest bin."""
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-6:
        return hi
    v = x.ravel() - lo
    v *= (_OTSU_BINS - 1) / (hi - lo)
    hist = np.bincount(np.rint(v, out=v).astype(np.intp), minlength=_OTSU_BINS)  # (bins,)
    moments = np.cumsum(hist * _BIN_MOMENTS, axis=1)  # (2, bins) values at or below each bin, their bin sum
    n, s = moments[:, -1]
    # Between-class variance w0 w1 (m0 - m1)^2 = (n c0 - s w0)^2 / (w0 w1), in bin units. The
    # first and the last bin hold the minimum and the maximum, so w0 w1 > 0 below the last.
    w0, c0 = moments[:, :-1]
    d = n * c0 - s * w0
    k = int(np.argmax(d * d / (w0 * (n - w0))))
    return k * ((hi - lo) / (_OTSU_BINS - 1)) + lo


def _upsample(m: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w) grid -> (height, width), nearest; the same cell rule as `Anatomy.contains`."""
    if m.shape == (height, width):
        return m
    rows = np.minimum(np.arange(height) * m.shape[0] // height, m.shape[0] - 1)
    cols = np.minimum(np.arange(width) * m.shape[1] // width, m.shape[1] - 1)
    return m[rows][:, cols]


@lru_cache(maxsize=64)
def _gauss_matrix(n: int, sigma_px: float) -> np.ndarray:
    """(n, n) float32 G: G @ v is v (n,) blurred by a Gaussian of radius 3 sigma with the
    border replicated (the taps beyond either end fold into the end column). Read-only."""
    r = math.ceil(3 * sigma_px)
    offsets = np.arange(-r, r + 1)
    taps = np.exp(-0.5 * (offsets / sigma_px) ** 2)
    g = np.zeros((n, n))
    np.add.at(g, (np.arange(n)[:, None], np.clip(np.arange(n)[:, None] + offsets, 0, n - 1)), taps / taps.sum())
    g = g.astype(np.float32)
    g.flags.writeable = False
    return g


def _smooth(x: np.ndarray, sigma_px: float = 1.5) -> np.ndarray:
    """Separable Gaussian (radius 3 sigma, replicated border) of (H, W) float32 as matrix
    products: on the ~96 px grid they cost less than a dozen shifted adds per axis."""
    h, w = x.shape
    r = math.ceil(3 * sigma_px)
    y = _band_product(_gauss_matrix(h, sigma_px), x, r)  # along columns
    return np.ascontiguousarray(_band_product(_gauss_matrix(w, sigma_px), y.T, r).T)  # along rows


def _band_product(g: np.ndarray, x: np.ndarray, radius: int) -> np.ndarray:
    """g @ x for an (n, n) g that is zero beyond `radius` of its diagonal, as row blocks of
    g times their band of x. Less work than the dense product, and each product (at most
    32 x 42 x 143 multiply-adds on these grids) under the 2^18 below which OpenBLAS stays on
    the calling thread: its threads would oversubscribe the cores of parallel shard workers,
    which limit only torch's (two workers on two cores: 2.2 ms an image instead of 0.6)."""
    n = g.shape[0]
    out = np.empty((n, x.shape[1]), dtype=np.float32)
    step = -(-n // -(-n // 32))  # blocks of equal size, at most 32 rows
    for a in range(0, n, step):
        lo, hi = max(0, a - radius), min(n, a + step + radius)
        np.matmul(g[a : a + step, lo:hi], x[lo:hi], out=out[a : a + step])
    return out


def _pool(img: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor x factor cells of (H, W) float32; where H or W is not a multiple of
    factor, the last cells are completed by replicating the edge row or column."""
    if factor == 1:
        return img
    h, w = img.shape
    hf, wf = h // factor, w // factor  # whole cells
    hr, wr = h - hf * factor, w - wf * factor  # rows, columns left over
    # Row blocks first, the one full-resolution pass: contiguous rows summed over the short
    # middle axis of a reshape; the strided column sums then run on an image factor x smaller.
    rows = np.empty((hf + (hr > 0), w), dtype=np.float32)  # (h, W) sums of factor rows
    img[: hf * factor].reshape(hf, factor, w).sum(1, out=rows[:hf])
    if hr:
        rows[hf] = img[hf * factor :].sum(0) + (factor - hr) * img[-1]
    out = np.empty((rows.shape[0], wf + (wr > 0)), dtype=np.float32)  # (h, w)
    cells = rows[:, : wf * factor].reshape(rows.shape[0], wf, factor)
    np.add(cells[..., 0], cells[..., 1], out=out[:, :wf])
    for k in range(2, factor):
        out[:, :wf] += cells[..., k]
    if wr:
        out[:, wf] = rows[:, wf * factor :].sum(1) + (factor - wr) * rows[:, -1]
    out *= np.float32(1.0 / (factor * factor))
    return out


def _first_last(profile: np.ndarray, fraction: float) -> tuple[int, int] | None:
    """First and last index where a non-negative profile exceeds fraction of its maximum.
    A Python scan from both ends: on ~100 values it costs less than the numpy calls."""
    values = profile.tolist()
    if not values:
        return None
    cut = fraction * max(values)
    first = next((i for i, v in enumerate(values) if v > cut), None)
    if first is None:
        return None
    return first, len(values) - 1 - next(i for i, v in enumerate(reversed(values)) if v > cut)


def estimate_anatomy(pixels: torch.Tensor | np.ndarray) -> Anatomy:
    """pixels: (1, H, W) or (H, W) float32 [0, 1], bone bright: a tensor on any device, or
    a numpy array.

    Runs on the host in numpy: the working grid is ~96 px, where numpy's per-operation
    overhead is far below torch's and a GPU would gain nothing; the binary masks are
    bit-packed ints (generator.anatomy.bitgrid), whose operations cost less again.
    """
    img = pixels if isinstance(pixels, np.ndarray) else pixels.float().cpu().numpy()
    img = img.astype(np.float32, copy=False).reshape(pixels.shape[-2:])
    height, width = img.shape
    # An integer pooling factor: fractional area resampling cost more than the rest.
    factor = max(1, round(max(height, width) / WORK_LONG_SIDE_PX))
    pooled = _pool(img, factor)
    x = _smooth(pooled)
    hs, ws = x.shape
    if np.ptp(x) < 1e-6:  # featureless (rounding in the blur can leave a flat image 1 ulp uneven)
        return _nominal(np.ones((hs, ws), dtype=bool), height, width)
    t = _otsu(x)
    k = max(0, round(0.01 * x.size) - 1)
    dark_floor = float(np.partition(x.ravel(), k)[k])
    t_bg = dark_floor + 0.5 * (t - dark_floor)
    # 2. background: dark and connected to the border; the masks as bit-packed ints from here
    grid = bit_grid(hs, ws)
    background = grid.reconstruct(grid.edge, grid.below(x, t_bg))
    body_bits = grid.opening(grid.interior ^ background, 5)
    if body_bits.bit_count() < 0.05 * hs * ws:  # nothing looked like a patient: treat the whole image as body
        body_bits = grid.interior
    inner_bits = grid.erode(body_bits, 7, border_value=False)
    body, inner = grid.unpack(body_bits), grid.unpack(inner_bits)
    # 3. lungs: dark inside the body, away from its edge and from the image border
    t_lung = _otsu(x[inner]) if inner_bits else t
    lungs = grid.unpack(grid.opening(inner_bits & grid.below(x, t_lung), 3))
    white = pooled >= float(img.max()) - WHITE_HEADROOM  # 6. burnt out
    anatomy = _landmarks(x, body, lungs)
    if anatomy is None:
        return _nominal(body, height, width, white_grid=white)
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
        white_grid=white,
    )


def _landmarks(x: np.ndarray, body: np.ndarray, lungs: np.ndarray):
    hs = x.shape[0]
    if np.count_nonzero(lungs) < _MIN_LUNG_FRACTION * lungs.size:
        return None
    lungs_f = lungs.astype(np.float64)  # summing floats costs less than summing bools
    rows = _first_last(lungs_f.sum(1), 0.3)
    cols_body = _first_last(body.sum(0), 0.05)
    if rows is None or cols_body is None:
        return None
    apex, base = rows
    c0, c1 = cols_body
    lo, hi = c0 + int(0.3 * (c1 - c0)), c0 + int(0.7 * (c1 - c0)) + 1
    if hi - lo < 3:
        return None
    profile = x[apex : base + 1, lo:hi].sum(0)  # (hi - lo,) central columns summed over the lung rows
    mid = lo + int(np.argmax(_moving_average(hi - lo) @ profile))
    lung_cols = lungs_f.sum(0)  # (w,) lung pixels per column
    lspan, rspan = _first_last(lung_cols[:mid], 0.15), _first_last(lung_cols[mid:], 0.15)
    if lspan is None or rspan is None or base - apex < 0.2 * hs:
        return None
    med = np.zeros_like(body)
    box = np.s_[apex : base + 1, lspan[1] + 1 : mid + rspan[0]]
    np.greater(body[box], lungs[box], out=med[box])  # body and not lung
    return mid, apex, base, lspan[0], mid + rspan[1], med


@lru_cache(maxsize=256)
def _moving_average(n: int) -> np.ndarray:
    """(n, n) M: M @ v is the 5-wide moving average of v (n,), near the ends over the
    available neighbours only. Read-only."""
    i = np.arange(n)
    near = np.abs(i[:, None] - i) <= 2
    m = near / near.sum(1, keepdims=True)
    m.flags.writeable = False
    return m


def _nominal(body_grid: np.ndarray, height: int, width: int, white_grid: np.ndarray | None = None) -> Anatomy:
    """Landmarks at typical PA proportions of the body's bounding box (grid cells of
    `body_grid`, converted to output pixels); `white_grid` as measured, if it was."""
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
                   estimated=False, white_grid=white_grid)


def nominal_anatomy(height: int, width: int) -> Anatomy:
    """Anatomy when no image is at hand: the whole frame is body, landmarks nominal."""
    return _nominal(np.ones((height, width), dtype=bool), height, width)
