"""`bench kernels`: hand-written image kernels beside the Kornia operation that does the same job.

Each row times ours and Kornia's on the same inputs, one torch thread (as a CPU build runs),
taking turns after a warm-up, and records the largest difference between their outputs
(0: identical). Ours = the hand-written kernel (the code's own, or the one it ran before it
moved to Kornia); baseline = Kornia; ratio = ours / Kornia in calls/s, above 1 where ours is
faster. Inputs follow a CPU build: a render batch of 64 CheXpert-small films (390 x 320,
~1.1 mm pixels) or 8 full-size ones (1024 x 1024, ~0.42 mm), the anatomy's ~96 px working
grid, the realism tool's 512 px films. `USES` names the one each code path runs.
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import Comparison, Job, SuiteResult, measure_interleaved, threads

# Which implementation the code runs for each operation (the table in RESULTS.md says why).
USES = {
    "psf": "ours",  # render/optical_depth.py psf_windows (both algorithms)
    "glow": "Kornia",  # render/optical_depth.py OpticalDepth (whole images; WindowedOpticalDepth: ours)
    "upsample": "Kornia",  # OpticalDepth (WindowedOpticalDepth: ours)
    "smooth": "ours",  # anatomy/estimate.py _smooth
    "morphology": "ours",  # anatomy/bitgrid.py
    "tophat": "Kornia",  # tools/realism.py white_tophat
}

# (label, images, height, width, spacing_mm)
_FILMS = (("64 x 390x320", 64, 390, 320, 1.1), ("8 x 1024x1024", 8, 1024, 1024, 0.42))


def _max_diff(a, b) -> float:
    import torch

    a, b = (torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).double() for x in (a, b))
    return float((a - b).abs().max())


def _psf_case(rng, n: int, size: int, spacing_mm: float):
    """Objects' deficit windows (N, S + 4r, S + 4r) and their PSF taps, as psf_windows runs them."""
    import kornia
    import torch
    import torch.nn.functional as F

    from generator.render.blur import psf_taps, shifted_blur

    sigma_px = torch.from_numpy(rng.uniform(0.10, 0.35, (n, 2)).astype(np.float32)) / spacing_mm
    taps = psf_taps(sigma_px)  # (N, 2, 2 r + 1)
    r = (taps.shape[-1] - 1) // 2
    x = F.pad(torch.from_numpy(rng.random((n, size, size), dtype=np.float32)), (2 * r,) * 4)

    def ours():
        return shifted_blur(x, taps, r)

    def theirs():
        return kornia.filters.filter2d_separable(x[:, None], taps[:, 1], taps[:, 0], padding="valid")[:, 0]

    return ours, theirs


def _glow_case(rng, b: int, h: int, w: int, spacing_mm: float):
    """The scatter Gaussian on whole quarter-resolution canvases (B, h/4, w/4)."""
    import torch

    from generator.render import optical_depth as od
    from generator.render.blur import gauss_matrix, widest_cut_px

    cells = torch.from_numpy(rng.random((b, -(-h // 4), -(-w // 4)), dtype=np.float32))
    wide_px = torch.from_numpy(rng.uniform(5.0, 20.0, (b, 2)).astype(np.float32)) / spacing_mm / 4
    r = widest_cut_px(wide_px)

    def ours():  # the matrices are symmetric: rows @ x @ cols
        return gauss_matrix(cells.shape[1], wide_px[:, 0], r) @ cells @ gauss_matrix(cells.shape[2], wide_px[:, 1], r)

    def theirs():
        return od.glow_blur(cells[:, None], wide_px)[:, 0]

    return ours, theirs


def _upsample_case(rng, b: int, h: int, w: int):
    """The glow back from 4 x 4 cells to pixels (B, H, W), bilinear, align_corners=False."""
    import torch

    from generator.render import optical_depth as od
    from generator.render.blur import upsample_matrix

    glow = torch.from_numpy(rng.random((b, -(-h // 4), -(-w // 4)), dtype=np.float32))
    rows, cols = upsample_matrix(h, 4, glow.device)[:h], upsample_matrix(w, 4, glow.device)[:w]  # (H, h4), (W, w4)

    def ours():
        return rows @ glow @ cols.T

    def theirs():
        return od.glow_upsample(glow[:, None], h, w)[:, 0]

    return ours, theirs


def _smooth_case(rng):
    """The anatomy's Gaussian (sigma 1.5, radius 5, replicated border) on its working grid."""
    import kornia
    import torch

    from generator.anatomy.estimate import _smooth

    x = rng.random((98, 80), dtype=np.float32)

    def ours():
        return _smooth(x)

    def theirs():
        t = torch.from_numpy(x)[None, None]
        return kornia.filters.gaussian_blur2d(t, (11, 11), (1.5, 1.5), border_type="replicate")[0, 0].numpy()

    return ours, theirs


def _morphology_case(rng):
    """The anatomy's body mask clean-up: opening by a 5 x 5 square, then erosion by 7 x 7
    (cells beyond the grid empty), on the ~96 px grid; ours on bit-packed ints."""
    import kornia
    import torch

    from generator.anatomy.bitgrid import bit_grid

    h, w = 98, 80
    yy, xx = np.mgrid[:h, :w]
    mask = (((yy - 49) / 40.0) ** 2 + ((xx - 40) / 32.0) ** 2 < 1.0) ^ (rng.random((h, w)) < 0.05)
    grid = bit_grid(h, w)
    packed = grid.pack(mask)
    square5, square7 = torch.ones(5, 5), torch.ones(7, 7)

    def ours():
        return grid.unpack(grid.erode(grid.opening(packed, 5), 7, border_value=False))

    def theirs():
        t = torch.from_numpy(mask.astype(np.float32))[None, None]
        opened = kornia.morphology.opening(t, square5)
        return kornia.morphology.erosion(opened, square7, border_type="constant", border_value=0.0)[0, 0].numpy() > 0

    return ours, theirs


def _tophat_case(rng):
    """The realism tool's white top-hat: a 512 x 420 film, an 8 mm square at 0.29 mm. Ours:
    the max-pool opening it ran before; Kornia's: `realism.white_tophat`."""
    import torch
    import torch.nn.functional as F

    from generator.tools.realism import white_tophat

    px = rng.random((512, 420), dtype=np.float32)
    k = round(8.0 / 0.29) | 1

    def ours():
        x = torch.from_numpy(px)[None, None]
        opened = F.max_pool2d(-F.max_pool2d(-x, k, 1, k // 2), k, 1, k // 2)
        return (x - opened)[0, 0].numpy()

    def theirs():
        return white_tophat(px, k)

    return ours, theirs


def run(*, quick: bool, device: str, tiny: bool = False) -> SuiteResult:
    """CPU only (`device` is ignored: the hand-written kernels are the CPU build's).
    tiny: small inputs, one repeat (the smoke test's configuration)."""
    result = SuiteResult("kernels", quick or tiny)
    repeats = 1 if tiny else 7 if quick else 15
    rng = np.random.default_rng(0)
    films = (("4 x 96x80", 4, 96, 80, 1.1),) if tiny else _FILMS
    cases = []
    for label, b, h, w, spacing in films:
        cases += [(f"PSF blur, {b * 2} object windows 40x40 [{label}]", "psf", b * 2,
                   _psf_case(rng, b * 2, 40, spacing)),
                  (f"glow Gaussian, whole images [{label}]", "glow", b, _glow_case(rng, b, h, w, spacing)),
                  (f"glow upsampling x4, whole images [{label}]", "upsample", b, _upsample_case(rng, b, h, w))]
    cases += [("anatomy smoothing, 98x80 grid", "smooth", 1, _smooth_case(rng)),
              ("anatomy morphology (open 5, erode 7), 98x80 grid", "morphology", 1, _morphology_case(rng))]
    if not tiny:
        cases.append(("realism white top-hat, 512x420, 27 px square", "tophat", 1, _tophat_case(rng)))
    with threads(1):
        for name, key, items, (ours, theirs) in cases:
            diff = _max_diff(ours(), theirs())
            mine, base = measure_interleaved([Job(f"ours: {name}", lambda f=ours: (f(), items)[1]),
                                              Job(f"Kornia: {name}", lambda f=theirs: (f(), items)[1])],
                                             repeats=repeats)
            for m in (mine, base):
                m.extra.update(ms=round(1e3 * m.median_s, 4), max_abs_diff=diff)
            result.comparisons.append(Comparison(name, mine, base, f"max |diff| {diff:.1e}; code uses {USES[key]}"))
            result.notes.append(f"{name}: ours {1e3 * mine.median_s:.3f} ms (±{mine.spread:.0%}), Kornia "
                                f"{1e3 * base.median_s:.3f} ms (±{base.spread:.0%}), "
                                f"ratio {base.median_s / mine.median_s:.2f}x")
    return result
