"""FROC of predicted points against ground-truth objects, by the object-CXR challenge's rule.

The rule is the challenge's own scorer (jfhealthcare/object-CXR, `froc.py`, and its README's
"Localization" section), reproduced step by step so that figures compare with the challenge's:

1. Every predicted point (score, x, y) of every image is pooled and sorted by score, highest
   first; ties keep input order (image order, then point order: Python's stable sort).
2. A point is *inside* an object when it lies in the object's region, edges included
   (`x1 <= x <= x2 and y1 <= y <= y2` for a box). A point inside one or more objects of its
   own image hits each of them not hit before (a point in two overlapping objects hits both);
   a point inside only objects hit before is neither a hit nor a false positive. A point
   inside no object of its image is a false positive; so is every point on an image without
   objects.
3. After each point (hit or not) the scorer compares false positives / images with the next
   operating point not yet recorded; when it is reached, it records sensitivity = objects hit /
   all objects and moves on to the next operating point. At most one operating point is
   recorded per predicted point: with fewer than 8 images one false positive can pass two
   operating points, and the second is then recorded after the following point.
4. Operating points not reached when the points run out take the last recorded sensitivity,
   so hits among the points after the last operating point reached do not count there (an
   image-level threshold is not a FROC operating point). When none was reached at all the
   official script fails (IndexError); here they take the sensitivity after every point, the
   value the curve ends at.
5. The FROC score ("mean") is the mean sensitivity over the operating points, by default
   0.125, 0.25, 0.5, 1, 2, 4 and 8 false positives per image.

Regions. By default an object's region is its box (N, 4) xyxy in pixels, origin top-left, the
same coordinates as the points. object-CXR's ellipses and polygons are scored inside their
shape: pass `masks_per_image` ((N, H, W) bool or uint8 per image, or None for "use the boxes"),
and a point (x, y) is inside object n when `masks[n, floor(y), floor(x)]` is set (a point off
the image is inside nothing). A rasterised mask and an exact polygon test can disagree only on
boundary pixels.

Small objects (`min_side`, default 0: the challenge's rule). A box narrower or lower than
`min_side` px is widened to it about its centre before the test: a 1-3 px shot pellet or
fragment is then hit by a mark within about min_side / 2 px of it. Mark finders merge the
maxima within a radius into one mark (`segmenter.PEAK_RADIUS_PX`), so a mark that lands one
pixel beside a 2 px object, or on the brighter fragment beside it, is the model finding that
object; scored strictly it counts as a miss and a false positive. Boxes of `min_side` or more
and mask regions are unchanged.

`curve` is the whole free-response curve: false positives per image and sensitivity after each
predicted point in score order, from (0, 0): entry k + 1 is the state after the k-th point by
score (one entry per point, so callers may index it by the sorted scores; drop it from a
metrics file on long prediction lists). `thresholds` holds, per operating point, the score of
the point after which it was recorded (None where padded at the end).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch

DEFAULT_FPS = (0.125, 0.25, 0.5, 1, 2, 4, 8)


def fp_key(fp: float) -> str:
    """The key of an operating point in `froc(...)["sensitivity"]`: "0.125", "1", "8"."""
    return f"{fp:g}"


def points_from_boxes(boxes: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """A detector's boxes (K, 4) xyxy pixels and scores (K,) -> (K, 3) float32 (score, cx, cy) points."""
    boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    return torch.cat([torch.as_tensor(scores, dtype=torch.float32).reshape(-1, 1), centres], dim=1)


def _rows(values: torch.Tensor, columns: int, what: str) -> torch.Tensor:
    """`values` as a (K, columns) float64 tensor (empty -> (0, columns)); else ValueError naming `what`."""
    values = torch.as_tensor(values, dtype=torch.float64)
    if values.numel() == 0:
        return values.reshape(0, columns)
    if values.ndim != 2 or values.shape[1] != columns:
        raise ValueError(f"{what}, got {tuple(values.shape)}")
    return values


def widen(boxes: torch.Tensor, min_side: float) -> torch.Tensor:
    """(N, 4) xyxy boxes with every side shorter than `min_side` widened to it about the box's
    centre; the others unchanged."""
    if min_side <= 0 or boxes.numel() == 0:
        return boxes
    centre, half = (boxes[:, :2] + boxes[:, 2:]) / 2, (boxes[:, 2:] - boxes[:, :2]) / 2
    half = torch.maximum(half, torch.full_like(half, min_side / 2))
    return torch.cat([centre - half, centre + half], dim=1)


def _inside(points: torch.Tensor, boxes: torch.Tensor, masks: torch.Tensor | None) -> torch.Tensor:
    """(K, N) bool: point k lies in object n's box (edges included) or, given masks, its mask."""
    x, y = points[:, 1:2], points[:, 2:3]  # (K, 1)
    if masks is None:
        return (boxes[:, 0] <= x) & (x <= boxes[:, 2]) & (boxes[:, 1] <= y) & (y <= boxes[:, 3])
    masks = torch.as_tensor(masks).bool()
    n, h, w = masks.shape
    col, row = torch.floor(x[:, 0]).long(), torch.floor(y[:, 0]).long()  # (K,)
    on_image = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    out = torch.zeros(points.shape[0], n, dtype=torch.bool)
    if on_image.any():
        out[on_image] = masks[:, row[on_image], col[on_image]].T
    return out


def froc(points_per_image: Sequence[torch.Tensor], boxes_per_image: Sequence[torch.Tensor], *,
         fps: Sequence[float] = DEFAULT_FPS,
         masks_per_image: Sequence[torch.Tensor | Callable[[], torch.Tensor] | None] | None = None,
         min_side: float = 0.0) -> dict:
    """Sensitivity at each operating point of false positives per image, their mean, the curve.

    Args:
        points_per_image: per image a (K, 3) float tensor of (score, x, y), x and y in pixels
            (origin top-left, x to the right); K may be 0.
        boxes_per_image: per image, the same images in the same order, an (N, 4) float tensor of
            ground-truth boxes xyxy in pixels; N may be 0 (an image without objects).
        fps: operating points, false positives per image, increasing.
        masks_per_image: optional, per image an (N, H, W) bool/uint8 mask of its objects (the
            regions then are the masks, see the module docstring), a function returning one
            (called once, when that image is scored, so full-size masks need not all be held
            at once), or None (its boxes).
        min_side: boxes with a side under this many px are widened to it (see "Small objects").

    Returns:
        {"sensitivity": {fp_key(fp): float}, "mean": float, "fps": [...], "images": int,
         "objects": int, "points": int, "min_side": float, "object_scores": [float | None]
         (per object, image order then box order: the highest score of a point inside it, None
         when no point is), "curve": {"fps": [...], "sensitivity": [...]},
         "thresholds": {fp_key(fp): float | None}}.
        With no ground-truth object at all, sensitivities are NaN (nothing to find).
    """
    if len(points_per_image) != len(boxes_per_image):
        raise ValueError(f"points for {len(points_per_image)} images, boxes for {len(boxes_per_image)}")
    if masks_per_image is not None and len(masks_per_image) != len(boxes_per_image):
        raise ValueError(f"masks for {len(masks_per_image)} images, boxes for {len(boxes_per_image)}")
    fps = [float(f) for f in fps]
    if not min_side >= 0:
        raise ValueError(f"min_side must be >= 0 px, got {min_side}")
    if not fps or any(b <= a for a, b in zip(fps, fps[1:])) or fps[0] <= 0:
        raise ValueError(f"fps must be positive and increasing, got {fps}")
    num_images = len(boxes_per_image)
    if num_images == 0:
        raise ValueError("froc needs at least one image")
    # Pool the points in input order (image, then point), so that a stable sort breaks ties
    # the way the official script does; per point, the global ids of the objects it lies in.
    scores: list[float] = []
    inside_ids: list[list[int]] = []
    num_objects = 0
    for i, (points, boxes) in enumerate(zip(points_per_image, boxes_per_image)):
        points = _rows(points, 3, f"points_per_image[{i}]: expected (K, 3) (score, x, y)")
        boxes = widen(_rows(boxes, 4, f"boxes_per_image[{i}]: expected (N, 4) xyxy"), min_side)
        masks = None if masks_per_image is None else masks_per_image[i]
        if callable(masks):
            masks = masks() if points.shape[0] and boxes.shape[0] else None
        if masks is not None and torch.as_tensor(masks).shape[0] != boxes.shape[0]:
            raise ValueError(f"masks_per_image[{i}]: {torch.as_tensor(masks).shape[0]} masks for "
                             f"{boxes.shape[0]} boxes")
        if points.shape[0]:
            scores += points[:, 0].tolist()
            if boxes.shape[0]:
                inside = _inside(points, boxes, masks)  # (K, N)
                inside_ids += [[num_objects + n for n in row.nonzero().flatten().tolist()] for row in inside]
            else:
                inside_ids += [[] for _ in range(points.shape[0])]
        num_objects += boxes.shape[0]
    order = sorted(range(len(scores)), key=lambda k: -scores[k])
    object_scores: list[float | None] = [None] * num_objects
    for k in order:  # highest first: the first point inside an object is its best
        for n in inside_ids[k]:
            if object_scores[n] is None:
                object_scores[n] = scores[k]

    def sensitivity(hits: int) -> float:
        return hits / num_objects if num_objects else math.nan

    hit_objects: set[int] = set()
    false_positives = 0
    recorded: list[float] = []
    thresholds: list[float | None] = []
    curve_fps, curve_sens = [0.0], [sensitivity(0)]
    for k in order:
        if inside_ids[k]:
            hit_objects.update(inside_ids[k])
        else:
            false_positives += 1
        curve_fps.append(false_positives / num_images)
        curve_sens.append(sensitivity(len(hit_objects)))
        if len(recorded) < len(fps) and false_positives / num_images >= fps[len(recorded)]:
            recorded.append(sensitivity(len(hit_objects)))
            thresholds.append(scores[k])
    fill = recorded[-1] if recorded else sensitivity(len(hit_objects))
    thresholds += [None] * (len(fps) - len(recorded))
    recorded += [fill] * (len(fps) - len(recorded))
    return {
        "sensitivity": {fp_key(f): s for f, s in zip(fps, recorded)},
        "mean": sum(recorded) / len(recorded),
        "fps": fps,
        "images": num_images,
        "objects": num_objects,
        "points": len(scores),
        "min_side": float(min_side),
        "object_scores": object_scores,
        "curve": {"fps": curve_fps, "sensitivity": curve_sens},
        "thresholds": {fp_key(f): t for f, t in zip(fps, thresholds)},
    }


def score_at_sensitivity(points_per_image: Sequence[torch.Tensor], result: dict, target: float) -> float | None:
    """The highest score threshold t at which the marks scoring >= t find at least `target` of
    the objects (an object is found when a mark inside it scores >= t): the score of the first
    point, in `froc`'s score order, after which `result`'s curve reaches `target`. None when the
    marks never find that many (or there is no object). points_per_image and result: the same
    call of `froc`."""
    scores = [torch.as_tensor(p, dtype=torch.float64).reshape(-1, 3)[:, 0] for p in points_per_image]
    ordered = torch.sort(torch.cat(scores) if scores else torch.zeros(0), descending=True).values  # froc's order
    for k, sens in enumerate(result["curve"]["sensitivity"][1:]):  # ties do not change the score found
        if not math.isnan(sens) and sens >= target - 1e-12:
            return float(ordered[k])
    return None


def froc_of_labelled(points_by_name: Mapping[str, torch.Tensor], images: Sequence, *,
                     fps: Sequence[float] = DEFAULT_FPS, inside_shapes: bool = True) -> dict:
    """FROC of points keyed by image name against labelled images, e.g. an object-CXR submission
    (`report.read_localisation_csv`) against its ground truth (`trainer.labelled.read_labelled`).

    images: `LabelledImage`s (their `name`, `boxes` and `masks`); every one of them counts, one
    absent from `points_by_name` has no points. inside_shapes: score inside each object's mask
    (object-CXR ellipses and polygons) where the image has masks, else inside its box.
    Raises ValueError when `points_by_name` names an image that is not among `images`.
    """
    names = [im.name for im in images]
    unknown = sorted(set(points_by_name) - set(names))
    if unknown:
        raise ValueError(f"points for {len(unknown)} image(s) not in the labelled set, e.g. {unknown[:3]}")
    empty = torch.zeros(0, 3)
    masks = [(lambda im=im: im.masks) if inside_shapes and im.masks_rle is not None else None for im in images]
    return froc([points_by_name.get(n, empty) for n in names], [im.boxes for im in images], fps=fps,
                masks_per_image=masks)
