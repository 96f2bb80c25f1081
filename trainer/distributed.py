"""Executors for a training run: `local` (this process, no Ray) or `ray` (Ray Train DDP).

With `--executor ray`, `TorchTrainer` starts `--workers` processes, sets up
torch.distributed (NCCL when the workers have GPUs, gloo otherwise) and calls
`trainer.train.run` in each with its rank. `--ray-address` joins an existing cluster;
without it a local Ray instance is started. Rank 0 writes checkpoints straight into
`--out`, so on several nodes `--out` must be a path every node sees (shared filesystem).
"""

from __future__ import annotations

import logging
from pathlib import Path

from trainer.checkpoint import load_checkpoint
from trainer.config import TrainConfig
from trainer.train import DistInfo, TrainResult, run

log = logging.getLogger(__name__)


def train(cfg: TrainConfig) -> TrainResult:
    """Run `cfg` on its executor; return rank 0's result."""
    cfg = cfg.validate()
    if cfg.executor == "local":
        return run(cfg)
    return _train_ray(cfg)


def _worker_loop(config: dict) -> None:
    """Body of every Ray Train worker."""
    import logging as _logging

    import ray.train

    _logging.basicConfig(level=_logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    ctx = ray.train.get_context()
    cfg = TrainConfig.from_dict(config["train"])
    dist = DistInfo(rank=ctx.get_world_rank(), world_size=ctx.get_world_size(), local_rank=ctx.get_local_rank(),
                    report=lambda metrics: ray.train.report({k: v for k, v in metrics.items() if v is not None}))
    result = run(cfg, dist)
    if dist.is_main:
        print(result.line(), flush=True)


def _train_ray(cfg: TrainConfig) -> TrainResult:
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    use_gpu = cfg.gpus_per_worker > 0
    if not ray.is_initialized():
        if cfg.ray_address:
            ray.init(address=cfg.ray_address)
        else:
            ray.init(include_dashboard=False)
    resources = {"CPU": cfg.cpus_per_worker}
    if use_gpu:
        resources["GPU"] = cfg.gpus_per_worker
    out = Path(cfg.out).resolve()
    # Workers run in their own folders: make the data and run paths absolute first.
    worker_cfg = cfg.but(out=str(out), data=_absolute(cfg.data), val=_absolute(cfg.val) if cfg.val else None,
                         init=_absolute(cfg.init) if cfg.init else None, progress=False)
    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config={"train": worker_cfg.to_dict()},
        torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
        scaling_config=ScalingConfig(num_workers=cfg.workers, use_gpu=use_gpu, resources_per_worker=resources),
        run_config=RunConfig(name=out.name, storage_path=str(out.parent / (out.name + ".ray"))),
    )
    log.info("Ray Train: %d worker(s), backend %s", cfg.workers, "nccl" if use_gpu else "gloo")
    result = trainer.fit()
    if result.error:
        raise result.error
    # last.pt holds the whole history; best.pt (the checkpoint to report) only up to its epoch.
    state = load_checkpoint(out / "last.pt")
    ckpt_path = out / "best.pt" if (out / "best.pt").exists() else out / "last.pt"
    history = state["metrics"]["history"]
    seconds = sum(h["train_seconds"] for h in history)
    # Rank 0's images and time; every rank takes the same number of equal steps.
    ips = cfg.workers * sum(h["images"] for h in history) / seconds if seconds else 0.0
    return TrainResult(epochs=len(history), seconds=seconds, images_per_s=ips,
                       best_metric_name=state["metrics"].get("best_metric_name", "none"),
                       best_metric=state.get("best_metric"), checkpoint=str(ckpt_path), history=history)


def _absolute(path: str) -> str:
    return path if "://" in path else str(Path(path).resolve())
