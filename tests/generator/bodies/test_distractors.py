"""Distractors: drawn into positives and negatives, listed in the spec, never a foreign
body's label; `class` mode labels the devices `medical_device` and nothing else."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from generator.bodies import distractors as dis
from generator.bodies import placement as pl
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
            elif d.cls == dis.LEAD_MARKER_CLASS:  # in the beam, imaged like the devices
                materials = {"lead": 5, "plastic": 0.02, "steel": 0.9}  # the letter, its block, its ring
                assert d.kind in SHAPES and d.params["mu_per_mm"] > materials[d.material]
            else:
                assert d.cls == dis.BURNT_IN_CLASS and d.kind == BURNT_IN
    assert seen == {dis.DEVICE_CLASS, dis.BURNT_IN_CLASS, dis.LEAD_MARKER_CLASS}
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
        assert all(o["class"] != dis.LEAD_MARKER_CLASS for o in s.objects)
    assert any(d["cls"] == dis.LEAD_MARKER_CLASS for s in samples for d in s.spec["distractors"])


def test_a_lead_marker_is_a_bright_letter_at_the_films_side_imaged_like_metal():
    from generator.render.styles import get_style
    from generator.run.shard import render_specs
    from generator.spec import SampleSpec

    ctx = PlacementContext(height=128, width=128, spacing_mm=(0.5, 0.5))
    style = get_style("physical")
    for seed in range(4):
        rng = np.random.default_rng(seed)
        m = dis.lead_marker(rng, ctx, initials_p=0.0)  # the letter alone (initials: the next test)
        x, y = m.center_px
        assert (x < 0.2 * 128 or x > 0.8 * 128) and y <= 0.85 * 128  # at the outer side
        m = dataclasses.replace(m, center_px=(64.0, 64.0))  # whole on this small film
        spec = SampleSpec(index=0, key="0", source_index=0, source_id="s", label="none", style="physical",
                          height=128, width=128, spacing_mm=(0.5, 0.5), objects=(), distractors=(m,),
                          imaging={**style.sample_imaging(rng, ctx), "noise_sigma": 0.0})
        film = torch.full((1, 128, 128), 0.3)
        film[:, :, 100:] = 0.9  # the film's dark and bright levels (k calibration) need both
        out, _ = render_specs([spec], [film], style, torch.device("cpu"))
        gain = (out - film)[0, 0, :, :96]
        letter = gain > 0.5 * float(gain.max())
        ys, xs = torch.nonzero(letter, as_tuple=True)
        height_mm = float(ys.max() - ys.min() + 1) * 0.5
        assert float(gain.max()) > 0.3  # lead: far brighter than the film
        assert 8 <= height_mm <= 25  # a 10-18 mm letter and its strokes (turned up to 20 degrees)
        box = letter[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        assert 0.15 < float(box.float().mean()) < 0.65  # strokes, not a filled block


def test_outlined_burnt_in_arrows_are_white_with_a_black_border():
    from generator.render.burnt_in import paint

    def painted(outline: bool) -> torch.Tensor:
        image = torch.full((1, 64, 64), 0.5)
        paint(image, dis.burnt_in("}", (32.0, 32.0), height_mm=14.0, value=1.0, box=False, outline=outline),
              (0.5, 0.5))
        return image[0]

    plain, outlined = painted(False), painted(True)
    assert plain.max() == pytest.approx(1.0) and plain.min() >= 0.5 - 1e-6  # no dark pixel without the outline
    assert outlined.max() == pytest.approx(1.0) and outlined.min() < 0.05  # the border is black
    glyph = outlined > 0.99
    ring = outlined < 0.05
    assert set(outlined.unique().tolist()) == {0.0, 0.5, 1.0}  # crisp: black border, white glyph, film
    grown = torch.nn.functional.max_pool2d(glyph[None, None].float(), 3, 1, 1)[0, 0] > 0
    assert torch.equal(ring, grown & ~glyph)  # the border is the glyph grown by one pixel, all round
    assert dis.burnt_in("AP", (1.0, 1.0), height_mm=5, value=1, box=False).params["outline"] == 0.0


def test_block_arrows_point_up_as_portable_films_upright_arrow_does():
    from generator.render.burnt_in import paint, text_of

    arrows = [d for i in range(400) for d in dis.sample_distractors(np.random.default_rng(i), CTX, "negative")
              if d.kind == BURNT_IN and text_of(d.params) in ("}", ">")]
    block = [d for d in arrows if text_of(d.params) == "}"]
    assert 0.6 < len(block) / len(arrows) < 0.9  # three in four (BLOCK_ARROW_SHARE)
    assert {d.params["quarter"] for d in block} == {float(dis.UP)}
    assert len({d.params["quarter"] for d in arrows if text_of(d.params) == ">"}) == 4  # line arrows: any way
    image = torch.zeros(1, 64, 64)
    paint(image, dataclasses.replace(block[0], center_px=(32.0, 32.0)), (0.5, 0.5))
    width = (image[0] > 0.5).sum(dim=1)
    width = width[width > 0]  # per glyph row, top to bottom
    assert width[0] < width[-1] < width.max()  # the narrow tip on top, the barb, the stem below


def test_lead_markers_carry_two_initials_below_or_beside_the_letter_six_times_in_ten():
    from generator.shapes.wire import WIRE_SLOTS

    ctx = PlacementContext(height=128, width=128, spacing_mm=(0.5, 0.5))

    def strokes(m):  # (K, 4) in-plane ends of the used wire slots
        k = sum(1 for name in m.params if name.endswith("_diameter_mm"))
        return np.array([[m.params[f"s{i}_{c}_mm"] for c in ("x0", "y0", "x1", "y1")] for i in range(k)])

    counts, beside = [], []
    for seed in range(200):
        m = dis.lead_marker(np.random.default_rng(seed), ctx)
        letter = dis.lead_marker(np.random.default_rng(seed), ctx, initials_p=0.0)
        assert len(strokes(m)) <= WIRE_SLOTS
        counts.append(len(strokes(m)) > len(strokes(letter)))  # more strokes than its letter: initials
        alone = dis.lead_marker(np.random.default_rng(seed), ctx, initials_p=0.0, mirror_p=0.0)
        named = dis.lead_marker(np.random.default_rng(seed), ctx, initials_p=1.0, mirror_p=0.0)
        assert named.center_px == alone.center_px  # the initials draw after the letter's own draws
        assert len(strokes(named)) >= len(strokes(alone)) + 4  # two initials of at least two strokes each
        b = _upright(named)
        letter, initials = b[:2 * len(strokes(alone))], b[2 * len(strokes(alone)):]  # its own frame: y down
        below = initials[:, 1].min() > letter[:, 1].max()  # under the letter's foot
        beside.append(initials[:, 0].min() > letter[:, 0].max())  # right of its rightmost stroke
        assert below != beside[-1]
        if beside[-1]:  # stacked, no taller than the letter
            assert np.ptp(b[:, 1]) == pytest.approx(np.ptp(letter[:, 1]), abs=1e-3)
    assert 0.5 < np.mean(counts) < 0.7  # INITIALS_P = 0.6
    assert 0.2 < np.mean(beside) < 0.4  # BESIDE_P = 0.3


def test_lead_markers_lie_along_the_films_side_some_laid_on_their_side():
    ctx = PlacementContext(height=1000, width=1000, spacing_mm=(0.2, 0.2))
    markers = [dis.lead_marker(np.random.default_rng(seed), ctx) for seed in range(600)]
    xs = np.array([m.center_px[0] for m in markers]) / 1000
    ys = np.array([m.center_px[1] for m in markers]) / 1000
    assert np.all(np.minimum(xs, 1 - xs) <= 0.2) and np.all(np.minimum(xs, 1 - xs) >= 0.01)
    assert 0.4 < np.mean(xs < 0.5) < 0.6  # either side
    assert np.all((ys >= 0.02) & (ys <= 0.85))
    assert 0.19 < np.mean(ys > 0.25) < 0.31  # SIDE_P = 0.25: lower down the side
    assert np.mean(ys < 0.05) > 0.05  # and some at the very top
    turn = np.abs(np.array([m.params["angle_deg"] for m in markers]))
    assert np.all((turn <= 20) | ((turn >= 70) & (turn <= 110)))
    assert 0.1 < np.mean(turn > 45) < 0.2  # QUARTER_TURN_P = 0.15


def _upright(m) -> np.ndarray:
    """A lead marker's segment ends in its own (unturned) frame, about their mean: (2 K, 2) mm."""
    ends, _ = dis._wire_points_mm(m)
    up = ends @ pl.rotation(0.0, m.params["angle_deg"])[:2, :2]
    return up - up.mean(0)


def test_lead_markers_are_block_letters_read_from_behind_four_times_in_ten():
    ctx = PlacementContext(height=128, width=128, spacing_mm=(0.5, 0.5))
    flipped = []
    for seed in range(400):
        plain = dis.lead_marker(np.random.default_rng(seed), ctx, mirror_p=0.0)
        mirrored = dis.lead_marker(np.random.default_rng(seed), ctx, mirror_p=1.0)
        assert mirrored.center_px == plain.center_px and mirrored.params["angle_deg"] == plain.params["angle_deg"]
        a, b = _upright(plain), _upright(mirrored)
        np.testing.assert_allclose(b[:, 0], -a[:, 0], atol=2e-3)  # left and right swapped
        np.testing.assert_allclose(b[:, 1], a[:, 1], atol=2e-3)  # top and bottom kept
        flipped.append(dis.lead_marker(np.random.default_rng(seed), ctx) != plain)
        letter = dis.lead_marker(np.random.default_rng(seed), ctx, initials_p=0.0, mirror_p=0.0)
        up, (_, diameters) = _upright(letter), dis._wire_points_mm(letter)
        height_mm = float(np.ptp(up[:, 1]))  # the letter's 7 grid units
        assert 10.0 <= height_mm <= 18.0
        assert np.all((diameters / height_mm > 0.17 - 1e-6) & (diameters / height_mm < 0.23 + 1e-6))
    assert 0.32 < np.mean(flipped) < 0.48  # MIRROR_P = 0.4


def test_most_electrodes_keep_their_leads_connector_a_bright_brass_oval_on_the_stud():
    from generator.render.styles import get_style
    from generator.run.shard import render_specs
    from generator.shapes import kinds
    from generator.spec import SampleSpec

    studs = connectors = 0
    for i in range(300):
        items = dis.sample_distractors(np.random.default_rng(i), CTX, "negative")
        sheets = [d for d in items if d.cls == dis.DEVICE_CLASS and d.kind == kinds.PHYS_SHEET]
        steel = [d for d in sheets if d.material == "steel"]
        brass = [d for d in sheets if d.material == "brass"]
        studs, connectors = studs + len(steel), connectors + len(brass)
        for c in brass:  # 1-2 mm from one of the film's studs, toward its wire
            gap_mm = min(math.hypot((c.center_px[0] - s.center_px[0]) * CTX.spacing_mm[1],
                                    (c.center_px[1] - s.center_px[1]) * CTX.spacing_mm[0]) for s in steel)
            assert 1.0 - 1e-6 <= gap_mm <= 2.0 + 1e-6
            assert 20 <= c.params["tilt_deg"] <= 50
    assert studs > 200 and 0.62 < connectors / studs < 0.78  # CONNECTOR_P = 0.7

    ctx = PlacementContext(height=96, width=96, spacing_mm=(0.25, 0.25))
    style = get_style("physical")
    c = next(c for seed in range(100) if (c := dis.lead_connector(np.random.default_rng(seed), ctx, (40.0, 48.0),
                                                                  0.0)).params["tilt_deg"] > 40)  # clearly oval
    spec = SampleSpec(index=0, key="0", source_index=0, source_id="s", label="none", style="physical",
                      height=96, width=96, spacing_mm=(0.25, 0.25), objects=(), distractors=(c,),
                      imaging={**style.sample_imaging(np.random.default_rng(2), ctx), "noise_sigma": 0.0})
    film = torch.full((1, 96, 96), 0.3)
    film[:, :, 88:] = 0.9
    gain = (render_specs([spec], [film], style, torch.device("cpu"))[0] - film)[0, 0, :, :88]
    assert float(gain.max()) > 0.2  # brass plate: bright
    ys, xs = torch.nonzero(gain > 0.5 * float(gain.max()), as_tuple=True)
    area_mm2 = len(ys) * 0.25 * 0.25
    assert 25 < area_mm2 < 70  # a 7-10 mm plate seen at 40-50 degrees: pi r^2 cos(tilt)
    pts = torch.stack([xs, ys], 1).float()
    axes = torch.linalg.eigvalsh(torch.cov(pts.T)).sqrt()
    tilt = math.radians(c.params["tilt_deg"])
    assert float(axes[0] / axes[1]) == pytest.approx(math.cos(tilt), abs=0.08)  # an oval: cos(tilt) as wide
    assert float(axes[0] / axes[1]) < 0.85  # not a disc


def test_a_marker_holder_is_a_faint_plastic_block_round_the_letters_with_a_ring_on_top():
    from generator.render.styles import get_style
    from generator.run.shard import render_specs
    from generator.spec import SampleSpec

    ctx = PlacementContext(height=256, width=256, spacing_mm=(0.25, 0.25))
    def pieces(seed):
        rng = np.random.default_rng(seed)
        return len(dis.marker_holder(rng, ctx, dis.lead_marker(rng, ctx)))

    shares = np.array([pieces(seed) for seed in range(400)])
    assert 0.62 < np.mean(shares > 0) < 0.78 and 0.2 < np.mean(shares == 2) < 0.36  # 0.7; 0.7 x 0.4
    style = get_style("physical")
    for seed in range(3):
        rng = np.random.default_rng(seed)
        letter = dis.lead_marker(rng, ctx)
        block, ring = dis.marker_holder(rng, ctx, letter, holder_p=1.0, ring_p=1.0)
        assert (block.material, ring.material) == ("plastic", "steel")
        assert dis.lead_marker(np.random.default_rng(seed), ctx) == letter  # drawn after the letter
        move = (128.0 - letter.center_px[0], 150.0 - letter.center_px[1])  # whole on this small film

        def film_of(*items):
            items = tuple(dataclasses.replace(o, center_px=(o.center_px[0] + move[0], o.center_px[1] + move[1]))
                          for o in items)
            spec = SampleSpec(index=0, key="0", source_index=0, source_id="s", label="none", style="physical",
                              height=256, width=256, spacing_mm=(0.25, 0.25), objects=(), distractors=items,
                              imaging={**style.sample_imaging(np.random.default_rng(9), ctx), "noise_sigma": 0.0})
            film = torch.full((1, 256, 256), 0.3)
            film[:, :, 240:] = 0.9
            return (render_specs([spec], [film], style, torch.device("cpu"))[0] - film)[0, 0, :, :240]

        alone, with_block, with_ring = film_of(letter), film_of(letter, block), film_of(letter, block, ring)
        bright = alone > 0.3 * float(alone.max())
        block_only = (with_block - alone) > 0.01
        ys, xs = torch.nonzero(bright, as_tuple=True)
        assert bool(block_only[ys.min() - 3, xs.float().mean().long()])  # the block reaches past the letters
        faint = float((with_block - alone)[block_only & ~bright].median())
        assert 0.01 < faint < 0.15 * float(alone.max())  # PMMA: a faint rectangle next to the lead
        area_mm2 = float(block_only.sum()) * 0.25**2
        assert 1.5 * float(bright.sum()) * 0.25**2 < area_mm2 < 2500
        ring_only = (with_ring - with_block) > 0.1
        rys, rxs = torch.nonzero(ring_only, as_tuple=True)
        assert float(rys.float().mean()) < float(ys.float().mean())  # above the letters (turned <= 20 deg)
        assert not bool(ring_only[int(rys.float().mean().round()), int(rxs.float().mean().round())])  # hollow
