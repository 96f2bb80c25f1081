"""Random crops at the build's full resolution, crops holding an object oversampled (`--crop PX`).

A 1 mm needle is under a pixel at 256 px but 1-2 px at a 512 px build: training on PX x PX
crops of the full-resolution film keeps the pixels, and a fully convolutional model then runs
on the whole film at inference. Every draw comes from the `numpy.random.Generator` passed in.
"""

from __future__ import annotations

import numpy as np
import torch

CROP_TAG = 11  # the crop stream's tag in derived seeds (trainer.rng uses 1-4)
# A box is kept in a crop when at least this share of its area lies inside.
MIN_VISIBLE = 0.4


def choose_crop(height: int, width: int, crop: int, boxes: np.ndarray, rng: np.random.Generator,
                object_p: float) -> tuple[int, int]:
    """(y0, x0) of a `crop` x `crop` window inside a (height, width) image.

    boxes: (N, 4) float xyxy pixels. With probability `object_p` (when N > 0) the window is
    placed so that a randomly chosen object's centre lies in its middle half (at least crop/4 px
    from each edge, where the image allows), else uniformly. Raises ValueError when the image
    is smaller than the crop."""
    if height < crop or width < crop:
        raise ValueError(f"image {height}x{width} is smaller than the crop {crop}")
    max_y, max_x = height - crop, width - crop
    if len(boxes) and rng.random() < object_p:
        k = int(rng.integers(len(boxes)))
        cx, cy = (boxes[k, 0] + boxes[k, 2]) / 2, (boxes[k, 1] + boxes[k, 3]) / 2
        lo_x, hi_x = cx - 0.75 * crop, cx - 0.25 * crop
        lo_y, hi_y = cy - 0.75 * crop, cy - 0.25 * crop
        x0 = int(np.clip(np.floor(rng.uniform(lo_x, hi_x)), 0, max_x))
        y0 = int(np.clip(np.floor(rng.uniform(lo_y, hi_y)), 0, max_y))
        return y0, x0
    return int(rng.integers(max_y + 1)), int(rng.integers(max_x + 1))


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


def crop_sample(item: dict, crop: int, rng: np.random.Generator, object_p: float) -> dict:
    """A sample dict cut to a `crop` x `crop` window drawn by `crops.choose_crop` from `rng`."""
    _, h, w = item["image"].shape
    y0, x0 = choose_crop(h, w, crop, item["boxes"].numpy(), rng, object_p)
    boxes, labels = crop_boxes(item["boxes"], item["labels"], y0, x0, crop)
    return {**item, "image": item["image"][:, y0:y0 + crop, x0:x0 + crop],
            "inst": item["inst"][y0:y0 + crop, x0:x0 + crop], "boxes": boxes, "labels": labels}
