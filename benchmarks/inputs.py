"""Benchmark inputs: JPEG folders made once and cached.

* `chexpert_small`: about 320x390 (W x H) JPEGs like CheXpert-small, the prototype's input,
  made by centre-cropping ../shared/data/cxr-nih PNGs (1024x1024) to CheXpert's portrait
  aspect and downscaling; without that folder, from the built-in RG1 sample.
* `full_size`: 1024x1024 JPEGs (the NIH PNGs re-encoded), or RG1 crops without shared data.
* `rg1_2k`: the RG1 chest CR at its native 1955x1841 as JPEGs (about 2000 px).

More files than the source has are made as shifted-crop variants, so every file differs.
The shared data is read-only and never copied into the project.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NIH_DIR = SHARED_DATA / "cxr-nih"
CHEXPERT_SMALL_WH = (320, 390)
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "radiopaque-bench-inputs"
JPEG_QUALITY = 95
_DONE = ".complete"


def nih_pngs() -> list[Path]:
    """The shared NIH PNGs, sorted; empty when ../shared/data is absent."""
    return sorted(NIH_DIR.glob("*.png")) if NIH_DIR.is_dir() else []


@lru_cache(maxsize=1)
def _rg1_grey() -> np.ndarray:
    """The built-in RG1 sample as (H, W) uint8, bone bright."""
    from generator.inputs.read import read_image
    from generator.inputs.sources import builtin_sample_path

    pixels = read_image(builtin_sample_path()).pixels  # (H, W) float32 [0, 1]
    return np.round(pixels * 255.0).astype(np.uint8)


def _load(item) -> Image.Image:
    if isinstance(item, np.ndarray):
        return Image.fromarray(item)
    with Image.open(item) as img:
        return img.convert("L")


def _crop(img: Image.Image, aspect_wh: float, variant: int) -> Image.Image:
    """Largest crop of aspect w/h, shifted a little per variant (variant 0: centred)."""
    w, h = img.size
    cw, ch = (min(w, round(h * aspect_wh)), h) if w / h >= aspect_wh else (w, min(h, round(w / aspect_wh)))
    if variant:
        cw, ch = round(cw * 0.94), round(ch * 0.94)
    rng = np.random.default_rng(variant)
    x0 = int(rng.integers(0, w - cw + 1)) if variant else (w - cw) // 2
    y0 = int(rng.integers(0, h - ch + 1)) if variant else (h - ch) // 2
    return img.crop((x0, y0, x0 + cw, y0 + ch))


def _make(name: str, count: int, cache: Path, target_wh: tuple[int, int] | None, aspect_wh: float | None,
          rg1_only: bool = False) -> Path:
    origin = "rg1" if rg1_only or not nih_pngs() else "nih"
    folder = Path(cache) / f"{name}-{origin}-{count}"
    if (folder / _DONE).exists():
        return folder
    items = nih_pngs() if origin == "nih" else [_rg1_grey()]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        item, variant = items[i % len(items)], i // len(items)
        img = _load(item)
        if aspect_wh is not None:
            img = _crop(img, aspect_wh, variant)
        elif variant:
            img = _crop(img, img.size[0] / img.size[1], variant)
        if target_wh is not None and img.size != target_wh:
            img = img.resize(target_wh, Image.Resampling.LANCZOS)
        img.save(folder / f"{i:06d}.jpg", quality=JPEG_QUALITY)
    (folder / _DONE).write_text(f"{count} {origin}\n")
    return folder


def chexpert_small(count: int, cache: Path = DEFAULT_CACHE) -> Path:
    """Folder of `count` 320x390 grey JPEGs."""
    w, h = CHEXPERT_SMALL_WH
    return _make("chexpert-small", count, cache, CHEXPERT_SMALL_WH, w / h)


def full_size(count: int, cache: Path = DEFAULT_CACHE) -> Path:
    """Folder of `count` 1024x1024 grey JPEGs (NIH re-encoded, or square RG1 crops)."""
    return _make("full-size", count, cache, (1024, 1024), None if nih_pngs() else 1.0)


def rg1_2k(count: int, cache: Path = DEFAULT_CACHE) -> Path:
    """Folder of `count` RG1 JPEGs at about 1955x1841 (variants slightly smaller)."""
    return _make("rg1-2k", count, cache, None, None, rg1_only=True)


def jpegs(folder: Path) -> list[Path]:
    return sorted(Path(folder).glob("*.jpg"))


def describe(folder: Path) -> str:
    """'N JPEGs WxH' from the first file."""
    files = jpegs(folder)
    with Image.open(files[0]) as img:
        w, h = img.size
    return f"{len(files)} JPEGs {w}x{h}"
