"""What each of `radiopaque realism`'s discriminator variants puts against the real crops:
which synthetic candidates it may draw (`VARIANTS`), what its figures cannot say (`CAVEATS`),
and the synthetic counterpart of the real detections (`devices`: the film's own metal
distractors, rendered alone on it by `realism._film`)."""

from __future__ import annotations

import numpy as np

from generator.bodies.context import PlacementContext
from generator.bodies.distractors import LEAD_MARKER_CLASS, attenuating, sample_distractors
from generator.names import DEVICE_CLASS

SHAPE_MATCHED_CLASSES = ("jewellery_clothing", "pin_needle")
DEVICE_MATCHED_CLASSES = (DEVICE_CLASS, LEAD_MARKER_CLASS)  # what the real detections mostly are


def devices(rng: np.random.Generator, ctx: PlacementContext, tries: int = 50) -> list:
    """A film's metal distractors (`--distractors negative`: electrodes, leads, lines, wires,
    clips, lead markers and their rings; not the faint plastic marker blocks), drawn until
    there is one: the synthetic counterpart of what the real detector finds."""
    for _ in range(tries):
        items = [d for d in attenuating(sample_distractors(rng, ctx, "negative")) if d.material != "plastic"]
        if items:
            return items
    raise RuntimeError(f"no metal distractor in {tries} draws; distractors.PROBABILITY is all but off")


# Which synthetic crops each discriminator variant may draw, per film, as many as the film
# has real crops: (description, keep(class, passes_detector, source)); source: "class" (one
# object of each class per film), "extra" (the shape-matched and device renders) or "twin"
# (a foreign body on each real detection's mirror image).
VARIANTS = {
    "all_classes": ("one object of each class per film, chosen at random", lambda c, d, s: s == "class"),
    "shape_matched": (f"{' and '.join(SHAPE_MATCHED_CLASSES)} only (wires, chains, studs, pins: the synthetic "
                      "shapes closest to ECG leads and clips)",
                      lambda c, d, s: c in SHAPE_MATCHED_CLASSES and s != "twin"),
    "detector_matched": ("only objects that pass the real detector's thresholds at their centre (top-hat and "
                         "95th percentile), as the real crops had to",
                         lambda c, d, s: d and c not in DEVICE_MATCHED_CLASSES and s != "twin"),
    "device_matched": ("the film's own synthetic distractors (ECG electrodes and leads, lines, sternal wires, "
                       "clips, lead markers: what the real detections are), one alone on the film per real crop; "
                       "not foreign bodies, so this measures the imaging, not the foreign bodies' shapes",
                       lambda c, d, s: c in DEVICE_MATCHED_CLASSES),
    "position_matched": ("a foreign body of a random class placed on each real detection's mirror image across "
                         "the film (same row, the other side: the same anatomy, mirrored; none where real metal "
                         "lies there), so both sides sit on like backgrounds and what separates them is the "
                         "objects, not where they lie",
                         lambda c, d, s: s == "twin"),
}
CAVEATS = (
    "shape differs by construction: synthetic foreign bodies are not ECG leads or clips, so a high AUROC may be "
    "shape alone; see the shape_matched variant (restricted to wire-like classes)",
    "real crops are what the top-hat detector found (bright, small, compact); synthetic objects are not selected "
    "that way; see the detector_matched variant",
    "few real crops (one to three per film with real metal): read the interval, not the third decimal",
    "a lower bound on separability: more epochs or a larger model can only tell the sides apart better",
    "placement: foreign bodies lie where their classes are found (oesophagus, airways, stomach, clothing), real "
    "detections where devices and markers are (chest wall, shoulders); the cues' background_level and "
    "background_texture show how much of the AUROC that is; see the position_matched variant",
)
