"""Distractors: drawn into positives and negatives, listed in the spec, never a foreign
body's label; `class` mode labels the devices `medical_device` and nothing else."""

import numpy as np
import pytest
import torch

from generator.bodies import distractors as dis
from generator.bodies.context import PlacementContext
from generator.config import BuildConfig, SourceConfig
from generator.inputs.sources import list_sources
from generator.render.burnt_in import BURNT_IN
from generator.run.shard import ShardRenderer
from generator.shapes.registry import SHAPES

CTX = PlacementContext(height=256, width=240, spacing_mm=(1.6, 1.6))


def test_every_item_is_a_device_or_a_burnt_in_annotation():
    seen = set()
    for i in range(200):
        for d in dis.sample_distractors(np.random.default_rng(i), CTX, "negative"):
            seen.add(d.cls)
            if d.cls == dis.DEVICE_CLASS:
                assert d.kind in SHAPES and d.params["mu_per_mm" if "mu_per_mm" in d.params else "r0_mu_per_mm"] > 0
            else:
                assert d.cls == dis.BURNT_IN_CLASS and d.kind == BURNT_IN
    assert seen == {dis.DEVICE_CLASS, dis.BURNT_IN_CLASS}
    assert dis.sample_distractors(np.random.default_rng(0), CTX, "none") == ()
    with pytest.raises(ValueError, match="allowed: none, negative, class"):
        dis.sample_distractors(np.random.default_rng(0), CTX, "all")


def _shard(**over):
    cfg = BuildConfig(**{"count": 16, "seed": 5, "size": 128, "shard_size": 16, "style": "physical",
                         "image_format": "png", "sources": SourceConfig(),
                         "classes": ("none", "coin", "jewellery_clothing"), "class_weights": (1.0, 1.0, 1.0),
                         **over}).validate()
    return cfg, ShardRenderer(cfg, list_sources(cfg.sources), torch.device("cpu")).render_shard(0).samples


@pytest.fixture(scope="module")
def shards():
    return {mode: _shard(distractors=mode) for mode in ("none", "negative", "class")}


def test_negative_mode_never_labels_a_distractor(shards):
    cfg, samples = shards["negative"]
    assert cfg.label_classes == cfg.classes and dis.DEVICE_CLASS not in cfg.label_classes
    drawn = sum(len(s.spec["distractors"]) for s in samples)
    assert drawn > len(samples)  # several per film, on negatives as on positives
    assert any(s.spec["distractors"] for s in samples if s.spec["label"] == "none")
    for s in samples:
        assert len(s.labels) == len(cfg.classes)
        assert {o["class"] for o in s.objects} <= set(cfg.positive_classes)
        assert len(s.objects) == len(s.spec["objects"])  # only the foreign bodies are annotated
        expected = {o["cls"] for o in s.spec["objects"]} or {"none"}
        assert {c for c, on in zip(cfg.classes, s.labels) if on} == expected


def test_distractors_move_no_foreign_body(shards):
    for plain, with_d in zip(shards["none"][1], shards["negative"][1]):
        assert plain.spec["objects"] == with_d.spec["objects"] and plain.spec["label"] == with_d.spec["label"]
        assert plain.spec["imaging"] == with_d.spec["imaging"]
        assert not plain.spec["distractors"]


def test_class_mode_labels_only_the_devices(shards):
    cfg, samples = shards["class"]
    assert cfg.label_classes[-1] == dis.DEVICE_CLASS and len(cfg.label_classes) == len(cfg.classes) + 1
    for s, neg in zip(samples, shards["negative"][1]):
        assert s.spec["distractors"] == neg.spec["distractors"]  # the same draws as `negative`
        devices = [d for d in s.spec["distractors"] if d["cls"] == dis.DEVICE_CLASS]
        assert s.labels[-1] == (1 if devices else 0)
        assert sum(o["class"] == dis.DEVICE_CLASS for o in s.objects) == len(devices)
        assert sum(o["class"] != dis.DEVICE_CLASS for o in s.objects) == len(s.spec["objects"])
        assert all(o["class"] != dis.BURNT_IN_CLASS for o in s.objects)  # markers and text: never labelled
