"""Geometric magnification: M from the view and the patient, objects drawn M times their size
with the same attenuation, and builds that carry it in every physical object's spec."""

import dataclasses

import numpy as np
import pytest
import torch

from generator.bodies import magnification as mag
from generator.bodies.context import PlacementContext
from generator.bodies.placement import extent_px
from generator.shapes.base import MAGNIFICATION
from generator.spec import ObjectSpec, SampleSpec


def _draws(n: int = 4000, **kw) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.array([mag.sample_magnification(rng, **kw) for _ in range(n)])


def test_magnification_follows_the_view_and_the_patient():
    pa, ap, unknown = _draws(view="PA"), _draws(view="AP"), _draws()
    child = _draws(view="AP", age_years=5)
    assert pa.min() >= 1.0 and pa.max() <= 150 / (150 - 0.95 * 28) + 1e-9  # the shortest PA SID, deepest object
    assert ap.max() <= 100 / (100 - 0.95 * 28) + 1e-9 and ap.max() > 1.25
    assert 1.05 < np.median(pa) < 1.09 and 1.10 < np.median(ap) < 1.15  # typical: 1.07 and 1.12
    assert np.median(child) < np.median(ap)  # a thinner chest
    assert np.median(pa) < np.median(unknown) < np.median(ap)  # unknown view: AP 4 times in 10
    assert _draws(view="LL").mean() == pytest.approx(unknown.mean())  # not AP or PA: unknown
    assert np.array_equal(_draws(view=" ap "), ap)  # as a manifest may write it


def _coin(center=(40.0, 40.0)) -> ObjectSpec:
    from generator.bodies import physical

    ctx = PlacementContext(height=96, width=96, spacing_mm=(0.4, 0.4))
    obj = physical.SAMPLERS["coin"](np.random.default_rng(3), ctx)[0]
    return dataclasses.replace(obj, center_px=center, params={**obj.params, "tilt_deg": 0.0})


def test_magnify_spreads_a_group_about_its_mean_and_marks_each_object():
    a, b = _coin((40.0, 40.0)), _coin((60.0, 50.0))
    (one,) = mag.magnify((a,), 1.2)
    assert one.center_px == a.center_px and one.params[MAGNIFICATION] == 1.2
    assert {k: v for k, v in one.params.items() if k != MAGNIFICATION} == a.params  # true size kept
    pair = mag.magnify((a, b), 1.2)
    assert pair[0].center_px == pytest.approx((38.0, 39.0)) and pair[1].center_px == pytest.approx((62.0, 51.0))
    assert mag.magnify((), 1.2) == ()
    with pytest.raises(ValueError, match=r"expected 1 <= M < 2, got 0.9"):
        mag.magnify((a,), 0.9)


def test_a_magnified_object_is_drawn_larger_with_the_same_attenuation():
    from generator.render.styles import get_style
    from generator.run.shard import render_specs

    style = get_style("physical")
    ctx = PlacementContext(height=96, width=96, spacing_mm=(0.4, 0.4))
    coin = _coin((48.0, 48.0))
    (big,) = mag.magnify((coin,), 1.3)
    assert extent_px(big, ctx.spacing_mm) == pytest.approx(1.3 * extent_px(coin, ctx.spacing_mm), rel=0.05)

    def render(obj):
        spec = SampleSpec(index=0, key="0", source_index=0, source_id="s", label="coin", style="physical",
                          height=96, width=96, spacing_mm=(0.4, 0.4), objects=(obj,),
                          imaging={**style.sample_imaging(np.random.default_rng(1), ctx), "noise_sigma": 0.0})
        film = torch.full((1, 96, 96), 0.3)
        film[:, :, 90:] = 0.9
        _, windows = render_specs([spec], [film], style, torch.device("cpu"))
        depth = torch.cat([w.values.flatten() for w in windows])  # optical depth on the object's window
        return int((depth > style.mask_threshold).sum()), float(depth.max())

    (area, peak), (big_area, big_peak) = render(coin), render(big)
    assert big_area / area == pytest.approx(1.3**2, rel=0.06)  # outline M times as wide, M^2 the area
    assert big_peak == pytest.approx(peak, rel=0.02)  # the same thickness along the beam


def test_physical_builds_magnify_every_object_and_legacy_builds_none():
    from generator.config import BuildConfig, SourceConfig
    from generator.inputs.sources import list_sources
    from generator.run.shard import ShardRenderer

    def objects(style):
        cfg = BuildConfig(count=24, seed=2, size=128, shard_size=24, style=style, image_format="png",
                          sources=SourceConfig()).validate()
        samples = ShardRenderer(cfg, list_sources(cfg.sources), torch.device("cpu")).render_shard(0).samples
        return [o for s in samples for o in s.spec["objects"]]

    physical = objects("physical")
    ms = [o["params"][MAGNIFICATION] for o in physical]
    assert len(ms) > 10 and all(1.0 <= m <= 1.37 for m in ms) and len(set(ms)) > 5
    assert all(MAGNIFICATION not in o["params"] for o in objects("legacy"))
