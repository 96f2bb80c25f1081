"""Whole-film randomisation: per-sample values in the spec, replayed exactly from it, on
negatives as on positives, within the documented ranges, clear of the objects."""

import numpy as np
import pytest
import torch

from generator.config import BuildConfig, SourceConfig
from generator.inputs.sources import list_sources
from generator.render import randomise as rz
from generator.render.encode import encode_image, quantise_batch
from generator.render.styles import get_style
from generator.run.shard import ShardRenderer, render_specs
from generator.spec import SampleSpec


@pytest.fixture(scope="module")
def strong():
    cfg = BuildConfig(count=12, seed=3, size=128, shard_size=12, style="physical", image_format="png",
                      sources=SourceConfig(), randomise="strong", distractors="negative",
                      classes=("none", "coin", "jewellery_clothing"), class_weights=(1.0, 1.0, 1.0)).validate()
    renderer = ShardRenderer(cfg, list_sources(cfg.sources), torch.device("cpu"))
    return cfg, renderer, renderer.render_shard(0).samples


def test_randomisation_replays_from_the_spec(strong):
    cfg, renderer, samples = strong
    specs = [SampleSpec.from_dict(s.spec) for s in samples]
    # The renderer's prepared sources (its cache) are what a replay starts from.
    sources = [renderer._cache[s.source_index].pixels for s in specs]
    for spec, source, sample in zip(specs, sources, samples):
        images, _ = render_specs([spec], [source], get_style(cfg.style), torch.device("cpu"))
        assert encode_image(quantise_batch(images, "png")[0], "png") == sample.image, spec.key


def test_values_in_the_spec_are_within_the_documented_ranges(strong):
    _, _, samples = strong
    ranges = rz._RANGES["strong"]
    assert any(s.spec["label"] == "none" for s in samples)
    for s in samples:
        r = s.spec["randomise"]
        assert r, "every sample, negatives included, is randomised"
        for name in ("gamma", "window_lo", "window_hi", "enh_gain", "enh_sigma_mm", "blur_sigma_mm", "noise_sigma",
                     "resolution", "jpeg_quality"):
            lo, hi = ranges[name]
            assert lo - 1e-9 <= r[name] <= hi + 1e-9, name
        for side in rz.SIDES:
            assert 0.0 <= r[f"collim_{side}"] <= ranges["collimation_max"] + 1e-9


def test_randomisation_changes_the_film_and_none_leaves_it():
    img = torch.linspace(0, 1, 64 * 64).view(1, 1, 64, 64)
    params, _ = rz.sample_randomise(np.random.default_rng(0), "strong", 64, 64, (1.0, 1.0), [])
    assert (rz.film(img.clone(), params, (1.0, 1.0)) - img).abs().max() > 0.01
    assert rz.sample_randomise(np.random.default_rng(0), "none", 64, 64, (1.0, 1.0), []) == ({}, False)
    spec = SampleSpec(index=0, key="0", source_index=0, source_id="", label="none", style="physical", height=64,
                      width=64, spacing_mm=(1.0, 1.0))
    assert torch.equal(rz.whole_film(img.clone(), [spec]), img)
    with pytest.raises(ValueError, match="allowed: none, light, strong"):
        rz.sample_randomise(np.random.default_rng(0), "wild", 64, 64, (1.0, 1.0), [])


def test_collimation_keeps_clear_of_the_objects():
    h = w = 400
    for i in range(200):
        rng = np.random.default_rng(i)
        centre = (float(rng.uniform(0, w)), float(rng.uniform(0, h)))
        params, _ = rz.sample_randomise(rng, "strong", h, w, (0.5, 0.5), [centre])
        x, y = centre
        clear = rz.CLEAR_MM / 0.5 - 1
        assert params["collim_top"] * h <= max(0.0, y - clear) + 1
        assert params["collim_bottom"] * h <= max(0.0, h - y - clear) + 1
        assert params["collim_left"] * w <= max(0.0, x - clear) + 1
        assert params["collim_right"] * w <= max(0.0, w - x - clear) + 1
