"""The Ray executor: one long-lived actor per GPU (or per CPU worker), shards as tasks.

`--ray-address` joins a running cluster; without it a local Ray instance is started. Every
actor writes its shards straight to the output store (so on several nodes `--out` must be
shared storage or an fsspec URL); the driver only records manifest parts. A shard whose
task fails, or whose actor dies, is retried on a fresh actor.
"""

from __future__ import annotations

import logging
import os

from generator.run.executor import ShardFailed

log = logging.getLogger(__name__)


def _actor_class(ray):
    @ray.remote
    class ShardActor:
        def __init__(self, config, sources, out, device, batch_size, threads):
            import torch

            from generator.run.build import ShardWorker

            torch.set_num_threads(threads)
            self.worker = ShardWorker(config, sources, out, device, batch_size)

        def run(self, shard: int) -> dict:
            return self.worker.run(shard)

    return ShardActor


def _connect(ray, address: str | None) -> None:
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)


def run_ray(config, sources, run, shards, on_part, on_progress) -> None:
    if not shards:
        return
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("--executor ray needs the 'ray' package (pip install 'ray[train]')") from exc
    _connect(ray, run.ray_address)
    use_gpu = run.device == "cuda" or (run.device == "auto" and ray.cluster_resources().get("GPU", 0) > 0)
    device = "cuda" if use_gpu else "cpu"
    threads = 1 if not use_gpu else max(1, (os.cpu_count() or 1) // run.workers)
    actor_cls = _actor_class(ray).options(num_gpus=1 if use_gpu else 0, num_cpus=1, max_restarts=0)
    sources_ref = ray.put(sources)

    def new_actor():
        return actor_cls.remote(config, sources_ref, run.out, device, run.batch_size, threads)

    actors = [new_actor() for _ in range(min(run.workers, len(shards)))]
    queue = list(shards)
    attempts = {s: 0 for s in shards}
    running = {}  # ObjectRef -> (shard, actor slot)
    for slot in range(len(actors)):
        shard = queue.pop(0)
        running[actors[slot].run.remote(shard)] = (shard, slot)
    while running:
        done, _ = ray.wait(list(running), num_returns=1)
        ref = done[0]
        shard, slot = running.pop(ref)
        try:
            part = ray.get(ref)
        except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as exc:
            attempts[shard] += 1
            log.warning("shard %d failed on Ray (attempt %d/%d): %s", shard, attempts[shard], run.retries + 1, exc)
            if attempts[shard] > run.retries:
                raise ShardFailed(f"shard {shard} failed after {attempts[shard]} attempts: {exc}") from exc
            if isinstance(exc, ray.exceptions.RayActorError):
                actors[slot] = new_actor()
            queue.insert(0, shard)
        else:
            on_part(part)
            on_progress(part["count"])
        if queue:
            nxt = queue.pop(0)
            running[actors[slot].run.remote(nxt)] = (nxt, slot)
