"""Where the body, lung fields and mediastinum are on a frontal chest radiograph.

Intensity and morphology only (no learned model), at a working resolution of about 128 px
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

from dataclasses import dataclass

import kornia
import numpy as np
import torch
import torch.nn.functional as F

WORK_LONG_SIDE_PX = 128
_MIN_LUNG_FRACTION = 0.04


@dataclass(frozen=True, kw_only=True)
class Anatomy:
    """Masks (H, W) bool numpy and landmarks in output pixels."""

    body_mask: np.ndarray
    lung_mask: np.ndarray
    mediastinum_mask: np.ndarray
    midline_x_px: float
    apex_y_px: float  # top of the lung fields (thoracic inlet level)
    diaphragm_y_px: float  # bottom of the lung fields (hemidiaphragms)
    thorax_x0_px: float  # outer edge of the image-left lung
    thorax_x1_px: float  # outer edge of the image-right lung
    estimated: bool

    @property
    def lung_height_px(self) -> float:
        return self.diaphragm_y_px - self.apex_y_px

    @property
    def thorax_width_px(self) -> float:
        return self.thorax_x1_px - self.thorax_x0_px


def _otsu(x: torch.Tensor, bins: int = 64) -> float:
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-6:
        return hi
    idx = ((x.flatten() - lo) * ((bins - 1) / (hi - lo))).round().long()
    hist = torch.bincount(idx, minlength=bins).double()  # bincount: far cheaper than histc on CPU
    centres = torch.linspace(lo, hi, bins, dtype=torch.float64)
    w0 = torch.cumsum(hist, 0)
    w1 = hist.sum() - w0
    m0 = torch.cumsum(hist * centres, 0) / w0.clamp_min(1e-9)
    m1 = ((hist * centres).sum() - torch.cumsum(hist * centres, 0)) / w1.clamp_min(1e-9)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(centres[int(torch.argmax(between))])


def _dilate(x: torch.Tensor, size: int) -> torch.Tensor:
    """Binary/grey dilation of (1, 1, H, W) by a size x size square (max_pool: one fused op,
    much cheaper than a generic structuring-element dilation)."""
    return F.max_pool2d(x, size, stride=1, padding=size // 2)


def _erode(x: torch.Tensor, size: int, border_value: float = 1.0) -> torch.Tensor:
    pad = size // 2
    x = F.pad(x, (pad, pad, pad, pad), value=border_value)
    return -F.max_pool2d(-x, size, stride=1)


def _opening(x: torch.Tensor, size: int) -> torch.Tensor:
    return _dilate(_erode(x, size), size)


def _reconstruct(marker: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Morphological reconstruction by dilation (3x3) of marker under mask, to convergence.
    Checks convergence every 16 steps: each check is a host sync."""
    current = torch.minimum(marker, mask)
    while True:
        previous = current
        for _ in range(16):
            current = torch.minimum(_dilate(current, 3), mask)
        if torch.equal(current, previous):
            return current


def _upsample(mask: torch.Tensor, height: int, width: int) -> np.ndarray:
    m = mask.cpu().numpy()
    rows = np.minimum((np.arange(height) + 0.5) * m.shape[0] / height, m.shape[0] - 1).astype(np.int64)
    cols = np.minimum((np.arange(width) + 0.5) * m.shape[1] / width, m.shape[1] - 1).astype(np.int64)
    return m[rows][:, cols]


def _first_last(profile: torch.Tensor, fraction: float) -> tuple[int, int] | None:
    idx = (profile > fraction * profile.max()).nonzero().flatten()
    if idx.numel() == 0 or profile.max() <= 0:
        return None
    return int(idx[0]), int(idx[-1])


def estimate_anatomy(pixels: torch.Tensor) -> Anatomy:
    """pixels: (1, H, W) or (H, W) float32 [0, 1], bone bright, any device."""
    img = pixels.reshape(pixels.shape[-2:]).float().cpu()
    height, width = img.shape
    scale = WORK_LONG_SIDE_PX / max(height, width)
    hs, ws = max(8, round(height * scale)), max(8, round(width * scale))
    x = F.interpolate(img[None, None], size=(hs, ws), mode="area")
    x = kornia.filters.gaussian_blur2d(x, (7, 7), (1.5, 1.5), border_type="replicate")
    t = _otsu(x)
    dark_floor = float(torch.quantile(x.flatten(), 0.01))
    t_bg = dark_floor + 0.5 * (t - dark_floor)
    # 2. background: dark and connected to the border
    dark_bg = (x < t_bg).float()
    border = torch.zeros_like(dark_bg)
    border[..., 0, :] = border[..., -1, :] = 1.0
    border[..., :, 0] = border[..., :, -1] = 1.0
    background = _reconstruct(border * dark_bg, dark_bg)
    body = _opening(1.0 - background, 5)
    if body.sum() < 0.05 * hs * ws:  # nothing looked like a patient: treat the whole image as body
        body = torch.ones_like(body)
    inner = _erode(body, 7, border_value=0.0)
    # 3. lungs: dark inside the body, away from its edge and from the image border
    t_lung = _otsu(x[inner > 0.5]) if bool((inner > 0.5).any()) else t
    lungs = (inner > 0.5) & (x < t_lung)
    lungs = _opening(lungs.float(), 3) > 0.5
    body_b, lungs_b = body[0, 0] > 0.5, lungs[0, 0]
    anatomy = _landmarks(x[0, 0], body_b, lungs_b)
    if anatomy is None:
        return _nominal(_upsample(body_b, height, width), height, width, hs, ws, body_b)
    mid, apex, base, x0, x1, med = anatomy
    sx, sy = width / ws, height / hs
    return Anatomy(
        body_mask=_upsample(body_b, height, width),
        lung_mask=_upsample(lungs_b, height, width),
        mediastinum_mask=_upsample(med, height, width),
        midline_x_px=(mid + 0.5) * sx,
        apex_y_px=apex * sy,
        diaphragm_y_px=(base + 1) * sy,
        thorax_x0_px=x0 * sx,
        thorax_x1_px=(x1 + 1) * sx,
        estimated=True,
    )


def _landmarks(x: torch.Tensor, body: torch.Tensor, lungs: torch.Tensor):
    hs, ws = x.shape
    if lungs.float().mean() < _MIN_LUNG_FRACTION:
        return None
    rows = _first_last(lungs.float().sum(1), 0.3)
    cols_body = _first_last(body.float().sum(0), 0.05)
    if rows is None or cols_body is None:
        return None
    apex, base = rows
    c0, c1 = cols_body
    band = x[apex : base + 1].mean(0)  # column profile over the lung rows
    lo, hi = c0 + int(0.3 * (c1 - c0)), c0 + int(0.7 * (c1 - c0)) + 1
    if hi - lo < 3:
        return None
    mid = lo + int(torch.argmax(F.avg_pool1d(band[None, None, lo:hi], 5, 1, 2, count_include_pad=False).flatten()))
    counts = lungs.float().sum(0)
    left, right = counts.clone(), counts.clone()
    left[mid:] = 0
    right[:mid] = 0
    lspan, rspan = _first_last(left, 0.15), _first_last(right, 0.15)
    if lspan is None or rspan is None or base - apex < 0.2 * hs:
        return None
    med = torch.zeros_like(body)
    med[apex : base + 1, lspan[1] + 1 : rspan[0]] = True
    med &= body & ~lungs
    return mid, apex, base, lspan[0], rspan[1], med


def _nominal(body_mask: np.ndarray, height: int, width: int, hs: int, ws: int, body_small: torch.Tensor) -> Anatomy:
    """Landmarks at typical PA proportions of the body's bounding box."""
    ys, xs = np.nonzero(body_mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    bw, bh = x1 - x0, y1 - y0
    yy, xx = np.mgrid[0:height, 0:width]
    mid = x0 + 0.5 * bw
    apex, base = y0 + 0.12 * bh, y0 + 0.72 * bh
    lung = np.zeros((height, width), dtype=bool)
    for cx in (x0 + 0.3 * bw, x0 + 0.7 * bw):
        lung |= ((xx - cx) / (0.16 * bw)) ** 2 + ((yy - (apex + base) / 2) / ((base - apex) / 2)) ** 2 <= 1.0
    lung &= body_mask
    med = (np.abs(xx - mid) < 0.07 * bw) & (yy >= apex) & (yy <= base) & body_mask
    return Anatomy(body_mask=body_mask, lung_mask=lung, mediastinum_mask=med, midline_x_px=float(mid),
                   apex_y_px=float(apex), diaphragm_y_px=float(base), thorax_x0_px=float(x0 + 0.12 * bw),
                   thorax_x1_px=float(x0 + 0.88 * bw), estimated=False)


def nominal_anatomy(height: int, width: int) -> Anatomy:
    """Anatomy when no image is at hand: the whole frame is body, landmarks nominal."""
    body = np.ones((height, width), dtype=bool)
    return _nominal(body, height, width, height, width, torch.ones(1, 1, dtype=torch.bool))
