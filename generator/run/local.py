"""The local executor: shards in this process (`--workers 1`) or in a pool of worker
processes, each holding one long-lived ShardWorker (`--workers N`)."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

import torch

from generator.run.executor import ShardFailed

log = logging.getLogger(__name__)
_WORKER = None  # the ShardWorker of a pool process


def run_local(config, sources, run, shards, on_part, on_progress) -> None:
    if not shards:
        return
    if run.workers == 1:
        _run_inline(config, sources, run, shards, on_part, on_progress)
    else:
        _run_pool(config, sources, run, shards, on_part, on_progress)


def _run_inline(config, sources, run, shards, on_part, on_progress) -> None:
    from generator.run.build import ShardWorker

    worker = ShardWorker(config, sources, run.out, run.device, run.batch_size)
    with _single_thread_on_cpu(worker):
        _run_shards(worker, shards, run, on_part, on_progress)


@contextlib.contextmanager
def _single_thread_on_cpu(worker):
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


def _run_shards(worker, shards, run, on_part, on_progress) -> None:
    for shard in shards:
        for attempt in range(run.retries + 1):
            try:
                on_part(worker.run(shard, on_batch=on_progress))
                break
            except Exception as exc:  # retry this shard; give up after run.retries
                log.warning("shard %d failed (attempt %d/%d): %s", shard, attempt + 1, run.retries + 1, exc)
                if attempt == run.retries:
                    raise ShardFailed(f"shard {shard} failed after {run.retries + 1} attempts: {exc}") from exc


def _init_worker(config, sources, out, device, batch_size, threads) -> None:
    global _WORKER
    from generator.run.build import ShardWorker

    torch.set_num_threads(threads)
    _WORKER = ShardWorker(config, sources, out, device, batch_size)


def _work(shard: int) -> dict:
    return _WORKER.run(shard)


def _run_pool(config, sources, run, shards, on_part, on_progress) -> None:
    threads = max(1, (os.cpu_count() or 1) // run.workers)
    # spawn: a forked process would inherit torch's thread pools and CUDA state.
    ctx = mp.get_context("spawn")
    args = (config, sources, run.out, run.device, run.batch_size, threads)
    attempts = {s: 0 for s in shards}
    with ProcessPoolExecutor(run.workers, mp_context=ctx, initializer=_init_worker, initargs=args) as pool:
        pending = {pool.submit(_work, s): s for s in shards}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                shard = pending.pop(fut)
                try:
                    part = fut.result()
                except Exception as exc:
                    attempts[shard] += 1
                    log.warning("shard %d failed (attempt %d/%d): %s", shard, attempts[shard], run.retries + 1, exc)
                    if attempts[shard] > run.retries:
                        raise ShardFailed(f"shard {shard} failed after {attempts[shard]} attempts: {exc}") from exc
                    pending[pool.submit(_work, shard)] = shard
                    continue
                on_part(part)
                on_progress(part["count"])
