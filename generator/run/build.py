"""One build, end to end: validate, list sources, resume, execute shards, keep the manifest.

`build(config, run)` is what `radiopaque generate` calls. With `--split` the listing is
narrowed to the films of that split (by patient, `generator.inputs.splits`) before anything
is drawn; without it the listing, and so every draw, is the whole input. The unit of work is a shard; an
executor (`generator.run.executor`) runs a `ShardWorker` per process that renders a shard
and writes its files atomically; the driver records each finished shard in `dataset.json`
at once, so a killed build resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass

from generator.config import EXECUTORS, BuildConfig, RunConfig
from generator.device import device_record, resolve_device
from generator.errors import ConfigError
from generator.inputs.sources import SourceList, list_sources
from generator.inputs.splits import format_fractions, split_of, split_summary
from generator.output.consistency import class_problems, device_conflict, part_problems
from generator.output.manifest import (
    MANIFEST,
    REJECTS,
    Manifest,
    Reject,
    ShardPart,
    SourcesInfo,
    new_manifest,
    parse_manifest,
)
from generator.output.storage import Store
from generator.run.executor import Executor, ShardJob

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildReport:
    out: str
    samples: int
    new_samples: int
    seconds: float
    manifest: Manifest

    @property
    def images_per_s(self) -> float:
        return self.new_samples / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (f"built {self.samples} samples ({self.new_samples} new) in {self.seconds:.1f} s, "
                f"{self.images_per_s:.1f} images/s -> {self.out}")


def _check_resumable(store: Store, old: Manifest, new: Manifest) -> None:
    if old.identity() == new.identity():
        return
    changed = sorted(k for k in new.config if old.config.get(k) != new.config.get(k))
    if old.identity()["sources"] != new.identity()["sources"]:
        changed.append("input sources")
    raise ConfigError("--out", store.url, f"a new folder, or the same options as the build already there "
                                          f"(it differs in: {', '.join(changed)})")


def _previous(store: Store) -> Manifest | None:
    """The manifest of a build already in `store`, if any; one that cannot be parsed stops
    the build before any work (it is not ours to overwrite)."""
    if not store.exists(MANIFEST):
        return None
    try:
        return parse_manifest(store.read_bytes(MANIFEST), where=store.url)
    except ValueError as exc:
        raise ConfigError("--out", store.url, f"a new folder, or a radiopaque build ({exc})") from None


def verified_parts(store: Store, manifest: Manifest) -> Manifest:
    """`manifest` less the shards whose files are missing, differ from their recorded sha256,
    or whose part is inconsistent (`generator.output.consistency.part_problems`: a file not
    named for its shard, a count that is not its planned range): they will be rebuilt."""
    for index, part in list(manifest.parts.items()):
        problems = part_problems(manifest, part)
        if problems:
            log.warning("shard %d: %s; rebuilding it", index, problems[0])
            manifest = manifest.without_part(index)
            continue
        if not all(store.exists(f.path) and store.sha256(f.path) == f.sha256 for f in part.files):
            log.warning("shard %d is missing or altered; rebuilding it", index)
            manifest = manifest.without_part(index)
    return manifest


def _driver_device(run: RunConfig) -> dict | None:
    """The kind of device local workers will render on, known before any work. CUDA is not
    initialised here (pool workers fork from this process), so on CUDA only the type is known
    up front; Ray workers' devices are known from their parts."""
    if run.executor != "local":
        return None
    device = resolve_device(run.device)
    return device_record(device) if device.type == "cpu" else {"type": device.type}


def _check_device(manifest: Manifest, record: dict | None, run: RunConfig) -> None:
    conflict = device_conflict(manifest.parts, record)
    if conflict:
        raise ConfigError("--device", run.device, f"the kind of device this build was rendered on ({conflict}); "
                                                  "resume it there, or build into a new --out")


def select_executor(name: str) -> Executor:
    """The executor called `name` (RunConfig has validated it against EXECUTORS)."""
    if name == "local":
        from generator.run.local import run_local

        return run_local
    if name == "ray":
        from generator.run.ray_executor import run_ray

        return run_ray
    raise ConfigError("--executor", name, ", ".join(EXECUTORS))


def split_sources(config: BuildConfig, listed: SourceList) -> tuple[SourceList, dict | None]:
    """(the sources a build draws from, dataset.json's "split" record). Without --split: the
    listing itself and None. Fails fast when the split receives no source."""
    if config.split is None:
        return listed, None
    chosen = tuple(s for s in listed.sources
                   if split_of(s.group, config.split_fractions, config.split_seed) == config.split)
    groups = len({s.group for s in listed.sources})
    if not chosen:
        raise ConfigError("--split", config.split,
                          f"a split that receives films: none of the {len(listed.sources)} sources ({groups} "
                          f"patient groups) falls in it with --split-fractions "
                          f"{format_fractions(config.split_fractions)} --split-seed {config.split_seed}; "
                          "give it a larger fraction, another --split-seed or more input")
    record = split_summary(config.split, config.split_fractions, config.split_seed,
                           [s.group for s in listed.sources], [s.group for s in chosen])
    return dataclasses.replace(listed, sources=chosen), record


def _fresh_manifest(config: BuildConfig, sources: SourceList, split: dict | None) -> Manifest:
    return new_manifest(
        config=config.to_dict(), seed=config.seed, classes=config.label_classes,
        sources=SourcesInfo(description=sources.description, count=len(sources.sources),
                            fingerprint=sources.fingerprint()),
        list_rejects=tuple(Reject(**r) for r in sources.rejects),
        expected_shards=config.num_shards, expected_samples=config.count, split=split)


def build(config: BuildConfig, run: RunConfig, executor: Executor | None = None) -> BuildReport:
    """Build (or resume) the dataset described by config into run.out."""
    config = config.validate()
    run = run.validate()
    if run.device == "cuda":
        resolve_device(run.device)  # fail fast without CUDA; `auto` is resolved (and logged) by the workers
    sources, split = split_sources(config, list_sources(config.sources))
    store = Store(run.out)
    removed = store.clean_temporaries()
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted build", len(removed))
    manifest = _fresh_manifest(config, sources, split)
    old = _previous(store)
    if old is not None:
        _check_resumable(store, old, manifest)
        problems = class_problems(old)
        if problems:
            raise ConfigError("--out", store.url, f"a new folder, or a consistent radiopaque build (its {MANIFEST}: "
                                                  f"{problems[0]})")
        for part in old.parts.values():
            manifest = manifest.with_part(part)
    manifest = verified_parts(store, manifest)
    _check_device(manifest, _driver_device(run), run)
    todo = [s for s in range(config.num_shards) if s not in manifest.parts]
    already = manifest.totals.samples

    def save(m: Manifest) -> None:
        store.write_atomic(REJECTS, m.rejects_jsonl())
        store.write_atomic(MANIFEST, m.to_json())

    save(manifest)
    executor = executor or select_executor(run.executor)
    start = time.perf_counter()
    with _progress(run, config.count, already) as bar:

        def on_part(part: ShardPart) -> None:
            nonlocal manifest
            _check_device(manifest, part.device, run)  # a Ray cluster mixing kinds stops here
            manifest = manifest.with_part(part)
            save(manifest)

        executor(ShardJob(config, sources, run), todo, on_part, bar.update)
    seconds = time.perf_counter() - start
    # Every writer has finished; a worker killed mid-write (a Ray actor whose shard was then
    # retried elsewhere) left its temporary behind.
    store.clean_temporaries()
    save(manifest)
    return BuildReport(run.out, manifest.totals.samples, manifest.totals.samples - already, seconds, manifest)


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
