"""What tells real from synthetic metal? One AUROC per simple, named measure of the crops
`radiopaque realism`'s discriminator compares, so a high discriminator AUROC can be read:
is it where the objects lie (the background), how bright they are, how big, how soft their
edges, or the texture inside them?

Each measure is computed on the raw crops (display units in [0, 1], before the
discriminator's own normalisation); crops are (N, P, P) float32 centred on the object.
Geometry of a crop (fractions of its side P, from its centre): the background ring is
0.375-0.5 (the discriminator's own, `discriminator.RING_FRACTION`), the outer band >= 0.3.

| cue                | per crop                                                                  |
|--------------------|---------------------------------------------------------------------------|
| background_level   | median of the ring: how bright the anatomy under the object is            |
| background_texture | s.d. of the 4-neighbour Laplacian over the outer band (ribs, vessels,     |
|                    | edges and noise around the object)                                        |
| contrast           | peak (the brightest pixel of the central 4 x 4) minus the ring's median   |
| relative_contrast  | contrast / the ring's robust spread (1.4826 MAD, >= one 8-bit level): what|
|                    | the normalised discriminator sees                                         |
| area_mm2           | area above half the contrast                                              |
| edge_band          | pixels between 25 % and 75 % of the contrast / sqrt(pixels above 50 %):   |
|                    | the edge zone against the object's size (soft edges, or many of them)    |
| core_texture       | s.d. of the Laplacian where the object is above 60 % of its contrast, two |
|                    | pixels in from its edge, / background_texture (none: no such core)        |
AUROC as the discriminator's (1 = the measure is higher on every synthetic crop than on
every real one, 0 = lower on all, 0.5 = no cue); crops without a value (core_texture) are
left out of that measure's AUROC.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from generator.tools.discriminator import MIN_SPREAD, auroc, background, radius_map

CUES = ("background_level", "background_texture", "contrast", "relative_contrast", "area_mm2", "edge_band",
        "core_texture")
OUTER_BAND = 0.3  # fraction of the side from the centre: the background texture's band
CORE_LEVEL = 0.6  # of the contrast: the object's core
CORE_INSET_PX = 2


def _laplacian(crops: np.ndarray) -> np.ndarray:
    """(N, P, P) -> (N, P - 2, P - 2): 4 x centre minus the four neighbours."""
    c = crops
    return 4 * c[:, 1:-1, 1:-1] - c[:, :-2, 1:-1] - c[:, 2:, 1:-1] - c[:, 1:-1, :-2] - c[:, 1:-1, 2:]


def cue_values(crops: np.ndarray, mm_per_px: float) -> dict[str, np.ndarray]:
    """Each cue of the module docstring for each crop: name -> (N,) float64 (NaN: no value).
    crops: (N, P, P) float32 display units; mm_per_px: the crops' pixel size."""
    if crops.ndim != 3 or crops.shape[1] != crops.shape[2] or crops.shape[1] < 8:
        raise ValueError(f"crops: expected (N, P, P) with P >= 8, got {tuple(crops.shape)}")
    c = crops.astype(np.float64)
    n, p, _ = c.shape
    d = radius_map(p)
    level, spread = background(c)
    m = p // 2
    contrast = c[:, m - 2:m + 2, m - 2:m + 2].max(axis=(1, 2)) - level
    lap = _laplacian(c)
    texture = lap[:, d[1:-1, 1:-1] >= OUTER_BAND].std(axis=1)
    rel = (c - level[:, None, None]) / np.maximum(contrast, MIN_SPREAD)[:, None, None]  # 0 ring, 1 peak
    above_half = (rel > 0.5).sum(axis=(1, 2))
    band = ((rel > 0.25) & (rel < 0.75)).sum(axis=(1, 2))
    outside = torch.from_numpy((rel <= CORE_LEVEL).astype(np.float32))[:, None]  # (N, 1, P, P)
    grown = F.max_pool2d(outside, 2 * CORE_INSET_PX + 1, 1, CORE_INSET_PX)[:, 0].numpy()
    core = (grown == 0)[:, 1:-1, 1:-1]  # at least CORE_INSET_PX pixels inside the core
    core_texture = np.array([lap[i][core[i]].std() / max(texture[i], 1e-12) if core[i].sum() >= 4 else np.nan
                             for i in range(n)])
    return {"background_level": level, "background_texture": texture, "contrast": contrast,
            "relative_contrast": contrast / spread, "area_mm2": above_half * mm_per_px**2,
            "edge_band": band / np.sqrt(np.maximum(above_half, 1)), "core_texture": core_texture}


def cue_aurocs(real: np.ndarray, synthetic: np.ndarray, mm_per_px: float) -> dict[str, dict]:
    """Per cue: its AUROC (1 = synthetic higher) and both sides' medians and counts.
    real, synthetic: (N, P, P) float32 crops of the same size."""
    a, b = cue_values(real, mm_per_px), cue_values(synthetic, mm_per_px)
    out = {}
    for name in CUES:
        r, s = a[name][~np.isnan(a[name])], b[name][~np.isnan(b[name])]
        if not len(r) or not len(s):
            out[name] = {"auc": None, "real_median": None, "synthetic_median": None, "n": [len(r), len(s)]}
            continue
        labels = np.r_[np.zeros(len(r), bool), np.ones(len(s), bool)]
        out[name] = {"auc": auroc(labels, np.r_[r, s]), "real_median": float(np.median(r)),
                     "synthetic_median": float(np.median(s)), "n": [len(r), len(s)]}
    return out


def strongest(cues: dict[str, dict], k: int = 3) -> list[tuple[str, float]]:
    """The k cues farthest from 0.5, as (name, AUROC), strongest first."""
    known = [(name, v["auc"]) for name, v in cues.items() if v["auc"] is not None]
    return sorted(known, key=lambda t: -abs(t[1] - 0.5))[:k]
