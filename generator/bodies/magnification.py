"""Geometric magnification of foreign bodies inside the patient.

A film's pixel spacing is the detector's (DICOM Imager Pixel Spacing; NIH ChestX-ray14's
spacing too), but an object inside the patient lies between the focal spot and the
detector, so its shadow is M = SID / (SID - OID) times its true size (SID: source-to-image
distance; OID: object-to-image distance). The class samplers give true sizes in mm;
`magnify` stores one M per sample in each object's params (`magnification`) and spreads a
group's centres (a chain, a scatter of fragments) by M about their mean; the renderer draws
every kind at the image's spacing / M (`generator.shapes.base.object_spacing`), so outlines,
masks and boxes grow by M while the thickness along the beam, and so the attenuation, does
not change.

| quantity            | range                          | source                                        |
|---------------------|--------------------------------|-----------------------------------------------|
| SID, PA / erect     | 150-183 cm                     | chest technique: 72 in (183 cm), 150 cm on    |
|                     |                                | some rooms (ACR-SPR-STR practice parameter)   |
| SID, AP / portable  | 100-120 cm                     | bedside and supine films                      |
| view unknown        | AP with probability `AP_SHARE` | NIH ChestX-ray14: about 4 in 10 films are AP  |
| AP diameter of the  | 18-28 cm adult, 10-18 cm below | adult chest 20-25 cm, children smaller         |
| chest               | 12 years                       |                                               |
| OID                 | 0.05-0.95 of the diameter      | anywhere from front to back (swallowed bodies |
|                     |                                | lie posterior in the oesophagus, clothing on  |
|                     |                                | either surface; not modelled per class)       |
M is then 1.00-1.36 (typically about 1.07 on PA films and 1.12 on AP). Focal-spot blur
(a 1.0-1.2 mm spot projects f (M - 1) = 0.0-0.4 mm wide, a s.d. under 0.1 mm) is below the
detector PSF and not modelled. Distractors are drawn at the detector's scale: lead markers
lie on it, and devices are not measured against a true size. Not corrected: a DICOM whose
Pixel Spacing was calibrated to the patient (ERMF applied, so smaller than its Imager Pixel
Spacing) is read at that spacing (`generator.inputs.dicom`), and its objects come out about
ERMF (~1.1) times too large.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from generator.shapes.base import MAGNIFICATION
from generator.spec import ObjectSpec

SID_PA_CM = (150.0, 183.0)
SID_AP_CM = (100.0, 120.0)
AP_SHARE = 0.4  # of films whose view is unknown
DIAMETER_ADULT_CM = (18.0, 28.0)
DIAMETER_CHILD_CM = (10.0, 18.0)
CHILD_BELOW_YEARS = 12.0
DEPTH_SHARE = (0.05, 0.95)  # of the chest's AP diameter, object to detector


def sample_magnification(rng: np.random.Generator, view: str | None = None, age_years: float | None = None) -> float:
    """One M = SID / (SID - OID) for a film of `view` ("AP", "PA" in any case; anything else
    or None: unknown) and patient age (None: adult), from the ranges of the module docstring."""
    view = view.strip().upper() if isinstance(view, str) else None  # manifests write "ap", "PA "
    ap = view == "AP" if view in ("AP", "PA") else bool(rng.random() < AP_SHARE)
    sid = float(rng.uniform(*(SID_AP_CM if ap else SID_PA_CM)))
    child = age_years is not None and age_years < CHILD_BELOW_YEARS
    diameter = float(rng.uniform(*(DIAMETER_CHILD_CM if child else DIAMETER_ADULT_CM)))
    oid = diameter * float(rng.uniform(*DEPTH_SHARE))
    return sid / (sid - oid)


def magnify(objects: tuple[ObjectSpec, ...], m: float) -> tuple[ObjectSpec, ...]:
    """The sample's objects at magnification m: each carries it in its params, and their
    centres spread by m about their mean (a single object keeps its centre)."""
    if not objects:
        return objects
    if not 1.0 <= m < 2.0:
        raise ValueError(f"magnification: expected 1 <= M < 2, got {m}")
    mean = np.mean([o.center_px for o in objects], axis=0)
    out = []
    for o in objects:
        x, y = mean + m * (np.asarray(o.center_px) - mean)
        params = {**o.params, MAGNIFICATION: round(m, 5)}
        out.append(dataclasses.replace(o, center_px=(float(x), float(y)), params=params))
    return tuple(out)
