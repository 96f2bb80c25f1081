"""Checkpoints: what a run saves, and the model it rebuilds.

A checkpoint is data: model, optimiser and scheduler state dicts, epoch, step, the resolved
`TrainConfig` (`to_dict()`), the class names, the metrics history, the best validation metric
and the torch version, as tensors and plain Python values only. It is read back with
`torch.load(weights_only=True)`, which unpickles no code: a file holding a pickle payload, or
one that is not a torch file, or one without what a run saves, is a `CheckpointError` (one line
naming the file), never a traceback and never code run.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch
from torch import nn
from torch.torch_version import TorchVersion

from generator.errors import ConfigError
from trainer.config import TrainConfig
from trainer.errors import CheckpointError
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
    """The checkpoint at `path`, tensors on the CPU. Raises CheckpointError (naming the file)
    when it is missing, unreadable, not a torch file, holds a pickled object other than
    tensors and plain values, or lacks the model weights, config or class list."""
    if not Path(path).is_file():
        raise CheckpointError(path, "no such file")
    try:
        # Checkpoints saved before versions were plain str hold a TorchVersion (a str subclass).
        with torch.serialization.safe_globals([TorchVersion]):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # weights_only refused a global: code, not data
        first = str(exc).strip().splitlines()
        detail = next((line for line in first if "Unsupported global" in line), first[0] if first else "")
        raise CheckpointError(path, f"refused to unpickle code ({detail.strip()[:200]})") from None
    except (OSError, EOFError, RuntimeError, ValueError, zipfile.BadZipFile) as exc:
        raise CheckpointError(path, f"not a torch checkpoint ({type(exc).__name__}: {str(exc)[:200]})") from None
    _check_state(path, state)
    return state


def load_option(option: str, path: str | Path) -> dict:
    """`load_checkpoint(path)` for the CLI edge: a CheckpointError becomes a ConfigError naming `option`."""
    try:
        return load_checkpoint(path)
    except CheckpointError as exc:
        raise ConfigError(option, str(path), f"a checkpoint written by radiopaque train ({exc.reason})") from None


def _check_state(path, state) -> None:
    if not isinstance(state, dict):
        raise CheckpointError(path, f"holds a {type(state).__name__}, not a checkpoint dict")
    weights = state.get("model")
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise CheckpointError(path, "no model state dict of tensors under 'model'")
    config = state.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("model"), str):
        raise CheckpointError(path, "no run config naming its architecture under 'config'")
    classes = state.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise CheckpointError(path, "no list of class names under 'classes'")


def model_from_checkpoint(checkpoint: dict, path: str | Path = "checkpoint") -> nn.Module:
    """The checkpoint's model (architecture from its config), weights loaded. Raises
    CheckpointError (naming `path`) when the architecture is unknown or the weights do not fit it."""
    cfg = checkpoint["config"]
    try:
        # The initial draws are overwritten by the weights; the fork keeps them off the global RNG.
        with forked_rng(derive_seed(int(cfg.get("seed", 0)), INIT), torch.device("cpu")):
            model = build_model(cfg["model"], len(checkpoint["classes"]))
        model.load_state_dict(checkpoint["model"])
    except (ValueError, TypeError, RuntimeError) as exc:
        raise CheckpointError(path, f"its weights do not fit a {cfg.get('model')!r} with {len(checkpoint['classes'])} "
                                    f"classes ({str(exc).strip().splitlines()[0][:200]})") from None
    return model
