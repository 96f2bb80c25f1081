"""Batched rasterisation of foreign bodies into per-object windows and image-size canvases.

Pure tensor functions (no I/O), the same code on CPU and CUDA. Each object is evaluated
only on a square window around its centre, so the cost follows object area, not image
area; windows of one shape kind are evaluated together as one (N, S, S) batch and
scattered into (B, H*W) canvases.

Pixel convention: pixel (row r, col c) covers [c, c+1) x [r, r+1) in continuous output
coordinates, origin at the top-left corner of the image; its centre is (c + 0.5, r + 0.5).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

import torch

from generator.shapes.base import ParamTable, object_spacing
from generator.shapes.registry import SHAPES
from generator.spec import ObjectSpec


@dataclass(frozen=True)
class ObjectWindows:
    """Fields of N objects of one kind, each on an S x S window of its image.

    values: (N, S, S) float32 field (coverage or thickness in mm);
    rows, cols: (N, S) int64 image row / column of each window row / column (may fall
    outside the image: such pixels are dropped when scattering);
    batch_index: (N,) int64 image of each object in the batch;
    object_index: (N,) int64 position of each object within its image's object list.
    """

    values: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor
    batch_index: torch.Tensor
    object_index: torch.Tensor


def rasterise(
    objects: Sequence[Sequence[ObjectSpec]],
    spacing_mm: torch.Tensor,
    device: torch.device,
    image_hw: tuple[int, int] | None = None,
) -> list[ObjectWindows]:
    """Evaluate every object of a batch on its own window, grouped by shape kind and, within
    a kind, by window size.

    objects: per image, its objects; spacing_mm: (B, 2) row, col mm per output pixel;
    image_hw: the images' (H, W). With it, a window's half-size is capped at max(H, W) + 1:
    a window centred in the image then already covers all of it, so no object size or
    spacing in the metadata can size an allocation beyond the image (the pixels evaluated
    are the same). An object whose centre lies outside the image is cut at the cap.
    Returns one ObjectWindows per (kind, size bucket) present, kinds in sorted order and
    buckets from small to large windows (deterministic).
    """
    by_kind: dict[str, list[tuple[int, int, ObjectSpec]]] = defaultdict(list)
    for b, objs in enumerate(objects):
        for k, obj in enumerate(objs):
            if obj.kind not in SHAPES:
                raise KeyError(f"unknown shape kind {obj.kind!r}; allowed: {sorted(SHAPES)}")
            by_kind[obj.kind].append((b, k, obj))
    cap = max(image_hw) + 1 if image_hw is not None else None
    return [win for kind in sorted(by_kind) for win in _rasterise_kind(kind, by_kind[kind], spacing_mm, device, cap)]


def _rasterise_kind(kind, items, spacing_mm, device, cap: int | None = None) -> list[ObjectWindows]:
    shape = SHAPES[kind]
    # Objects of a kind may leave out slots they do not use (a 0 there means unused).
    names = sorted(set().union(*(o.params for _, _, o in items)))
    # One host-to-device copy per kind: (P, N), viewed per parameter.
    table = torch.tensor([[o.params.get(name, 0.0) for _, _, o in items] for name in names], dtype=torch.float32,
                         device=device)
    batch_index = torch.tensor([b for b, _, _ in items], dtype=torch.int64, device=device)
    params = ParamTable(names, table)
    spacing = object_spacing(params, spacing_mm.to(device=device, dtype=torch.float32)[batch_index])  # (N, 2)
    # Window half-sizes: a CPU-GPU sync point, once per kind per batch.
    extent = torch.ceil(shape.extent_px(params, spacing)) + 1
    if cap is not None:  # NaN or inf from hostile metadata become the cap too
        extent = torch.nan_to_num(extent, nan=cap, posinf=cap).clamp(1, cap)
    halves = extent.to(torch.int64).tolist()
    buckets = _size_buckets(halves)
    if len(buckets) == 1:  # the usual case: no copies
        return [_rasterise_bucket(shape, items, params, spacing, batch_index, max(halves), device)]
    out = []
    for bucket in buckets:
        idx = torch.tensor(bucket, dtype=torch.int64, device=device)
        out.append(_rasterise_bucket(shape, [items[n] for n in bucket], ParamTable(names, table[:, idx]),
                                     spacing[idx], batch_index[idx], max(halves[n] for n in bucket), device))
    return out


# A kind's objects share one window size, the largest they need. A mix of small and large
# objects (a stud earring and a necklace) is split where that saves at least this share of
# the window pixels and this many pixels: below that, a second evaluation costs more.
_SPLIT_SAVING = 0.25
_SPLIT_MIN_PX = 16384


def _size_buckets(halves: list[int], depth: int = 2) -> list[list[int]]:
    """Indices of objects grouped by window size, small to large, each bucket in its original
    order: split in two where that saves enough, then each side again (at most 2^depth)."""
    order = sorted(range(len(halves)), key=lambda n: (halves[n], n))
    return [sorted(bucket) for bucket in _split([(2 * halves[n] + 1) ** 2 for n in order], order, depth)]


def _split(area: list[int], order: list[int], depth: int) -> list[list[int]]:
    """area: window pixels of the objects `order`, ascending."""
    if depth == 0 or len(order) < 2:
        return [order]
    whole = area[-1] * len(order)
    cost, k = min((area[k - 1] * k + area[-1] * (len(order) - k), k) for k in range(1, len(order)))
    if whole - cost < max(_SPLIT_SAVING * whole, _SPLIT_MIN_PX):
        return [order]
    return _split(area[:k], order[:k], depth - 1) + _split(area[k:], order[k:], depth - 1)


def _rasterise_bucket(shape, items, params: ParamTable, spacing: torch.Tensor, batch_index: torch.Tensor, half: int,
                      device) -> ObjectWindows:
    """Objects of one kind on windows of 2 half + 1 pixels."""
    object_index = torch.tensor([k for _, k, _ in items], dtype=torch.int64, device=device)
    size = 2 * half + 1
    centre = torch.tensor([o.center_px for _, _, o in items], dtype=torch.float64, device=device)  # (N, 2) x, y
    col0 = torch.floor(centre[:, 0]).to(torch.int64) - half
    row0 = torch.floor(centre[:, 1]).to(torch.int64) - half
    steps = torch.arange(size, dtype=torch.int64, device=device)
    cols = col0[:, None] + steps  # (N, S)
    rows = row0[:, None] + steps  # (N, S)
    # Offsets in float64 then float32: exact for any image size we accept.
    dx = (cols.to(torch.float64) + 0.5 - centre[:, 0:1]).to(torch.float32)  # (N, S)
    dy = (rows.to(torch.float64) + 0.5 - centre[:, 1:2]).to(torch.float32)  # (N, S)
    # x varies along columns only and y along rows only: (N, 1, S) and (N, S, 1) broadcast to
    # (N, S, S), so a kernel's coordinate arithmetic costs O(S), and only its mixing ops O(S^2).
    values = shape.field(params, dx[:, None, :], dy[:, :, None], spacing.view(-1, 2, 1, 1))
    return ObjectWindows(values.float().expand(len(items), size, size).contiguous(), rows, cols, batch_index,
                         object_index)


def _flat_targets(win: ObjectWindows, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, S*S) flat pixel index into (B, H*W) and (N, S*S) bool inside-the-image mask."""
    rows = win.rows[:, :, None]  # (N, S, 1)
    cols = win.cols[:, None, :]  # (N, 1, S)
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)  # (N, S, S)
    flat = (rows.clamp(0, height - 1) * width + cols.clamp(0, width - 1)) + win.batch_index[:, None, None] * (
        height * width
    )
    n = win.values.shape[0]
    return flat.reshape(n, -1), inside.reshape(n, -1)


def accumulate(
    windows: Sequence[ObjectWindows], batch: int, height: int, width: int, reduce: str, device: torch.device
) -> torch.Tensor:
    """Scatter object windows into a (B, 1, H, W) canvas: `sum` (thickness adds along the beam)
    or `amax` (flat paint: the brightest wins)."""
    if reduce not in ("sum", "amax"):
        raise ValueError(f"reduce must be 'sum' or 'amax', got {reduce!r}")
    canvas = torch.zeros(batch * height * width, dtype=torch.float32, device=device)
    for win in windows:
        flat, inside = _flat_targets(win, height, width)
        vals = torch.where(inside, win.values.reshape(flat.shape), torch.zeros((), device=device))
        canvas.scatter_reduce_(0, flat.reshape(-1), vals.reshape(-1), reduce=reduce, include_self=True)
    return canvas.view(batch, 1, height, width)


def object_masks(windows: Sequence[ObjectWindows], threshold: float) -> dict[tuple[int, int], tuple]:
    """Per object (batch index, object index) -> (mask (S, S) bool numpy, row0, col0, field (S, S) numpy).

    One device-to-host copy per kind group; annotation (boxes, RLE) happens on the host.
    """
    out = {}
    for win in windows:
        values = win.values.cpu().numpy()
        rows0 = win.rows[:, 0].cpu().numpy()
        cols0 = win.cols[:, 0].cpu().numpy()
        bi = win.batch_index.cpu().numpy()
        oi = win.object_index.cpu().numpy()
        for n in range(values.shape[0]):
            out[(int(bi[n]), int(oi[n]))] = (values[n] > threshold, int(rows0[n]), int(cols0[n]), values[n])
    return out
