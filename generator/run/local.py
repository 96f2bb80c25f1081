"""The local executor: shards in this process (`--workers 1`) or in a pool of worker
processes, each holding one long-lived ShardWorker (`--workers N`)."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

import torch

from generator.run.executor import OnPart, OnProgress, Retries, ShardJob
from generator.run.worker import ShardWorker

_WORKER: ShardWorker | None = None  # the ShardWorker of a pool process


def run_local(job: ShardJob, shards: Sequence[int], on_part: OnPart, on_progress: OnProgress) -> None:
    if not shards:
        return
    if job.run.workers == 1:
        _run_inline(job, shards, on_part, on_progress)
    else:
        _run_pool(job, shards, on_part, on_progress)


def _run_inline(job: ShardJob, shards: Sequence[int], on_part: OnPart, on_progress: OnProgress) -> None:
    worker = ShardWorker(job)
    retries = Retries(job.run.retries)
    with _single_thread_on_cpu(worker):
        for shard in shards:
            while True:
                try:
                    part = worker.run(shard, on_batch=on_progress)
                except Exception as exc:  # retry this shard; Retries raises once they are spent
                    retries.failed(shard, exc)
                    continue
                on_part(part)  # outside the retry: the driver refusing a part is not a shard failure
                break


@contextlib.contextmanager
def _single_thread_on_cpu(worker: ShardWorker):
    """Rendering is many small tensor ops per image: one intra-op thread beats torch's pool
    on CPU (parallelism comes from --workers processes). Restored afterwards, since this
    runs in the caller's process."""
    before = torch.get_num_threads()
    if worker.renderer.device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _init_worker(job: ShardJob, threads: int) -> None:
    global _WORKER
    torch.set_num_threads(threads)
    _WORKER = ShardWorker(job)


def _work(shard: int):
    return _WORKER.run(shard)


def _run_pool(job: ShardJob, shards: Sequence[int], on_part: OnPart, on_progress: OnProgress) -> None:
    threads = max(1, (os.cpu_count() or 1) // job.run.workers)
    # spawn: a forked process would inherit torch's thread pools and CUDA state.
    ctx = mp.get_context("spawn")
    retries = Retries(job.run.retries)
    with ProcessPoolExecutor(job.run.workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(job, threads)) as pool:
        pending = {pool.submit(_work, s): s for s in shards}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                shard = pending.pop(fut)
                try:
                    part = fut.result()
                except Exception as exc:
                    retries.failed(shard, exc)
                    pending[pool.submit(_work, shard)] = shard
                    continue
                on_part(part)
                on_progress(part.count)
