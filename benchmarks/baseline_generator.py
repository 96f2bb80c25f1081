"""BASELINE: the prototype's generator, reimplemented faithfully for comparison.

Not part of radiopaque. One Python loop, one image at a time, as the prototype ran it on
CheXpert-small: open the JPEG with PIL, draw a flat white shape with OpenCV at the
prototype's pixel sizes and positions, save a JPEG, append a CSV row.

* coin: `cv2.circle` r=10 px at x = 0.5 w (1 +- 0.01), y = h (0.15 +- 0.1).
* magnets: two touching `cv2.circle` r=5 px along a random angle at x = w (0.7 +- 0.14),
  y = h (0.8 +- 0.05).
* bullet: a 20x10 px rectangle (`cv2.boxPoints` + `cv2.drawContours`) with an r=5 px
  nose (`cv2.circle`) drawn upright on a blank canvas, turned by a random angle with
  `cv2.warpAffine` about its centre, then laid over the image (`np.maximum`).
* none: the image is re-saved unchanged.

Sizes are for a 390 px long side and scale with it, as `generator/bodies/legacy.py` does.
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

CLASSES = ("none", "coin", "magnets", "bullet")
PROTOTYPE_LONG_SIDE_PX = 390.0
JPEG_QUALITY = 95


def _coin(img: np.ndarray, rnd: random.Random, s: float) -> None:
    h, w = img.shape
    x = rnd.uniform(0.495 * w, 0.505 * w)
    y = rnd.uniform(0.05 * h, 0.25 * h)
    cv2.circle(img, (int(x), int(y)), int(round(10 * s)), 255, -1)


def _magnets(img: np.ndarray, rnd: random.Random, s: float) -> None:
    h, w = img.shape
    x = rnd.uniform(0.56 * w, 0.84 * w)
    y = rnd.uniform(0.75 * h, 0.85 * h)
    r = 5 * s
    a = math.radians(rnd.uniform(0.0, 360.0))
    for sign in (-1, 1):
        cv2.circle(img, (int(x + sign * r * math.cos(a)), int(y + sign * r * math.sin(a))), int(round(r)), 255, -1)


def _bullet(img: np.ndarray, rnd: random.Random, s: float) -> np.ndarray:
    h, w = img.shape
    cx = rnd.uniform(0.2 * w, 0.8 * w)
    cy = rnd.uniform(0.1 * h, 0.7 * h)
    angle = rnd.uniform(0.0, 360.0)
    length, width = 20 * s, 10 * s
    canvas = np.zeros_like(img)
    box = np.intp(cv2.boxPoints(((cx, cy), (length, width), 0.0)))
    cv2.drawContours(canvas, [box], 0, 255, -1)
    cv2.circle(canvas, (int(cx + length / 2), int(cy)), int(round(width / 2)), 255, -1)
    m = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    canvas = cv2.warpAffine(canvas, m, (w, h))
    return np.maximum(img, canvas)


def generate(inputs: list[Path], out: Path, count: int, seed: int = 0) -> int:
    """Write `count` images (cycling over `inputs`) and labels.csv into `out`; return count."""
    out.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(seed)
    with open(out / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "label"])
        for i in range(count):
            src = inputs[i % len(inputs)]
            img = np.array(Image.open(src).convert("L"))  # (H, W) uint8
            s = max(img.shape) / PROTOTYPE_LONG_SIDE_PX
            label = rnd.choice(CLASSES)
            if label == "coin":
                _coin(img, rnd, s)
            elif label == "magnets":
                _magnets(img, rnd, s)
            elif label == "bullet":
                img = _bullet(img, rnd, s)
            name = f"{i:06d}.jpg"
            Image.fromarray(img).save(out / name, quality=JPEG_QUALITY)
            writer.writerow([name, label])
    return count
