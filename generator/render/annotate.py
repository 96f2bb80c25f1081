"""Annotations from rasterised object masks: boxes, rotated boxes, RLE, instance-id map.

Boxes and masks come from the same rasterised field, so they always agree. Host-side
numpy on small windows; the full-image work is one RLE pass per object.

Masks are COCO compressed RLE, `{"size": [H, W], "counts": str}`: run lengths over the
column-major (Fortran order) pixels, starting with a run of zeros, written as the ASCII
string pycocotools writes (`rleToString` in COCO's maskApi.c: each count, less the count two
before it from the fourth on, in 5-bit groups + 48, bit 0x20 meaning "more groups follow"),
so `pycocotools.mask.decode(obj["mask_rle"])` reads it as it is. Encoded here in plain
Python, not through pycocotools, so the generator needs no compiled extension; the tests
check it against pycocotools. Each object's RLE is its whole mask, also where another object
covers it; the instance map `{key}.mask.png` holds one id per pixel, and where objects overlap
the pixel belongs to the object listed LAST in `objects[]` (later objects are drawn over
earlier ones; see `generator.run.shard`).
"""

from __future__ import annotations

import math

import numpy as np


def clip_window(mask: np.ndarray, row0: int, col0: int, height: int, width: int) -> tuple[np.ndarray, int, int]:
    """The part of an (S, S) window mask that lies inside the image, with its new origin."""
    r0, c0 = max(row0, 0), max(col0, 0)
    r1 = min(row0 + mask.shape[0], height)
    c1 = min(col0 + mask.shape[1], width)
    if r1 <= r0 or c1 <= c0:
        return np.zeros((0, 0), dtype=bool), r0, c0
    return mask[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0], r0, c0


def object_annotation(mask: np.ndarray, row0: int, col0: int, height: int, width: int,
                      angle_deg: float) -> tuple[dict, np.ndarray, int, int]:
    """One object's "bbox_xyxy", "rbox", "mask_rle" and "area_px" from its (S, S) window mask
    at (row0, col0), clipped to the (height, width) image, in one pass over its pixels; also
    returns the clipped mask and its origin."""
    clipped, r0, c0 = clip_window(mask, row0, col0, height, width)
    cols, rows = np.nonzero(clipped.T)  # sorted by column, then row: column-major order
    return {
        "bbox_xyxy": _bbox(rows, cols, r0, c0),
        "rbox": _rbox(rows, cols, r0, c0, angle_deg),
        "mask_rle": _rle(rows, cols, r0, c0, height, width),
        "area_px": int(rows.size),
    }, clipped, r0, c0


def bbox_xyxy(mask: np.ndarray, row0: int, col0: int) -> list[int] | None:
    """Axis-aligned box [x0, y0, x1, y1] in pixels (x1, y1 exclusive), or None if empty."""
    rows, cols = np.nonzero(mask)
    return _bbox(rows, cols, row0, col0)


def _bbox(rows: np.ndarray, cols: np.ndarray, row0: int, col0: int) -> list[int] | None:
    if rows.size == 0:
        return None
    return [int(col0 + cols.min()), int(row0 + rows.min()), int(col0 + cols.max() + 1), int(row0 + rows.max() + 1)]


def rotated_box(mask: np.ndarray, row0: int, col0: int, angle_deg: float) -> dict[str, float] | None:
    """Box aligned with the object's own axis: centre (cx, cy), w along the axis, h across,
    angle in degrees (image axes, y down). Extents are pixel-centre extents plus one pixel."""
    ys, xs = np.nonzero(mask)
    return _rbox(ys, xs, row0, col0, angle_deg)


def _rbox(ys: np.ndarray, xs: np.ndarray, row0: int, col0: int, angle_deg: float) -> dict[str, float] | None:
    if ys.size == 0:
        return None
    x = xs + col0 + 0.5
    y = ys + row0 + 0.5
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    u = c * x + s * y
    v = -s * x + c * y
    u0, u1, v0, v1 = u.min(), u.max(), v.min(), v.max()
    uc, vc = (u0 + u1) / 2, (v0 + v1) / 2
    return {
        "cx": round(float(c * uc - s * vc), 3),
        "cy": round(float(s * uc + c * vc), 3),
        "w": round(float(u1 - u0 + 1.0), 3),
        "h": round(float(v1 - v0 + 1.0), 3),
        "angle_deg": round(float(angle_deg % 360.0), 3),
    }


def rle_encode(mask: np.ndarray) -> dict:
    """COCO compressed RLE of a full (H, W) bool mask (see the module docstring)."""
    return rle_encode_window(np.asarray(mask, dtype=bool), 0, 0, mask.shape[0], mask.shape[1])


def rle_encode_window(window: np.ndarray, row0: int, col0: int, height: int, width: int) -> dict:
    """COCO compressed RLE of an (H, W) mask that is zero outside `window` placed at (row0, col0).

    Works on the window alone (cost ~ object area, not image area): the column-major flat
    positions of its pixels are sorted, so runs are the breaks in consecutive positions.
    """
    cols, rows = np.nonzero(window.T)  # sorted by column, then row: column-major order
    return _rle(rows, cols, row0, col0, height, width)


def _rle(rows: np.ndarray, cols: np.ndarray, row0: int, col0: int, height: int, width: int) -> dict:
    """Compressed RLE from a window's pixel coordinates in column-major order."""
    return {"size": [height, width], "counts": counts_to_string(_runs(rows, cols, row0, col0, height, width))}


def _runs(rows: np.ndarray, cols: np.ndarray, row0: int, col0: int, height: int, width: int) -> list[int]:
    """Run lengths (zeros first) from a window's pixel coordinates in column-major order."""
    pos = (cols + col0).astype(np.int64) * height + (rows + row0)
    total = height * width
    if pos.size == 0:
        return [total]
    breaks = np.flatnonzero(np.diff(pos) != 1) + 1
    starts = pos[np.concatenate(([0], breaks))]
    ends = pos[np.concatenate((breaks - 1, [pos.size - 1]))] + 1
    # counts alternate: zeros before run 0, run 0, zeros between, ..., trailing zeros
    bounds = np.empty(2 * starts.size + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, total
    bounds[1:-1:2], bounds[2:-1:2] = starts, ends
    counts = np.diff(bounds)
    if counts[-1] == 0:
        counts = counts[:-1]
    return counts.tolist()


def counts_to_string(counts: list[int]) -> str:
    """Run lengths -> COCO's compressed counts string (maskApi.c `rleToString`)."""
    out = []
    for i, count in enumerate(counts):
        x = int(count) - (int(counts[i - 2]) if i > 2 else 0)  # may be negative
        more = True
        while more:
            c = x & 0x1F
            x >>= 5  # arithmetic shift, as on C's signed long
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr(48 + (c | 0x20 if more else c)))
    return "".join(out)


def string_to_counts(text: str) -> list[int]:
    """COCO's compressed counts string -> run lengths (maskApi.c `rleFrString`)."""
    counts: list[int] = []
    p = 0
    while p < len(text):
        x, k, more = 0, 0, True
        while more:
            c = ord(text[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)  # sign-extend
        counts.append(x + (counts[-2] if len(counts) > 2 else 0))
    return counts


def rle_decode(rle: dict) -> np.ndarray:
    """Inverse of rle_encode: (H, W) bool. Also reads uncompressed RLE (`counts` a list of
    run lengths), which builds made before compressed RLE hold."""
    h, w = rle["size"]
    counts = string_to_counts(rle["counts"]) if isinstance(rle["counts"], str) else list(rle["counts"])
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, counts)
    return flat.reshape((w, h)).T


