"""Vendor-style film processing of the inserted contribution (the physical style's step 3b).

CR/DR systems do not display the detector's log exposure as it is: they enhance it with
multi-scale or unsharp-mask processing (Agfa MUSICA, Fujifilm FCR "frequency processing",
Carestream EVP, Philips UNIQUE) and then map it through a LUT. Real metal on a processed
film therefore carries sharpened edges and the processing's dark undershoot ("halo",
"rebound") around it. The films we insert into were processed already; the object we add
is not. So the object's increase in the film, formed in the log-exposure (attenuation)
domain, is passed through the same kind of processing before it goes in:

    e = y + sum_s g_s (y - G_{sigma_s} * y),     then  e <= H,

y the object's increase (`attenuate` step 3, the soft ceiling H (1 - exp(-k tau / H)), which
plays the LUT's shoulder), G_sigma a Gaussian of sigma in mm (converted with the image's
spacing, zero beyond the object's region), g_s the gains of a fine and a coarse scale, H
the headroom up to the film's brightest pixel (the LUT's ceiling: overshoot inside dense
metal stops there). The film itself is not processed again: outside an object's region
y = 0 and e = 0.

Undershoot (documented sign and width, tests/generator/render/test_processing.py): outside
a bright object e < 0, the film is darker there than without the object. Beside the edge of
an object wider than the kernels it is about -(g_fine + g_coarse) y / 2 deep at the edge
and falls with distance d as sum_s g_s y Phi(-d / sigma_s): to a tenth of its depth within
about 1.6 sigma of the wider scale's mass, and to nothing at each Gaussian's 3 sigma cut.

Parameters (stored in the spec's `imaging`, drawn by `sample_processing`):
| name                | range     | meaning / source                                            |
|---------------------|-----------|-------------------------------------------------------------|
| enh_fine_sigma_mm   | 0.8-2.0   | fine unsharp-mask scale: edge enhancement of CR/DR chest    |
|                     |           | processing (FCR frequency type "RN" 3-5 ~ 1-2 mm structures)|
| enh_fine_gain       | 0.2-1.0   | its gain (FCR "RE" 0.2-1.0 for chest; MUSICA edge contrast) |
| enh_coarse_sigma_mm | 2.5-4.0   | coarse scale (multi-scale / dynamic-range equalisation)     |
| enh_coarse_gain     | 0.0-0.4   | its gain                                                    |
The ranges bracket vendors' published chest defaults; `radiopaque realism` checks the
result against real metal's edge width and contrast on ../shared/data/cxr-nih.
"""

from __future__ import annotations

import numpy as np
import torch

from generator.render.blur import gauss_matrix, widest_cut_px

RANGES = {
    "enh_fine_sigma_mm": (0.8, 2.0),
    "enh_fine_gain": (0.2, 1.0),
    "enh_coarse_sigma_mm": (2.5, 4.0),
    "enh_coarse_gain": (0.0, 0.4),
}
SCALES = ("fine", "coarse")


def sample_processing(rng: np.random.Generator) -> dict[str, float]:
    """One film's processing parameters, uniform in `RANGES`."""
    return {name: float(rng.uniform(lo, hi)) for name, (lo, hi) in RANGES.items()}


def processing_of(imaging: list[dict], spacing_mm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(sigma_px (B, S, 2) per scale, row and col; gain (B, S)) from the specs' imaging, or
    None when no spec has processing (specs made before it: no processing, as then)."""
    if not any("enh_fine_gain" in im for im in imaging):
        return None
    dev = spacing_mm.device
    sigma_mm = torch.tensor([[float(im.get(f"enh_{s}_sigma_mm", 1.0)) for s in SCALES] for im in imaging],
                            dtype=torch.float32, device=dev)  # (B, S)
    gain = torch.tensor([[float(im.get(f"enh_{s}_gain", 0.0)) for s in SCALES] for im in imaging],
                        dtype=torch.float32, device=dev)
    return sigma_mm[:, :, None] / spacing_mm[:, None, :], gain


def enhance(increase: torch.Tensor, sigma_px: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """e = y + sum_s g_s (y - G_s * y) of each image's increase, zero beyond its edges.

    increase: (N, 1, h, w) float32 display units (>= 0); sigma_px: (N, S, 2) row, col
    pixels per scale; gain: (N, S). Returns (N, 1, h, w); negative where the undershoot
    falls outside an object.
    """
    n, _, h, w = increase.shape
    y = increase[:, 0]
    out = y.clone()
    for s in range(sigma_px.shape[1]):
        rows = gauss_matrix(h, sigma_px[:, s, 0], widest_cut_px(sigma_px[:, s, 0]))  # (N, h, h)
        cols = gauss_matrix(w, sigma_px[:, s, 1], widest_cut_px(sigma_px[:, s, 1]))  # (N, w, w)
        blurred = rows @ y @ cols  # both symmetric
        out += gain[:, s].view(n, 1, 1) * (y - blurred)
    return out[:, None]
