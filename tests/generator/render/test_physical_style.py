"""The physical style end to end on the render core: specs, replay, class visibility, devices."""

import json
import re

import pytest
import torch

from generator.bodies.context import PlacementContext
from generator.bodies.materials import MU_PER_MM
from generator.bodies.physical import SAMPLERS
from generator.render.physical import OPTICAL_DEPTHS, composite
from generator.render.rasterise import rasterise
from generator.render.styles import DEFAULT_STYLE, NONE_CLASS, get_style
from generator.rng import sample_rng
from generator.run.shard import render_specs
from generator.shapes.registry import SHAPES
from generator.spec import SampleSpec

CLASSES = ("coin", "button_battery", "magnets", "bullet", "shrapnel", "pin_needle", "blade", "jewellery_clothing")
UNIT = re.compile(r".*_(mm|deg|frac|per_mm)$")
H = W = 192


def _source(seed=0):
    g = torch.Generator().manual_seed(seed)
    img = torch.full((1, H, W), 0.3)
    img[:, :, 88:104] = 0.8  # spine
    img[:, :8, :8] = 0.9
    return (img + 0.01 * torch.rand(1, H, W, generator=g)).clamp(0, 1)


def _spec(i, label, spacing=(1.0, 1.0)):
    style = get_style("physical")
    rng = sample_rng(5, i)
    ctx = PlacementContext(height=H, width=W, spacing_mm=spacing)
    objects = () if label == NONE_CLASS else style.samplers[label](rng, ctx)
    return SampleSpec(index=i, key=f"{i:08d}", source_index=0, source_id="s", label=label, style="physical",
                      height=H, width=W, spacing_mm=spacing, objects=objects, imaging=style.sample_imaging(rng, ctx))


def test_physical_is_registered_and_the_default():
    assert DEFAULT_STYLE == "physical"
    assert get_style("physical").classes == (NONE_CLASS, *CLASSES)
    assert set(SAMPLERS) == set(CLASSES)


@pytest.mark.parametrize("label", CLASSES)
def test_specs_are_plain_float_params_with_units(label):
    for i in range(20):
        spec = _spec(i, label)
        assert 1 <= len(spec.objects) <= 40
        for obj in spec.objects:
            assert obj.cls == label and obj.kind in SHAPES
            assert obj.material in MU_PER_MM or obj.material == "lead_brass_jacket"
            for name, value in obj.params.items():
                assert isinstance(value, float), (name, value)
                assert UNIT.match(name), f"{name}: no unit in the name"
        assert json.loads(spec.to_json())["imaging"]["noise_seed"] == spec.imaging["noise_seed"]


def test_every_class_is_visible_and_replays_exactly():
    specs = [_spec(i, c) for i, c in enumerate(CLASSES)] + [_spec(99, NONE_CLASS)]
    sources = [_source(i) for i in range(len(specs))]
    style = get_style("physical")
    out, _ = render_specs(specs, sources, style, torch.device("cpu"))
    for b, spec in enumerate(specs[:-1]):
        gain = (out[b] - sources[b]).max().item()
        assert gain > 0.1, f"{spec.label}: brightest gain {gain:.3f}"
    assert (out[-1] - sources[-1]).abs().max().item() < 0.06  # negative: noise only
    replayed = [SampleSpec.from_dict(json.loads(s.to_json())) for s in specs]
    again, _ = render_specs(replayed, sources, style, torch.device("cpu"))
    assert torch.equal(out, again)


def test_same_coin_spec_twice_as_wide_at_half_the_spacing():
    style = get_style("physical")
    spec = _spec(1, "coin")
    spec1 = SampleSpec(**{**spec.__dict__, "objects": spec.objects[:1], "spacing_mm": (0.5, 0.5)})
    spec2 = SampleSpec(**{**spec1.__dict__, "spacing_mm": (0.25, 0.25)})
    _, w1 = render_specs([spec1], [_source()], style, torch.device("cpu"))
    _, w2 = render_specs([spec2], [_source()], style, torch.device("cpu"))
    (m1,) = [(win.values[0] > style.mask_threshold) for win in w1]
    (m2,) = [(win.values[0] > style.mask_threshold) for win in w2]
    width1 = int(m1.any(0).sum())
    width2 = int(m2.any(0).sum())
    assert abs(width2 - 2 * width1) <= 2


def test_render_matches_across_devices(device):
    """CPU is the reference; on CUDA the same specs must agree within 2e-3 (float32
    transcendentals differ in the last bits; 2e-3 is half an 8-bit grey level)."""
    specs = [_spec(i, c) for i, c in enumerate(CLASSES)]
    sources = [_source(i) for i in range(len(specs))]
    style = get_style("physical")
    ref, _ = render_specs(specs, sources, style, torch.device("cpu"))
    got, _ = render_specs(specs, sources, style, device)
    assert float((got.cpu() - ref).abs().max()) < 2e-3


def test_an_image_does_not_depend_on_the_rest_of_its_batch():
    """Blur and scatter Gaussians are cut at each image's own width, not the batch's widest."""
    style = get_style("physical")
    coin = _spec(1, "coin")
    wide = _spec(2, "bullet")
    narrow = SampleSpec(**{**coin.__dict__, "imaging": {**coin.imaging, "scatter_sigma_mm": 5.0,
                                                         "psf_sigma_mm": 0.1}})
    wider = SampleSpec(**{**wide.__dict__, "imaging": {**wide.imaging, "scatter_sigma_mm": 20.0,
                                                       "psf_sigma_mm": 0.35}})
    alone, _ = render_specs([narrow], [_source()], style, torch.device("cpu"))
    together, _ = render_specs([narrow, wider], [_source(), _source(1)], style, torch.device("cpu"))
    assert float((alone[0] - together[0]).abs().max()) < 1e-6


def test_whole_and_windowed_optical_depth_give_the_same_images(device):
    """Both algorithms on the same batch, on every device (the CPU included). Not bitwise:
    the whole-image path pools 4 x 4 cells and blurs and upsamples whole images, the windowed
    one sums and blurs each image's box with smaller matrices, so the glow's float32 sums run
    in a different order; the image agrees to float rounding (1e-5 is 1/400 of an 8-bit grey
    level). "auto" is the device's own algorithm, bit for bit."""
    specs = [_spec(i, c) for i, c in enumerate(CLASSES)] + [_spec(99, NONE_CLASS)]
    sources = torch.stack([_source(i) for i in range(len(specs))]).to(device)
    spacing = torch.tensor([s.spacing_mm for s in specs], dtype=torch.float32)
    windows = rasterise([s.objects for s in specs], spacing, device)
    imaging = [s.imaging for s in specs]
    out = {algo: composite(sources.clone(), windows, imaging, optical_depth=algo)
           for algo in OPTICAL_DEPTHS}
    assert float((out["whole"] - out["windowed"]).abs().max()) < 1e-5
    assert float((out["whole"] - sources).abs().max()) > 0.1  # the objects are there
    assert torch.equal(out["auto"], out["whole" if device.type == "cuda" else "windowed"])
    with pytest.raises(ValueError, match=r"optical_depth: got 'boxes'; allowed: auto, whole, windowed"):
        composite(sources.clone(), windows, imaging, optical_depth="boxes")


def test_objects_get_the_films_resize_blur_and_old_specs_render_without_it():
    from generator.render.physical import RESAMPLE_SIGMA_PX

    style = get_style("physical")
    spec = _spec(1, "coin")
    assert spec.imaging["resample_sigma_px"] == pytest.approx((1 / 6) ** 0.5) == RESAMPLE_SIGMA_PX
    # Only a film that was resized gets the resize's blur: one kept at its own size (same pitch) none.
    rng = sample_rng(5, 2)
    for source, expected in (((0.4, 0.4), 0.0), ((0.2, 0.2), RESAMPLE_SIGMA_PX), (None, RESAMPLE_SIGMA_PX)):
        ctx = PlacementContext(height=H, width=W, spacing_mm=(0.4, 0.4), source_spacing_mm=source)
        assert style.sample_imaging(rng, ctx)["resample_sigma_px"] == expected, source
    imaging = {**spec.imaging, "noise_sigma": 0.0, "psf_sigma_mm": 0.1}
    blurred = SampleSpec(**{**spec.__dict__, "objects": spec.objects[:1], "imaging": imaging})
    old = SampleSpec(**{**blurred.__dict__, "imaging": {k: v for k, v in imaging.items() if k != "resample_sigma_px"}})
    zero = SampleSpec(**{**blurred.__dict__, "imaging": {**imaging, "resample_sigma_px": 0.0}})
    out, _ = render_specs([blurred, old, zero], [_source()] * 3, style, torch.device("cpu"))
    gains = out - _source()

    def steepest(gain):  # the largest step between neighbouring pixels, over the object's peak increase
        g = gain[0]
        return max(g.diff(dim=0).abs().max().item(), g.diff(dim=1).abs().max().item()) / g.max().item()

    assert torch.equal(out[1], out[2])  # a spec made before the parameter renders as with 0
    assert steepest(gains[0]) < 0.95 * steepest(gains[1])  # 0.92 against 1.01: the edge is softer


def test_a_film_resized_before_it_reached_us_blurs_its_objects_by_that_resize():
    from generator.render.physical import NATIVE_PITCH_MAX_MM, source_resample_sigma_mm

    # A detector's own pitch (or an unknown one) adds nothing; a coarser stored pitch p adds a
    # triangle filter of half-width p (variance p^2 / 6), per axis.
    assert source_resample_sigma_mm(None) == (0.0, 0.0)
    assert source_resample_sigma_mm((0.143, NATIVE_PITCH_MAX_MM)) == (0.0, 0.0)
    row, col = source_resample_sigma_mm((0.42, 0.36))  # an NIH 1024 px PNG, anisotropic
    assert row == pytest.approx(0.42 / 6**0.5) and col == pytest.approx(0.36 / 6**0.5)
    assert 0.14 < col < row < 0.18

    style = get_style("physical")
    rng = sample_rng(5, 1)
    nih = PlacementContext(height=H, width=W, spacing_mm=(1.0, 1.0), source_spacing_mm=(0.42, 0.42))
    spec = _spec(1, "coin")
    imaging = style.sample_imaging(rng, nih)
    assert imaging["source_sigma_row_mm"] == imaging["source_sigma_col_mm"] == pytest.approx(0.42 / 6**0.5)
    assert _spec(1, "coin").imaging["source_sigma_row_mm"] == 0.0  # no stored pitch known: nothing added

    base = {**spec.imaging, "noise_sigma": 0.0, "psf_sigma_mm": 0.1, "resample_sigma_px": 0.0}
    one = SampleSpec(**{**spec.__dict__, "objects": spec.objects[:1]})

    def imaged(**extra):
        return SampleSpec(**{**one.__dict__, "imaging": {**base, **extra}})

    resized = imaged(source_sigma_row_mm=0.6, source_sigma_col_mm=0.6)
    old = imaged()
    for key in ("source_sigma_row_mm", "source_sigma_col_mm"):
        old.imaging.pop(key, None)
    # In quadrature with the PSF: psf 0.1 and source 0.6 mm blur as one Gaussian of hypot(0.1, 0.6).
    same = imaged(psf_sigma_mm=float(torch.hypot(torch.tensor(0.1), torch.tensor(0.6))),
                  source_sigma_row_mm=0.0, source_sigma_col_mm=0.0)
    out, _ = render_specs([resized, old, imaged(source_sigma_row_mm=0.0, source_sigma_col_mm=0.0), same],
                          [_source()] * 4, style, torch.device("cpu"))
    gains = out - _source()

    def steepest(gain):  # the largest step between neighbouring pixels, over the object's peak increase
        g = gain[0]
        return max(g.diff(dim=0).abs().max().item(), g.diff(dim=1).abs().max().item()) / g.max().item()

    assert torch.equal(out[1], out[2])  # a spec made before the parameters renders as with 0
    assert float((out[0] - out[3]).abs().max()) < 1e-5
    assert steepest(gains[0]) < 0.95 * steepest(gains[1])  # 0.92 against 1.01: the edge is softer
