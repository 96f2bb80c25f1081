"""One build, end to end: validate, list sources, resume, execute shards, keep the manifest.

`build(config, run)` is what `radiopaque generate` calls. The unit of work is a shard; a
`ShardWorker` renders a shard and writes its files atomically; the driver records each
finished shard in `dataset.json` at once, so a killed build resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from generator.output import manifest as mf
from generator.config import BuildConfig, RunConfig
from generator.device import resolve_device
from generator.errors import ConfigError
from generator.run.shard import ShardRenderer, ShardResult
from generator.output.formats import FORMATS, shard_name
from generator.inputs.sources import SourceList, list_sources
from generator.output.storage import Store, sha256_bytes
from generator.render.styles import get_style

log = logging.getLogger(__name__)


class ShardWorker:
    """Long-lived per process / Ray actor: a renderer (device, decoder, source cache) and the store."""

    def __init__(self, config: BuildConfig, sources: SourceList, out: str, device: str, batch_size: int | None):
        self.config = config
        self.store = Store(out)
        dev = resolve_device(device)
        # Small CPU batches stay in cache; the GPU wants wide batches.
        batch_size = batch_size or (64 if dev.type == "cuda" else get_style(config.style).cpu_batch_size)
        self.renderer = ShardRenderer(config, sources, dev, batch_size=batch_size)

    def run(self, shard: int, on_batch=None) -> dict:
        """Render and write shard `shard`; return its manifest part."""
        return write_shard(self.store, self.config, self.renderer.render_shard(shard, on_batch))


def write_shard(store: Store, config: BuildConfig, result: ShardResult) -> dict:
    files = []
    for fmt in config.formats:
        _, encode, _ = FORMATS[fmt]
        data = encode(result.samples)
        name = shard_name(result.index, fmt)
        store.write_atomic(name, data)
        files.append({"path": name, "format": fmt, "count": len(result.samples),
                      "sha256": sha256_bytes(data), "bytes": len(data)})
    return {
        "index": result.index,
        "count": len(result.samples),
        "histogram": result.histogram,
        "rejects": result.rejects,
        "converted": result.converted,
        "files": files,
    }


@dataclass(frozen=True)
class BuildReport:
    out: str
    samples: int
    new_samples: int
    seconds: float
    manifest: dict

    @property
    def images_per_s(self) -> float:
        return self.new_samples / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (f"built {self.samples} samples ({self.new_samples} new) in {self.seconds:.1f} s, "
                f"{self.images_per_s:.1f} images/s -> {self.out}")


def _check_resumable(store: Store, old: dict, new: dict) -> None:
    if mf.identity(old) == mf.identity(new):
        return
    old_cfg, new_cfg = old["config"], new["config"]
    changed = sorted(k for k in new_cfg if old_cfg.get(k) != new_cfg.get(k))
    if old["sources"]["fingerprint"] != new["sources"]["fingerprint"]:
        changed.append("input sources")
    raise ConfigError("--out", store.url, f"a new folder, or the same options as the build already there "
                                          f"(it differs in: {', '.join(changed)})")


def verified_parts(store: Store, manifest: dict) -> list[int]:
    """Shards recorded in the manifest whose every file exists with the recorded sha256;
    the others are dropped from the manifest (they will be rebuilt)."""
    good = []
    for key, part in list(manifest["parts"].items()):
        ok = all(store.exists(f["path"]) and store.sha256(f["path"]) == f["sha256"] for f in part["files"])
        if ok:
            good.append(int(key))
        else:
            log.warning("shard %s is missing or altered; rebuilding it", key)
            mf.remove_part(manifest, int(key))
    return sorted(good)


def build(config: BuildConfig, run: RunConfig, executor=None) -> BuildReport:
    """Build (or resume) the dataset described by config into run.out."""
    config = config.validate()
    run = run.validate()
    if run.device == "cuda":
        resolve_device(run.device)  # fail fast without CUDA; `auto` is resolved (and logged) by the workers
    sources = list_sources(config.sources)
    store = Store(run.out)
    removed = store.clean_temporaries()
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted build", len(removed))
    manifest = mf.new_manifest(config, sources)
    if store.exists(mf.MANIFEST):
        old = json.loads(store.read_bytes(mf.MANIFEST))
        _check_resumable(store, old, manifest)
        manifest["parts"] = old.get("parts", {})
    done = set(verified_parts(store, manifest))
    todo = [s for s in range(config.num_shards) if s not in done]
    already = sum(manifest["parts"][str(s)]["count"] for s in done)

    def save() -> dict:
        final = mf.finalise(manifest, config.num_shards, config.count)
        store.write_atomic(mf.REJECTS, mf.rejects_jsonl(final))
        store.write_atomic(mf.MANIFEST, mf.dumps(final))
        return final

    save()
    if executor is None:
        from generator.run.executor import get_executor

        executor = get_executor(run.executor)
    start = time.perf_counter()
    with _progress(run, config.count, already) as bar:

        def on_part(part: dict) -> None:
            mf.add_part(manifest, part)
            save()

        executor(config, sources, run, todo, on_part, bar.update)
    seconds = time.perf_counter() - start
    # Every writer has finished; a worker killed mid-write (a Ray actor whose shard was then
    # retried elsewhere) left its temporary behind.
    store.clean_temporaries()
    final = save()
    return BuildReport(run.out, final["totals"]["samples"], final["totals"]["samples"] - already, seconds, final)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _progress(run: RunConfig, total: int, initial: int):
    if not run.progress:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="img", desc="generate", smoothing=0.1, dynamic_ncols=True)
