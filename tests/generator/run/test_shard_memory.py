"""Bounded memory (issue 15): a shard's sources are decoded DECODE_CHUNK at a time, each
chunk brought to output size before the next is decoded; a Ray part rendered on another kind
of device than the build's is refused naming both."""

import numpy as np
import pytest
from PIL import Image

from generator.config import BuildConfig, RunConfig, SourceConfig
from generator.errors import ConfigError
from generator.run import shard as shard_module
from generator.run.build import build
from generator.run.worker import ShardWorker


@pytest.fixture
def films(tmp_path):
    folder = tmp_path / "films"
    folder.mkdir()
    for p in range(20):
        Image.fromarray(np.full((70, 64), 40 + 9 * p, np.uint8)).save(folder / f"{p + 1:08d}_000.png")
    return folder


def test_sources_are_decoded_a_chunk_at_a_time(films, tmp_path, monkeypatch):
    calls = []
    real = shard_module.read_images

    def counting(paths, **kw):
        calls.append(len(paths))
        return real(paths, **kw)

    monkeypatch.setattr(shard_module, "read_images", counting)
    build(BuildConfig(count=40, seed=2, size=48, style="legacy", shard_size=40, sources=SourceConfig(input=str(films))),
          RunConfig(out=str(tmp_path / "out"), progress=False))
    assert sum(calls) >= 15 and max(calls) <= shard_module.DECODE_CHUNK == 8 and len(calls) >= 2


def test_a_part_from_another_kind_of_device_is_refused_naming_both(films, tmp_path):
    gpu = {"type": "cuda", "name": "NVIDIA H200", "torch": "2.14.1", "cuda": "13.0"}

    def mixed_cluster(job, shards, on_part, on_progress):  # two Ray workers, one of each kind
        worker = ShardWorker(job)
        for n, s in enumerate(shards):
            part = worker.run(s)
            on_part(part if n == 0 else type(part)(**{**part.__dict__, "device": gpu}))

    cfg = BuildConfig(count=8, seed=2, size=48, style="legacy", shard_size=4, sources=SourceConfig(input=str(films)))
    with pytest.raises(ConfigError, match=r"--device: .*this worker is cuda NVIDIA H200 \(torch 2.14.1, CUDA 13.0\)"):
        build(cfg, RunConfig(out=str(tmp_path / "out"), executor="ray", progress=False), executor=mixed_cluster)
