"""How real is synthetic metal? Contrast and edge sharpness of real vs synthetic metal, and
whether a small CNN can tell them apart (`radiopaque realism`).

Real metal: NIH ChestX-ray14 films in ../shared/data/cxr-nih carry ECG electrodes, lead
wires, clips and markers. Detection (documented, deliberately simple):
  1. work at `WORK_PX` on the long side (spacing scaled accordingly);
  2. white top-hat with a flat square of ~`TOPHAT_MM` (Kornia's opening): keeps bright
     structures smaller than about 8 mm (electrode studs, wires, clips), removes ribs,
     spine and heart, which are wider;
  3. candidates = local maxima of the top-hat (9 x 9 non-maximum suppression) above
     `TOPHAT_MIN` (0.15 of the display range) and at least 95th-percentile bright in the
     image, outside a border band of 8 % of the size (burnt-in text and letters live
     there);
  4. not clipped: a candidate is dropped when its 3 x 3 core holds a work pixel at least
     half of whose footprint on the stored film is at the 8-bit ceiling (255). A clipped
     value is a censored measurement (neither its contrast nor its edge can be read), and on
     these films the structures drawn at 255 are the burnt-in annotations ("PORTABLE",
     "SUPINE", initials), not metal in the beam. The test runs on the stored pixels: the
     resize to `WORK_PX` blurs a 2-pixel letter stroke below the ceiling;
  5. not a burnt-in annotation's outline: a candidate is dropped when a work pixel within
     `OUTLINE_MM` of it has at least half of its footprint on the stored film at the black
     floor (<= `FLOOR_LEVEL` of 255). Digital annotations that escape the ceiling rule (the
     portable films' upright arrow, "PORTABLE", the circled "L", drawn white with a black
     border) carry that border; nothing in the beam of a chest film is black beside bright
     metal (processing's undershoot darkens, it does not reach the floor). The cost: the odd
     lead marker lying on black air beside the body is dropped too (on the 245 cxr-nih films
     this rule takes 13 of 61 detections, 8 of them annotations);
  6. one detection per object: strongest first, a candidate within `MIN_SEPARATION_MM`
     (one discriminator crop) of one already taken is the same object (a ring, a
     letter, an electrode gives several maxima) and is skipped; at most 3 per image.
Synthetic metal: physical-style objects of every class rendered on the same films; the
measurement point is each object's densest pixel.

Measures at each point (same code for both):
  ratio = mean 3 x 3 intensity at the point / median of a ring 6-9 mm around it (for a
  synthetic object larger than that, a 3 mm ring starting 3 mm beyond its mask);
  edge width = 10-90 % rise in mm along 8 rays from the ring level to the point's level,
  median over rays (only rays that rise monotonically enough to cross both levels).

Discriminator (generator/tools/discriminator.py): crops of `CROP_MM` (resampled to
`CROP_PX`) centred on each real detection, taken from a `none` pass of the same film through
the physical imaging pipeline (so both sides carry the same noise and no 8-bit
quantisation), against as many crops of synthetic metal from the same film (centred on each
object's densest pixel, outside the same border band), scored patient-grouped (patient
numbers parsed from NIH names in memory only). Variants: all classes, shape-matched
(`SHAPE_MATCHED_CLASSES`), detector-matched (synthetic objects that pass the detector's
thresholds), device-matched (the distractors of `--distractors negative`, our rendering of
what the real detections are: electrodes, leads, clips, lead markers; same imaging, same kind
of object, so what separates the two sides there is the rendering) and position-matched (a
foreign body on each real detection's mirror image across the film: like backgrounds). Each
variant also gets `cues`: the AUROC of each simple measure alone (background level and
texture, contrast, size, edge band, core texture: `realism_cues`), which says what a high
AUROC is made of. `realism_report` returns counts and figures only, never file names.
"""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import kornia
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from generator.anatomy.estimate import estimate_anatomy
from generator.bodies.context import PlacementContext
from generator.bodies.magnification import magnify, sample_magnification
from generator.render.calibrate import display_levels_np
from generator.render.styles import get_style
from generator.rng import sample_rng
from generator.spec import SampleSpec
from generator.tools.discriminator import crop, discriminate, patient_id
from generator.tools.realism_config import CROP_MM, RealismConfig
from generator.tools.realism_cues import cue_aurocs, strongest
from generator.tools.realism_variants import CAVEATS, SHAPE_MATCHED_CLASSES, VARIANTS, devices

WORK_PX = 512
TOPHAT_MM = 8.0
TOPHAT_MIN = 0.15
RING_MM = (6.0, 9.0)
BORDER_FRACTION = 0.08
MAX_PER_IMAGE = 3
MIN_SEPARATION_MM = CROP_MM  # one crop side: no two real crops of a film share most of their pixels
CLIPPED_SHARE = 0.5  # of a work pixel's footprint on the stored film at 255 (or at the floor)
FLOOR_LEVEL = 8  # stored 8-bit values at or below this are the black floor (an annotation's outline)
OUTLINE_MM = 4.0  # a candidate with the floor this near is inside a burnt-in annotation
SYNTHETIC_CLASSES = ("coin", "button_battery", "magnets", "bullet", "shrapnel", "pin_needle", "blade",
                     "jewellery_clothing")
DEFAULT_SPACING_MM = (0.143 * 2.5, 0.143 * 2.5)
# Streams of `sample_rng` apart from the per-class objects' (stream 0, index n * classes + k),
# so adding the discriminator's renders moved no object of the contrast and edge figures.
_STREAM_EXTRA = 2
_STREAM_SELECT = 3
_STREAM_DEVICES = 4
_STREAM_TWINS = 5
_STREAM_DEPTH = 6


@dataclass(frozen=True)
class Measure:
    ratio: float
    edge_mm: float


@dataclass(frozen=True)
class Stored:
    """Where the stored 8-bit film sits at its limits, per work pixel: the share of its
    footprint at the ceiling (255: clipped) and at the black floor (<= FLOOR_LEVEL), (H, W)
    float32 each."""

    clipped: np.ndarray
    floor: np.ndarray


def _load(path: Path, spacing_mm: tuple[float, float]) -> tuple[np.ndarray, tuple[float, float], Stored]:
    """The film at `WORK_PX` (H, W) float32 in [0, 1], its spacing there, and where the
    stored film is clipped or at its floor (`Stored`, at work size)."""
    img = Image.open(path).convert("L")
    scale = WORK_PX / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    px = np.asarray(img.resize(size, Image.BILINEAR), dtype=np.float32) / 255.0
    stored = np.asarray(img)

    def share(hit: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray((hit * 255).astype(np.uint8)).resize(size, Image.BOX),
                          dtype=np.float32) / 255.0

    spacing = (spacing_mm[0] * img.height / size[1], spacing_mm[1] * img.width / size[0])
    return px, spacing, Stored(clipped=share(stored == 255), floor=share(stored <= FLOOR_LEVEL))


def white_tophat(px: np.ndarray, size_px: int) -> np.ndarray:
    """Image minus its opening by a flat square of size_px (made odd) pixels; pixels beyond
    the image are ignored (geodesic border). px: (H, W) float32; returns (H, W) float32."""
    k = size_px | 1
    x = torch.from_numpy(px)[None, None]
    return kornia.morphology.top_hat(x, torch.ones(k, k))[0, 0].numpy()


def detect_metal(px: np.ndarray, spacing_mm: tuple[float, float],
                 stored: Stored | None = None) -> list[tuple[int, int]]:
    """(row, col) of bright, small, compact structures, strongest first; see the module
    docstring. stored: where the stored film is clipped or at its floor (`_load`); None:
    nowhere."""
    size_px = max(3, round(TOPHAT_MM / min(spacing_mm)))
    th = white_tophat(px, size_px)
    t = torch.from_numpy(th)[None, None]
    peaks = (F.max_pool2d(t, 9, 1, 4) == t)[0, 0].numpy() & (th > TOPHAT_MIN) & (px >= np.quantile(px, 0.95))
    h, w = px.shape
    by, bx = int(BORDER_FRACTION * h), int(BORDER_FRACTION * w)
    peaks[:by] = peaks[h - by:] = False
    peaks[:, :bx] = peaks[:, w - bx:] = False
    rows, cols = np.nonzero(peaks)
    taken: list[tuple[int, int]] = []
    for k in np.argsort(-th[rows, cols], kind="stable"):
        row, col = int(rows[k]), int(cols[k])
        if stored is not None and _annotation(stored, row, col, spacing_mm):
            continue
        if any(math.hypot((row - r) * spacing_mm[0], (col - c) * spacing_mm[1]) < MIN_SEPARATION_MM
               for r, c in taken):
            continue
        taken.append((row, col))
        if len(taken) == MAX_PER_IMAGE:
            break
    return taken


def _annotation(stored: Stored, row: int, col: int, spacing_mm: tuple[float, float]) -> bool:
    """Rules 4 and 5 of the module docstring: clipped at its core, or the floor within OUTLINE_MM."""
    if stored.clipped[max(row - 1, 0):row + 2, max(col - 1, 0):col + 2].max() >= CLIPPED_SHARE:
        return True
    ky, kx = round(OUTLINE_MM / spacing_mm[0]), round(OUTLINE_MM / spacing_mm[1])
    return bool(stored.floor[max(row - ky, 0):row + ky + 1, max(col - kx, 0):col + kx + 1].max() >= CLIPPED_SHARE)


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


@dataclass
class _Film:
    """What one film gives: measures, crops (N, P, P) of its real and synthetic metal."""

    patient: str
    real: list[Measure]
    synthetic: dict[str, list[Measure]]
    real_crops: list[np.ndarray]
    # (class, crop, passes the real detector's thresholds, from the per-class renders)
    candidates: list[tuple[str, np.ndarray, bool, bool]]


def _passes_detector(img: np.ndarray, row: int, col: int, spacing_mm: tuple[float, float], q95: float) -> bool:
    """Whether `detect_metal`'s thresholds hold at (row, col): top-hat above TOPHAT_MIN and
    95th-percentile bright. The top-hat at a pixel needs only pixels within the square's
    size of it, so a patch that size around the point gives the whole image's value."""
    k = max(3, round(TOPHAT_MM / min(spacing_mm))) | 1
    r0, c0 = max(row - k, 0), max(col - k, 0)
    th = white_tophat(np.ascontiguousarray(img[r0:row + k + 1, c0:col + k + 1]), k)
    return bool(th[row - r0, col - c0] > TOPHAT_MIN and img[row, col] >= q95)


def _in_border(row: int, col: int, h: int, w: int) -> bool:
    by, bx = int(BORDER_FRACTION * h), int(BORDER_FRACTION * w)
    return not (by <= row < h - by and bx <= col < w - bx)


def _film(path: Path, n: int, spacing_mm: tuple[float, float], config: RealismConfig, style) -> _Film:
    """Detect and measure real metal; render one physical object per class (sample indices
    n * classes + k of `config.seed`, as `radiopaque realism` always has) and measure each
    at its densest pixel. Where the film has real metal, also render a `none` pass of the
    same film (its crops of the real metal then went through the same imaging pipeline as
    the synthetic ones) and, per real detection, one more object of each shape-matched class
    and one of the film's own distractors (`realism_variants.devices`) alone on it."""
    from generator.run.shard import render_specs

    px, sp, stored = _load(path, spacing_mm)
    src = torch.from_numpy(px)[None]
    an = estimate_anatomy(src)
    h, w = px.shape
    ctx = PlacementContext(height=h, width=w, spacing_mm=sp, body_mask=an.body_mask, anatomy=an,
                           display_levels=display_levels_np(px), source_spacing_mm=spacing_mm)
    points = detect_metal(px, sp, stored)
    real = [m for m in (measure(px, r, c, sp) for r, c in points) if m]

    depth = sample_rng(config.seed, n, _STREAM_DEPTH)  # magnifications, apart from the objects' own draws

    def spec(k: int, cls: str, rng: np.random.Generator, objects=None) -> SampleSpec:
        objs = style.samplers[cls](rng, ctx)[:1] if objects is None else objects
        if objs and style.magnifies:  # as a build draws them (view and age unknown here)
            objs = magnify(objs, sample_magnification(depth))
        return SampleSpec(index=k, key=str(k), source_index=0, source_id="", label=cls, style="physical",
                          height=h, width=w, spacing_mm=sp, objects=objs, imaging=style.sample_imaging(rng, ctx))

    specs, first_twin = [], None
    for k, cls in enumerate(SYNTHETIC_CLASSES):
        specs.append(spec(k, cls, sample_rng(config.seed, n * len(SYNTHETIC_CLASSES) + k)))
    if points:
        rng = sample_rng(config.seed, n, _STREAM_EXTRA)
        specs.append(spec(len(specs), "none", rng, objects=()))
        for _ in points:
            for cls in SHAPE_MATCHED_CLASSES:
                specs.append(spec(len(specs), cls, rng))
        rng = sample_rng(config.seed, n, _STREAM_DEVICES)
        items = devices(rng, ctx)
        for _ in points:
            item = items[int(rng.integers(len(items)))]
            specs.append(replace(spec(len(specs), item.cls, rng, objects=()), distractors=(item,)))
        first_twin, rng = len(specs), sample_rng(config.seed, n, _STREAM_TWINS)
        for r, c in points:  # a foreign body on the real detection's mirror image across the film
            cls = SYNTHETIC_CLASSES[int(rng.integers(len(SYNTHETIC_CLASSES)))]
            twin = tuple(replace(o, center_px=(float(w - 1 - c), float(r))) for o in style.samplers[cls](rng, ctx)[:1])
            if min(math.hypot((r - r2) * sp[0], (w - 1 - c - c2) * sp[1]) for r2, c2 in points) >= MIN_SEPARATION_MM:
                specs.append(spec(len(specs), cls, rng, objects=twin))  # not on the other side's real metal
    images, windows = render_specs(specs, [src] * len(specs), style, torch.device("cpu"))
    images_np = images[:, 0].numpy()  # (B, H, W)
    synthetic: dict[str, list[Measure]] = {c: [] for c in SYNTHETIC_CLASSES}
    candidates = []
    q95 = {}
    for win in windows:
        for j in range(win.values.shape[0]):
            b = int(win.batch_index[j])
            vals = win.values[j]
            r, c = divmod(int(torch.argmax(vals)), vals.shape[1])
            row, col = int(win.rows[j, r]), int(win.cols[j, c])
            if not (0 <= row < h and 0 <= col < w):
                continue
            img = images_np[b]
            if b < len(SYNTHETIC_CLASSES):
                # Synthetic objects can be larger than the detected real ones: put the
                # background ring just outside this object (its farthest mask pixel).
                ys, xs = torch.nonzero(vals > style.mask_threshold, as_tuple=True)
                reach_mm = float(torch.hypot((ys - r).float() * sp[0], (xs - c).float() * sp[1]).max())
                inner = max(RING_MM[0], reach_mm + 3.0)
                m = measure(img, row, col, sp, (inner, inner + 3.0))
                if m:
                    synthetic[specs[b].label].append(m)
            if points and not _in_border(row, col, h, w):
                q = q95.setdefault(b, float(np.quantile(img, 0.95)))
                source = "class" if b < len(SYNTHETIC_CLASSES) else "twin" if b >= first_twin else "extra"
                candidates.append((specs[b].label, crop(img, row, col, sp, config.crop_mm, config.crop_px),
                                   _passes_detector(img, row, col, sp, q), source))
    none = images_np[len(SYNTHETIC_CLASSES)] if points else None
    real_crops = [crop(none, r, c, sp, config.crop_mm, config.crop_px) for r, c in points]
    return _Film(patient_id(path.name), real, synthetic, real_crops, candidates)


def _stats(values: list[float]) -> dict:
    if not values:
        return {"median": None, "q1": None, "q3": None, "n": 0}
    v = np.asarray(values)
    return {"median": float(np.median(v)), "q1": float(np.quantile(v, 0.25)), "q3": float(np.quantile(v, 0.75)),
            "n": len(values)}


def _measures(ms: list[Measure]) -> dict:
    return {"contrast": _stats([m.ratio for m in ms]), "edge_mm": _stats([m.edge_mm for m in ms])}


def _select(films: list[_Film], keep, rng: np.random.Generator) -> tuple[np.ndarray, list[str], dict[str, int]]:
    crops, groups, classes = [], [], {}
    for film in films:
        pool = [cand for cand in film.candidates if keep(cand[0], cand[2], cand[3])]
        for i in sorted(rng.choice(len(pool), min(len(film.real_crops), len(pool)), replace=False)):
            crops.append(pool[i][1])
            groups.append(film.patient)
            classes[pool[i][0]] = classes.get(pool[i][0], 0) + 1
    return np.array(crops, dtype=np.float32).reshape(-1, *films[0].real_crops[0].shape), groups, classes


def realism_report(config: RealismConfig, sheet: str | Path | None = None) -> dict:
    """The report as plain data (the `--json` file): medians and quartiles of contrast and
    edge width, real vs synthetic, and the discriminator's AUROC. Counts only: no file
    names or patient numbers. `sheet`: also write the crops the discriminator compares,
    real above synthetic (all classes, then shape-matched), as a PNG there (`crop_sheet`)."""
    folder = Path(config.data)
    style = get_style("physical")
    spacings = _spacings(folder)
    paths = sorted(folder.glob("*.png"))[:config.n_images]
    films = [_film(p, n, spacings.get(p.name, DEFAULT_SPACING_MM), config, style) for n, p in enumerate(paths)]
    synth = {c: [m for f in films for m in f.synthetic[c]] for c in SYNTHETIC_CLASSES}
    with_metal = [f for f in films if f.real_crops]
    real_crops = np.array([c for f in with_metal for c in f.real_crops], dtype=np.float32)
    real_groups = [f.patient for f in with_metal for _ in f.real_crops]
    rng = sample_rng(config.seed, 0, _STREAM_SELECT)
    variants, shown = {}, {"real metal": real_crops}
    for name, (description, keep) in VARIANTS.items():
        if not with_metal:
            variants[name] = {"description": description, "auc": None, "note": "no real metal found"}
            continue
        crops, groups, classes = _select(with_metal, keep, rng)
        result = discriminate(real_crops, real_groups, crops, groups, config.discriminator, config.seed)
        variants[name] = {"description": description, **result, "synthetic_classes": classes,
                          "cues": cue_aurocs(real_crops, crops, config.crop_mm / config.crop_px)}
        shown[f"synthetic, {name.replace('_', ' ')}"] = crops
    if sheet is not None:
        from generator.tools.crop_sheet import write_crop_sheet

        write_crop_sheet(sheet, shown)
    main = variants.pop("all_classes")
    return {
        "real": _measures([m for f in films for m in f.real]),
        "synthetic": _measures([m for v in synth.values() for m in v]),
        "per_class": {c: _measures(ms) for c, ms in synth.items()},
        "discriminator_auc": main["auc"],
        "discriminator": {**main, "crop_mm": config.crop_mm, "crop_px": config.crop_px,
                          "label": "1 = synthetic; AUROC 0.5 = indistinguishable",
                          "caveats": list(CAVEATS), "variants": variants},
        "films": {"used": len(films), "with_real_metal": len(with_metal),
                  "patients": len({f.patient for f in films}), "work_px": WORK_PX},
        "config": {**{k: v for k, v in asdict(config).items() if k != "discriminator"},
                   "discriminator": asdict(config.discriminator)},
    }


def _row(name: str, m: dict) -> str:
    c, e = m["contrast"], m["edge_mm"]
    if not c["n"]:
        return f"{name:26s} {0:5d}"
    return (f"{name:26s} {c['n']:5d}  {c['median']:5.2f} [{c['q1']:4.2f}-{c['q3']:4.2f}]"
            f"   {e['median']:5.2f} [{e['q1']:4.2f}-{e['q3']:4.2f}]")


def _auc_line(name: str, d: dict) -> str:
    if d.get("auc") is None:
        return f"{name:26s} n/a ({d.get('note', '')})"
    lo, hi = d["auc_ci95"] or (float("nan"), float("nan"))
    cues = ", ".join(f"{cue} {auc:.2f}" for cue, auc in strongest(d["cues"]))
    return (f"{name:26s} {d['auc']:.3f}  seeds {d['auc_spread']['min']:.3f}-{d['auc_spread']['max']:.3f}"
            f"  95% CI {lo:.3f}-{hi:.3f}  crops {d['crops']['real']} real / {d['crops']['synthetic']} synthetic"
            f"\n{'':28s}strongest single cues (AUROC alone): {cues}")


def format_report(result: dict) -> str:
    """The report as a small text table."""
    f, d = result["films"], result["discriminator"]
    lines = [f"realism on {result['config']['data']}: {f['used']} films at {f['work_px']} px "
             f"({f['with_real_metal']} with real metal)",
             f"{'':26s} {'n':>5s}  {'contrast [q1-q3]':17s}   edge mm [q1-q3]",
             _row("real metal (detected)", result["real"]), _row("synthetic (all classes)", result["synthetic"])]
    lines += [_row(f"  {c}", m) for c, m in result["per_class"].items()]
    lines.append(f"discriminator AUROC (1 = synthetic, 0.5 = indistinguishable; {d['split']}, "
                 f"{len(d['seeds'])} seeds, {d['epochs']} epochs, {d['crop_mm']:g} mm crops)")
    lines.append(_auc_line("  all classes", d))
    lines += [_auc_line(f"  {name.replace('_', '-')}", v) for name, v in d["variants"].items()]
    lines += [f"caveat: {c}" for c in d["caveats"]]
    return "\n".join(lines)
