"""Ray Train with 2 gloo workers on CPU: DDP runs, ranks share the epoch without overlap,
rank 0 writes the checkpoint."""

import pytest
from _builds import write_fake_build

from trainer.checkpoint import load_checkpoint
from trainer.config import TrainConfig
from trainer.distributed import train


@pytest.mark.slow
def test_ray_two_workers_gloo(tmp_path):
    ray = pytest.importorskip("ray")
    build = tmp_path / "build"
    write_fake_build(build, [12, 12, 12, 12])  # 48 samples: 24 per rank
    cfg = TrainConfig(data=str(build), out=str(tmp_path / "run"), executor="ray", workers=2, cpus_per_worker=0.5,
                      image_size=32, epochs=1, batch_size=8, val_fraction=0.0, loader_workers=0, progress=False)
    try:
        result = train(cfg)
    finally:
        ray.shutdown()
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    history = state["metrics"]["history"]
    assert [h["epoch"] for h in history] == [0]
    assert history[0]["images"] == 24  # rank 0's half of the epoch
    assert state["step"] == 3 and result.epochs == 1
