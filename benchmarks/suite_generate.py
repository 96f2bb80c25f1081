"""`bench generate`: images/s end to end (read + decode + render + encode + write).

Ours: `generator.run.build.build` (legacy and physical styles) on a folder of JPEGs, output at
the inputs' own long side, WebDataset shards. Baseline: the prototype's loop
(`baseline_generator`), same inputs, same number of images. The per-core rows run both
with one thread (torch and OpenCV), one process. GPU rows (when CUDA is present) use the
same CPU baseline. Full mode adds a Ray scaling curve (1, 2, ... workers).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from benchmarks import baseline_generator, inputs
from benchmarks.common import Comparison, Job, Measurement, SuiteResult, measure_interleaved, threads

TARGET_GPU_IMAGES_PER_S = 10_000  # one H100, CheXpert-small size: 178k images in under 20 s
TARGET_PHYSICAL_COST = 2.0  # physical style: at most 2x the legacy style's time per image


def _ours_job(name: str, folder: Path, *, count: int, size: int, style: str, device: str, executor: str = "local",
              workers: int = 1, batch_size: int | None = None, shard_size: int = 256) -> tuple[Job, Path]:
    """A timed `build` into a fresh temporary folder (cleared before every call, untimed)."""
    from generator.config import BuildConfig, RunConfig, SourceConfig
    from generator.run.build import build

    out = Path(tempfile.mkdtemp(prefix="bench-gen-"))
    config = BuildConfig(count=count, seed=0, size=size, style=style, formats=("wds",), shard_size=shard_size,
                         sources=SourceConfig(input=str(folder)))
    run = RunConfig(out=str(out), executor=executor, workers=workers, device=device, batch_size=batch_size,
                    progress=False)
    return Job(name, lambda: build(config, run).new_samples, lambda: shutil.rmtree(out, ignore_errors=True),
               {"style": style, "device": device, "executor": executor, "workers": workers, "size_px": size,
                "shard_size": shard_size}), out


def _baseline_job(folder: Path, count: int) -> tuple[Job, Path]:
    out = Path(tempfile.mkdtemp(prefix="bench-proto-"))
    files = inputs.jpegs(folder)
    return Job("prototype loop", lambda: baseline_generator.generate(files, out, count),
               lambda: shutil.rmtree(out, ignore_errors=True), {"style": "prototype"}), out


def _timed(jobs: list[tuple[Job, Path]], *, repeats: int, device: str | None = None) -> list[Measurement]:
    try:
        return measure_interleaved([j for j, _ in jobs], repeats=repeats, device=device)
    finally:
        for _, out in jobs:
            shutil.rmtree(out, ignore_errors=True)


def run(*, quick: bool, device: str, tiny: bool = False) -> SuiteResult:
    """tiny: a few images per row, one repeat (the smoke test's configuration)."""
    import torch

    logging.getLogger("generator").setLevel(logging.WARNING)
    result = SuiteResult("generate", quick or tiny)
    repeats = 1 if tiny else 5 if quick else 7
    cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    if device == "cuda" and not cuda:
        result.notes.append("--device cuda asked but no CUDA device is visible: GPU rows skipped")
    elif not cuda:
        result.notes.append("no GPU: CPU figures only (GPU rows need CUDA)")
    small_n = 8 if tiny else 128 if quick else 512
    # Physical and legacy render the same number of images, so their ratio is the cost of
    # physics alone (fixed per-build costs weigh the same on both).
    sets = [("CheXpert-small 320x390", inputs.chexpert_small(small_n), 390, small_n, small_n)]
    if not tiny:
        full_n = 32 if quick else 128
        sets.append(("full-size 1024x1024", inputs.full_size(full_n), 1024, full_n, full_n))
    for label, folder, size, count, physical_count in sets:
        with threads(1):
            jobs = [_baseline_job(folder, count),
                    _ours_job(f"ours legacy, 1 core [{label}]", folder, count=count, size=size, style="legacy",
                              device="cpu")]
            if physical_count:
                jobs.append(_ours_job(f"ours physical, 1 core [{label}]", folder, count=physical_count, size=size,
                                      style="physical", device="cpu"))
            base, legacy, *phys = _timed(jobs, repeats=repeats)
        result.comparisons.append(Comparison(legacy.name, legacy, base, "per core: both 1 thread, 1 process"))
        for m in phys:
            result.comparisons.append(Comparison(m.name, m, base, "physical does far more work than a flat shape"))
            cost = legacy.images_per_s / m.images_per_s if m.images_per_s else float("inf")
            m.extra["cost_vs_legacy"] = round(cost, 2)
            result.notes.append(f"target: physical costs <= {TARGET_PHYSICAL_COST}x legacy [{label}, 1 core]; "
                                f"measured {cost:.2f}x ({m.images_per_s:.0f} vs {legacy.images_per_s:.0f} images/s, "
                                f"{'met' if cost <= TARGET_PHYSICAL_COST else 'not met'})")
        if cuda:
            for style in ("legacy", "physical"):
                gpu_count = 256 if tiny else 4096 if quick else 16384
                (m,) = _timed([_ours_job(f"ours {style}, GPU [{label}]", folder, count=gpu_count, size=size,
                                         style=style, device="cuda", batch_size=256)], repeats=repeats, device="cuda")
                result.comparisons.append(Comparison(m.name, m, base, "GPU vs the prototype's 1-core loop"))
                if label.startswith("CheXpert") and style == "physical":
                    result.notes.append(f"target: >= {TARGET_GPU_IMAGES_PER_S:,} images/s on one H100 at "
                                        f"CheXpert-small size; measured {m.images_per_s:,.0f} "
                                        f"({'met' if m.images_per_s >= TARGET_GPU_IMAGES_PER_S else 'not met'})")
    if not quick and not tiny:
        folder = sets[0][1]
        # Shards are the unit of work: 16 shards of 32 keep every worker busy to the end.
        for workers in range(1, max(2, min(4, os.cpu_count() or 1)) + 1):
            (m,) = _timed([_ours_job(f"ours legacy, Ray {workers} worker(s) [CheXpert-small]", folder,
                                     count=small_n, size=390, style="legacy", device="cpu", executor="ray",
                                     workers=workers, shard_size=32)], repeats=3)
            result.figures.append(m)
        base1 = result.figures[0].images_per_s
        for m in result.figures:
            m.extra["speedup_vs_1_worker"] = round(m.images_per_s / base1, 2) if base1 else 0.0
    legacy_small = result.comparisons[0]
    result.notes.append(f"target (CPU): ours legacy >= prototype per core; measured {legacy_small.ratio:.2f}x "
                        f"({'met' if legacy_small.ratio >= 1.0 else 'not met'})")
    result.notes.append("ours writes more than the prototype per image: JPEG + instance-mask PNG + JSON "
                        "annotations into tar shards, and a manifest with sha256 per shard")
    return result
