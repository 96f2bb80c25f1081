"""torchvision classifiers with 1-channel input and a replaceable head; no weight downloads.

`build_model(name, num_classes)` replaces the stem conv with a 1-channel one and the head with
a `num_classes` linear layer. Weights come only from our own checkpoints (`load_init`).
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from trainer.config import MODELS

log = logging.getLogger(__name__)

# name -> (stem conv attribute path, head linear attribute path)
_PARTS = {
    **{f"resnet{d}": ("conv1", "fc") for d in (18, 34, 50)},
    "densenet121": ("features.conv0", "classifier"),
    **{f"efficientnet_b{i}": ("features.0.0", "classifier.1") for i in range(4)},
}


def _get(module: nn.Module, path: str) -> nn.Module:
    for part in path.split("."):
        module = module[int(part)] if part.isdigit() else getattr(module, part)
    return module


def _set(module: nn.Module, path: str, value: nn.Module) -> None:
    *parents, last = path.split(".")
    for part in parents:
        module = module[int(part)] if part.isdigit() else getattr(module, part)
    if last.isdigit():
        module[int(last)] = value
    else:
        setattr(module, last, value)


def head_prefix(name: str) -> str:
    """State-dict prefix of the head, e.g. "fc." for resnets."""
    return _PARTS[name][1] + "."


def build_model(name: str, num_classes: int) -> nn.Module:
    """A randomly initialised `name` for (B, 1, H, W) input and (B, num_classes) logits."""
    if name not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {name!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    import torchvision.models as tvm

    model = getattr(tvm, name)(weights=None)
    stem_path, head_path = _PARTS[name]
    stem: nn.Conv2d = _get(model, stem_path)
    _set(model, stem_path, nn.Conv2d(1, stem.out_channels, stem.kernel_size, stem.stride, stem.padding,
                                     bias=stem.bias is not None))
    head: nn.Linear = _get(model, head_path)
    _set(model, head_path, nn.Linear(head.in_features, num_classes))
    return model


def load_init(model: nn.Module, name: str, checkpoint: dict, classes: list[str]) -> bool:
    """Load a checkpoint's weights into `model` for `--init`; return True when the head was
    replaced (kept freshly initialised) because the classes differ. The checkpoint's model
    must be the same architecture."""
    ckpt_model = checkpoint["config"]["model"]
    if ckpt_model != name:
        raise ValueError(f"--init checkpoint is a {ckpt_model}, the run's --model is {name}")
    state = checkpoint["model"]
    replace_head = list(checkpoint["classes"]) != list(classes)
    if replace_head:
        prefix = head_prefix(name)
        state = {k: v for k, v in state.items() if not k.startswith(prefix)}
        log.info("--init: classes differ (%s -> %s); head replaced", checkpoint["classes"], classes)
    missing, unexpected = model.load_state_dict(state, strict=not replace_head)
    if unexpected or (replace_head and any(not k.startswith(head_prefix(name)) for k in missing)):
        raise ValueError(f"--init checkpoint does not fit: missing {missing}, unexpected {unexpected}")
    return replace_head


def strip_wrappers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """State dict keys without DDP's "module." or torch.compile's "_orig_mod." prefixes."""
    out = {}
    for k, v in state.items():
        for prefix in ("module.", "_orig_mod."):
            while k.startswith(prefix):
                k = k[len(prefix):]
        out[k] = v
    return out
