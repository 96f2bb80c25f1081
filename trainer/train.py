"""The training loop, one rank's view of a run: `train_one_epoch`, `predict` (evaluation) and
`run`, with data from `trainer.data` and checkpoints from `trainer.checkpoint`.

`run(cfg, dist)` is what both executors call (`trainer.distributed`): `--executor local` in
this process, `--executor ray` once per Ray Train worker with torch.distributed set up.
Rank 0 writes `RUN_DIR/last.pt` every epoch, `RUN_DIR/best.pt` when validation improves,
and `RUN_DIR/config.json`. Every checkpoint holds model, optimiser, scheduler, epoch, step,
the resolved config and the class names. Every random draw is seeded explicitly
(`trainer.rng`); a run leaves torch's global RNG as it found it.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from generator.device import resolve_device
from generator.errors import ConfigError
from trainer.augment import AugmentConfig, build_augment, mixup
from trainer.checkpoint import load_option, save_checkpoint
from trainer.config import TrainConfig
from trainer.curves import Curves
from trainer.dali_stream import dali_unusable, use_dali
from trainer.data import Data, check_val_disjoint, data_classes, open_data
from trainer.errors import DataError
from trainer.localise.names import LOC_TASKS
from trainer.metrics import classification_report, multilabel_report
from trainer.models import build_model, load_init
from trainer.rng import INIT, MIXUP, STEP, derive_seed, forked_rng
from trainer.stream import BatchDecoder, is_build

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


def _prepare(batch, device: torch.device, decoder: BatchDecoder | None, channels_last: bool):
    images, targets, keys = batch
    if decoder is not None:
        images = decoder(images)  # (B, 1, S, S) float32 on the GPU
    images = images.to(device, non_blocking=True)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images, targets.to(device, non_blocking=True), keys


def train_one_epoch(model: nn.Module, data: Data, *, optimizer, scheduler, loss_fn, device: torch.device,
                    augment: nn.Module | None, cfg: TrainConfig, epoch: int, step: int, max_step: int,
                    decoder: BatchDecoder | None, generator: torch.Generator, rank: int = 0,
                    channels_last: bool = False, bar=None, loc=None,
                    on_step: Callable[[int, float, float], None] | None = None) -> tuple[EpochStats, int]:
    """One pass over `data` (stops at global step `max_step`); returns stats and the new step.
    `generator` draws MixUp; Kornia and dropout draw from a fork seeded by (cfg.seed, epoch,
    rank, step), so torch's global RNG is neither read nor changed. `loc`: a localising task
    (`trainer.localise.task.LocTask`), which computes each batch's loss itself. `on_step(step,
    loss, lr)` follows every optimiser step (trainer.curves)."""
    model.train()
    stats = EpochStats()
    use_bf16 = device.type == "cuda"
    start = last = time.perf_counter()
    for batch in data.loader:
        if step >= max_step:
            break
        if loc is not None:  # a localising task computes its batch's loss (trainer.localise.task)
            t_data = time.perf_counter()
            with forked_rng(derive_seed(cfg.seed, STEP, epoch, rank, step), device):
                loss, batch_images = loc.loss(model, batch, device, augment)
        else:
            if len(batch[2]) < 2:  # a worker's last partial batch of one sample: BatchNorm cannot train on it
                log.warning("epoch %d: skipped a training batch of one sample (%s)", epoch, batch[2][0])
                continue
            images, targets, _ = _prepare(batch, device, decoder, channels_last)
            t_data = time.perf_counter()
            # Kornia and dropout take no generator: they draw from the global RNG, forked per step.
            with forked_rng(derive_seed(cfg.seed, STEP, epoch, rank, step), device):
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
            batch_images = images.shape[0]
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
        stats.images += batch_images
        stats.loss_sum += loss_value
        step += 1
        if on_step is not None:
            on_step(step, loss_value, lr)
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
def predict(model: nn.Module, data: Data, *, device: torch.device, task: str, decoder: BatchDecoder | None = None,
            channels_last: bool = True, top_k: int = 0, bar=None,
            top_by: Callable[[np.ndarray], np.ndarray] | None = None) -> dict:
    """Run `model` over `data`: probs (N, C), targets, keys, per-sample losses, and the `top_k`
    highest-loss samples as (loss, key, image (1, 128, 128) cpu, target, predicted); with
    `top_by` (probs (B, C) -> (B,) values), the `top_k` highest by that value instead."""
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
            values = loss.cpu().tolist() if top_by is None else np.asarray(top_by(probs[-1])).tolist()
            for i, value in enumerate(values):
                item = (value, keys[i], small[i], targets[i].cpu().numpy(), p[i].cpu().numpy())
                if len(top) < top_k:
                    heapq.heappush(top, (value, len(keys_all) - len(keys) + i, item))
                elif value > top[0][0]:
                    heapq.heapreplace(top, (value, len(keys_all) - len(keys) + i, item))
        if bar is not None:
            bar.update(len(keys))
    if not probs:
        raise DataError("data with at least one readable sample (none was read: every one was skipped, or "
                        "there were none)")
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
    device = resolve_device(cfg.device, local_rank=dist.local_rank)
    out = Path(cfg.out)  # created only once the data, checkpoints and options have been checked
    init_state = load_option("--init", cfg.init) if cfg.init else None
    resume_state = load_option("--resume", out / "last.pt") if cfg.resume and (out / "last.pt").exists() else None
    if cfg.val:
        check_val_disjoint(cfg.data, cfg.val)
    loc = None
    if cfg.task in LOC_TASKS:  # detect / segment: task logic in trainer.localise
        from trainer.localise.samples import loc_classes
        from trainer.localise.task import LocTask

        classes = loc_classes(cfg.data)
        loc = LocTask(cfg, classes)
    else:
        classes = data_classes(cfg.data)
    dali = loc is None and use_dali(cfg.decoder, cfg.data, device.type)
    raw = loc is None and not dali and (cfg.decoder == "gpu" or (cfg.decoder == "auto" and device.type == "cuda"))
    if raw and device.type != "cuda":
        raise ConfigError("--decoder", "gpu", "auto, cpu, dali (no CUDA device here)")
    decoder = BatchDecoder(device, cfg.image_size) if raw and is_build(cfg.data) else None
    raw = decoder is not None
    if dist.is_main:
        log.info("--decoder %s: using %s", cfg.decoder, f"dali (DALI webdataset reader, {device.type} decode)" if dali
                 else "gpu (nvJPEG)" if raw else "cpu (PIL in loader workers)")
    common = dict(classes=classes, cfg_seed=cfg.seed, image_size=cfg.image_size, task=cfg.task,
                  loader_workers=cfg.loader_workers, split_seed=cfg.split_seed, pin_memory=device.type == "cuda")
    opener = open_data if loc is None else loc.open_data
    train_data = opener(cfg.data, subset="all" if cfg.val else "train", train=True, batch_size=cfg.batch_size,
                           val_fraction=cfg.val_fraction, rank=dist.rank, world_size=dist.world_size, raw=raw,
                           balance=cfg.balance, shuffle_buffer=cfg.shuffle_buffer,
                           dali_device=device if dali else None, **common)
    val_data = None
    if dist.is_main and (cfg.val or cfg.val_fraction > 0):
        val_source = cfg.val or cfg.data
        val_min_box_px = loc.min_box_px_for(val_source) if loc is not None else 0.0
        val_decoder_ok = raw and is_build(val_source)
        val_dali = dali and dali_unusable(val_source) is None
        val_data = opener(val_source, subset="all" if cfg.val else "val", train=False,
                             batch_size=cfg.batch_size, val_fraction=cfg.val_fraction, raw=val_decoder_ok,
                             dali_device=device if val_dali else None, option="--val" if cfg.val else "--data",
                             **common)
    if len(train_data.dataset) < 2:
        raise ConfigError("--data", cfg.data, f"a dataset with at least two training samples per rank "
                                              f"({dist.world_size} rank(s); BatchNorm trains on batches of two "
                                              f"or more), it gives {len(train_data.dataset)}")
    if val_data is not None and val_data.num_batches == 0:
        option, value = ("--val", cfg.val) if cfg.val else ("--val-fraction", cfg.val_fraction)
        raise ConfigError(option, value, "a validation set of at least one sample: whole patients are held out, "
                                         "so a build of few patients may need a larger --val-fraction, another "
                                         "--split-seed, a --val build or --val-fraction 0")

    with forked_rng(derive_seed(cfg.seed, INIT), torch.device("cpu")):  # the same on every rank
        model = build_model(cfg.model, len(classes)) if loc is None else loc.build_model()
    if resume_state is not None:
        if resume_state["classes"] != classes:
            raise ConfigError("--resume", str(out), f"a run on the same classes ({resume_state['classes']}), "
                                                    f"--data has {classes}")
        try:
            model.load_state_dict(resume_state["model"])
        except RuntimeError as exc:
            raise ConfigError("--resume", str(out / "last.pt"), f"a checkpoint of a {cfg.model} "
                                                                f"({str(exc).splitlines()[0][:200]})") from None
    elif init_state is not None and loc is not None:
        log.info("--init %s: %s", cfg.init, loc.load_init(model, init_state))
    elif init_state is not None:
        try:
            replaced = load_init(model, cfg.model, init_state, classes)
        except (ValueError, RuntimeError) as exc:
            raise ConfigError("--init", cfg.init, f"a checkpoint that fits --model {cfg.model} "
                                                  f"({str(exc).splitlines()[0][:200]})") from None
        log.info("--init %s loaded%s", cfg.init, " (head replaced)" if replaced else "")
    model.to(device)
    channels_last = cfg.channels_last and device.type == "cuda" and loc is None
    if channels_last:
        model.to(memory_format=torch.channels_last)
    train_model: nn.Module = model
    if dist.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel

        train_model = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
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
        augment = (build_augment(AugmentConfig(hflip=cfg.hflip, vflip=cfg.vflip)) if loc is None
                   else loc.build_augment()).to(device)
    if dist.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps({"config": cfg.to_dict(), "classes": classes}, indent=2))
        log.info("training %s on %s: %d classes, %d samples/rank/epoch, %d steps/epoch, %d epoch(s), %d rank(s)",
                 cfg.model, device, len(classes), len(train_data.dataset), steps_per_epoch, epochs, dist.world_size)

    bar = None
    if cfg.progress and dist.is_main:
        from tqdm import tqdm

        bar = tqdm(total=total_steps, initial=step, unit="step", desc="train", dynamic_ncols=True)
    metric_name, images, seconds = "none", 0, 0.0
    ckpt_path = out / "last.pt"
    curves = Curves(out, history) if dist.is_main else None  # TensorBoard events + metrics.csv in RUN_DIR
    try:
        for epoch in range(start_epoch, epochs):
            train_data.set_epoch(epoch)
            generator = torch.Generator().manual_seed(derive_seed(cfg.seed, MIXUP, epoch, dist.rank))
            stats, step = train_one_epoch(train_model, train_data, optimizer=optimizer, scheduler=scheduler,
                                          loss_fn=loss_fn, device=device, augment=augment, cfg=cfg, epoch=epoch,
                                          step=step, max_step=total_steps, decoder=decoder, generator=generator,
                                          rank=dist.rank, channels_last=channels_last, bar=bar, loc=loc,
                                          on_step=curves.step if curves else None)
            images += stats.images
            seconds += stats.seconds
            entry = {"epoch": epoch, "step": step, "train_loss": stats.loss, "images": stats.images,
                     "train_seconds": stats.seconds, "images_per_s": stats.images_per_s,
                     "data_s": stats.data_s, "compute_s": stats.compute_s}
            if val_data is not None and loc is not None:
                report = loc.report(loc.predict(model, val_data.loader, device), min_box_px=val_min_box_px)
                metric_name, value = loc.headline(report)
                entry.update({"val_" + metric_name: value, "val_auroc_any": report["image_level"]["auroc_any"]})
            elif val_data is not None:
                report = report_for(cfg.task, predict(model, val_data, device=device, task=cfg.task,
                                                      decoder=decoder if val_data.raw else None,
                                                      channels_last=channels_last), classes)
                metric_name, value = headline(report)
                entry.update({"val_" + metric_name: value, "val_accuracy": report.get("accuracy")})
            else:
                value = None
            history.append(entry)
            if curves is not None:
                curves.epoch(entry)
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
        if curves is not None:
            curves.close()
    best_path = out / "best.pt"
    return TrainResult(epochs=epochs - start_epoch, seconds=seconds, images_per_s=images / seconds if seconds else 0.0,
                       best_metric_name=metric_name, best_metric=best,
                       checkpoint=str(best_path if best_path.exists() else ckpt_path), history=history)
