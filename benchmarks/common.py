"""Timing, environment record and reporting shared by the suites.

Every figure is a `Measurement`: a warm-up run (not kept), then `repeats` timed runs whose
median and spread are reported. The device is synchronised inside the timed region, so GPU
work queued by the measured function is counted. A result always carries the baseline
measured in the same run beside our figure, and the ratio ours / baseline.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = ("torch", "torchvision", "kornia", "nvidia-dali-cuda130", "ray", "webdataset", "pyarrow", "pillow",
             "opencv-python-headless", "numpy")


def sync(device: str | None) -> None:
    """Wait for queued CUDA work (a CPU-GPU sync point); a no-op on CPU."""
    if device and device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


@dataclass
class Measurement:
    """`items` processed per timed run; `seconds`: one wall time per repeat."""

    name: str
    items: int
    seconds: list[float]
    extra: dict = field(default_factory=dict)

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    @property
    def images_per_s(self) -> float:
        return self.items / self.median_s if self.median_s > 0 else 0.0

    @property
    def spread(self) -> float:
        """(max - min) / median of the run times; 0 for a single repeat."""
        return (max(self.seconds) - min(self.seconds)) / self.median_s if self.median_s > 0 else 0.0

    def to_dict(self) -> dict:
        return {"name": self.name, "images": self.items, "seconds": [round(s, 4) for s in self.seconds],
                "median_s": round(self.median_s, 4), "images_per_s": round(self.images_per_s, 3),
                "spread": round(self.spread, 4), **self.extra}


def measure(name: str, run: Callable[[], int], *, repeats: int, warmup: int = 1, device: str | None = None,
            setup: Callable[[], None] | None = None, extra: Callable[[], dict] | None = None) -> Measurement:
    """Call `run` `warmup` times untimed, then `repeats` times timed; `run` returns the number
    of images it processed (the same every call). `setup` runs untimed before every call
    (e.g. clearing the output folder)."""
    for _ in range(warmup):
        if setup:
            setup()
        run()
        sync(device)
    seconds, items = [], 0
    for _ in range(repeats):
        if setup:
            setup()
        start = time.perf_counter()
        items = run()
        sync(device)  # inside the timed region: queued GPU work counts
        seconds.append(time.perf_counter() - start)
    return Measurement(name, items, seconds, extra() if extra else {})


class PeakRss:
    """Peak resident memory (MiB) of this process plus its children (loader workers), sampled
    from /proc every `interval_s` while the context is open. Linux only; 0 elsewhere."""

    def __init__(self, interval_s: float = 0.05):
        self.interval_s = interval_s
        self.peak_mib = 0.0
        self._stop = threading.Event()

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> bool:
        self._stop.set()
        self._thread.join()
        return False

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak_mib = max(self.peak_mib, tree_rss_mib(os.getpid()))
            self._stop.wait(self.interval_s)


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out.extend(int(c) for c in (task / "children").read_text().split())
    except OSError:
        pass
    return out


def tree_rss_mib(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, MiB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += _rss_kib(p)
        todo.extend(_children(p))
    return total / 1024.0


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def gpu_info() -> dict | None:
    """Name, memory and driver of CUDA device 0, or None without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return {"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1), "count": torch.cuda.device_count(),
            "cuda": torch.version.cuda}


def environment() -> dict:
    """Machine, GPU, library versions, git commit and load: what a figure is only valid for."""
    versions = {"python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            versions[lib] = None
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "machine": {"platform": platform.platform(), "cpu": _cpu_model(), "cpu_count": os.cpu_count(),
                    "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()]},
        "gpu": gpu_info(),
        "versions": versions,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(dirty) if dirty is not None else None,
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


@dataclass
class Comparison:
    """One table row: our measurement beside the baseline's, same inputs, same run."""

    name: str
    ours: Measurement
    baseline: Measurement
    note: str = ""

    @property
    def ratio(self) -> float:
        b = self.baseline.images_per_s
        return self.ours.images_per_s / b if b > 0 else 0.0


@dataclass
class SuiteResult:
    suite: str
    quick: bool
    comparisons: list[Comparison] = field(default_factory=list)
    figures: list[Measurement] = field(default_factory=list)  # measured without a baseline of their own
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def to_dict(self, env: dict) -> dict:
        return {
            "suite": self.suite,
            "quick": self.quick,
            "unit": "images/s (median over repeats after warm-up)",
            "ours": {c.name: c.ours.to_dict() for c in self.comparisons},
            "baseline": {c.name: c.baseline.to_dict() for c in self.comparisons},
            "ratio": {c.name: round(c.ratio, 3) for c in self.comparisons},
            "figures": {m.name: m.to_dict() for m in self.figures},
            "notes": self.notes,
            **self.extra,
            "environment": env,
        }


def _fmt(x: float) -> str:
    return f"{x:,.1f}" if x < 1000 else f"{x:,.0f}"


def markdown(result: SuiteResult) -> str:
    """The comparison table (ours | baseline | ratio), then the figures without a baseline."""
    lines = []
    if result.comparisons:
        lines += ["| measurement | ours images/s (spread) | baseline images/s (spread) | ratio | note |",
                  "|---|---:|---:|---:|---|"]
        for c in result.comparisons:
            lines.append(f"| {c.name} | {_fmt(c.ours.images_per_s)} (±{c.ours.spread:.0%}) | "
                         f"{_fmt(c.baseline.images_per_s)} (±{c.baseline.spread:.0%}) | {c.ratio:.2f}x | {c.note} |")
    if result.figures:
        lines += ["", "| measurement | images/s (spread) | repeats | details |", "|---|---:|---:|---|"]
        for m in result.figures:
            details = ", ".join(f"{k}={v}" for k, v in m.extra.items() if not isinstance(v, (dict, list)))
            lines.append(f"| {m.name} | {_fmt(m.images_per_s)} (±{m.spread:.0%}) | {len(m.seconds)} | {details} |")
    if result.notes:
        lines += [""] + [f"- {n}" for n in result.notes]
    return "\n".join(lines)


def write_json(path: str | Path, data: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


class threads:
    """Limit torch intra-op and OpenCV threads inside the block (per-core comparisons)."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self) -> threads:
        import cv2
        import torch

        self._saved = (torch.get_num_threads(), cv2.getNumThreads())
        torch.set_num_threads(self.n)
        cv2.setNumThreads(self.n)
        return self

    def __exit__(self, *exc) -> bool:
        import cv2
        import torch

        torch.set_num_threads(self._saved[0])
        cv2.setNumThreads(self._saved[1])
        return False


@dataclass
class Job:
    """One thing to time in `measure_interleaved`: `run` returns the images it processed."""

    name: str
    run: Callable[[], int]
    setup: Callable[[], None] | None = None
    extra: dict = field(default_factory=dict)


def measure_interleaved(jobs: list[Job], *, repeats: int, warmup: int = 1, device: str | None = None
                        ) -> list[Measurement]:
    """Like `measure`, for several jobs taking turns (A B C, A B C, ...), so a shared machine's
    changing load falls on ours and the baseline alike. Returns one Measurement per job."""
    seconds: list[list[float]] = [[] for _ in jobs]
    items = [0] * len(jobs)
    for r in range(warmup + repeats):
        for k, job in enumerate(jobs):
            if job.setup:
                job.setup()
            start = time.perf_counter()
            items[k] = job.run()
            sync(device)  # inside the timed region: queued GPU work counts
            if r >= warmup:
                seconds[k].append(time.perf_counter() - start)
    return [Measurement(job.name, items[k], seconds[k], dict(job.extra)) for k, job in enumerate(jobs)]
