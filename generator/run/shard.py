"""Render one shard: plan its samples from (seed, i), decode their sources, place, render,
annotate and encode. A `ShardRenderer` is long-lived (one per process, GPU or CPU worker):
it keeps its device, decoder and a cache of prepared sources across shards.

The output of a shard depends only on (config, sources, shard index): not on which worker
renders it, nor on what that worker rendered before.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from generator.anatomy.estimate import estimate_anatomy
from generator.bodies.context import PlacementContext
from generator.bodies.distractors import attenuating, labelled
from generator.bodies.distractors import marker as laterality_marker
from generator.bodies.distractors import sample_distractors as distractors_of
from generator.bodies.magnification import magnify, sample_magnification
from generator.bodies.placement import on_film
from generator.config import BuildConfig
from generator.inputs.plausible import aspect_problem
from generator.inputs.prepare import Prepared, prepare
from generator.inputs.read import ImageRecord, RejectedInput, read_images
from generator.inputs.sources import SourceList
from generator.output.manifest import Reject
from generator.output.sample import ShardSample
from generator.render import annotate
from generator.render.calibrate import display_levels_np
from generator.render.encode import (
    encode_image,
    encode_instance_map,
    file_extension,
    quantise_batch,
)
from generator.render.randomise import sample_randomise, whole_film
from generator.render.rasterise import object_masks, rasterise
from generator.render.styles import NONE_CLASS, get_style
from generator.rng import STREAM_DISTRACTORS, STREAM_MAGNIFICATION, STREAM_RANDOMISE, cumulative, pick, sample_rng
from generator.spec import SampleSpec, sample_key

log = logging.getLogger(__name__)

# Redraws allowed for one sample whose drawn sources keep being unreadable.
MAX_SOURCE_REDRAWS = 1000
# Source films decoded at once: bounds a worker's peak memory to about this many full-size
# films (benchmarks/RESULTS.md, "Peak memory of one shard").
DECODE_CHUNK = 8
META_KEYS = ("view", "sex", "age_years", "modality")


@dataclass
class ShardResult:
    index: int
    samples: list[ShardSample]
    rejects: list[Reject] = field(default_factory=list)
    converted: dict[str, str] = field(default_factory=dict)  # source_id -> "rgb" | "palette"

    @property
    def histogram(self) -> dict[str, int]:
        return dict(sorted(Counter(s.spec["label"] for s in self.samples).items()))

    @property
    def groups(self) -> dict[str, int]:
        """group_id -> samples drawn from that patient group."""
        return dict(sorted(Counter(s.meta["group_id"] for s in self.samples).items()))


@dataclass
class _Plan:
    index: int
    rng: np.random.Generator
    label: str
    source_index: int


class ShardRenderer:
    """Renders shards of one build on one device."""

    def __init__(self, config: BuildConfig, sources: SourceList, device: torch.device, *,
                 batch_size: int = 64, cache_size: int = 256):
        self.config = config
        self.sources = sources.sources
        self.device = device
        self.batch_size = batch_size
        self.style = get_style(config.style)
        self._cache: OrderedDict[int, Prepared] = OrderedDict()
        self._cache_size = cache_size
        self._bad: dict[int, str] = {}
        self._empty_masks: dict[tuple[int, int], bytes] = {}
        self._class_cdf = cumulative(config.class_weights)

    @torch.inference_mode()  # no autograd bookkeeping: a tenth off every small tensor operation
    def render_shard(self, shard: int, on_batch: Callable[[int], None] | None = None) -> ShardResult:
        """All samples of shard `shard`, in key order. on_batch(n) is told of each finished batch."""
        cfg = self.config
        plans = [self._plan(i) for i in cfg.shard_range(shard)]
        result = ShardResult(index=shard, samples=[])
        self._resolve_sources(plans, result)
        specs = [self._spec(p) for p in plans]
        for start in range(0, len(specs), self.batch_size):
            chunk = specs[start : start + self.batch_size]
            result.samples.extend(self._render_batch(chunk))
            if on_batch:
                on_batch(len(chunk))
        for spec in specs:
            prep = self._cache[spec.source_index]
            if prep.converted:
                result.converted[spec.source_id] = prep.converted
        return result

    # -- planning ---------------------------------------------------------------------------
    def _plan(self, index: int) -> _Plan:
        rng = sample_rng(self.config.seed, index)
        label = pick(rng, self.config.classes, self._class_cdf)
        return _Plan(index, rng, label, int(rng.integers(len(self.sources))))

    def _resolve_sources(self, plans: list[_Plan], result: ShardResult) -> None:
        """Decode what the plans need; redraw a plan's source (same rng) while it is unreadable."""
        reported: set[int] = set()
        for _ in range(MAX_SOURCE_REDRAWS):
            self._load({p.source_index for p in plans})
            pending = [p for p in plans if p.source_index in self._bad]
            for p in pending:
                if p.source_index not in reported:
                    reported.add(p.source_index)
                    src = self.sources[p.source_index]
                    name = src.rel if self.config.sources.reject_paths else src.source_id  # no patient numbers
                    result.rejects.append(Reject(source=name, stage="decode", reason=self._bad[p.source_index]))
                p.source_index = int(p.rng.integers(len(self.sources)))
            if not pending:
                return
        raise RuntimeError(f"no readable source after {MAX_SOURCE_REDRAWS} draws: every input seems unreadable")

    def _load(self, wanted: set[int]) -> None:
        missing = sorted(i for i in wanted if i not in self._cache and i not in self._bad)
        if not missing:
            for i in wanted:
                if i in self._cache:
                    self._cache.move_to_end(i)
            return
        # Decoded in chunks, each brought to output size before the next is decoded: full-size
        # films are ~20 MB each as float32, a whole shard's worth at once would be gigabytes.
        for start in range(0, len(missing), DECODE_CHUNK):
            chunk = missing[start : start + DECODE_CHUNK]
            decoded = read_images([self.sources[i].path for i in chunk], device=self.device.type)
            for i, rec in zip(chunk, decoded):
                problem = rec.reason if isinstance(rec, RejectedInput) else aspect_problem(*rec.pixels.shape,
                                                                                           self.config.size)
                if problem:
                    self._bad[i] = problem
                else:
                    self._cache[i] = self._prepare(i, rec)
            del decoded
        # Keep what this shard needs; evict the least recently used beyond the budget.
        for i in wanted:
            if i in self._cache:
                self._cache.move_to_end(i)
        while len(self._cache) > max(self._cache_size, len(wanted)):
            self._cache.popitem(last=False)

    def _prepare(self, i: int, rec: ImageRecord) -> Prepared:
        src = self.sources[i]
        spacing = src.spacing_mm or rec.spacing_mm or self.config.sources.assumed_spacing_mm(*rec.pixels.shape)
        meta = {k: v for k, v in {**rec.meta, **src.meta}.items() if k in META_KEYS and v is not None}
        prep = prepare(rec.pixels, spacing, self.config.size, self.device, meta, rec.converted)
        if not self.style.needs_anatomy:
            return prep
        # Placement priors need the body, lungs and mediastinum, compositing the image's
        # intensity scale: both measured once per source, on the host.
        pixels = prep.pixels.reshape(prep.pixels.shape[-2:]).cpu().numpy()
        return dataclasses.replace(prep, anatomy=estimate_anatomy(pixels), display_levels=display_levels_np(pixels))

    def _spec(self, plan: _Plan) -> SampleSpec:
        prep = self._cache[plan.source_index]
        _, h, w = prep.pixels.shape
        an = prep.anatomy
        ctx = PlacementContext(height=h, width=w, spacing_mm=prep.spacing_mm, anatomy=an,
                               display_levels=prep.display_levels, source_spacing_mm=prep.source_spacing_mm)
        cfg = self.config
        objects = () if plan.label == NONE_CLASS else self.style.samplers[plan.label](plan.rng, ctx)
        if objects and self.style.magnifies:
            m = sample_magnification(sample_rng(cfg.seed, plan.index, STREAM_MAGNIFICATION), prep.meta.get("view"),
                                     prep.meta.get("age_years"))
            objects = magnify(objects, m)
        objects = on_film(objects, ctx)
        distractors = distractors_of(sample_rng(cfg.seed, plan.index, STREAM_DISTRACTORS), ctx, cfg.distractors)
        randomise, marker = sample_randomise(sample_rng(cfg.seed, plan.index, STREAM_RANDOMISE), cfg.randomise, h, w,
                                             prep.spacing_mm, [o.center_px for o in objects])
        if marker:
            distractors += (laterality_marker(sample_rng(cfg.seed, plan.index, STREAM_RANDOMISE + 1), ctx),)
        return SampleSpec(
            index=plan.index,
            key=sample_key(plan.index),
            source_index=plan.source_index,
            source_id=self.sources[plan.source_index].source_id,
            label=plan.label,
            style=self.style.name,
            height=h,
            width=w,
            spacing_mm=(round(prep.spacing_mm[0], 6), round(prep.spacing_mm[1], 6)),
            objects=objects,
            imaging=self.style.sample_imaging(plan.rng, ctx),
            distractors=distractors,
            randomise=randomise,
        )

    # -- rendering --------------------------------------------------------------------------
    def _render_batch(self, specs: list[SampleSpec]) -> list[ShardSample]:
        """Render specs grouped by output size (one batched render per size), in key order."""
        by_size: dict[tuple[int, int], list[int]] = {}
        for n, s in enumerate(specs):
            by_size.setdefault((s.height, s.width), []).append(n)
        out: list[ShardSample | None] = [None] * len(specs)
        for (h, w), members in by_size.items():
            group = [specs[n] for n in members]
            for n, sample in zip(members, self._render_group(group, h, w)):
                out[n] = sample
        return out  # type: ignore[return-value]

    def _render_group(self, specs: list[SampleSpec], h: int, w: int) -> list[ShardSample]:
        sources = [self._cache[s.source_index].pixels for s in specs]
        images, windows = render_specs(specs, sources, self.style, self.device)
        masks = object_masks(windows, self.style.mask_threshold)
        pixels = quantise_batch(images, self.config.image_format)  # (B, H, W): one device-to-host copy
        return [self._finish(s, pixels[b], masks, b) for b, s in enumerate(specs)]

    def _empty_mask(self, h: int, w: int) -> bytes:
        """The instance map of a sample without objects: the same bytes for every such sample."""
        if (h, w) not in self._empty_masks:
            self._empty_masks[(h, w)] = encode_instance_map(np.zeros((h, w), dtype=np.uint8))
        return self._empty_masks[(h, w)]

    def _finish(self, spec: SampleSpec, pixels: np.ndarray, masks: dict, b: int) -> ShardSample:
        cfg = self.config
        h, w = spec.height, spec.width
        instance_ids = np.zeros((h, w), dtype=np.uint8)
        objects = []
        # Foreign bodies, then (--distractors class) the labelled devices; their windows follow
        # the objects' in `render_specs`, so k is each one's index there too.
        annotated = [*spec.objects, *labelled(attenuating(spec.distractors), cfg.distractors)]
        for k, obj in enumerate(annotated):
            window, row0, col0, _ = masks[(b, k)]
            shape, clipped, r0, c0 = annotate.object_annotation(window, row0, col0, h, w,
                                                                obj.params.get("angle_deg", 0.0))
            # Later objects are drawn over earlier ones in the instance-id map: where objects
            # overlap, the pixel is the last one's (README, generator.render.annotate).
            instance_ids[r0 : r0 + clipped.shape[0], c0 : c0 + clipped.shape[1]][clipped] = k + 1
            objects.append({
                "class": obj.cls,
                **shape,
                "material": obj.material,
                "pose": {name: v for name, v in obj.params.items() if name.endswith("_deg")},
            })
        classes = cfg.label_classes
        labels = [0] * len(classes)
        present = {o.cls for o in spec.objects} or {NONE_CLASS}
        for c in present | {o.cls for o in annotated}:
            labels[classes.index(c)] = 1
        prep = self._cache[spec.source_index]
        return ShardSample(
            key=spec.key,
            image=encode_image(pixels, cfg.image_format, int(spec.randomise.get("jpeg_quality", cfg.jpeg_quality))),
            image_format=file_extension(cfg.image_format),
            height=h,
            width=w,
            label=classes.index(spec.label),
            label_name=spec.label,
            labels=tuple(labels),
            objects=tuple(objects),
            spec=spec.to_dict(),
            source_id=spec.source_id,
            mask_png=self._empty_mask(h, w) if not objects else encode_instance_map(instance_ids),
            meta={**prep.meta, "spacing_mm": list(spec.spacing_mm),
                  "group_id": self.sources[spec.source_index].group_id},
        )


@torch.inference_mode()
def render_specs(specs: list[SampleSpec], sources: list[torch.Tensor], style, device: torch.device):
    """Render same-size specs onto their sources: the pure-tensor core of a build.

    sources: per spec, (1, H, W) float32 [0, 1]. Returns images (B, 1, H, W) float32 [0, 1]
    on `device` and the per-kind ObjectWindows (for masks and boxes: each image's objects,
    then its attenuating distractors). After compositing, burnt-in distractors and the
    spec's whole-film randomisation (generator.render.randomise).
    """
    images = torch.stack([s.to(device) for s in sources])  # (B, 1, H, W)
    spacing = torch.tensor([s.spacing_mm for s in specs], dtype=torch.float32)
    # Support devices go through the same physics as foreign bodies, after them in each list.
    windows = rasterise([(*s.objects, *attenuating(s.distractors)) for s in specs], spacing, device,
                        image_hw=tuple(images.shape[-2:]))
    images = style.composite(images, windows, [s.imaging for s in specs])
    return whole_film(images, specs), windows
