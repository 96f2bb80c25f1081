"""Typed, frozen configuration of a training run and of an evaluation, validated once at the edge.

`TrainConfig` is written into every checkpoint (`to_dict()`), so a checkpoint says how it was
made. Library code receives these dataclasses, never an argparse namespace.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from generator.errors import ConfigError, check_out_folder
from generator.inputs.splits import DEFAULT_FRACTIONS, check_fractions, format_fractions
from trainer.localise.names import LOC_TASKS, MODELS_BY_TASK

MODELS = ("resnet18", "resnet34", "resnet50", "densenet121",
          "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3")
TASKS = ("multiclass", "multilabel", *LOC_TASKS)
BALANCES = ("none", "weights", "sampler")
EXECUTORS = ("local", "ray")
DEVICES = ("auto", "cpu", "cuda")
DECODERS = ("auto", "cpu", "gpu", "dali")
MIN_IMAGE_PX, MAX_IMAGE_PX = 32, 4096


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """One training run. `data`/`val`: a build (folder or URL with dataset.json), a folder of
    class subfolders, or a CSV of path,label. Without `val`, the samples of about `val_fraction` of
    `data`'s groups (patients) are held out (a fixed split from `split_seed`, independent of `seed`:
    `trainer.split`). A `val` build must share no group with a `data` build."""

    data: str
    out: str
    val: str | None = None
    val_fraction: float = 0.1
    split_seed: int = 0
    model: str = "resnet18"
    task: str = "multiclass"
    image_size: int = 224
    epochs: int = 1
    max_steps: int | None = None  # stop after this many optimiser steps (a budget), None: all epochs
    batch_size: int = 32
    lr: float = 1e-3  # peak LR of the one-cycle schedule (AdamW)
    weight_decay: float = 1e-4
    grad_clip: float = 1.0  # max global grad norm; 0 = off
    label_smoothing: float = 0.0
    mixup: float = 0.0  # Beta(alpha, alpha) MixUp; 0 = off
    balance: str = "none"
    augment: bool = True
    hflip: bool = False  # horizontal flip swaps laterality: only for classes not tied to a side
    vflip: bool = False
    seed: int = 0
    loader_workers: int = 2
    shuffle_buffer: int = 512
    executor: str = "local"
    workers: int = 1
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    ray_address: str | None = None
    device: str = "auto"
    # dali: DALI webdataset reader + decode (CUDA or CPU); gpu: nvJPEG on CUDA; cpu: PIL in loader
    # workers; auto: on CUDA dali for a local tar build when DALI is installed, else gpu; cpu elsewhere
    decoder: str = "auto"
    compile: bool = False
    channels_last: bool = True  # applied on CUDA only: on CPU (oneDNN) NHWC trains slower here
    init: str | None = None  # checkpoint to start from (head replaced when classes differ)
    crop: int | None = None  # detect/segment: train on random crop x crop windows of the image_size film
    # with crop: the share of the crops not drawn around an object that are drawn around one of the
    # film's brightest small structures outside every object (trainer.localise.crops.bright_spots)
    hard_negatives: float = 0.0
    # with crop: the share of the crops drawn around an object (on films holding one)
    object_crops: float = 0.7
    resume: bool = False
    log_every: int = 10
    progress: bool = True

    def validate(self) -> TrainConfig:
        """Check every field and return self. Raises ConfigError naming the option."""
        check_out_folder(self.out)
        _choice("--task", self.task, TASKS)
        _choice("--model", self.model, MODELS_BY_TASK.get(self.task, MODELS), f" (for --task {self.task})")
        if self.task in LOC_TASKS:
            _localising(self)
        _choice("--balance", self.balance, BALANCES)
        _choice("--executor", self.executor, EXECUTORS)
        _choice("--device", self.device, DEVICES)
        _choice("--decoder", self.decoder, DECODERS)
        if not self.data:
            raise ConfigError("--data", self.data, "a build, a folder of class subfolders or a CSV")
        if not self.out:
            raise ConfigError("--out", self.out, "a run folder")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError("--val-fraction", self.val_fraction, "0 <= f < 1")
        if not MIN_IMAGE_PX <= self.image_size <= MAX_IMAGE_PX:
            raise ConfigError("--image-size", self.image_size, f"{MIN_IMAGE_PX}..{MAX_IMAGE_PX} pixels")
        _at_least("--epochs", self.epochs, 1)
        if self.max_steps is not None:
            _at_least("--max-steps", self.max_steps, 1)
        # Every model here has BatchNorm, which cannot train on a batch of one sample.
        _at_least("--batch-size", self.batch_size, 2)
        _at_least("--loader-workers", self.loader_workers, 0)
        _at_least("--shuffle-buffer", self.shuffle_buffer, 1)
        _at_least("--workers", self.workers, 1)
        _at_least("--log-every", self.log_every, 1)
        _at_least("--seed", self.seed, 0)
        _at_least("--split-seed", self.split_seed, 0)
        if not self.lr > 0:
            raise ConfigError("--lr", self.lr, "a positive number")
        for option, value in (("--weight-decay", self.weight_decay), ("--grad-clip", self.grad_clip),
                              ("--mixup", self.mixup), ("--gpus-per-worker", self.gpus_per_worker)):
            if value < 0:
                raise ConfigError(option, value, "a number >= 0")
        if not self.cpus_per_worker > 0:
            raise ConfigError("--cpus-per-worker", self.cpus_per_worker, "a positive number")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError("--label-smoothing", self.label_smoothing, "0 <= s < 1")
        if self.task == "multilabel" and self.balance == "sampler":
            raise ConfigError("--balance", self.balance,
                              "none, weights (a balanced sampler needs one label per sample)")
        if self.executor == "local" and self.workers != 1:
            raise ConfigError("--workers", self.workers, "1 with --executor local (use --executor ray for more)")
        if self.crop is not None and self.task not in LOC_TASKS:
            raise ConfigError("--crop", self.crop, "no --crop for --task " + self.task + " (detect, segment only)")
        if self.resume and self.init:
            raise ConfigError("--init", self.init, "no --init together with --resume (the run's checkpoint wins)")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Inverse of `to_dict`; keys this version does not know are ignored (older checkpoints)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def but(self, **changes) -> TrainConfig:
        """A validated copy with `changes` applied."""
        return replace(self, **changes).validate()


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    """Evaluate `checkpoint` on `data` (a build, a folder of class subfolders, or a CSV), and
    measure false positives on `negatives` (real films with no inserted object: a folder of
    images or a CSV of paths), keeping only those of the patients in `negatives_split` of the
    `generate --split` partition (`split_fractions`, `split_seed`) when it is given."""

    checkpoint: str
    data: str
    out: str
    batch_size: int = 64
    loader_workers: int = 2
    device: str = "auto"
    image_size: int | None = None  # None: the checkpoint's training size
    top_losses: int = 16  # also the size of the sheet of the highest-scoring negatives
    threshold: float = 0.5  # detect/segment: image-level score threshold for sensitivity / specificity
    negatives: str | None = None
    negatives_split: str | None = None
    split_fractions: tuple[tuple[str, float], ...] = DEFAULT_FRACTIONS
    split_seed: int = 0
    # detect/segment: FROC widens boxes under this many model pixels; None: 9 on a build, 0 on a labelled set
    min_box_px: float | None = None
    progress: bool = True

    def validate(self) -> EvalConfig:
        _choice("--device", self.device, DEVICES)
        for option, value in (("--checkpoint", self.checkpoint), ("--data", self.data), ("--out", self.out)):
            if not value:
                raise ConfigError(option, value, "a path")
        check_out_folder(self.out)
        _at_least("--batch-size", self.batch_size, 1)
        _at_least("--loader-workers", self.loader_workers, 0)
        _at_least("--top-losses", self.top_losses, 0)
        if self.min_box_px is not None and not 0 <= self.min_box_px <= 64:
            raise ConfigError("--min-box-px", self.min_box_px, "0..64 model pixels (0: boxes as drawn)")
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError("--threshold", self.threshold, "0 <= t <= 1")
        if self.image_size is not None and not MIN_IMAGE_PX <= self.image_size <= MAX_IMAGE_PX:
            raise ConfigError("--image-size", self.image_size, f"{MIN_IMAGE_PX}..{MAX_IMAGE_PX} pixels")
        _at_least("--split-seed", self.split_seed, 0)
        names = [name for name, _ in check_fractions(self.split_fractions, format_fractions(self.split_fractions))]
        if self.negatives_split is not None:
            if not self.negatives:
                raise ConfigError("--negatives-split", self.negatives_split, "a split name together with --negatives")
            _choice("--negatives-split", self.negatives_split, tuple(names))
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def _choice(option: str, value: str, allowed: tuple[str, ...], note: str = "") -> None:
    if value not in allowed:
        raise ConfigError(option, value, ", ".join(allowed) + note)


def _localising(cfg: TrainConfig) -> None:
    """The options a detect/segment run refuses or needs."""
    if cfg.crop is not None:
        if not isinstance(cfg.crop, int) or not 32 <= cfg.crop <= cfg.image_size:
            raise ConfigError("--crop", cfg.crop, f"32..--image-size ({cfg.image_size}) pixels")
        if cfg.crop % 32:
            raise ConfigError("--crop", cfg.crop, "a multiple of 32 (the models downsample by 32)")
    if not 0.0 <= cfg.hard_negatives <= 1.0:
        raise ConfigError("--hard-negatives", cfg.hard_negatives, "a share 0..1")
    if cfg.hard_negatives and cfg.crop is None:
        raise ConfigError("--hard-negatives", cfg.hard_negatives, "0 without --crop (it places crops)")
    if not 0.0 <= cfg.object_crops <= 1.0:
        raise ConfigError("--object-crops", cfg.object_crops, "a share 0..1")
    if cfg.task == "segment" and cfg.image_size % 32:
        raise ConfigError("--image-size", cfg.image_size, "a multiple of 32 for --task segment (a U-Net)")
    for option, value, allowed in (("--mixup", cfg.mixup, "0 (MixUp mixes boxes and masks meaninglessly)"),
                                   ("--label-smoothing", cfg.label_smoothing, "0 for --task " + cfg.task)):
        if value:
            raise ConfigError(option, value, allowed)
    if cfg.balance != "none":
        raise ConfigError("--balance", cfg.balance, f"none for --task {cfg.task}")
    if cfg.decoder in ("gpu", "dali"):
        raise ConfigError("--decoder", cfg.decoder, f"auto, cpu for --task {cfg.task} (masks decode in the loader)")


def _at_least(option: str, value: int, low: int) -> None:
    if not isinstance(value, int) or value < low:
        raise ConfigError(option, value, f"an integer >= {low}")


@dataclass(frozen=True, kw_only=True)
class ExperimentConfig:
    synthetic: str
    real: str
    out: str
    test: str | None = None
    steps: int = 200
    pretrain_fraction: float = 0.5
    val_fraction: float = 0.2
    model: str = "resnet18"
    task: str = "multiclass"
    crop: int | None = None
    hard_negatives: float = 0.0
    object_crops: float = 0.7
    image_size: int = 224
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    loader_workers: int = 2
    device: str = "auto"
    progress: bool = True

    def validate(self) -> ExperimentConfig:
        check_out_folder(self.out)
        if self.steps < 2:
            raise ConfigError("--steps", self.steps, "an integer >= 2 (synthetic+real needs a step of each)")
        if not 0.0 < self.pretrain_fraction < 1.0:
            raise ConfigError("--pretrain-fraction", self.pretrain_fraction, "0 < f < 1")
        if self.test is None and not 0.0 < self.val_fraction < 1.0:
            raise ConfigError("--val-fraction", self.val_fraction, "0 < f < 1 when there is no --test")
        self.base(self.synthetic, "unused").validate()
        return self

    def base(self, data: str, out: str, **changes) -> TrainConfig:
        return TrainConfig(data=data, out=out, model=self.model, task=self.task, crop=self.crop,
                           hard_negatives=self.hard_negatives, object_crops=self.object_crops,
                           image_size=self.image_size,
                           batch_size=self.batch_size, lr=self.lr, seed=self.seed, loader_workers=self.loader_workers,
                           device=self.device, progress=self.progress, epochs=10_000, **changes)
