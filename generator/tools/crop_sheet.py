"""A picture of what `radiopaque realism`'s discriminator compares (`--sheet PNG`): the real
metal crops and the synthetic ones of the main comparison, row blocks one above the other, each
crop standardised by its own background ring as the discriminator sees it
(`discriminator.normalise_crops`) and shown on one shared grey scale, so that contrast, edge
width, halo and texture compare by eye. Crops only: no film name, no patient number.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from generator.tools.discriminator import normalise_crops

DISPLAY_RANGE = (-3.0, 6.0)  # asinh-standardised units shown black .. white (background near 0)
PER_ROW = 16
MAGNIFY = 3
GAP = 2
LABEL_PX = 14


def crop_sheet(blocks: Mapping[str, np.ndarray], *, per_row: int = PER_ROW, magnify: int = MAGNIFY,
               limit: int = 48) -> Image.Image:
    """An 8-bit grey sheet: per block (label -> (N, P, P) float crops, P the same for all) a
    label line, then its first `limit` crops in rows of `per_row`, each magnified by whole
    pixels. Raises ValueError on crops that are not (N, P, P) of one P."""
    sizes = {c.shape[1:] for c in blocks.values() if len(c)}
    if any(c.ndim != 3 for c in blocks.values()) or len(sizes) > 1 or any(a != b for a, b in sizes):
        raise ValueError(f"crops must be (N, P, P) with one P for every block, got "
                         f"{[tuple(c.shape) for c in blocks.values()]}")
    p = (next(iter(sizes))[0] if sizes else 1) * magnify
    lo, hi = DISPLAY_RANGE
    cell = p + GAP
    heights = [LABEL_PX + max(1, -(-min(len(c), limit) // per_row)) * cell for c in blocks.values()]
    sheet = Image.new("L", (per_row * cell + GAP, sum(heights) + GAP), 40)
    draw = ImageDraw.Draw(sheet)
    y = GAP
    for (label, crops), height in zip(blocks.items(), heights):
        draw.text((GAP, y), f"{label} ({len(crops)})", fill=255)
        shown = normalise_crops(np.asarray(crops[:limit], dtype=np.float32)) if len(crops) else crops
        for k, c in enumerate(shown):
            grey = (np.clip((c - lo) / (hi - lo), 0, 1) * 255).round().astype(np.uint8)
            tile = Image.fromarray(grey).resize((p, p), Image.NEAREST)
            sheet.paste(tile, (GAP + (k % per_row) * cell, y + LABEL_PX + (k // per_row) * cell))
        y += height
    return sheet


def write_crop_sheet(path: str | Path, blocks: Mapping[str, np.ndarray], **kwargs) -> Path:
    """`crop_sheet` saved as PNG at `path` (its folder created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    crop_sheet(blocks, **kwargs).save(path)
    return path
