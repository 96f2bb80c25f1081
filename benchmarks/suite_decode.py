"""`bench decode`: JPEG decode images/s per image size, from bytes already in memory.

Baseline: PIL (`Image.open(...).convert("L")` to a numpy array, one image at a time, as
the prototype read its inputs). Ours: DALI CPU (`generator.inputs.raster.decode_batch`, what the
generator runs without a GPU); with CUDA also DALI GPU ("mixed") and torchvision nvJPEG
(`torchvision.io.decode_jpeg(device="cuda")`, what the trainer's GpuDecoder uses).
"""

from __future__ import annotations

import io

import numpy as np

from benchmarks import inputs
from benchmarks.common import Comparison, SuiteResult, measure, threads


def _pil(blobs: list[bytes]) -> int:
    from PIL import Image

    for data in blobs:
        with Image.open(io.BytesIO(data)) as img:
            np.asarray(img.convert("L"))
    return len(blobs)


def _dali(blobs: list[bytes], device: str) -> int:
    from generator.inputs.raster import EncodedImage, decode_batch

    images = [EncodedImage(data=b, fmt="JPEG", colour=False, bits=8) for b in blobs]
    out = decode_batch(images, device=device)
    bad = [o for o in out if not isinstance(o, np.ndarray)]
    if bad:
        raise RuntimeError(f"DALI failed on {len(bad)} benchmark image(s): {bad[0]}")
    return len(out)


def _nvjpeg(tensors) -> int:
    from torchvision.io import ImageReadMode, decode_jpeg

    decode_jpeg(tensors, mode=ImageReadMode.GRAY, device="cuda")
    return len(tensors)


def run(*, quick: bool, device: str, tiny: bool = False) -> SuiteResult:
    """tiny: a few images per size, one repeat (the smoke test's configuration)."""
    import torch

    from generator.inputs.raster import dali_available

    result = SuiteResult("decode", quick or tiny)
    repeats = 1 if tiny else 3 if quick else 7
    cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    if not cuda:
        result.notes.append("no GPU: DALI GPU and nvJPEG rows skipped (they need CUDA)")
    if not dali_available():
        result.notes.append("DALI is not installed: its rows fall back to PIL inside decode_batch")
    small, full, rg1 = (8, 4, 0) if tiny else (64, 16, 8) if quick else (256, 64, 32)  # images per size
    sets = [("320x390", inputs.chexpert_small(small)), ("1024x1024", inputs.full_size(full))]
    if rg1:
        sets.append(("~1955x1841 (RG1)", inputs.rg1_2k(rg1)))
    for label, folder in sets:
        blobs = [p.read_bytes() for p in inputs.jpegs(folder)]
        with threads(1):
            base = measure(f"PIL [{label}]", lambda: _pil(blobs), repeats=repeats)
        dali_cpu = measure(f"DALI CPU [{label}]", lambda: _dali(blobs, "cpu"), repeats=repeats)
        result.comparisons.append(Comparison(dali_cpu.name, dali_cpu, base, "DALI CPU threads vs PIL 1 thread"))
        if cuda:
            gpu = measure(f"DALI GPU mixed [{label}]", lambda: _dali(blobs, "cuda"), repeats=repeats, device="cuda")
            result.comparisons.append(Comparison(gpu.name, gpu, base, "decoded to host numpy"))
            tensors = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs]
            nv = measure(f"torchvision nvJPEG [{label}]", lambda: _nvjpeg(tensors), repeats=repeats, device="cuda")
            result.comparisons.append(Comparison(nv.name, nv, base, "stays on the GPU"))
    return result
