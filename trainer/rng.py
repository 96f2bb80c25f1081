"""Explicit randomness for training: seeds derived from where a draw happens, and a fork of
torch's global generators for the code that can only draw from those.

Every random draw of a run is a pure function of `TrainConfig.seed` and its place:

    model init         derive_seed(seed, INIT)                     the same on every rank
    DataLoader         derive_seed(seed, LOADER, rank)             the loader's worker base seeds
    MixUp              derive_seed(seed, MIXUP, epoch, rank)       a torch.Generator per epoch
    training step      derive_seed(seed, STEP, epoch, rank, step)  Kornia's parameters, dropout

so a resumed run draws what an uninterrupted one would have, and training neither reads nor
changes the process's global RNG (`torch.random.get_rng_state()` is the same after a run).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

# Stream tags: the second part of every derived seed, so no two kinds of draw share a seed.
INIT, LOADER, MIXUP, STEP = 1, 2, 3, 4


def derive_seed(*parts: int) -> int:
    """A 63-bit seed, a pure function of `parts` (non-negative ints) by numpy's SeedSequence."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1, np.uint64)[0] >> np.uint64(1))


@contextmanager
def forked_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Run the body on torch's global generators seeded with `seed`: the CPU one and, for a CUDA
    `device`, that device's; both are restored afterwards, so the process's RNG is neither read
    nor changed. For code with no generator argument (Kornia's augmentations, dropout)."""
    cuda = []
    if device.type == "cuda":
        cuda = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=cuda, device_type="cuda"):
        # Not torch.manual_seed: it seeds every CUDA device, lazily when CUDA is not yet
        # initialised, which would reach past the fork.
        torch.default_generator.manual_seed(seed)
        for index in cuda:
            torch.cuda.default_generators[index].manual_seed(seed)
        yield
