"""`bench train --task detect`: Faster R-CNN (ResNet-18 FPN) training images/s, ours vs a
baseline in the sources' shape (`baseline_detector`: per-image PIL Dataset + DataLoader,
torchvision defaults).

Ours: `trainer.train.run` with `--task detect --model fasterrcnn_resnet18` streaming a
physical build's tar shards (boxes from each sample's objects, the joint Kornia augmentation,
our anchors and proposal counts; bf16 autocast on CUDA). Baseline: the same images written as
PNG files with an annotation table, read per image with PIL. Same image size, batch size and
loader workers; runs interleaved (ours, baseline, ours, ...), each figure the loop's own time,
median over repeats after a warm-up. A GPU row is added where CUDA is present.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmarks import baseline_detector, inputs
from benchmarks.common import Comparison, SuiteResult
from benchmarks.suite_train import _interleaved


def _ours_runner(build_dir: Path, out: Path, *, batch_size: int, loader_workers: int, device: str,
                 image_size: int) -> Callable[[int], dict]:
    from trainer.config import TrainConfig
    from trainer.train import run

    cfg = TrainConfig(data=str(build_dir), out=str(out), val_fraction=0.0, task="detect", model="fasterrcnn_resnet18",
                      image_size=image_size, batch_size=batch_size, max_steps=1, epochs=1_000,
                      loader_workers=loader_workers, device=device, progress=False, log_every=10**6)

    def once(steps: int) -> dict:
        shutil.rmtree(out, ignore_errors=True)
        history = run(cfg.but(max_steps=steps)).history
        return {"images": sum(h["images"] for h in history), "seconds": sum(h["train_seconds"] for h in history),
                "data_s": sum(h["data_s"] for h in history)}

    return once


def _build(count: int, size: int, work: Path, device: str) -> Path:
    from generator.config import BuildConfig, RunConfig, SourceConfig
    from generator.run.build import build

    out = work / "build"
    build(BuildConfig(count=count, seed=0, size=size, style="physical", shard_size=64,
                      sources=SourceConfig(input=str(inputs.chexpert_small(min(count, 64))))),
          RunConfig(out=str(out), device=device, progress=False))
    return out


def run(*, quick: bool, device: str, tiny: bool = False) -> SuiteResult:
    """tiny: 64 px, batch 2, one step, one repeat, no warm-up (the smoke test's configuration)."""
    import torch

    logging.getLogger("generator").setLevel(logging.WARNING)
    logging.getLogger("trainer").setLevel(logging.WARNING)
    result = SuiteResult("train", quick or tiny)
    cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    if not cuda:
        result.notes.append("no GPU: CPU figures only (the GPU row needs CUDA)")
    repeats = 1 if tiny else 2 if quick else 3
    batch_size, workers = (2, 1) if tiny else (4, 2)
    steps = 1 if tiny else 3 if quick else 10
    image_size = 64 if tiny else 256 if quick else 512
    work = Path(tempfile.mkdtemp(prefix="bench-detect-data-"))
    try:
        build_dir = _build(8 if tiny else 32 if quick else 128, image_size, work, "cuda" if cuda else "cpu")
        folder = work / "baseline"
        num_fg = baseline_detector.export_folder(build_dir, folder)
        common = dict(batch_size=batch_size, loader_workers=workers, image_size=image_size)

        def baseline(n: int) -> dict:
            return baseline_detector.train(folder, steps=n, num_classes=num_fg + 1, **common)

        extra = {"device": "cpu", "model": "fasterrcnn_resnet18_fpn", **common}
        base, cpu = _interleaved({
            "baseline detector (PIL Dataset), CPU fp32": (baseline, "cpu", extra),
            "ours detect, streaming, CPU": (_ours_runner(build_dir, work / "run-cpu", device="cpu", **common),
                                            "cpu", extra),
        }, steps=steps, repeats=repeats, warmup=not tiny)
        result.comparisons.append(Comparison(cpu.name, cpu, base, "same CPU, images, size, batch, workers"))
        if cuda:
            gpu_common = dict(batch_size=32, loader_workers=8, image_size=image_size)
            (gpu,) = _interleaved({"ours detect, streaming, GPU bf16": (
                _ours_runner(build_dir, work / "run-gpu", device="cuda", **gpu_common), "cuda",
                {"device": "cuda", **gpu_common})}, steps=2 if tiny else 10, repeats=repeats, warmup=not tiny)
            result.comparisons.append(Comparison(gpu.name, gpu, base, "GPU vs the baseline on this CPU"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.figures = [c.ours for c in result.comparisons] + [base]
    return result
