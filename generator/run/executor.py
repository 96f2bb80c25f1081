"""Executors run shard work units: `local` (this process, or a process pool) and `ray`.

An executor is `run(config, sources, run_config, shards, on_part, on_progress)`: it renders
and writes every shard in `shards`, calls on_part(part) in the driver for each finished
shard (any order), on_progress(n) as images finish, retries a failing shard up to
run_config.retries times, and raises ShardFailed if one still fails.
"""

from __future__ import annotations


class ShardFailed(RuntimeError):
    """A shard kept failing after its retries; finished shards are kept in the manifest."""


def get_executor(name: str):
    if name == "local":
        from generator.run.local import run_local

        return run_local
    if name == "ray":
        from generator.run.ray_executor import run_ray

        return run_ray
    raise ValueError(f"unknown executor {name!r}; allowed: local, ray")
