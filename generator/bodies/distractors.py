"""Distractors: what real chest films carry that is bright and sharp and NOT a foreign body
(`--distractors none|negative|class`). Drawn into positives and negatives alike, listed in
the spec's `distractors`, never in `objects`, never in `labels` as a foreign body; with
`class` the support devices (not the burnt-in annotations) get their own label,
`medical_device`, with boxes and masks like any object.

| item           | p / film | geometry (mm), material                                         |
|----------------|---------:|-----------------------------------------------------------------|
| ecg            | 0.40     | 3-5 electrodes: snap stud, flange 7-10 across of 0.2-0.3 steel   |
|                |          | sheet, boss 3.5-4.5 (3M Red Dot / Ambu snap drawings); a lead    |
|                |          | each, copper bundle 0.3-0.6, 80-250 long, curving off the chest; |
|                |          | 7 in 10 keep the lead's connector on the stud: a brass socket    |
|                |          | plate 7-10 across, 0.4-0.8 thick, tilted 20-50 deg (a bright     |
|                |          | oval, as real electrodes with leads read on cxr-nih films)       |
| line_tube      | 0.25     | central line (jugular to the SVC), NG tube (mouth to stomach) or |
|                |          | ET tube (to above the carina): the radiopaque stripe, 0.8-1.5    |
|                |          | wide, barium-loaded polymer                                      |
| sternal_wires  | 0.10     | 4-7 twisted stainless loops down the sternum 15-25 apart: loop  |
|                |          | 10-16 x 3-5 of 1.0-1.4 (two 0.9 strands), a 4-6 twist            |
| clips          | 0.12     | 1-6 ligating clips: V of two 5-9 legs, wire 0.6-0.9, steel       |
| marker         | 0.60     | burnt-in "L" or "R", 8-15 high, boxed half the time, upper corner|
| text           | 0.35     | "PORTABLE", "AP", "PA", "SUPINE", "ERECT", 4-9 high, top/bottom  |
| arrow          | 0.35     | a burnt-in arrow 8-15 long at the thorax's edge: three times in  |
|                |          | four the block "upright" arrow of portable films, pointing up as |
|                |          | it always does (7 of the 24 NIH test-split films carry it), else |
|                |          | a line arrow pointing any of the four ways                       |
| lead_marker    | 0.50     | the technologist's lead "L" or "R" on the detector, in the beam: |
|                |          | letter 10-18 high of strokes 0.17-0.23 of its height, lead       |
|                |          | (commercial markers: 1-2 mm thick block letters 10-19 mm high    |
|                |          | in a plastic holder), 6 times in 10 with two initials 0.45-0.6   |
|                |          | as high below it, 4 times in 10 read from behind (mirrored, as   |
|                |          | on several cxr-nih films), turned +-20 deg (1 in 7 laid on its   |
|                |          | side, a further +-90), 3 in 10 of the initials stacked beside the|
|                |          | letter (as tall as it) rather than below; at the film's outer    |
|                |          | side, up to half off its                                         |
|                |          | edge: 3 in 4 in an upper corner, often over the shoulder, the    |
|                |          | rest lower down the side, over the arm or the lateral chest (as  |
|                |          | the train-split cxr-nih films show them); imaged like any        |
|                |          | metal (blur, scatter, processing), so it looks like metal, which |
|                |          | it is. 7 in 10 sit in a PMMA block 5-8 thick, 2-4 wider than the |
|                |          | letters all round (a faint rectangle); 4 blocks in 10 hang on a  |
|                |          | steel split ring of 15-25 across, wire 1.0-1.5, through the      |
|                |          | block's top                                                      |
Burnt-in text and arrows carry a black outline (white with a dark border, as portable films'
annotations are burnt in); markers do not. Lead markers are the metal most real chest films
carry (on the 24 NIH test-split films, a model trained without them put most of its highest
marks on them); they are neither a foreign body nor a support device, so no mode labels them.
Lines and leads are 16-segment quadratic Bezier curves (`phys_wire`); electrodes are
`phys_sheet` snaps. Burnt-in items are painted (`generator.render.burnt_in`).
All draws come from the sample's own distractor stream (`generator.rng.STREAM_DISTRACTORS`),
so switching distractors on or off moves no foreign body.
"""

from __future__ import annotations

import math

import numpy as np

from generator.bodies import placement as pl
from generator.bodies import sheet_metal
from generator.bodies.context import PlacementContext
from generator.bodies.materials import mu_per_mm
from generator.names import DEVICE_CLASS, DISTRACTOR_MODES
from generator.render.burnt_in import BURNT_IN, text_params
from generator.shapes import kinds
from generator.spec import ObjectSpec

MODES = DISTRACTOR_MODES  # listed in generator.names, which the CLI reads without importing torch
BURNT_IN_CLASS = "burnt_in"
LEAD_MARKER_CLASS = "lead_marker"
# Drawn in this order, each from the distractor stream: an item appended at the end moves none before it.
PROBABILITY = {"ecg": 0.40, "line_tube": 0.25, "sternal_wires": 0.10, "clips": 0.12, "marker": 0.60, "text": 0.35,
               "arrow": 0.35, "lead_marker": 0.50}
# Lead letters as strokes on a 4 x 7 grid (x right, y down, in letter heights / 7).
LEAD_GLYPHS = {
    "L": ((0, 0, 0, 7), (0, 7, 4, 7)),
    "R": ((0, 0, 0, 7), (0, 0, 3, 0), (3, 0, 4, 1), (4, 1, 4, 2.5), (4, 2.5, 3, 3.5), (3, 3.5, 0, 3.5),
          (1.5, 3.5, 4, 7)),
}
# The technologist's initials on the marker: letters of straight strokes, same grid.
INITIAL_GLYPHS = {
    "A": ((0, 7, 2, 0), (2, 0, 4, 7), (1, 3.5, 3, 3.5)),
    "E": ((0, 0, 0, 7), (0, 0, 4, 0), (0, 3.5, 3, 3.5), (0, 7, 4, 7)),
    "F": ((0, 0, 0, 7), (0, 0, 4, 0), (0, 3.5, 3, 3.5)),
    "H": ((0, 0, 0, 7), (4, 0, 4, 7), (0, 3.5, 4, 3.5)),
    "K": ((0, 0, 0, 7), (4, 0, 0, 4.5), (1.5, 3, 4, 7)),
    "M": ((0, 7, 0, 0), (0, 0, 2, 4), (2, 4, 4, 0), (4, 0, 4, 7)),
    "N": ((0, 7, 0, 0), (0, 0, 4, 7), (4, 7, 4, 0)),
    "T": ((0, 0, 4, 0), (2, 0, 2, 7)),
    "V": ((0, 0, 2, 7), (2, 7, 4, 0)),
    "Z": ((0, 0, 4, 0), (4, 0, 0, 7), (0, 7, 4, 7)),
}
_INITIALS = tuple(sorted(INITIAL_GLYPHS))
CONNECTOR_P = 0.7  # of the electrodes: the lead's snap connector still on the stud
INITIALS_P = 0.6
LETTER_HEIGHT_MM = (10.0, 18.0)
STROKE_SHARE = (0.17, 0.23)  # stroke width / letter height: block letters, 1.7-4.1 mm
MIRROR_P = 0.4  # of the lead markers: read from behind (the marker faces the tube, or is turned over)
SIDE_P = 0.25  # of the lead markers: lower down the film's side rather than in an upper corner
LEAD_X_SHARE = (0.01, 0.2)  # of the width, from the film's side: a marker may hang half off the edge
LEAD_Y_SHARE = {"corner": (0.02, 0.25), "side": (0.25, 0.85)}  # of the height, from the top
QUARTER_TURN_P = 0.15  # of the lead markers: laid on their side
BESIDE_P = 0.3  # of the initials: stacked beside the letter rather than below it
HOLDER_P = 0.7  # of the lead markers: in a plastic block
RING_P = 0.4  # of the blocks: a split ring through the top
BLOCK_ARROW_SHARE = 0.75  # of the arrows: the block "upright" arrow, always pointing up
UP = 3  # burnt_in's quarter turn that points an arrow up
TEXTS = ("PORTABLE", "AP", "PA", "SUPINE", "ERECT", "AP PORTABLE")


def _px(ctx: PlacementContext, x_mm: float, y_mm: float) -> tuple[float, float]:
    return x_mm / ctx.spacing_mm[1], y_mm / ctx.spacing_mm[0]


def _mm(ctx: PlacementContext, x_px: float, y_px: float) -> np.ndarray:
    return np.array([x_px * ctx.spacing_mm[1], y_px * ctx.spacing_mm[0], 0.0])


def _curve(ctx, start_px, end_px, bend: float, diameter_mm: float, material: str, mu_scale: float = 1.0,
           n: int = 16) -> ObjectSpec:
    """A quadratic Bezier wire from start to end (image px), bent sideways by `bend` x length."""
    p0, p2 = _mm(ctx, *start_px), _mm(ctx, *end_px)
    d = p2 - p0
    p1 = (p0 + p2) / 2 + bend * np.array([-d[1], d[0], 0.0])
    t = np.linspace(0.0, 1.0, n + 1)[:, None]
    pts = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
    centre_mm = (pts.min(0) + pts.max(0)) / 2
    segs = [(pts[k] - centre_mm, pts[k + 1] - centre_mm, diameter_mm) for k in range(n)]
    params = pl.wire_params(segs, np.eye(3), material, 0.0, 0.0, mu_scale)
    return ObjectSpec(cls=DEVICE_CLASS, kind=kinds.PHYS_WIRE, center_px=_px(ctx, centre_mm[0], centre_mm[1]),
                      material=material, params=params)


def _ecg(rng, ctx, an) -> list[ObjectSpec]:
    out = []
    for _ in range(int(rng.integers(3, 6))):
        at = pl.place(rng, ctx, {"chest_wall": 0.6, "neck": 0.1, "thorax": 0.3})
        params = sheet_metal.snap(rng, "steel", float(rng.uniform(0, 20)), float(rng.uniform(0, 180)))
        scale = float(rng.uniform(3.5, 5.0)) / params["r0_outer_mm"]
        params = {k: (v * scale if k.endswith(("outer_mm", "inner_mm", "z_mm")) else v) for k, v in params.items()}
        out.append(ObjectSpec(cls=DEVICE_CLASS, kind=kinds.PHYS_SHEET, center_px=at, material="steel",
                              params=params))
        length_mm, turn = float(rng.uniform(80, 250)), float(rng.uniform(0, 2 * math.pi))
        end = (at[0] + length_mm * math.cos(turn) / ctx.spacing_mm[1], at[1] + length_mm * math.sin(turn) /
               ctx.spacing_mm[0])
        out.append(_curve(ctx, at, end, float(rng.uniform(-0.4, 0.4)), float(rng.uniform(0.3, 0.6)), "copper"))
        if rng.random() < CONNECTOR_P:
            out.append(lead_connector(rng, ctx, at, turn))
    return out


def lead_connector(rng: np.random.Generator, ctx: PlacementContext, stud_px: tuple[float, float],
                   turn: float) -> ObjectSpec:
    """The lead wire's snap connector on an electrode's stud: its brass socket plate (a disc
    7-10 across, 0.4-0.8 thick, with a rolled rim) tilted 20-50 deg about the wire's direction
    (the wire pulls it over), so it reads as a bright oval, shifted 1-2 mm toward the wire.
    Sizes: the socket of a 4 mm ECG snap (AAMI EC53 connectors) in its housing."""
    mu = mu_per_mm("brass")
    radius, plate = float(rng.uniform(3.5, 5.0)), float(rng.uniform(0.4, 0.8))
    params = sheet_metal.sheet_params([(radius, 0.0, plate, 0.0, mu), (radius, radius - 0.6, 1.2, 0.0, mu)],
                                      tilt_deg=float(rng.uniform(20, 50)), angle_deg=math.degrees(turn))
    shift = float(rng.uniform(1.0, 2.0))
    dx, dy = _px(ctx, shift * math.cos(turn), shift * math.sin(turn))
    at = (stud_px[0] + dx, stud_px[1] + dy)
    return ObjectSpec(cls=DEVICE_CLASS, kind=kinds.PHYS_SHEET, center_px=at, material="brass", params=params)


def _line(rng, ctx, an) -> list[ObjectSpec]:
    tw, lh, mid = an.thorax_width_px, an.lung_height_px, an.midline_x_px
    which = int(rng.integers(0, 3))
    if which == 0:  # central line: jugular vein to the SVC (patient right = image left)
        side = -1.0 if rng.random() < 0.7 else 1.0
        start = (mid + side * rng.uniform(0.08, 0.2) * tw, an.apex_y_px - rng.uniform(0.15, 0.35) * lh)
        end = (mid - rng.uniform(0.02, 0.08) * tw, an.apex_y_px + rng.uniform(0.25, 0.4) * lh)
    elif which == 1:  # NG tube down the oesophagus into the stomach
        start = (mid + rng.normal(0, 0.02) * tw, max(1.0, an.apex_y_px - 0.4 * lh))
        end = (mid + rng.uniform(0.05, 0.25) * tw, an.diaphragm_y_px + rng.uniform(0.05, 0.25) * lh)
    else:  # ET tube to above the carina
        start = (mid + rng.normal(0, 0.02) * tw, max(1.0, an.apex_y_px - 0.4 * lh))
        end = (mid + rng.normal(0, 0.01) * tw, an.apex_y_px + rng.uniform(0.05, 0.2) * lh)
    end = (min(max(end[0], 0.0), ctx.width - 1.0), min(max(end[1], 0.0), ctx.height - 1.0))
    return [_curve(ctx, start, end, float(rng.uniform(-0.15, 0.15)), float(rng.uniform(0.8, 1.5)),
                   "barium_stripe")]


def _sternal_wires(rng, ctx, an) -> list[ObjectSpec]:
    out = []
    gap_mm, y = float(rng.uniform(15, 25)), an.apex_y_px + rng.uniform(0.05, 0.15) * an.lung_height_px
    x = an.midline_x_px + rng.normal(0, 0.01) * an.thorax_width_px
    for _ in range(int(rng.integers(4, 8))):
        w, h, d = float(rng.uniform(10, 16)), float(rng.uniform(3, 5)), float(rng.uniform(1.0, 1.4))
        a = np.linspace(0, 2 * math.pi, 11)
        pts = np.stack([w / 2 * np.cos(a), h / 2 * np.sin(a), np.zeros_like(a)], 1)
        segs = [(pts[k], pts[k + 1], d) for k in range(10)]
        segs.append((np.array([w / 2, 0, 0]), np.array([w / 2 + float(rng.uniform(4, 6)), 0, 0]), d * 1.3))
        tilt, angle = float(rng.uniform(0, 30)), float(rng.uniform(-15, 15))
        params = pl.wire_params(segs, pl.rotation(tilt, angle), "steel", tilt, angle)
        out.append(ObjectSpec(cls=DEVICE_CLASS, kind=kinds.PHYS_WIRE, center_px=(float(x), float(y)),
                              material="steel", params=params))
        y += gap_mm / ctx.spacing_mm[0]
    return out


def _clips(rng, ctx, an) -> list[ObjectSpec]:
    out = []
    centre = pl.place(rng, ctx, {"thorax": 0.6, "stomach_bowel": 0.2, "neck": 0.2})
    for _ in range(int(rng.integers(1, 7))):
        leg, spread, d = float(rng.uniform(5, 9)), math.radians(float(rng.uniform(8, 30))), float(rng.uniform(0.6, 0.9))
        tip = np.zeros(3)
        segs = [(tip, np.array([leg * math.cos(s), leg * math.sin(s), 0.0]), d) for s in (-spread / 2, spread / 2)]
        tilt, angle = float(rng.uniform(0, 60)), float(rng.uniform(0, 360))
        at = pl.near(rng, ctx, centre, (float(rng.normal(0, 15)), float(rng.normal(0, 15))))
        out.append(ObjectSpec(cls=DEVICE_CLASS, kind=kinds.PHYS_WIRE, center_px=at, material="steel",
                              params=pl.wire_params(segs, pl.rotation(tilt, angle), "steel", tilt, angle)))
    return out


def burnt_in(text: str, centre_px: tuple[float, float], *, height_mm: float, value: float, box: bool,
             quarter: int = 0, outline: bool = False) -> ObjectSpec:
    params = {**text_params(text), "height_mm": float(height_mm), "value": float(value), "box": float(box),
              "quarter": float(quarter), "outline": float(outline)}
    return ObjectSpec(cls=BURNT_IN_CLASS, kind=BURNT_IN, center_px=(float(centre_px[0]), float(centre_px[1])),
                      material="none", params=params)


def _at_side(rng: np.random.Generator, ctx: PlacementContext, x_share: tuple[float, float],
                  y_share: tuple[float, float]) -> tuple[float, float]:
    """(x, y) px at the left or (mirrored) right side: x_share of the width from the film's
    side, y_share of the height from its top (an upper corner for small y_share)."""
    right = rng.random() < 0.5
    lo, hi = (1.0 - x_share[1], 1.0 - x_share[0]) if right else x_share
    x = ctx.width * float(rng.uniform(lo, hi))
    return x, ctx.height * float(rng.uniform(*y_share))


def marker(rng: np.random.Generator, ctx: PlacementContext) -> ObjectSpec:
    """A laterality marker in an upper corner (also what `--randomise` burns in)."""
    x, y = _at_side(rng, ctx, (0.05, 0.2), (0.04, 0.15))
    return burnt_in("L" if rng.random() < 0.5 else "R", (x, y), height_mm=float(rng.uniform(8, 15)),
                    value=float(rng.uniform(0.85, 1.0)), box=bool(rng.random() < 0.5))


def _text(rng, ctx, an) -> list[ObjectSpec]:
    text = TEXTS[int(rng.integers(len(TEXTS)))]
    y = ctx.height * (float(rng.uniform(0.03, 0.1)) if rng.random() < 0.6 else float(rng.uniform(0.9, 0.97)))
    x = ctx.width * float(rng.uniform(0.25, 0.75))
    return [burnt_in(text, (x, y), height_mm=float(rng.uniform(4, 9)), value=float(rng.uniform(0.85, 1.0)), box=False,
                     outline=True)]


def _arrow(rng, ctx, an) -> list[ObjectSpec]:
    x = an.thorax_x0_px if rng.random() < 0.5 else an.thorax_x1_px
    y = float(rng.uniform(an.apex_y_px, an.diaphragm_y_px))
    block = rng.random() < BLOCK_ARROW_SHARE
    quarter = UP if block else int(rng.integers(0, 4))
    return [burnt_in("}" if block else ">", (float(x), y), height_mm=float(rng.uniform(8, 15)),
                     value=float(rng.uniform(0.85, 1.0)), box=False, quarter=quarter, outline=True)]


def _strokes(glyph, unit_mm: float, stroke_mm: float, at_mm: tuple[float, float]) -> list:
    """A glyph's strokes as wire segments (p0, p1, diameter) in mm, its grid origin at at_mm."""
    def point(x: float, y: float) -> np.ndarray:
        return np.array([at_mm[0] + x * unit_mm, at_mm[1] + y * unit_mm, 0.0])

    return [(point(x0, y0), point(x1, y1), stroke_mm) for x0, y0, x1, y1 in glyph]


def lead_marker(rng: np.random.Generator, ctx: PlacementContext, initials_p: float = INITIALS_P,
                mirror_p: float = MIRROR_P) -> ObjectSpec:
    """A lead "L" or "R" lying flat on the detector at the film's outer side (`phys_wire`
    strokes): in an upper corner, or lower down the side with probability `SIDE_P`; with two
    initials below or beside it with probability `initials_p`, the whole read from behind
    (mirrored) with probability `mirror_p`."""
    letter = "L" if rng.random() < 0.5 else "R"
    height_mm = float(rng.uniform(*LETTER_HEIGHT_MM))
    stroke_mm = height_mm * float(rng.uniform(*STROKE_SHARE))
    unit = height_mm / 7.0
    segs = _strokes(LEAD_GLYPHS[letter], unit, stroke_mm, (0.0, 0.0))
    angle = float(rng.uniform(-20, 20))
    if rng.random() < QUARTER_TURN_P:
        angle += 90.0 if rng.random() < 0.5 else -90.0
    x, y = _at_side(rng, ctx, LEAD_X_SHARE, LEAD_Y_SHARE["side" if rng.random() < SIDE_P else "corner"])
    mirrored = rng.random() < mirror_p  # drawn before the initials: the same with or without them
    if rng.random() < initials_p:
        small = unit * float(rng.uniform(0.45, 0.6))
        gap = 2 * stroke_mm  # a stroke's width of clear space between the letter and its initials
        beside = rng.random() < BESIDE_P
        if beside:  # stacked one above the other, as tall together as the letter
            small = (7 * unit - stroke_mm) / 14
        for k in range(2):
            glyph = INITIAL_GLYPHS[_INITIALS[int(rng.integers(len(_INITIALS)))]]
            at = (4 * unit + gap, k * (7 * small + stroke_mm)) if beside else (k * 5.5 * small, 7 * unit + gap)
            segs += _strokes(glyph, small, 0.7 * stroke_mm, at)
    if mirrored:  # the whole marker read from behind: letter and initials flipped left to right
        flip = np.array([-1.0, 1.0, 1.0])
        segs = [(p0 * flip, p1 * flip, d) for p0, p1, d in segs]
    return ObjectSpec(cls=LEAD_MARKER_CLASS, kind=kinds.PHYS_WIRE, center_px=(x, y), material="lead",
                      params=pl.wire_params(segs, pl.rotation(0.0, angle), "lead", 0.0, angle))


def _wire_points_mm(wire: ObjectSpec) -> tuple[np.ndarray, np.ndarray]:
    """A phys_wire's used segment ends (2 K, 2) in mm about its centre, and their diameters (K,)."""
    k = sum(1 for name in wire.params if name.endswith("_diameter_mm"))
    ends = np.array([[wire.params[f"s{i}_{c}_mm"] for c in ("x0", "y0", "x1", "y1")] for i in range(k)])
    return ends.reshape(-1, 2), np.array([wire.params[f"s{i}_diameter_mm"] for i in range(k)])


def marker_holder(rng: np.random.Generator, ctx: PlacementContext, letter: ObjectSpec, holder_p: float = HOLDER_P,
                  ring_p: float = RING_P) -> list[ObjectSpec]:
    """The plastic block a lead marker sits in (with probability `holder_p`) and, on a block
    (`ring_p`), the steel split ring through its top that keeps it on a lanyard; both turned
    with the letter. Drawn after the letter's own draws, so the letter is the same with or
    without them."""
    if rng.random() >= holder_p:
        return []
    rot = pl.rotation(0.0, letter.params["angle_deg"])[:2, :2]  # the letter's in-plane turn
    ends, diameters = _wire_points_mm(letter)
    upright = ends @ rot  # row vectors: undo the turn, the letter's own frame
    margin = float(rng.uniform(2.0, 4.0)) + float(diameters.max()) / 2
    lo, hi = upright.min(0) - margin, upright.max(0) + margin
    corners = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]]) @ rot.T

    def beside_letter(offset_mm: np.ndarray) -> tuple[float, float]:
        dx, dy = _px(ctx, float(offset_mm[0]), float(offset_mm[1]))
        return letter.center_px[0] + dx, letter.center_px[1] + dy

    block = ObjectSpec(cls=LEAD_MARKER_CLASS, kind=kinds.PHYS_PRISM, center_px=beside_letter(corners.mean(0)),
                       material="plastic", params=pl.prism_params(corners, thickness_mm=float(rng.uniform(5.0, 8.0)),
                                                                  material="plastic", tilt_deg=0.0, angle_deg=0.0))
    if rng.random() >= ring_p:
        return [block]
    radius, wire_mm = float(rng.uniform(7.5, 12.5)), float(rng.uniform(1.0, 1.5))
    hub = rot @ np.array([(lo[0] + hi[0]) / 2, lo[1] - 0.6 * radius])  # above the block, through a hole in it
    a = np.linspace(0.0, 2 * math.pi, 25)[:-1] + float(rng.uniform(0.2, 0.6))  # a split ring: one gap
    pts = np.stack([radius * np.cos(a), radius * np.sin(a), np.zeros_like(a)], 1)
    segs = [(pts[k], pts[k + 1], wire_mm) for k in range(len(a) - 1)]
    ring = ObjectSpec(cls=LEAD_MARKER_CLASS, kind=kinds.PHYS_WIRE, center_px=beside_letter(hub), material="steel",
                      params=pl.wire_params(segs, np.eye(3), "steel", 0.0, 0.0))
    return [block, ring]


def _lead_marker(rng, ctx, an) -> list[ObjectSpec]:
    letter = lead_marker(rng, ctx)
    return [letter, *marker_holder(rng, ctx, letter)]


_DRAW = {"ecg": _ecg, "line_tube": _line, "sternal_wires": _sternal_wires, "clips": _clips,
         "marker": lambda rng, ctx, an: [marker(rng, ctx)], "text": _text, "arrow": _arrow,
         "lead_marker": _lead_marker}


def sample_distractors(rng: np.random.Generator, ctx: PlacementContext, mode: str) -> tuple[ObjectSpec, ...]:
    """The film's distractors (none for mode "none"), each item with its `PROBABILITY`."""
    if mode not in MODES:
        raise ValueError(f"distractors: got {mode!r}; allowed: {', '.join(MODES)}")
    if mode == "none":
        return ()
    an = pl.anatomy_of(ctx)
    out: list[ObjectSpec] = []
    for item, p in PROBABILITY.items():
        if rng.random() < p:
            out += _DRAW[item](rng, ctx, an)
    return tuple(out)


def labelled(distractors, mode: str) -> list[ObjectSpec]:
    """The distractors that carry a label: the support devices in mode "class", else none."""
    return [d for d in distractors if d.cls == DEVICE_CLASS] if mode == "class" else []


def attenuating(distractors) -> list[ObjectSpec]:
    """The distractors rendered by attenuation (devices), not painted (burnt-in)."""
    return [d for d in distractors if d.kind != BURNT_IN]


