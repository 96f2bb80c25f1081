"""Reports of localising models: the FROC curve and a prediction sheet (PNG), per-image CSVs.

Drawn with PIL (no figure library needed for these sheets).

CSVs, one row per image, in the order given:
- `write_classification_csv`: object-CXR's `prediction_classification.csv` shape,
  `image_path,prediction` with the image-level score in [0, 1].
- `write_localisation_csv`: object-CXR's `prediction_localization.csv` shape,
  `image_path,prediction` with `score x y;score x y;...` (pixels; empty when no point), read
  back by `read_localisation_csv`, so a submission can be scored with `froc`.
- `write_detections_csv`: every predicted and true box of an image, with class names.
- `write_rows_csv`: any per-image table (a classifier's probabilities, a U-Net's Dice...).
The `image_path` column holds what the caller passes: a build's sample keys, or a labelled
set's paths as its file gives them. The sheet titles images by what the caller passes too,
which for real films should be an index, not a file name (names can carry patient numbers).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

TRUE_RGB = (40, 220, 60)
PRED_RGB = (255, 70, 50)
_FONT_PX = 12


def _font(size: int = _FONT_PX):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _write_csv(path: str | Path, header: Sequence[str], rows: Sequence[Sequence]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_classification_csv(path: str | Path, image_ids: Sequence[str], scores: Sequence[float]) -> None:
    """object-CXR classification shape: `image_path,prediction` (score, 6 decimals)."""
    if len(image_ids) != len(scores):
        raise ValueError(f"{len(image_ids)} image ids, {len(scores)} scores")
    _write_csv(path, ["image_path", "prediction"], [[i, f"{float(s):.6f}"] for i, s in zip(image_ids, scores)])


def format_points(points: torch.Tensor) -> str:
    """(K, 3) (score, x, y) -> "score x y;score x y" (score 6 decimals, pixels 2)."""
    rows = torch.as_tensor(points).reshape(-1, 3).tolist()
    return ";".join(f"{s:.6f} {x:.2f} {y:.2f}" for s, x, y in rows)


def write_localisation_csv(path: str | Path, image_ids: Sequence[str],
                           points_per_image: Sequence[torch.Tensor]) -> None:
    """object-CXR localisation shape: `image_path,prediction` with `score x y;...` per image."""
    if len(image_ids) != len(points_per_image):
        raise ValueError(f"{len(image_ids)} image ids, {len(points_per_image)} point sets")
    _write_csv(path, ["image_path", "prediction"], [[i, format_points(p)] for i, p in zip(image_ids, points_per_image)])


def read_localisation_csv(path: str | Path) -> dict[str, torch.Tensor]:
    """Inverse of `write_localisation_csv`: image_path -> (K, 3) float32 (score, x, y), file order.

    Raises ValueError naming the file and line on a malformed row.
    """
    out: dict[str, torch.Tensor] = {}
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != ["image_path", "prediction"]:
        raise ValueError(f"{path}, line 1: header must be 'image_path,prediction', got {rows[:1]}")
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 2:
            raise ValueError(f"{path}, line {line}: expected 2 fields, got {len(row)}")
        points = []
        for item in filter(None, (t.strip() for t in row[1].split(";"))):
            try:
                values = [float(v) for v in item.split()]
            except ValueError:
                values = []
            if len(values) != 3:
                raise ValueError(f"{path}, line {line}: a point is 'score x y', got {item!r}")
            points.append(values)
        out[row[0]] = torch.tensor(points, dtype=torch.float32).reshape(-1, 3)
    return out


def _boxes_text(boxes, labels, class_names, scores=None) -> str:
    boxes = torch.as_tensor(boxes).reshape(-1, 4).tolist()
    labels = torch.as_tensor(labels).reshape(-1).tolist()
    scores = [None] * len(boxes) if scores is None else torch.as_tensor(scores).reshape(-1).tolist()
    parts = []
    for box, label, score in zip(boxes, labels, scores):
        name = class_names[label - 1] if 1 <= label <= len(class_names) else str(label)
        head = name if score is None else f"{name} {score:.4f}"
        parts.append(head + " " + " ".join(f"{v:.1f}" for v in box))
    return ";".join(parts)


def write_detections_csv(path: str | Path, image_ids: Sequence[str], preds: Sequence[Mapping],
                         targets: Sequence[Mapping], class_names: Sequence[str]) -> None:
    """Per image: objects, detections, top score, `predicted` ("class score x1 y1 x2 y2;...") and
    `true` ("class x1 y1 x2 y2;..."); torchvision-style dicts, labels 1-based."""
    rows = []
    for image_id, p, t in zip(image_ids, preds, targets, strict=True):
        scores = torch.as_tensor(p["scores"]).reshape(-1)
        rows.append([image_id, int(torch.as_tensor(t["labels"]).numel()), int(scores.numel()),
                     f"{float(scores.max()):.6f}" if scores.numel() else "",
                     _boxes_text(p["boxes"], p["labels"], class_names, scores),
                     _boxes_text(t["boxes"], t["labels"], class_names)])
    _write_csv(path, ["image_path", "objects", "detections", "top_score", "predicted", "true"], rows)


def write_rows_csv(path: str | Path, rows: Sequence[Mapping]) -> None:
    """A per-image table: the header is the first row's keys; floats with 6 decimals."""
    if not rows:
        _write_csv(path, ["image_path"], [])
        return
    header = list(rows[0])

    def cell(v):
        return f"{v:.6f}" if isinstance(v, float) else ("" if v is None else v)

    _write_csv(path, header, [[cell(r.get(k)) for k in header] for r in rows])


# -- FROC curve ------------------------------------------------------------------------------
def write_froc_png(path: str | Path, results: Mapping[str, dict], *, title: str = "FROC",
                   size: tuple[int, int] = (640, 460)) -> None:
    """Plot one or more `froc(...)` results (label -> result) on a log2 axis of false
    positives per image, each with its operating points marked and its mean in the legend."""
    from PIL import Image, ImageDraw

    colours = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14)]
    w, h = size
    left, right, top, bottom = 60, 20, 36, 50
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = _font()
    fps = next(iter(results.values()))["fps"]
    x_max = max([fps[-1]] + [max(r["curve"]["fps"]) for r in results.values()])
    lo, hi = math.log2(fps[0]) - 0.5, math.log2(max(x_max, fps[-1])) + 0.25

    def xy(fp: float, sens: float) -> tuple[float, float]:
        x = math.log2(fp) if fp > 0 else lo
        x = min(max(x, lo), hi)
        return (left + (x - lo) / (hi - lo) * (w - left - right), top + (1 - sens) * (h - top - bottom))

    draw.rectangle([left, top, w - right, h - bottom], outline="black")
    for k in range(6):  # sensitivity grid 0, 0.2, ... 1
        s = k / 5
        _, y = xy(fps[0], s)
        draw.line([left, y, w - right, y], fill=(225, 225, 225))
        draw.text((left - 6, y), f"{s:.1f}", fill="black", font=font, anchor="rm")
    for fp in fps:
        x, _ = xy(fp, 0)
        draw.line([x, top, x, h - bottom], fill=(225, 225, 225))
        draw.text((x, h - bottom + 6), f"{fp:g}", fill="black", font=font, anchor="mt")
    draw.text(((left + w - right) / 2, h - 14), "false positives per image", fill="black", font=font, anchor="mm")
    draw.text((8, top - 20), "sensitivity", fill="black", font=font)
    draw.text((w / 2, 12), title, fill="black", font=_font(14), anchor="mm")
    for n, (label, result) in enumerate(results.items()):
        colour = colours[n % len(colours)]
        curve = [xy(f, s) for f, s in zip(result["curve"]["fps"], result["curve"]["sensitivity"])
                 if not math.isnan(s)]
        if len(curve) > 1:
            draw.line(curve, fill=colour, width=2)
        for fp, sens in zip(result["fps"], result["sensitivity"].values()):
            if not math.isnan(sens):
                x, y = xy(fp, sens)
                draw.ellipse([x - 4, y - 4, x + 4, y + 4], outline=colour, width=2)
        ly = top + 8 + 16 * n
        draw.line([left + 10, ly, left + 30, ly], fill=colour, width=2)
        draw.text((left + 36, ly), f"{label}: mean {result['mean']:.3f}", fill="black", font=font, anchor="lm")
    img.save(path)


# -- prediction sheet ------------------------------------------------------------------------
def _grey(image) -> np.ndarray:
    a = torch.as_tensor(image).detach().float().cpu().numpy()
    a = a.reshape(a.shape[-2:]) if a.ndim == 3 else a
    if a.ndim != 2:
        raise ValueError(f"a sheet image is (H, W) or (1, H, W), got {a.shape}")
    return (np.clip(a, 0, 1) * 255).astype(np.uint8) if a.max(initial=0) <= 1 else np.clip(a, 0, 255).astype(np.uint8)


def _outline(mask: np.ndarray) -> np.ndarray:
    """(h, w) bool -> the mask's boundary pixels (set, with a 4-neighbour outside the mask)."""
    p = np.pad(mask, 1)
    interior = p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return mask & ~interior


def _tile(entry: Mapping, class_names: Sequence[str], tile_px: int):
    from PIL import Image, ImageDraw

    grey = _grey(entry["image"])
    h, w = grey.shape
    scale = tile_px / max(h, w)
    tw, th = max(1, round(w * scale)), max(1, round(h * scale))
    tile = Image.fromarray(grey).resize((tw, th), Image.BILINEAR).convert("RGB")
    rgb = np.asarray(tile).copy()
    for key, colour in (("true_masks", TRUE_RGB), ("pred_masks", PRED_RGB)):
        masks = entry.get(key)
        if masks is None:
            continue
        for m in torch.as_tensor(masks).reshape(-1, h, w).bool().numpy():
            small = np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize((tw, th), Image.NEAREST)) > 0
            rgb[_outline(small)] = colour
    tile = Image.fromarray(rgb)
    draw = ImageDraw.Draw(tile)
    font = _font(11)
    line = max(1, tile_px // 160)

    def name(label: int) -> str:
        return class_names[label - 1] if 1 <= label <= len(class_names) else str(label)

    for box, label in zip(torch.as_tensor(entry.get("true_boxes", torch.zeros(0, 4))).reshape(-1, 4).tolist(),
                          torch.as_tensor(entry.get("true_labels", torch.zeros(0))).reshape(-1).int().tolist()):
        draw.rectangle([v * scale for v in box], outline=TRUE_RGB, width=line)
    boxes = torch.as_tensor(entry.get("pred_boxes", torch.zeros(0, 4))).reshape(-1, 4).tolist()
    scores = torch.as_tensor(entry.get("pred_scores", torch.zeros(len(boxes)))).reshape(-1).tolist()
    labels = torch.as_tensor(entry.get("pred_labels", torch.zeros(len(boxes)))).reshape(-1).int().tolist()
    for box, score, label in zip(boxes, scores, labels):
        x0, y0, x1, y1 = (v * scale for v in box)
        draw.rectangle([x0, y0, x1, y1], outline=PRED_RGB, width=line)
        draw.text((x0, max(y0 - 12, 0)), f"{name(label)} {score:.2f}", fill=PRED_RGB, font=font)
    for score, x, y in torch.as_tensor(entry.get("points", torch.zeros(0, 3))).reshape(-1, 3).tolist():
        x, y = x * scale, y * scale
        draw.line([x - 5, y, x + 5, y], fill=PRED_RGB, width=line)
        draw.line([x, y - 5, x, y + 5], fill=PRED_RGB, width=line)
        draw.text((x + 6, y - 6), f"{score:.2f}", fill=PRED_RGB, font=font)
    return tile


def write_prediction_sheet(path: str | Path, entries: Sequence[Mapping], class_names: Sequence[str], *,
                           tile_px: int = 256, cols: int = 4) -> None:
    """A sheet of images with true (green) and predicted (red) boxes, mask outlines and points.

    Each entry: "image" (H, W) or (1, H, W) float in [0, 1] (or uint8), "title" (str), and any
    of "true_boxes" (N, 4) xyxy pixels, "true_labels" (N,), "pred_boxes" (K, 4), "pred_scores"
    (K,), "pred_labels" (K,) (labels 1-based), "true_masks" (N, H, W) and "pred_masks"
    (M, H, W) bool (drawn as outlines), "points" (P, 3) (score, x, y).
    """
    from PIL import Image, ImageDraw

    if not entries:
        raise ValueError("a prediction sheet needs at least one image")
    cols = min(cols, len(entries))
    rows = -(-len(entries) // cols)
    title_px = 28
    sheet = Image.new("RGB", (cols * tile_px, rows * (tile_px + title_px) + 18), "white")
    draw = ImageDraw.Draw(sheet)
    font = _font(10)
    for n, entry in enumerate(entries):
        x, y = (n % cols) * tile_px, (n // cols) * (tile_px + title_px)
        draw.multiline_text((x + 3, y + 2), str(entry.get("title", n))[:80], fill="black", font=font, spacing=1)
        sheet.paste(_tile(entry, class_names, tile_px), (x, y + title_px))
    draw.text((4, sheet.height - 15), "green: true   red: predicted (class, score)", fill="black", font=font)
    sheet.save(path)
