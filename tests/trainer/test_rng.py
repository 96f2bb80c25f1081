"""Explicit randomness: derived seeds, the forked global RNG around Kornia, MixUp's own
generator, and a whole training run that leaves torch's global RNG as it found it."""

import torch

from trainer.augment import AugmentConfig, build_augment, mixup
from trainer.checkpoint import load_checkpoint
from trainer.config import TrainConfig
from trainer.rng import INIT, MIXUP, STEP, derive_seed, forked_rng
from trainer.train import run


def test_derived_seeds_are_fixed_and_distinct_per_place():
    assert derive_seed(0, STEP, 1, 0, 5) == derive_seed(0, STEP, 1, 0, 5)
    seeds = {derive_seed(0, INIT), derive_seed(1, INIT), derive_seed(0, MIXUP, 0, 0), derive_seed(0, MIXUP, 0, 1),
             derive_seed(0, MIXUP, 1, 0), derive_seed(0, STEP, 0, 0, 0), derive_seed(0, STEP, 0, 0, 1)}
    assert len(seeds) == 7
    assert all(0 <= s < 2**63 for s in seeds)


def test_forked_rng_replays_and_leaves_the_global_state_alone(device):
    before_cpu = torch.random.get_rng_state()
    before_cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    with forked_rng(7, device):
        a = torch.rand(5, device=device)
    with forked_rng(7, device):
        b = torch.rand(5, device=device)
    with forked_rng(8, device):
        c = torch.rand(5, device=device)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.random.get_rng_state(), before_cpu)
    if before_cuda is not None:
        assert torch.equal(torch.cuda.get_rng_state(device), before_cuda)


def test_kornia_under_the_fork_is_a_function_of_the_seed(device):
    aug = build_augment(AugmentConfig(p=1.0, hflip=True)).to(device)
    x = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(0)).to(device)
    before = torch.random.get_rng_state()
    with forked_rng(derive_seed(0, STEP, 0, 0, 3), device):
        a = aug(x)
    torch.rand(3)  # the global stream moves on between the calls: the fork must not care
    moved = torch.random.get_rng_state()
    with forked_rng(derive_seed(0, STEP, 0, 0, 3), device):
        b = aug(x)
    with forked_rng(derive_seed(0, STEP, 0, 0, 4), device):
        c = aug(x)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c) and not torch.allclose(a, x)
    assert not torch.equal(before, moved) and torch.equal(torch.random.get_rng_state(), moved)


def test_mixup_draws_lam_and_pairs_from_its_generator_only():
    x = torch.rand(8, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    t = torch.arange(8)
    before = torch.random.get_rng_state()
    m1, t1, lam1 = mixup(x, t, 0.4, torch.Generator().manual_seed(5))
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.rand(3)  # the global stream moves on: MixUp must not care
    m2, t2, lam2 = mixup(x, t, 0.4, torch.Generator().manual_seed(5))
    assert lam1 == lam2 and torch.equal(t1, t2) and torch.equal(m1, m2)
    assert torch.allclose(m1, lam1 * x + (1 - lam1) * x[t1])
    lams = {mixup(x, t, 0.4, torch.Generator().manual_seed(s))[2] for s in range(6)}
    assert len(lams) == 6 and all(0.0 <= lam <= 1.0 for lam in lams)
    g = torch.Generator().manual_seed(5)
    mixup(x, t, 0.4, g)
    assert mixup(x, t, 0.4, g)[2] != lam1  # the generator advances: the next batch draws anew
    assert mixup(x, t, 0.0, torch.Generator())[2] == 1.0


def test_training_neither_reads_nor_changes_the_global_rng(fake_build, tmp_path):
    root, _ = fake_build
    torch.set_num_threads(2)

    def train(name: str, seed: int = 3) -> dict:
        cfg = TrainConfig(data=str(root), out=str(tmp_path / name), image_size=32, epochs=2, batch_size=8,
                          val_fraction=0.3, split_seed=1, seed=seed, loader_workers=1, mixup=0.4,
                          progress=False, device="cpu")
        before = torch.random.get_rng_state()
        run(cfg)
        assert torch.equal(torch.random.get_rng_state(), before)
        return load_checkpoint(tmp_path / name / "last.pt")["model"]

    a = train("a")
    torch.manual_seed(12345)  # a different global state: the run must not see it
    b = train("b")
    c = train("c", seed=4)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert not torch.equal(a["conv1.weight"], c["conv1.weight"])
