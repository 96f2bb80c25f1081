"""The unit every executor runs: a long-lived `ShardWorker` per process or Ray actor.

A worker holds a `ShardRenderer` (device, decoder, source cache) and the output store;
`run(shard)` renders one shard, writes each of its files atomically and returns the
shard's manifest part. The driver records that part in dataset.json at once.
"""

from __future__ import annotations

from generator.config import BuildConfig
from generator.device import device_record, resolve_device
from generator.names import CUDA_BATCH_SIZE  # the CPU takes the style's own cpu_batch_size
from generator.output.formats import FORMATS, shard_path
from generator.output.manifest import ShardFile, ShardPart
from generator.output.storage import Store, sha256_bytes
from generator.render.styles import get_style
from generator.run.executor import OnProgress, ShardJob
from generator.run.shard import ShardRenderer, ShardResult


class ShardWorker:
    """Renders and writes shards of one build on one device."""

    def __init__(self, job: ShardJob):
        self.config = job.config
        self.store = Store(job.run.out)
        dev = resolve_device(job.run.device)
        batch_size = job.run.batch_size or (CUDA_BATCH_SIZE if dev.type == "cuda"
                                            else get_style(job.config.style).cpu_batch_size)
        self.renderer = ShardRenderer(job.config, job.sources, dev, batch_size=batch_size)
        self.device = device_record(dev)

    def run(self, shard: int, on_batch: OnProgress | None = None) -> ShardPart:
        """Render and write shard `shard`; return its manifest part."""
        return write_shard(self.store, self.config, self.renderer.render_shard(shard, on_batch), self.device)


def write_shard(store: Store, config: BuildConfig, result: ShardResult,
                device: dict[str, str] | None = None) -> ShardPart:
    """Encode `result` in every format of the build and write each file atomically."""
    files = []
    for fmt in config.formats:
        data = FORMATS[fmt].encode(result.samples, classes=config.classes)
        name = shard_path(result.index, fmt)
        store.write_atomic(name, data)
        files.append(ShardFile(path=name, format=fmt, count=len(result.samples), sha256=sha256_bytes(data),
                               bytes=len(data)))
    return ShardPart(index=result.index, count=len(result.samples), histogram=result.histogram,
                     rejects=tuple(result.rejects), converted=dict(result.converted), files=tuple(files),
                     groups=result.groups, device=device)
