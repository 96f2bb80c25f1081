"""The Ray executor: one long-lived actor per GPU (or per CPU worker), shards as tasks.

`--ray-address` joins a running cluster; without it a local Ray instance is started. Every
actor writes its shards straight to the output store (so on several nodes `--out` must be
shared storage or an fsspec URL); the driver only records manifest parts. A shard whose
task fails, or whose actor dies, is retried on a fresh actor.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from generator.run.executor import OnPart, OnProgress, Retries, ShardJob


def _actor_class(ray):
    @ray.remote
    class ShardActor:
        def __init__(self, job: ShardJob, threads: int):
            import torch

            from generator.run.worker import ShardWorker

            torch.set_num_threads(threads)
            self.worker = ShardWorker(job)

        def run(self, shard: int):
            return self.worker.run(shard)

    return ShardActor


def _connect(ray, address: str | None) -> None:
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)


def run_ray(job: ShardJob, shards: Sequence[int], on_part: OnPart, on_progress: OnProgress) -> None:
    if not shards:
        return
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("--executor ray needs the 'ray' package (pip install 'ray[train]')") from exc
    run = job.run
    _connect(ray, run.ray_address)
    use_gpu = run.device == "cuda" or (run.device == "auto" and ray.cluster_resources().get("GPU", 0) > 0)
    threads = 1 if not use_gpu else max(1, (os.cpu_count() or 1) // run.workers)
    # The actors' device is decided here, once for the cluster, not by each actor's node.
    actor_job = dataclasses.replace(job, run=dataclasses.replace(run, device="cuda" if use_gpu else "cpu"))
    actor_cls = _actor_class(ray).options(num_gpus=1 if use_gpu else 0, num_cpus=1, max_restarts=0)
    job_ref = ray.put(actor_job)

    def new_actor():
        return actor_cls.remote(job_ref, threads)

    actors = [new_actor() for _ in range(min(run.workers, len(shards)))]
    queue = list(shards)
    retries = Retries(run.retries, " on Ray")
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
            retries.failed(shard, exc)
            if isinstance(exc, ray.exceptions.RayActorError):
                actors[slot] = new_actor()
            queue.insert(0, shard)
        else:
            on_part(part)
            on_progress(part.count)
        if queue:
            nxt = queue.pop(0)
            running[actors[slot].run.remote(nxt)] = (nxt, slot)
