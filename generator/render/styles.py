"""Rendering styles: which classes exist, how their objects are drawn and composited.

A style bundles the class samplers (spec side) and the compositing rule (render side).
`legacy` reproduces the prototype's flat white shapes; the physical style plugs in here with
its own samplers and attenuation-domain compositing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import torch

from generator.bodies import legacy
from generator.bodies import physical as physical_bodies
from generator.bodies.context import PlacementContext, Sampler
from generator.names import CPU_BATCH_SIZES, NONE_CLASS
from generator.names import DEFAULT_STYLE as DEFAULT_STYLE  # re-exported
from generator.render import physical
from generator.render.rasterise import ObjectWindows, accumulate

# images (B, 1, H, W) float32 [0, 1], the renderer's own fresh batch, which a compositor may
# write into (a new image-size buffer per batch costs more than some compositing steps);
# windows: the objects' fields from `render.rasterise`; imaging: per image, the spec's
# imaging params (a style that adds noise draws its noise seed into them, so the spec alone
# replays the image).
Compositor = Callable[[torch.Tensor, list[ObjectWindows], list[dict]], torch.Tensor]
ImagingSampler = Callable[[np.random.Generator, PlacementContext], dict[str, float]]


@dataclass(frozen=True, kw_only=True)
class Style:
    name: str
    samplers: Mapping[str, Sampler]
    mask_threshold: float  # field value above which a pixel belongs to the object
    composite: Compositor
    sample_imaging: ImagingSampler
    # Whether samplers read PlacementContext.anatomy and display_levels; estimating them costs
    # more than a legacy render on CPU, so styles that place by image fractions skip them.
    needs_anatomy: bool = True
    cpu_batch_size: int = 64  # images per render batch on CPU: generator.names.CPU_BATCH_SIZES
    # Whether objects inside the patient are drawn magnified (generator.bodies.magnification).
    magnifies: bool = False
    # Class weights when --class-weights is not given (a class missing here weighs 1);
    # empty: every class equally.
    default_weights: Mapping[str, float] = field(default_factory=dict)

    @property
    def classes(self) -> tuple[str, ...]:
        return (NONE_CLASS, *self.samplers)


def _paint_white(images, windows, imaging):
    # Legacy fields are coverage in {0, 1}; images is the renderer's own fresh batch.
    b, _, h, w = images.shape
    coverage = accumulate(windows, b, h, w, "amax", images.device)
    return torch.maximum(images, coverage, out=images)


def _no_imaging(rng, ctx):
    return {}


LEGACY = Style(
    name="legacy",
    samplers=legacy.SAMPLERS,
    mask_threshold=0.5,
    composite=_paint_white,
    sample_imaging=_no_imaging,
    needs_anatomy=False,
    cpu_batch_size=CPU_BATCH_SIZES["legacy"],
)

# What real chest films show most: clothing and jewellery metal (the object-CXR challenge's
# largest categories are buttons and zips), then coins and button batteries (the common
# swallowed objects in children), then the rest; `none` keeps about 1/9 of the samples, as
# with equal weights over the nine classes.
PHYSICAL_WEIGHTS = {"none": 2.0, "coin": 2.0, "button_battery": 1.5, "magnets": 1.0, "bullet": 1.0, "shrapnel": 1.0,
                    "pin_needle": 1.5, "blade": 1.0, "jewellery_clothing": 6.0}

PHYSICAL = Style(
    name="physical",
    samplers=physical_bodies.SAMPLERS,
    mask_threshold=physical.MASK_THRESHOLD,
    composite=physical.composite,
    sample_imaging=physical.sample_imaging,
    cpu_batch_size=CPU_BATCH_SIZES["physical"],
    magnifies=True,
    default_weights=PHYSICAL_WEIGHTS,
)

STYLES: dict[str, Style] = {LEGACY.name: LEGACY, PHYSICAL.name: PHYSICAL}


def get_style(name: str) -> Style:
    if name not in STYLES:
        raise KeyError(f"unknown style {name!r}; allowed: {sorted(STYLES)}")
    return STYLES[name]
