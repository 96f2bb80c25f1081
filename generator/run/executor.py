"""What runs a build's shards: the `Executor` protocol and the one retry rule.

An executor renders and writes every shard of a `ShardJob` it is given, calls
`on_part(part)` in the driver for each finished shard (in any order) and `on_progress(n)`
as images finish, retries a failing shard up to `RunConfig.retries` times (`Retries`), and
raises `ShardFailed` if one still fails. `local` runs shards in this process or a process
pool (`generator.run.local`), `ray` on Ray actors (`generator.run.ray_executor`); both hold
one long-lived `generator.run.worker.ShardWorker` per process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from generator.config import BuildConfig, RunConfig
from generator.inputs.sources import SourceList
from generator.output.manifest import ShardPart

log = logging.getLogger(__name__)

OnPart = Callable[[ShardPart], None]
OnProgress = Callable[[int], None]


class ShardFailed(RuntimeError):
    """A shard kept failing after its retries; finished shards are kept in the manifest."""


@dataclass(frozen=True)
class ShardJob:
    """Everything a worker needs to render any shard of one build."""

    config: BuildConfig
    sources: SourceList
    run: RunConfig


class Executor(Protocol):
    def __call__(self, job: ShardJob, shards: Sequence[int], on_part: OnPart, on_progress: OnProgress) -> None:
        """Render and write `shards` of `job`; see the module docstring for the contract."""
        ...


class Retries:
    """The retry rule every executor follows: a shard may fail `retries` times; the next
    failure raises ShardFailed. Each failure is logged with its attempt number."""

    def __init__(self, retries: int, where: str = ""):
        self.retries, self.where = retries, where
        self._failures: dict[int, int] = {}

    def failed(self, shard: int, exc: BaseException) -> None:
        """Record a failure of `shard`; returns if it may be tried again, else raises."""
        n = self._failures[shard] = self._failures.get(shard, 0) + 1
        log.warning("shard %d failed%s (attempt %d/%d): %s", shard, self.where, n, self.retries + 1, exc)
        if n > self.retries:
            raise ShardFailed(f"shard {shard} failed after {n} attempts: {exc}") from exc
