"""`--device auto|cpu|cuda` resolution (DESIGN.md's device rule)."""

from __future__ import annotations

import logging

import torch

from generator.errors import ConfigError

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """auto -> cuda when present, else cpu (logged); cuda without CUDA fails fast."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
        log.info("--device auto: using %s", name)
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device", "cuda", "auto or cpu (no CUDA device is visible here)")
    if name not in ("cpu", "cuda"):
        raise ConfigError("--device", name, "auto, cpu, cuda")
    return torch.device(name)
