"""Checkpoints: what a run saves, and the model it rebuilds.

A checkpoint is data: model, optimiser and scheduler state dicts, epoch, step, the resolved
`TrainConfig` (`to_dict()`), the class names, the metrics history, the best validation metric
and the torch version, as tensors and plain Python values only. It is read back with
`torch.load(weights_only=True)`, which unpickles no code.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn
from torch.torch_version import TorchVersion

from trainer.config import TrainConfig
from trainer.models import build_model, strip_wrappers
from trainer.rng import INIT, derive_seed, forked_rng


def save_checkpoint(path: str | Path, *, model: nn.Module, optimizer, scheduler, epoch: int, step: int,
                    cfg: TrainConfig, classes: list[str], metrics: dict, best_metric: float | None) -> None:
    """Write atomically (temp file + rename), so a killed run never leaves half a checkpoint."""
    path = Path(path)
    state = {
        "model": strip_wrappers(model.state_dict()),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "epoch": epoch,
        "step": step,
        "config": cfg.to_dict(),
        "classes": list(classes),
        "metrics": metrics,
        "best_metric": best_metric,
        "versions": {"torch": str(torch.__version__)},
    }
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict:
    """The checkpoint at `path`, tensors on the CPU."""
    # Checkpoints saved before versions were plain str hold a TorchVersion (a str subclass).
    with torch.serialization.safe_globals([TorchVersion]):
        return torch.load(path, map_location="cpu", weights_only=True)


def model_from_checkpoint(checkpoint: dict) -> nn.Module:
    """The checkpoint's model (architecture from its config), weights loaded."""
    cfg = checkpoint["config"]
    # The initial draws are overwritten by the weights; the fork keeps them off the global RNG.
    with forked_rng(derive_seed(int(cfg.get("seed", 0)), INIT), torch.device("cpu")):
        model = build_model(cfg["model"], len(checkpoint["classes"]))
    model.load_state_dict(checkpoint["model"])
    return model
