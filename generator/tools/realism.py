"""How real is synthetic metal? Contrast and edge sharpness of real vs synthetic metal
(`radiopaque realism`).

Real metal: NIH ChestX-ray14 films in ../shared/data/cxr-nih carry ECG electrodes, lead
wires, clips and markers. Detection (documented, deliberately simple):
  1. work at `WORK_PX` on the long side (spacing scaled accordingly);
  2. white top-hat with a flat square of ~`TOPHAT_MM` (Kornia's opening): keeps bright
     structures smaller than about 8 mm (electrode studs, wires, clips), removes ribs,
     spine and heart, which are wider;
  3. candidates = local maxima of the top-hat (9 x 9 non-maximum suppression) above
     `TOPHAT_MIN` (0.15 of the display range) and at least 95th-percentile bright in the
     image, outside a border band of 8 % of the size (burnt-in text and letters live
     there), at most 3 per image, strongest first.
Synthetic metal: physical-style objects of every class rendered on the same films; the
measurement point is each object's densest pixel.

Measures at each point (same code for both):
  ratio = mean 3 x 3 intensity at the point / median of a ring 6-9 mm around it (for a
  synthetic object larger than that, a 3 mm ring starting 3 mm beyond its mask);
  edge width = 10-90 % rise in mm along 8 rays from the ring level to the point's level,
  median over rays (only rays that rise monotonically enough to cross both levels).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import kornia
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from generator.anatomy.estimate import estimate_anatomy
from generator.bodies.context import PlacementContext
from generator.render.calibrate import display_levels_np
from generator.render.styles import get_style
from generator.rng import sample_rng
from generator.spec import SampleSpec

WORK_PX = 512
TOPHAT_MM = 8.0
TOPHAT_MIN = 0.15
RING_MM = (6.0, 9.0)
BORDER_FRACTION = 0.08
MAX_PER_IMAGE = 3
SYNTHETIC_CLASSES = ("coin", "button_battery", "magnets", "bullet", "shrapnel", "pin_needle", "blade",
                     "jewellery_clothing")


@dataclass(frozen=True)
class Measure:
    ratio: float
    edge_mm: float


def _load(path: Path, spacing_mm: tuple[float, float]) -> tuple[np.ndarray, tuple[float, float]]:
    img = Image.open(path).convert("L")
    scale = WORK_PX / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    px = np.asarray(img.resize(size, Image.BILINEAR), dtype=np.float32) / 255.0
    return px, (spacing_mm[0] * img.height / size[1], spacing_mm[1] * img.width / size[0])


def white_tophat(px: np.ndarray, size_px: int) -> np.ndarray:
    """Image minus its opening by a flat square of size_px (made odd) pixels; pixels beyond
    the image are ignored (geodesic border). px: (H, W) float32; returns (H, W) float32."""
    k = size_px | 1
    x = torch.from_numpy(px)[None, None]
    return kornia.morphology.top_hat(x, torch.ones(k, k))[0, 0].numpy()


def detect_metal(px: np.ndarray, spacing_mm: tuple[float, float]) -> list[tuple[int, int]]:
    """(row, col) of bright, small, compact structures; see the module docstring."""
    size_px = max(3, round(TOPHAT_MM / min(spacing_mm)))
    th = white_tophat(px, size_px)
    t = torch.from_numpy(th)[None, None]
    peaks = (F.max_pool2d(t, 9, 1, 4) == t)[0, 0].numpy() & (th > TOPHAT_MIN) & (px >= np.quantile(px, 0.95))
    h, w = px.shape
    by, bx = int(BORDER_FRACTION * h), int(BORDER_FRACTION * w)
    peaks[:by] = peaks[h - by:] = False
    peaks[:, :bx] = peaks[:, w - bx:] = False
    rows, cols = np.nonzero(peaks)
    order = np.argsort(-th[rows, cols])[:MAX_PER_IMAGE]
    return [(int(rows[k]), int(cols[k])) for k in order]


def measure(px: np.ndarray, row: int, col: int, spacing_mm: tuple[float, float],
            ring_mm: tuple[float, float] = RING_MM) -> Measure | None:
    """Object-to-background ratio and 10-90 % edge width in mm at (row, col)."""
    h, w = px.shape
    pitch = min(spacing_mm)
    r_in, r_out = ring_mm[0] / pitch, ring_mm[1] / pitch
    m = int(math.ceil(r_out)) + 2
    r0, c0 = max(row - m, 0), max(col - m, 0)
    crop = px[r0:row + m + 1, c0:col + m + 1]
    yy, xx = np.mgrid[r0:r0 + crop.shape[0], c0:c0 + crop.shape[1]]
    d = np.hypot((yy - row) * spacing_mm[0] / pitch, (xx - col) * spacing_mm[1] / pitch)
    ring = crop[(d >= r_in) & (d <= r_out)]
    if ring.size < 8:
        return None
    bg = float(np.median(ring))
    peak = float(px[max(row - 1, 0):row + 2, max(col - 1, 0):col + 2].mean())
    if peak <= bg + 0.02 or bg <= 0.01:
        return None
    widths = []
    steps = np.arange(0.0, r_out, 0.25)
    for a in np.linspace(0, 2 * math.pi, 8, endpoint=False):
        ys = np.clip(row + steps * math.sin(a) * pitch / spacing_mm[0], 0, h - 1)
        xs = np.clip(col + steps * math.cos(a) * pitch / spacing_mm[1], 0, w - 1)
        level = (_bilinear(px, ys, xs) - bg) / (peak - bg)  # 1 at the object, 0 at the background
        below90 = np.nonzero(level < 0.9)[0]
        if below90.size == 0:
            continue
        below10 = np.nonzero(level[below90[0]:] < 0.1)[0]
        if below10.size == 0:
            continue
        widths.append(below10[0] * 0.25 * pitch)
    if not widths:
        return None
    return Measure(ratio=peak / bg, edge_mm=float(np.median(widths)))


def _bilinear(px: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, px.shape[0] - 1), np.minimum(x0 + 1, px.shape[1] - 1)
    fy, fx = ys - y0, xs - x0
    top = px[y0, x0] * (1 - fx) + px[y0, x1] * fx
    bottom = px[y1, x0] * (1 - fx) + px[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def _spacings(folder: Path) -> dict[str, tuple[float, float]]:
    manifest = folder / "manifest_chexpert_style.csv"
    out: dict[str, tuple[float, float]] = {}
    if manifest.exists():
        with open(manifest, newline="") as fh:
            for row in csv.DictReader(fh):
                out[Path(row["Path"]).name] = (float(row["SpacingY_mm"]), float(row["SpacingX_mm"]))
    return out


def real_measures(folder: Path, n_images: int) -> list[Measure]:
    spacings = _spacings(folder)
    out = []
    for path in sorted(folder.glob("*.png"))[:n_images]:
        px, sp = _load(path, spacings.get(path.name, (0.143 * 2.5, 0.143 * 2.5)))
        for r, c in detect_metal(px, sp):
            m = measure(px, r, c, sp)
            if m:
                out.append(m)
    return out


def synthetic_measures(folder: Path, n_images: int, seed: int) -> dict[str, list[Measure]]:
    """Render one object per image per class with the physical style and measure it."""
    style = get_style("physical")
    spacings = _spacings(folder)
    out: dict[str, list[Measure]] = {c: [] for c in SYNTHETIC_CLASSES}
    from generator.run.shard import render_specs

    for n, path in enumerate(sorted(folder.glob("*.png"))[:n_images]):
        px, sp = _load(path, spacings.get(path.name, (0.143 * 2.5, 0.143 * 2.5)))
        src = torch.from_numpy(px)[None]
        an = estimate_anatomy(src)
        h, w = px.shape
        levels = display_levels_np(px)
        ctx = PlacementContext(height=h, width=w, spacing_mm=sp, body_mask=an.body_mask, anatomy=an,
                               display_levels=levels)
        specs = []
        for k, cls in enumerate(SYNTHETIC_CLASSES):
            rng = sample_rng(seed, n * len(SYNTHETIC_CLASSES) + k)
            objs = style.samplers[cls](rng, ctx)[:1]
            specs.append(SampleSpec(index=k, key=str(k), source_index=0, source_id=path.name, label=cls,
                                    style="physical", height=h, width=w, spacing_mm=sp, objects=objs,
                                    imaging=style.sample_imaging(rng, ctx)))
        images, windows = render_specs(specs, [src] * len(specs), style, torch.device("cpu"))
        for win in windows:
            for j in range(win.values.shape[0]):
                b = int(win.batch_index[j])
                vals = win.values[j]
                r, c = divmod(int(torch.argmax(vals)), vals.shape[1])
                row, col = int(win.rows[j, r]), int(win.cols[j, c])
                if 0 <= row < h and 0 <= col < w:
                    # Synthetic objects can be larger than the detected real ones: put the
                    # background ring just outside this object (its farthest mask pixel).
                    ys, xs = torch.nonzero(vals > style.mask_threshold, as_tuple=True)
                    reach_mm = float(torch.hypot((ys - r).float() * sp[0], (xs - c).float() * sp[1]).max())
                    inner = max(RING_MM[0], reach_mm + 3.0)
                    m = measure(images[b, 0].numpy(), row, col, sp, (inner, inner + 3.0))
                    if m:
                        out[specs[b].label].append(m)
    return out


def _summary(ms: list[Measure]) -> str:
    if not ms:
        return "      n=0"
    r = np.array([m.ratio for m in ms])
    e = np.array([m.edge_mm for m in ms])
    return (f"n={len(ms):4d}  ratio {np.median(r):5.2f} [{np.quantile(r, 0.25):4.2f}-{np.quantile(r, 0.75):4.2f}]"
            f"  edge {np.median(e):4.2f} mm [{np.quantile(e, 0.25):4.2f}-{np.quantile(e, 0.75):4.2f}]")


def report(folder: Path, n_images: int = 60, seed: int = 0) -> str:
    """The side-by-side table (medians and interquartile ranges)."""
    lines = [f"realism on {folder} ({n_images} films at {WORK_PX} px): object/background ratio, 10-90 % edge width",
             f"{'real metal (detected)':24s} {_summary(real_measures(folder, n_images))}"]
    synth = synthetic_measures(folder, n_images, seed)
    lines.append(f"{'synthetic (all classes)':24s} {_summary([m for v in synth.values() for m in v])}")
    for cls, ms in synth.items():
        lines.append(f"  {cls:22s} {_summary(ms)}")
    return "\n".join(lines)
