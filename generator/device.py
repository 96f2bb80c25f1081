"""`--device auto|cpu|cuda` resolution (DESIGN.md's device rule), for the generator and the trainer."""

from __future__ import annotations

import logging

import torch

from generator.errors import ConfigError

log = logging.getLogger(__name__)


def resolve_device(name: str, *, local_rank: int = 0) -> torch.device:
    """auto -> cuda when present, else cpu (logged); cuda without CUDA fails fast.

    local_rank: the process's GPU on its node (a training rank's `local_rank`). 0 gives plain
    `cuda` (the current device); n > 0 gives `cuda:<n mod device count>`.
    """
    auto = name == "auto"
    if auto:
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device", "cuda", "auto or cpu (no CUDA device is visible here)")
    if name not in ("cpu", "cuda"):
        raise ConfigError("--device", name, "auto, cpu, cuda")
    device = torch.device(name)
    if name == "cuda" and local_rank:
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
    if auto:
        log.info("--device auto: using %s", device)
    return device
