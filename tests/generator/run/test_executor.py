"""The one retry rule every executor follows, and a build's refusal of a foreign dataset.json."""

import logging

import pytest

from generator.config import BuildConfig, RunConfig
from generator.errors import ConfigError
from generator.run.build import build, select_executor
from generator.run.executor import Retries, ShardFailed


def test_retries_allow_n_failures_then_raise(caplog):
    retries = Retries(2, " on Ray")
    with caplog.at_level(logging.WARNING):
        retries.failed(5, OSError("disk"))
        retries.failed(5, OSError("disk"))
        retries.failed(6, OSError("other shard"))  # counted per shard
        with pytest.raises(ShardFailed, match="shard 5 failed after 3 attempts: disk"):
            retries.failed(5, OSError("disk"))
    assert "shard 5 failed on Ray (attempt 2/3): disk" in caplog.text


def test_zero_retries_fail_at_once():
    with pytest.raises(ShardFailed, match="after 1 attempts"):
        Retries(0).failed(0, RuntimeError("x"))


def test_unknown_executor_names_the_allowed_ones():
    with pytest.raises(ConfigError, match="local, ray"):
        select_executor("spark")


def test_build_refuses_an_out_folder_with_a_broken_manifest(tmp_path):
    (tmp_path / "dataset.json").write_text('{"parts": {"0": {"index": "zero"}}}')
    with pytest.raises(ConfigError, match=r"--out.*a radiopaque build .*parts\[0\].index must be int"):
        build(BuildConfig(count=4, seed=1, size=64), RunConfig(out=str(tmp_path), device="cpu", progress=False))
