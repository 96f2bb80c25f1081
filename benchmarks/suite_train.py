"""`bench train`: resnet18 at 224 px, training images/s, ours vs the prototype trainer.

Ours: `trainer.train.run` (the `radiopaque train` API) streaming WebDataset shards of a
legacy-style build; on CUDA with nvJPEG decode and bf16 autocast, as the trainer runs.
Baseline: `baseline_trainer` (DataLoader over JPEG files, PIL + torchvision CPU transforms,
fp32). Both read the same CheXpert-small-like inputs turned into training sets by each
side's own generator, same batch size and loader workers. Each figure is the trainer's
own training-loop time (loader start-up included), median over repeats (ours and the
baseline taking turns) after a warm-up run. Reported beside it: projected time for one
178,000-image epoch next to the prototype's reported 38 h 27 min, data-wait fraction, peak
RSS (process + loader workers) and peak GPU memory.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmarks import baseline_generator, baseline_trainer, inputs
from benchmarks.common import Comparison, Measurement, PeakRss, SuiteResult

EPOCH_IMAGES = 178_000
PROTOTYPE_EPOCH_S = 38 * 3600 + 27 * 60  # the prototype's reported CPU epoch: 38 h 27 min
TARGET_GPU_EPOCH_S = 60.0  # one H100


def hms(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


def _gpu_peak_reset(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def _gpu_peak_mib(device: str) -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**20, 1) if device.startswith("cuda") else None


def _summarise(name: str, runs: list[dict], rss_mib: float, gpu_mib: float | None, extra: dict) -> Measurement:
    """runs: per timed repeat {images, seconds, data_s}."""
    m = Measurement(name, runs[0]["images"], [r["seconds"] for r in runs])
    data_s = sum(r["data_s"] for r in runs)
    total_s = sum(r["seconds"] for r in runs)
    m.extra = {**extra, "data_wait_fraction": round(data_s / total_s, 3) if total_s else 0.0,
               "peak_rss_mib": round(rss_mib, 1), "peak_gpu_mib": gpu_mib,
               "epoch_178k_s": round(EPOCH_IMAGES / m.images_per_s, 1) if m.images_per_s else None}
    m.extra["epoch_178k"] = hms(m.extra["epoch_178k_s"]) if m.extra["epoch_178k_s"] else "n/a"
    return m


def _ours_runner(build_dir: Path, out: Path, *, batch_size: int, loader_workers: int, device: str,
                 image_size: int) -> Callable[[int], dict]:
    """`once(steps)`: a `trainer.train.run` of `steps` steps; its own loop time and data wait."""
    from trainer.config import TrainConfig
    from trainer.train import run

    cfg = TrainConfig(data=str(build_dir), out=str(out), val_fraction=0.0, model="resnet18", image_size=image_size,
                      batch_size=batch_size, max_steps=1, epochs=1_000, loader_workers=loader_workers,
                      device=device, progress=False, log_every=10**6)

    def once(steps: int) -> dict:
        shutil.rmtree(out, ignore_errors=True)
        history = run(cfg.but(max_steps=steps)).history
        return {"images": sum(h["images"] for h in history), "seconds": sum(h["train_seconds"] for h in history),
                "data_s": sum(h["data_s"] for h in history)}

    return once


def _baseline_runner(folder: Path, *, batch_size: int, loader_workers: int, image_size: int) -> Callable[[int], dict]:
    def once(steps: int) -> dict:
        return baseline_trainer.train(folder, steps=steps, batch_size=batch_size, loader_workers=loader_workers,
                                      image_size=image_size)

    return once


def _interleaved(runners: dict[str, tuple[Callable[[int], dict], str, dict]], *, steps: int, repeats: int,
                 warmup: bool) -> list[Measurement]:
    """Each runner in turn per repeat (A B, A B, ...), so a shared machine's changing load falls
    on both alike. runners: name -> (once, device, extra)."""
    if warmup:
        for once, _, _ in runners.values():
            once(1)  # model build, oneDNN kernels, loader start-up paths
    runs: dict[str, list[dict]] = {name: [] for name in runners}
    peak_rss = dict.fromkeys(runners, 0.0)
    for _ in range(repeats):
        for name, (once, device, _) in runners.items():
            _gpu_peak_reset(device)
            with PeakRss() as rss:
                runs[name].append(once(steps))
            peak_rss[name] = max(peak_rss[name], rss.peak_mib)
    return [_summarise(name, runs[name], peak_rss[name], _gpu_peak_mib(device), {**extra, "steps": steps})
            for name, (_, device, extra) in runners.items()]


def _datasets(count: int, ours_count: int, work: Path, device: str) -> tuple[Path, Path]:
    """(our legacy build of `ours_count`, the prototype's JPEG folder of `count`) from the same
    CheXpert-small-like inputs (a GPU run needs a bigger build to fill its batches)."""
    from generator.config import BuildConfig, RunConfig, SourceConfig
    from generator.run.build import build

    folder = inputs.chexpert_small(min(count, 256))
    ours = work / "build"
    build(BuildConfig(count=ours_count, seed=0, size=390, style="legacy", shard_size=64,
                      sources=SourceConfig(input=str(folder))),
          RunConfig(out=str(ours), device=device, progress=False))
    proto = work / "prototype"
    baseline_generator.generate(inputs.jpegs(folder), proto, count)
    return ours, proto


def run(*, quick: bool, device: str, tiny: bool = False) -> SuiteResult:
    """tiny: batch 2, one step, one repeat (the smoke test's configuration)."""
    import torch

    logging.getLogger("generator").setLevel(logging.WARNING)
    logging.getLogger("trainer").setLevel(logging.WARNING)
    result = SuiteResult("train", quick or tiny)
    cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    if not cuda:
        result.notes.append("no GPU: CPU figures only (the GPU row needs CUDA)")
    # Quick mode is a CI-sized check (resnet18 trains at about 1-2 images/s on 2 cores): small
    # batches, few steps. Full mode uses the prototype's batch size.
    repeats = 1 if tiny else 2 if quick else 3
    batch_size, workers = (2, 1) if tiny else (8, 2) if quick else (32, 2)
    cpu_steps = 1 if tiny else 3 if quick else 12
    # tiny checks the plumbing only: 64 px images and no warm-up keep it to seconds.
    image_size = 64 if tiny else 224
    work = Path(tempfile.mkdtemp(prefix="bench-train-data-"))
    try:
        count = 8 if tiny else 64 if quick else 1024
        proto_count = (512 if tiny else 8192 if quick else 32768) if cuda else count
        ours_build, proto_folder = _datasets(count, proto_count, work,
                                             "cuda" if cuda else "cpu")
        common = dict(batch_size=batch_size, loader_workers=workers, image_size=image_size)
        extra = {"device": "cpu", **common}
        base, cpu = _interleaved({
            "prototype trainer, CPU fp32": (_baseline_runner(proto_folder, **common), "cpu", extra),
            "ours streaming trainer, CPU": (_ours_runner(ours_build, work / "run-cpu", device="cpu", **common),
                                            "cpu", extra),
        }, steps=cpu_steps, repeats=repeats, warmup=not tiny)
        result.comparisons.append(Comparison(cpu.name, cpu, base, "same CPU, same batch and workers, interleaved"))
        if cuda:
            gpu_common = dict(batch_size=256, loader_workers=8, image_size=image_size)
            (gpu,) = _interleaved({"ours streaming trainer, GPU bf16 nvJPEG": (
                _ours_runner(ours_build, work / "run-gpu", device="cuda", **gpu_common), "cuda",
                {"device": "cuda", **gpu_common})}, steps=2 if tiny else 20 if quick else 60, repeats=repeats,
                warmup=not tiny)
            result.comparisons.append(Comparison(gpu.name, gpu, base, "GPU vs the prototype on this CPU"))
            met = gpu.extra["epoch_178k_s"] and gpu.extra["epoch_178k_s"] < TARGET_GPU_EPOCH_S
            result.notes.append(f"target: 178k-image epoch < 1 min on one H100; projected {gpu.extra['epoch_178k']} "
                                f"({'met' if met else 'not met'})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.figures = [c.ours for c in result.comparisons] + [base]
    result.extra["epoch_178k_images"] = {
        "prototype_reported_s": PROTOTYPE_EPOCH_S, "prototype_reported": "38 h 27 min",
        **{c.ours.name: c.ours.extra["epoch_178k_s"] for c in result.comparisons},
        "baseline_measured_s": base.extra["epoch_178k_s"]}
    result.notes.append(f"one epoch of {EPOCH_IMAGES:,} images: prototype reported 38 h 27 min; "
                        f"baseline measured here {base.extra['epoch_178k']}; "
                        + "; ".join(f"{c.ours.name} {c.ours.extra['epoch_178k']}" for c in result.comparisons))
    return result
