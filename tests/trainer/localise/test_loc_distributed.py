"""Ray Train with 2 gloo workers on CPU for --task detect: DDP runs the detector, ranks share the
epoch without overlap, rank 0 writes the checkpoint."""

import pytest
from _loc_builds import write_loc_build

from trainer.checkpoint import load_checkpoint
from trainer.config import TrainConfig
from trainer.distributed import train


@pytest.mark.slow
def test_ray_two_workers_gloo_detect(tmp_path):
    ray = pytest.importorskip("ray")
    build = write_loc_build(tmp_path / "build", [8, 8])  # 16 samples: 8 per rank
    cfg = TrainConfig(data=str(build), out=str(tmp_path / "run"), task="detect", model="fasterrcnn_resnet18",
                      executor="ray", workers=2, cpus_per_worker=0.5, image_size=64, epochs=1, batch_size=4,
                      val_fraction=0.0, loader_workers=0, progress=False)
    try:
        result = train(cfg)
    finally:
        ray.shutdown()
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    history = state["metrics"]["history"]
    assert [h["epoch"] for h in history] == [0]
    assert history[0]["images"] == 8  # rank 0's half of the epoch
    assert state["step"] == 2 and result.epochs == 1
    assert state["config"]["task"] == "detect" and "backbone.body.conv1.weight" in state["model"]
