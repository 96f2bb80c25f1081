"""Random crops at the build's full resolution, crops holding an object oversampled (`--crop PX`).

A 1 mm needle is under a pixel at 256 px but 1-2 px at a 512 px build: training on PX x PX
crops of the full-resolution film keeps the pixels, and a fully convolutional model then runs
on the whole film at inference. Every draw comes from the `numpy.random.Generator` passed in.

Hard negatives (`--hard-negatives F`): a crop that is not drawn around an object is, with
probability F, drawn around one of the film's brightest small structures outside every object
(`bright_spots`: burnt-in letters and arrows, ECG electrodes, clips, wires, the skin edge)
instead of uniformly. Uniform crops show those structures rarely (a few per film, each a few
pixels of 262,144), so a model trained on them alone scores a burnt-in "PORTABLE" like a coin.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

CROP_TAG = 11  # the crop stream's tag in derived seeds (trainer.rng uses 1-4)
# A box is kept in a crop when at least this share of its area lies inside.
MIN_VISIBLE = 0.4
# bright_spots: a structure is brighter than the mean of the (2 r + 1)^2 square around it by
# at least SPOT_MIN_CONTRAST (display units), and no pixel of it lies within r of an object.
SPOT_RADIUS_PX = 8
SPOT_MIN_CONTRAST = 0.08
SPOT_MAX = 16


def bright_spots(image: torch.Tensor, inst: torch.Tensor, *, radius: int = SPOT_RADIUS_PX,
                 min_contrast: float = SPOT_MIN_CONTRAST, max_spots: int = SPOT_MAX) -> np.ndarray:
    """(K, 2) int64 (row, col) of the brightest small structures of `image` (1, H, W) float in
    [0, 1] away from every object of `inst` (H, W) (0 = background), found at half resolution:
    local maxima (5 x 5 there) of the image minus its local mean, at least `min_contrast`,
    about `radius` px or more from any object pixel, highest first, one per structure (a
    maximum within `radius` px, per axis, of a higher one is skipped: a flat letter stroke has
    many), at most `max_spots`. K may be 0; rows and cols are within the image."""
    # Found at half resolution (2 x 2 means; a loader worker does this for every crop): a
    # structure of a few pixels survives, and the pools cost a quarter.
    x = F.avg_pool2d(image.float().reshape(1, 1, *image.shape[-2:]), 2, ceil_mode=True)
    objects = F.max_pool2d((inst > 0).float().reshape(1, 1, *inst.shape[-2:]), 2, ceil_mode=True)
    r = max(1, radius // 2)
    contrast = x - _separable(F.avg_pool2d, x, r, count_include_pad=False)
    contrast = contrast.masked_fill(_separable(F.max_pool2d, objects, r) > 0, float("-inf"))
    peak = (contrast == _separable(F.max_pool2d, contrast, 2)) & (contrast >= min_contrast)
    ys, xs = torch.nonzero(peak[0, 0], as_tuple=True)
    order = torch.argsort(contrast[0, 0, ys, xs], descending=True, stable=True)[:16 * max_spots]
    kept: list[tuple[int, int]] = []
    for row, col in zip(ys[order].tolist(), xs[order].tolist()):
        if all(abs(row - kr) > r or abs(col - kc) > r for kr, kc in kept):
            kept.append((row, col))
            if len(kept) == max_spots:
                break
    spots = np.array(kept, dtype=np.int64).reshape(-1, 2) * 2 + 1  # the 2 x 2 cell's lower-right pixel
    return np.minimum(spots, np.array(inst.shape[-2:]) - 1)


def _separable(pool, x: torch.Tensor, radius: int, **kwargs) -> torch.Tensor:
    """A (2 radius + 1)^2 square pool of (1, 1, H, W) as a row pass then a column pass (the
    mean and the max are separable): O(radius) per pixel instead of O(radius^2)."""
    rows = pool(x, (1, 2 * radius + 1), 1, (0, radius), **kwargs)
    return pool(rows, (2 * radius + 1, 1), 1, (radius, 0), **kwargs)


def choose_crop(height: int, width: int, crop: int, boxes: np.ndarray, rng: np.random.Generator,
                object_p: float, spots: np.ndarray | None = None, hard_p: float = 0.0) -> tuple[int, int]:
    """(y0, x0) of a `crop` x `crop` window inside a (height, width) image.

    boxes: (N, 4) float xyxy pixels. With probability `object_p` (when N > 0) the window is
    placed so that a randomly chosen object's centre lies in its middle half (at least crop/4 px
    from each edge, where the image allows); else, with probability `hard_p` (when `spots`, (K,
    2) row, col, holds any), so that a randomly chosen spot does; else uniformly. With hard_p 0
    the draws are those of a call without spots. Raises ValueError when the image is smaller
    than the crop."""
    if height < crop or width < crop:
        raise ValueError(f"image {height}x{width} is smaller than the crop {crop}")
    if len(boxes) and rng.random() < object_p:
        k = int(rng.integers(len(boxes)))
        return _around(height, width, crop, (boxes[k, 1] + boxes[k, 3]) / 2, (boxes[k, 0] + boxes[k, 2]) / 2, rng)
    if hard_p > 0 and spots is not None and len(spots) and rng.random() < hard_p:
        row, col = spots[int(rng.integers(len(spots)))]
        return _around(height, width, crop, row + 0.5, col + 0.5, rng)
    return int(rng.integers(height - crop + 1)), int(rng.integers(width - crop + 1))


def _around(height: int, width: int, crop: int, cy: float, cx: float, rng: np.random.Generator) -> tuple[int, int]:
    """(y0, x0) of a window whose middle half holds (cy, cx), clipped to the image."""
    x0 = int(np.clip(np.floor(rng.uniform(cx - 0.75 * crop, cx - 0.25 * crop)), 0, width - crop))
    y0 = int(np.clip(np.floor(rng.uniform(cy - 0.75 * crop, cy - 0.25 * crop)), 0, height - crop))
    return y0, x0


def crop_boxes(boxes: torch.Tensor, labels: torch.Tensor, y0: int, x0: int, crop: int,
               min_visible: float = MIN_VISIBLE) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes (N, 4) float xyxy and labels (N,) in the crop's frame: clipped to [0, crop], kept
    when at least `min_visible` of the box's area is inside and it is >= 1 px wide and high."""
    if len(boxes) == 0:
        return boxes.reshape(0, 4), labels
    shifted = boxes - torch.tensor([x0, y0, x0, y0], dtype=boxes.dtype)
    clipped = shifted.clamp(0, crop)
    return keep_visible(shifted, clipped, labels, min_visible)


def keep_visible(before: torch.Tensor, after: torch.Tensor, labels: torch.Tensor,
                 min_visible: float = MIN_VISIBLE) -> tuple[torch.Tensor, torch.Tensor]:
    """The `after` boxes (and labels) whose area is >= `min_visible` of the `before` box's and
    whose sides are >= 1 px. before, after: (N, 4) xyxy."""
    def area(b):
        return (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)

    keep = ((after[:, 2] - after[:, 0]) >= 1) & ((after[:, 3] - after[:, 1]) >= 1)
    keep &= area(after) >= min_visible * area(before).clamp(min=1e-6)
    return after[keep], labels[keep]


def crop_sample(item: dict, crop: int, rng: np.random.Generator, object_p: float, hard_p: float = 0.0) -> dict:
    """A sample dict cut to a `crop` x `crop` window drawn by `crops.choose_crop` from `rng`
    (around the image's `bright_spots` with `hard_p`)."""
    _, h, w = item["image"].shape
    spots = bright_spots(item["image"], item["inst"]) if hard_p > 0 else None
    y0, x0 = choose_crop(h, w, crop, item["boxes"].numpy(), rng, object_p, spots, hard_p)
    boxes, labels = crop_boxes(item["boxes"], item["labels"], y0, x0, crop)
    return {**item, "image": item["image"][:, y0:y0 + crop, x0:x0 + crop],
            "inst": item["inst"][y0:y0 + crop, x0:x0 + crop], "boxes": boxes, "labels": labels}
