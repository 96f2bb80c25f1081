"""Peak memory of one shard: the resident set of a process that builds one 256-sample shard.

Each measurement runs in a fresh subprocess (`python -m benchmarks.suite_memory --child ...`),
which builds one shard (`--count 256 --shard-size 256`, physical style, 512 px, CPU, one
worker) and reports `resource.getrusage(RUSAGE_SELF).ru_maxrss` (the peak resident set, KiB on
Linux) and the same before the build (imports, torch). The baseline is the same build with
every source of the shard decoded at once (`DECODE_CHUNK` set to the shard size), which is what
the renderer did before sources were decoded in chunks.

    python -m benchmarks.suite_memory [--input DIR_OR_FILE ...] [--json PATH]

Default inputs: ../shared/data/cxr-nih (245 NIH PNGs, 1024 x 1024) when present, the built-in
RG1 (one DICOM film, 1955 x 1841, so the cache holds one source), and `--full-size N` (default
96) generated films of 2500 x 2048 px, 8-bit PNG, the size of a CR film: what the chunking is for.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NIH = REPO.parent / "shared" / "data" / "cxr-nih"


def _child(input_path: str | None, chunk: int | None) -> dict:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from generator.config import BuildConfig, RunConfig, SourceConfig
    from generator.run import shard
    from generator.run.build import build

    if chunk is not None:
        shard.DECODE_CHUNK = chunk
    imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        build(BuildConfig(count=256, seed=1, size=512, shard_size=256, sources=SourceConfig(input=input_path)),
              RunConfig(out=out, device="cpu", progress=False))
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"peak_rss_mib": peak / 1024, "after_imports_mib": imported / 1024, "start_mib": before / 1024,
            "seconds": seconds, "decode_chunk": chunk or shard.DECODE_CHUNK}


def _full_size_films(folder: Path, n: int) -> str:
    """n smooth 2500 x 2048 grey films with noise (PNG), each its own patient."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:2500, 0:2048]
    base = 60 + 120 * np.exp(-(((x - 1024) / 700.0) ** 2 + ((y - 1300) / 900.0) ** 2))
    for i in range(n):
        noise = rng.normal(0, 6, (313, 256)).repeat(8, 0).repeat(8, 1)[:2500]
        Image.fromarray(np.clip(base + noise + i % 17, 0, 255).astype(np.uint8)).save(folder / f"{i:08d}_000.png")
    return str(folder)


def _measure(input_path: str | None, chunk: int | None) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.suite_memory", "--child", json.dumps([input_path, chunk])]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(run.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input", action="append", help="input folder or file (default: cxr-nih and the built-in RG1)")
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--full-size", type=int, default=96, help="generated 2500 x 2048 films, 0 = none (default: 96)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_child(*json.loads(args.child))))
        return 0
    tmp = tempfile.TemporaryDirectory()
    inputs = args.input or ([str(NIH)] if NIH.is_dir() else []) + [None]
    if args.full_size and not args.input:
        inputs.append(_full_size_films(Path(tmp.name), args.full_size))
    rows = []
    for input_path in inputs:
        ours, baseline = _measure(input_path, None), _measure(input_path, 256)
        rows.append({"input": input_path or "built-in RG1", "ours": ours, "baseline_unchunked": baseline})
        print(f"{input_path or 'built-in RG1'}: peak RSS {ours['peak_rss_mib']:.0f} MiB (decode chunk "
              f"{ours['decode_chunk']}), baseline all-at-once {baseline['peak_rss_mib']:.0f} MiB; after imports "
              f"{ours['after_imports_mib']:.0f} MiB; {ours['seconds']:.0f} s / {baseline['seconds']:.0f} s")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"rows": rows, "machine": " ".join(os.uname())}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
