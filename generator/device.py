"""`--device auto|cpu|cuda` resolution (DESIGN.md's device rule), for the generator and the trainer."""

from __future__ import annotations

import logging
import platform

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


def device_record(device: torch.device) -> dict[str, str]:
    """What kind of device rendered a shard, as the manifest records it per part: type, name
    (the GPU's, or the CPU architecture), torch and CUDA versions (CUDA "" on CPU). Shard
    bytes are identical only between devices of the same record."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        cuda = str(torch.version.cuda or "")
    else:
        name, cuda = platform.machine() or "unknown", ""
    return {"type": device.type, "name": name, "torch": str(torch.__version__), "cuda": cuda}
