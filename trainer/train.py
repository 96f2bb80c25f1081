"""Training loop: data, model, one-cycle AdamW, checkpoints; one rank's view of a run.

`run(cfg, dist)` is what both executors call (`trainer.distributed`): `--executor local` in
this process, `--executor ray` once per Ray Train worker with torch.distributed set up.
Rank 0 writes `RUN_DIR/last.pt` every epoch, `RUN_DIR/best.pt` when validation improves,
and `RUN_DIR/config.json`. Every checkpoint holds model, optimiser, scheduler, epoch, step,
the resolved config and the class names.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Subset

from generator.errors import ConfigError
from trainer.augment import AugmentConfig, build_augment, mixup
from trainer.config import TrainConfig
from trainer.dali_stream import DaliStream, dali_unusable, use_dali
from trainer.metrics import classification_report, multilabel_report
from trainer.models import build_model, load_init, strip_wrappers
from trainer.plain import EpochSampler, PlainDataset
from trainer.stream import GpuDecoder, ShardStream, collate_raw, is_build

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in a run; `report` receives each epoch's metrics (Ray Train)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    report: Callable[[dict], None] | None = field(default=None, compare=False)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """auto -> cuda:<local_rank> when CUDA is present, else cpu (logged)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
        log.info("--device auto: using %s", name)
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("--device", "cuda", "auto or cpu (no CUDA device is visible here)")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


# ---------------------------------------------------------------------------------------- data


def data_classes(source: str) -> list[str]:
    """The class list of a build (manifest order) or of plain data (sorted names)."""
    if is_build(source):
        from trainer.stream import Build

        return Build(source).classes
    from trainer.plain import read_items

    return read_items(source)[1]


def _plain_split(n: int, fraction: float, split_seed: int, subset: str) -> list[int]:
    u = np.random.default_rng([split_seed, n]).random(n)
    keep = (u < fraction) if subset == "val" else (u >= fraction)
    return np.flatnonzero(keep).tolist()


@dataclass
class Data:
    """A dataset plus the loader built on it; `set_epoch` reaches the sampler or stream."""

    dataset: torch.utils.data.Dataset | DaliStream
    loader: DataLoader | DaliStream  # a DaliStream batches, decodes and moves to the device itself
    num_batches: int
    class_counts: np.ndarray
    raw: bool  # batches hold encoded images for the GPU decoder

    def set_epoch(self, epoch: int) -> None:
        for obj in (self.dataset, getattr(self.loader, "sampler", None)):
            if hasattr(obj, "set_epoch"):
                obj.set_epoch(epoch)


def open_data(source: str, *, classes: list[str], subset: str, train: bool, cfg_seed: int, image_size: int,
              task: str, batch_size: int, loader_workers: int, val_fraction: float = 0.0, split_seed: int = 0,
              rank: int = 0, world_size: int = 1, raw: bool = False, balance: str = "none",
              shuffle_buffer: int = 512, pin_memory: bool = False, dali_device: torch.device | None = None) -> Data:
    """A loader over a build, folder or CSV. `subset`: "all", "train" or "val" (the fixed
    split of `val_fraction`). Training loaders shuffle per epoch and split across ranks; the
    others read everything once, in order, on one rank. `dali_device`: read the build with DALI
    (`DaliStream`, `loader_workers` DALI threads), its batches already on that device."""
    common = dict(batch_size=batch_size, num_workers=loader_workers, pin_memory=pin_memory)
    if is_build(source):
        if balance == "sampler" and train:
            raise ConfigError("--balance", "sampler", "none, weights for builds (a stream has no sampler; "
                                                      "sampler works with folder/CSV data)")
        if dali_device is not None:
            dali = DaliStream(source, classes=classes, subset=subset, val_fraction=val_fraction,
                              split_seed=split_seed, seed=cfg_seed, shuffle=train, rank=rank if train else 0,
                              world_size=world_size if train else 1, drop_remainder=train, image_size=image_size,
                              task=task, batch_size=batch_size, device=dali_device,
                              num_threads=max(loader_workers, 1), shuffle_buffer=shuffle_buffer)
            return Data(dali, dali, dali.num_batches, dali.build.class_counts(), False)
        ds = ShardStream(source, classes=classes, subset=subset, val_fraction=val_fraction, split_seed=split_seed,
                         seed=cfg_seed, shuffle=train, rank=rank if train else 0,
                         world_size=world_size if train else 1, drop_remainder=train, image_size=image_size,
                         task=task, decode="raw" if raw else "cpu", shuffle_buffer=shuffle_buffer)
        loader = DataLoader(ds, collate_fn=collate_raw if raw else None, **common)
        counts = ds.build.class_counts()
        return Data(ds, loader, ds.batches_per_epoch(batch_size, loader_workers), counts, raw)
    full = PlainDataset(source, classes=classes, image_size=image_size, task=task)
    indices = list(range(len(full))) if subset == "all" else _plain_split(len(full), val_fraction, split_seed, subset)
    ds = Subset(full, indices)
    labels = full.labels[indices]
    counts = np.bincount(labels, minlength=len(classes))
    weights = None
    if train and balance == "sampler":
        weights = 1.0 / np.maximum(counts[labels], 1)
    sampler = EpochSampler(len(ds), seed=cfg_seed, rank=rank if train else 0, world_size=world_size if train else 1,
                           shuffle=train, weights=weights)
    loader = DataLoader(ds, sampler=sampler, **common)
    return Data(ds, loader, math.ceil(len(sampler) / batch_size), counts, False)


# ----------------------------------------------------------------------------------- checkpoints


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
        "versions": {"torch": torch.__version__},
    }
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def model_from_checkpoint(checkpoint: dict) -> nn.Module:
    cfg = checkpoint["config"]
    model = build_model(cfg["model"], len(checkpoint["classes"]))
    model.load_state_dict(checkpoint["model"])
    return model


# ------------------------------------------------------------------------------------- steps


def make_loss(task: str, class_counts: np.ndarray, balance: str, label_smoothing: float,
              device: torch.device) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """loss(logits (B, C), targets) -> scalar. Class weights N / (C * n_c) with --balance weights."""
    weight = None
    if balance == "weights":
        counts = np.maximum(class_counts.astype(np.float64), 1.0)
        weight = torch.tensor(counts.sum() / (len(counts) * counts), dtype=torch.float32, device=device)
    if task == "multilabel":
        def bce(logits, targets):
            t = targets * (1 - label_smoothing) + 0.5 * label_smoothing
            per = F.binary_cross_entropy_with_logits(logits.float(), t, reduction="none")
            return (per * weight).mean() if weight is not None else per.mean()
        return bce
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=label_smoothing)


@dataclass
class EpochStats:
    steps: int = 0
    images: int = 0
    loss_sum: float = 0.0
    data_s: float = 0.0
    compute_s: float = 0.0
    seconds: float = 0.0

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0

    @property
    def loss(self) -> float:
        return self.loss_sum / max(self.steps, 1)


def _prepare(batch, device: torch.device, decoder: GpuDecoder | None, channels_last: bool):
    images, targets, keys = batch
    if decoder is not None:
        images = decoder(images)  # (B, 1, S, S) float32 on the GPU
    images = images.to(device, non_blocking=True)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images, targets.to(device, non_blocking=True), keys


def train_one_epoch(model: nn.Module, data: Data, *, optimizer, scheduler, loss_fn, device: torch.device,
                    augment: nn.Module | None, cfg: TrainConfig, epoch: int, step: int, max_step: int,
                    decoder: GpuDecoder | None, generator: torch.Generator, channels_last: bool = False,
                    bar=None) -> tuple[EpochStats, int]:
    """One pass over `data` (stops at global step `max_step`); returns stats and the new step."""
    model.train()
    stats = EpochStats()
    use_bf16 = device.type == "cuda"
    start = last = time.perf_counter()
    for batch in data.loader:
        if step >= max_step:
            break
        images, targets, _ = _prepare(batch, device, decoder, channels_last)
        t_data = time.perf_counter()
        if augment is not None:
            images = augment(images)
        targets_b, lam = targets, 1.0
        if cfg.mixup > 0:
            images, targets_b, lam = mixup(images, targets, cfg.mixup, generator)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16):
            logits = model(images)
        logits = logits.float()
        loss = loss_fn(logits, targets)
        if lam < 1.0:
            loss = lam * loss + (1 - lam) * loss_fn(logits, targets_b)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        lr = scheduler.get_last_lr()[0]  # the LR this step used
        scheduler.step()
        loss_value = float(loss.detach())  # a CPU-GPU sync point: compute time below is honest
        now = time.perf_counter()
        stats.data_s += t_data - last
        stats.compute_s += now - t_data
        stats.steps += 1
        stats.images += images.shape[0]
        stats.loss_sum += loss_value
        step += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.3f}", lr=f"{lr:.2e}")
        if step % cfg.log_every == 0:
            elapsed = now - start
            log.info("epoch %d step %d loss %.4f lr %.2e images/s %.1f data_s %.2f compute_s %.2f",
                     epoch, step, loss_value, lr, stats.images / max(elapsed, 1e-9),
                     stats.data_s, stats.compute_s)
        last = time.perf_counter()
    stats.seconds = time.perf_counter() - start
    return stats, step


@torch.no_grad()
def predict(model: nn.Module, data: Data, *, device: torch.device, task: str, decoder: GpuDecoder | None = None,
            channels_last: bool = True, top_k: int = 0, bar=None) -> dict:
    """Run `model` over `data`: probs (N, C), targets, keys, per-sample losses, and the `top_k`
    highest-loss samples as (loss, key, image (1, 128, 128) cpu, target, predicted)."""
    model.eval()
    probs, targets_all, keys_all, losses = [], [], [], []
    top: list = []
    use_bf16 = device.type == "cuda"
    for batch in data.loader:
        images, targets, keys = _prepare(batch, device, decoder, channels_last)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16):
            logits = model(images)
        logits = logits.float()
        if task == "multilabel":
            p = torch.sigmoid(logits)
            loss = F.binary_cross_entropy_with_logits(logits, targets.float(), reduction="none").mean(dim=1)
        else:
            p = torch.softmax(logits, dim=1)
            loss = F.cross_entropy(logits, targets, reduction="none")
        probs.append(p.cpu().numpy())
        targets_all.append(targets.cpu().numpy())
        keys_all.extend(keys)
        losses.append(loss.cpu().numpy())
        if top_k:
            small = F.interpolate(images.float(), size=(128, 128), mode="bilinear", antialias=True).cpu()
            for i, value in enumerate(loss.cpu().tolist()):
                item = (value, keys[i], small[i], targets[i].cpu().numpy(), p[i].cpu().numpy())
                if len(top) < top_k:
                    heapq.heappush(top, (value, len(keys_all) - len(keys) + i, item))
                elif value > top[0][0]:
                    heapq.heapreplace(top, (value, len(keys_all) - len(keys) + i, item))
        if bar is not None:
            bar.update(len(keys))
    if not probs:
        raise ValueError("no samples to predict on")
    return {
        "probs": np.concatenate(probs),
        "targets": np.concatenate(targets_all),
        "keys": keys_all,
        "losses": np.concatenate(losses),
        "top": [entry[2] for entry in sorted(top, key=lambda e: -e[0])],
    }


def report_for(task: str, result: dict, classes: list[str]) -> dict:
    if task == "multilabel":
        return multilabel_report(result["probs"], result["targets"], classes)
    return classification_report(result["probs"], result["targets"], classes)


def headline(report: dict) -> tuple[str, float | None]:
    """The validation metric runs are compared by: any-FB AUROC, else macro AUROC, else accuracy."""
    for name, value in (("auroc_any", (report.get("any_foreign_body") or {}).get("auroc")),
                        ("macro_auroc", report.get("macro_auroc")),
                        ("accuracy", report.get("accuracy"))):
        if value is not None:
            return name, float(value)
    return "none", None


# --------------------------------------------------------------------------------------- run


@dataclass
class TrainResult:
    epochs: int
    seconds: float
    images_per_s: float
    best_metric_name: str
    best_metric: float | None
    checkpoint: str
    history: list[dict]

    def line(self) -> str:
        best = "n/a" if self.best_metric is None else f"{self.best_metric:.4f}"
        return (f"trained {self.epochs} epoch(s) in {self.seconds:.1f} s, {self.images_per_s:.1f} images/s, "
                f"best val {self.best_metric_name} {best} -> {self.checkpoint}")


def run(cfg: TrainConfig, dist: DistInfo = DistInfo()) -> TrainResult:
    """Train as rank `dist.rank` of `dist.world_size` (DDP when world_size > 1)."""
    cfg = cfg.validate()
    device = resolve_device(cfg.device, dist.local_rank)
    torch.manual_seed(cfg.seed * 1009 + dist.rank)  # seeds Kornia's and the stem's draws, explicitly
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    classes = data_classes(cfg.data)
    dali = use_dali(cfg.decoder, cfg.data, device.type)
    raw = not dali and (cfg.decoder == "gpu" or (cfg.decoder == "auto" and device.type == "cuda"))
    if raw and device.type != "cuda":
        raise ConfigError("--decoder", "gpu", "auto, cpu, dali (no CUDA device here)")
    decoder = GpuDecoder(device, cfg.image_size) if raw and is_build(cfg.data) else None
    raw = decoder is not None
    if dist.is_main:
        log.info("--decoder %s: using %s", cfg.decoder, f"dali (DALI webdataset reader, {device.type} decode)" if dali
                 else "gpu (nvJPEG)" if raw else "cpu (PIL in loader workers)")
    common = dict(classes=classes, cfg_seed=cfg.seed, image_size=cfg.image_size, task=cfg.task,
                  loader_workers=cfg.loader_workers, split_seed=cfg.split_seed, pin_memory=device.type == "cuda")
    train_data = open_data(cfg.data, subset="all" if cfg.val else "train", train=True, batch_size=cfg.batch_size,
                           val_fraction=cfg.val_fraction, rank=dist.rank, world_size=dist.world_size, raw=raw,
                           balance=cfg.balance, shuffle_buffer=cfg.shuffle_buffer,
                           dali_device=device if dali else None, **common)
    val_data = None
    if dist.is_main and (cfg.val or cfg.val_fraction > 0):
        val_source = cfg.val or cfg.data
        val_decoder_ok = raw and is_build(val_source)
        val_dali = dali and dali_unusable(val_source) is None
        val_data = open_data(val_source, subset="all" if cfg.val else "val", train=False,
                             batch_size=cfg.batch_size, val_fraction=cfg.val_fraction, raw=val_decoder_ok,
                             dali_device=device if val_dali else None, **common)
    if train_data.num_batches == 0:
        raise ConfigError("--data", cfg.data, f"a dataset with at least one training sample per rank "
                                              f"({dist.world_size} rank(s))")

    model = build_model(cfg.model, len(classes))
    resume_state = None
    if cfg.resume and (out / "last.pt").exists():
        resume_state = load_checkpoint(out / "last.pt")
        if resume_state["classes"] != classes:
            raise ConfigError("--resume", str(out), f"a run on the same classes ({resume_state['classes']})")
        model.load_state_dict(resume_state["model"])
    elif cfg.init:
        replaced = load_init(model, cfg.model, load_checkpoint(cfg.init), classes)
        log.info("--init %s loaded%s", cfg.init, " (head replaced)" if replaced else "")
    model.to(device)
    channels_last = cfg.channels_last and device.type == "cuda"
    if channels_last:
        model.to(memory_format=torch.channels_last)
    train_model: nn.Module = model
    if dist.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel

        train_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        train_model = torch.compile(train_model)

    steps_per_epoch = train_data.num_batches
    total_steps = min(cfg.epochs * steps_per_epoch, cfg.max_steps or cfg.epochs * steps_per_epoch)
    epochs = math.ceil(total_steps / steps_per_epoch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start_epoch, step, best, history = 0, 0, None, []
    if resume_state is not None:
        optimizer.load_state_dict(resume_state["optimizer"])
        start_epoch, step = resume_state["epoch"] + 1, resume_state["step"]
        best = resume_state.get("best_metric")
        history = list((resume_state.get("metrics") or {}).get("history", []))
        # A budget (--max-steps) may have ended the saved epoch early: run the steps still due.
        epochs = start_epoch + math.ceil(max(total_steps - step, 0) / steps_per_epoch)
        log.info("--resume: continuing %s after epoch %d (step %d)", out, resume_state["epoch"], step)
    # Warm up for a quarter of the steps, but at least ~1.5 steps: OneCycleLR divides by the
    # length of each phase, which must not round to zero on very short runs.
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=max(total_steps, 2),
                                                    pct_start=min(max(0.25, 1.5 / max(total_steps, 2)), 0.75))
    if resume_state is not None:
        if resume_state["scheduler"]["total_steps"] == scheduler.total_steps:
            scheduler.load_state_dict(resume_state["scheduler"])
        else:  # --epochs changed on resume: re-plan the cycle for the new length, at the same step
            log.warning("--resume: schedule re-planned for %d steps (was %d)", scheduler.total_steps,
                        resume_state["scheduler"]["total_steps"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()": intended here
                for _ in range(min(step, scheduler.total_steps)):
                    scheduler.step()
    loss_fn = make_loss(cfg.task, train_data.class_counts, cfg.balance, cfg.label_smoothing, device)
    augment = None
    if cfg.augment:
        augment = build_augment(AugmentConfig(hflip=cfg.hflip, vflip=cfg.vflip)).to(device)
    generator = torch.Generator().manual_seed(cfg.seed * 7919 + dist.rank)
    if dist.is_main:
        (out / "config.json").write_text(json.dumps({"config": cfg.to_dict(), "classes": classes}, indent=2))
        log.info("training %s on %s: %d classes, %d samples/rank/epoch, %d steps/epoch, %d epoch(s), %d rank(s)",
                 cfg.model, device, len(classes), len(train_data.dataset), steps_per_epoch, epochs, dist.world_size)

    bar = None
    if cfg.progress and dist.is_main:
        from tqdm import tqdm

        bar = tqdm(total=total_steps, initial=step, unit="step", desc="train", dynamic_ncols=True)
    metric_name, images, seconds = "none", 0, 0.0
    ckpt_path = out / "last.pt"
    try:
        for epoch in range(start_epoch, epochs):
            train_data.set_epoch(epoch)
            stats, step = train_one_epoch(train_model, train_data, optimizer=optimizer, scheduler=scheduler,
                                          loss_fn=loss_fn, device=device, augment=augment, cfg=cfg, epoch=epoch,
                                          step=step, max_step=total_steps, decoder=decoder, generator=generator,
                                          channels_last=channels_last, bar=bar)
            images += stats.images
            seconds += stats.seconds
            entry = {"epoch": epoch, "step": step, "train_loss": stats.loss, "images": stats.images,
                     "train_seconds": stats.seconds, "images_per_s": stats.images_per_s,
                     "data_s": stats.data_s, "compute_s": stats.compute_s}
            if val_data is not None:
                report = report_for(cfg.task, predict(model, val_data, device=device, task=cfg.task,
                                                      decoder=decoder if val_data.raw else None,
                                                      channels_last=channels_last), classes)
                metric_name, value = headline(report)
                entry.update({"val_" + metric_name: value, "val_accuracy": report.get("accuracy")})
            else:
                value = None
            history.append(entry)
            if dist.is_main:
                log.info("epoch %d: %s", epoch, json.dumps(entry))
                improved = value is not None and (best is None or value > best)
                if improved:
                    best = value
                metrics = {"history": history, "best_metric_name": metric_name}
                save_checkpoint(ckpt_path, model=model, optimizer=optimizer, scheduler=scheduler, epoch=epoch,
                                step=step, cfg=cfg, classes=classes, metrics=metrics, best_metric=best)
                if improved or val_data is None:
                    save_checkpoint(out / "best.pt", model=model, optimizer=None, scheduler=None, epoch=epoch,
                                    step=step, cfg=cfg, classes=classes, metrics=metrics, best_metric=best)
            if dist.report is not None:
                dist.report(entry)
            if dist.world_size > 1:
                torch.distributed.barrier()  # rank 0 validates and saves while the others wait
    finally:
        if bar is not None:
            bar.close()
    best_path = out / "best.pt"
    return TrainResult(epochs=epochs - start_epoch, seconds=seconds, images_per_s=images / seconds if seconds else 0.0,
                       best_metric_name=metric_name, best_metric=best,
                       checkpoint=str(best_path if best_path.exists() else ckpt_path), history=history)
