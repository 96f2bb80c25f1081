"""Contact sheets of a build: tiles with boxes and class labels (`radiopaque preview`);
`crops=True` shows each sample as a crop at the build's own resolution around its object,
magnified by whole pixels (no smoothing), so that an object's structure (holes, rims,
teeth, a battery's double ring) is visible on the sheet."""

from __future__ import annotations

import io
import math
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from generator.output.formats import iter_build
from generator.output.manifest import read_manifest
from generator.output.storage import Store

_COLOURS = ((255, 80, 80), (80, 200, 255), (255, 200, 40), (120, 255, 120), (255, 120, 255), (255, 160, 60),
            (160, 160, 255), (200, 255, 200), (255, 255, 255))


def _colour(name: str, classes: Sequence[str]) -> tuple[int, int, int]:
    return _COLOURS[classes.index(name) % len(_COLOURS)] if name in classes else _COLOURS[-1]


def tile(sample, tile_px: int, classes: Sequence[str], caption: str | None = None, *,
         boxes: bool = True) -> Image.Image:
    """One sample as an RGB tile_px x tile_px tile: image letterboxed, label drawn above it, and
    the objects' boxes unless `boxes` is False (to see small objects unmarked)."""
    img = Image.open(io.BytesIO(sample.image))
    arr = np.asarray(img)
    if arr.dtype == np.uint16:
        arr = (arr / 257.0).round().astype(np.uint8)
    rgb = Image.fromarray(arr).convert("RGB")
    scale = tile_px / max(rgb.size)
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    rgb = rgb.resize(size, Image.BILINEAR)
    canvas = Image.new("RGB", (tile_px, tile_px), (0, 0, 0))
    ox, oy = (tile_px - size[0]) // 2, (tile_px - size[1]) // 2
    canvas.paste(rgb, (ox, oy))
    draw = ImageDraw.Draw(canvas)
    for obj in sample.objects if boxes else ():
        if obj.get("bbox_xyxy"):
            x0, y0, x1, y1 = obj["bbox_xyxy"]
            draw.rectangle([ox + x0 * scale - 1, oy + y0 * scale - 1, ox + x1 * scale, oy + y1 * scale],
                           outline=_colour(obj["class"], classes), width=2)
    label = caption or f"{sample.key} {classes[sample.label] if sample.label < len(classes) else sample.label}"
    draw.rectangle([0, 0, tile_px, 13], fill=(0, 0, 0))
    draw.text((3, 1), label, fill=_colour(classes[sample.label], classes) if sample.label < len(classes) else None)
    return canvas


def _decoded(sample) -> np.ndarray:
    arr = np.asarray(Image.open(io.BytesIO(sample.image)))
    return (arr / 257.0).round().astype(np.uint8) if arr.dtype == np.uint16 else arr


def _area(box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def _on_object(sample, k: int, cx: float, cy: float) -> tuple[float, float]:
    """The pixel of object k (instance id k + 1 in the sample's mask PNG) nearest (cx, cy):
    the box centre of a necklace or an underwire lies off the wire. (cx, cy) without a mask."""
    mask_png = getattr(sample, "mask_png", None)
    if not mask_png:
        return cx, cy
    ys, xs = np.nonzero(np.asarray(Image.open(io.BytesIO(mask_png))) == k + 1)
    if not len(xs):
        return cx, cy
    n = int(np.argmin((xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2))
    return float(xs[n]) + 0.5, float(ys[n]) + 0.5


def crop_tile(sample, tile_px: int, classes: Sequence[str], zoom: int = 2) -> Image.Image:
    """A tile_px square: the tile_px // zoom pixels of the sample around its largest object
    of its own class (or, failing that, any object; the image centre without objects), each
    pixel shown as zoom x zoom, with the objects' boxes and a caption (class, material)."""
    arr = _decoded(sample)
    h, w = arr.shape[:2]
    side = max(8, tile_px // zoom)
    name = classes[sample.label] if sample.label < len(classes) else str(sample.label)
    own = [o for o in sample.objects if o.get("bbox_xyxy") and o["class"] == name]
    pool = own or [o for o in sample.objects if o.get("bbox_xyxy")]
    if pool:
        best = max(pool, key=lambda o: _area(o["bbox_xyxy"]))
        x0, y0, x1, y1 = best["bbox_xyxy"]
        cx, cy = _on_object(sample, sample.objects.index(best), (x0 + x1) / 2, (y0 + y1) / 2)
        caption = f"{sample.key} {best['class']} {best.get('material', '')}"
    else:
        cx, cy, caption = w / 2, h / 2, f"{sample.key} {name}"
    c0 = int(min(max(round(cx - side / 2), 0), max(w - side, 0)))
    r0 = int(min(max(round(cy - side / 2), 0), max(h - side, 0)))
    window = arr[r0 : r0 + side, c0 : c0 + side]
    big = Image.fromarray(window).convert("RGB").resize((window.shape[1] * zoom, window.shape[0] * zoom),
                                                        Image.NEAREST)
    canvas = Image.new("RGB", (tile_px, tile_px), (0, 0, 0))
    canvas.paste(big, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for obj in sample.objects:
        if obj.get("bbox_xyxy"):
            x0, y0, x1, y1 = obj["bbox_xyxy"]
            draw.rectangle([(x0 - c0) * zoom - 2, (y0 - r0) * zoom - 2, (x1 - c0) * zoom + 1, (y1 - r0) * zoom + 1],
                           outline=_colour(obj["class"], classes), width=1)
    draw.rectangle([0, 0, tile_px, 13], fill=(0, 0, 0))
    draw.text((3, 1), caption, fill=_colour(name, classes))
    return canvas


def sheet(tiles: Sequence[Image.Image], columns: int, title: str | None = None) -> Image.Image:
    """Tiles on a grid, with an optional title bar."""
    t = tiles[0].width
    rows = math.ceil(len(tiles) / columns)
    top = 18 if title else 0
    out = Image.new("RGB", (columns * t + (columns - 1) * 2, top + rows * t + (rows - 1) * 2), (40, 40, 40))
    if title:
        ImageDraw.Draw(out).text((4, 3), title, fill=(255, 255, 255))
    for n, im in enumerate(tiles):
        r, c = divmod(n, columns)
        out.paste(im, (c * (t + 2), top + r * (t + 2)))
    return out


def _pick(samples: Iterable, n: int, per_class: bool, num_classes: int) -> list:
    if not per_class:
        out = []
        for s in samples:
            out.append(s)
            if len(out) == n:
                break
        return out
    per = max(1, n // num_classes)
    rows: dict[int, list] = {c: [] for c in range(num_classes)}
    for s in samples:
        if len(rows[s.label]) < per:
            rows[s.label].append(s)
        if all(len(v) == per for v in rows.values()):
            break
    return [s for c in range(num_classes) for s in rows[c]]


def write_preview(build: str, out: str, *, n: int = 16, per_class: bool = False, tile_px: int = 256,
                  boxes: bool = True, crops: bool = False, zoom: int = 2) -> int:
    """Write a contact sheet PNG of `build` to `out`; returns the number of samples shown.
    boxes: draw the objects' boxes on whole-image tiles (False: small objects unmarked).
    crops: each tile is `crop_tile` (the build's pixels around the object, zoom x zoom each)."""
    if zoom < 1:
        raise ValueError(f"zoom: expected an integer >= 1, got {zoom}")
    manifest = read_manifest(Store(build, create=False))
    classes = list(manifest.classes)
    picked = _pick(iter_build(build), n, per_class, len(classes))
    if not picked:
        raise ValueError(f"{build} holds no samples to preview")
    columns = max(1, n // len(classes)) if per_class else math.ceil(math.sqrt(len(picked)))
    samples = manifest.totals.samples if manifest.totals else sum(s.count for s in manifest.shards)
    title = f"{manifest.config.get('style', '?')} style, seed {manifest.seed}, {samples} samples"
    if crops:
        title += f", crops at the build's resolution x{zoom}"
        tiles = [crop_tile(s, tile_px, classes, zoom) for s in picked]
    else:
        tiles = [tile(s, tile_px, classes, boxes=boxes) for s in picked]
    sheet(tiles, columns, title).save(out)
    return len(picked)


COMPARE_CLASSES = ("none", "coin", "magnets", "bullet")  # the classes both styles have


def write_comparison(config, out: str, *, n: int = 8, tile_px: int = 256, device: str = "cpu") -> int:
    """Render the same samples (sources, seeds, labels) with `legacy` and `physical` in memory
    and write a sheet: one row per sample, legacy left, physical right. Returns n."""
    import dataclasses

    from generator.device import resolve_device
    from generator.inputs.sources import list_sources
    from generator.run.shard import ShardRenderer

    sources = list_sources(config.sources)
    dev = resolve_device(device)
    rows = {}
    for style in ("legacy", "physical"):
        cfg = dataclasses.replace(config, style=style, classes=COMPARE_CLASSES, class_weights=(), count=n,
                                  shard_size=n).validate()
        rows[style] = ShardRenderer(cfg, sources, dev).render_shard(0).samples
    tiles = []
    for legacy_s, physical_s in zip(rows["legacy"], rows["physical"]):
        name = COMPARE_CLASSES[legacy_s.label]
        tiles.append(tile(legacy_s, tile_px, COMPARE_CLASSES, f"{legacy_s.key} legacy {name}"))
        tiles.append(tile(physical_s, tile_px, COMPARE_CLASSES, f"{physical_s.key} physical {name}"))
    sheet(tiles, 2, f"legacy vs physical, seed {config.seed}: same sources, labels and seeds").save(out)
    return len(tiles) // 2
