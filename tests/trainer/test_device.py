"""`--device` resolution as the trainer uses it: generator.device.resolve_device with a rank's
local_rank (CUDA's presence faked, so both branches run on any machine)."""

import logging

import pytest
import torch

from generator.device import resolve_device
from generator.errors import ConfigError


def _cuda(monkeypatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def test_with_cuda_auto_picks_the_local_rank_gpu(monkeypatch, caplog):
    _cuda(monkeypatch, 2)
    with caplog.at_level(logging.INFO, logger="generator.device"):
        assert resolve_device("auto") == torch.device("cuda")  # rank 0 (and the generator): plain cuda
        assert resolve_device("auto", local_rank=1) == torch.device("cuda", 1)
    assert [r.getMessage() for r in caplog.records] == ["--device auto: using cuda", "--device auto: using cuda:1"]
    assert resolve_device("cuda", local_rank=3) == torch.device("cuda", 1)  # wraps round the visible GPUs
    assert resolve_device("cpu", local_rank=1) == torch.device("cpu")


def test_without_cuda_auto_is_cpu_and_cuda_fails_fast(monkeypatch, caplog):
    _cuda(monkeypatch, 0)
    with caplog.at_level(logging.INFO, logger="generator.device"):
        assert resolve_device("auto", local_rank=1) == torch.device("cpu")
    assert [r.getMessage() for r in caplog.records] == ["--device auto: using cpu"]
    with pytest.raises(ConfigError, match=r"--device: got 'cuda'; allowed: auto or cpu \(no CUDA device"):
        resolve_device("cuda", local_rank=1)
    with pytest.raises(ConfigError, match=r"--device: got 'tpu'; allowed: auto, cpu, cuda"):
        resolve_device("tpu")
