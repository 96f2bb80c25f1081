"""`radiopaque train`, `radiopaque evaluate` and `radiopaque experiment` (argparse).

Flags map one-to-one onto `TrainConfig` / `EvalConfig` / `ExperimentConfig` fields; every
default shown in help comes from the dataclass itself. Values are validated by the
dataclasses, which raise `ConfigError` naming the option and the allowed set.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, fields

from generator.inputs.splits import format_fractions, parse_fractions
from trainer.config import (
    BALANCES,
    DECODERS,
    DEVICES,
    EXECUTORS,
    MODELS,
    TASKS,
    EvalConfig,
    ExperimentConfig,
    TrainConfig,
)
from trainer.localise.names import DETECT_MODELS, SEGMENT_MODELS


def _default(cls, name: str):
    f = next(f for f in fields(cls) if f.name == name)
    return None if f.default is MISSING else f.default


def _add(p, cls, name: str, text: str, typ=None, choices: tuple[str, ...] | None = None,
         default_text: str | None = None) -> None:
    default = _default(cls, name)
    allowed = f"; one of {', '.join(choices)}" if choices else ""
    p.add_argument("--" + name.replace("_", "-"), dest=name, type=typ or type(default) if default is not None else typ,
                   default=default, help=f"{text}{allowed} (default: {default_text or default})")


def add_train_parser(sub) -> None:
    p = sub.add_parser("train", help="train a classifier on a build, a folder of class subfolders or a CSV")
    T = TrainConfig
    p.add_argument("--data", required=True, help="training data: build folder/URL, class-folder or CSV (required)")
    p.add_argument("--out", required=True, help="run folder for checkpoints and config.json (required)")
    _add(p, T, "val", "validation data; a build sharing a patient (group) with a --data build is refused", str,
         default_text="hold out --val-fraction of --data")
    _add(p, T, "val_fraction", "fraction of --data's patients (groups) whose samples are held out for validation "
                               "when there is no --val")
    _add(p, T, "split_seed", "seed of the fixed train/val split by patient")
    _add(p, T, "model", "architecture; detect: " + ", ".join(DETECT_MODELS) + "; segment: "
         + ", ".join(SEGMENT_MODELS), choices=MODELS)
    _add(p, T, "task", "multiclass (label), multilabel (labels), detect (boxes) or segment (masks)", choices=TASKS)
    _add(p, T, "image_size", "square input size in pixels")
    _add(p, T, "epochs", "epochs")
    _add(p, T, "max_steps", "stop after this many optimiser steps (a budget)", int)
    _add(p, T, "batch_size", "images per step per worker")
    _add(p, T, "lr", "peak learning rate of the one-cycle schedule (AdamW)")
    _add(p, T, "weight_decay", "AdamW weight decay")
    _add(p, T, "grad_clip", "max global gradient norm, 0 = off")
    _add(p, T, "label_smoothing", "label smoothing")
    _add(p, T, "mixup", "MixUp Beta(alpha, alpha), 0 = off")
    _add(p, T, "balance", "class imbalance: class weights in the loss, or a balanced sampler (folder/CSV)",
         choices=BALANCES)
    p.add_argument("--no-augment", dest="augment", action="store_false",
                   help="no Kornia augmentation (default: augment: rotation, shift, scale, brightness, contrast)")
    p.add_argument("--hflip", action="store_true",
                   help="random horizontal flips; they swap laterality, so only for classes not tied to a side "
                        "(default: off)")
    p.add_argument("--vflip", action="store_true", help="random vertical flips (default: off)")
    _add(p, T, "seed", "seed of shuffling, augmentation and initialisation")
    _add(p, T, "loader_workers", "DataLoader worker processes per training worker (with dali: DALI threads)")
    _add(p, T, "shuffle_buffer", "samples in each loader worker's shuffle buffer")
    _add(p, T, "executor", "local: this process; ray: Ray Train DDP", choices=EXECUTORS)
    _add(p, T, "workers", "Ray Train workers (DDP ranks)")
    _add(p, T, "gpus_per_worker", "GPUs per Ray worker; > 0 uses NCCL, 0 uses gloo on CPU")
    _add(p, T, "cpus_per_worker", "CPUs reserved per Ray worker")
    _add(p, T, "ray_address", "join this Ray cluster", str, default_text="start a local one")
    _add(p, T, "device", "auto = cuda when present", choices=DEVICES)
    _add(p, T, "decoder", "dali: DALI webdataset reader, decode and resize (mixed on CUDA, CPU otherwise); "
                          "gpu: nvJPEG on CUDA; cpu: PIL in loader workers (skips corrupt samples); auto: on CUDA dali "
                          "for a local tar build when DALI is installed, else gpu; cpu without CUDA", choices=DECODERS)
    p.add_argument("--compile", action="store_true", help="torch.compile the model (default: off)")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                   help="keep NCHW memory format on CUDA (default: channels_last on CUDA, NCHW on CPU)")
    _add(p, T, "init", "start from this checkpoint; head replaced when classes differ (detect/segment: a "
                       "classifier of the same ResNet gives the backbone)", str)
    _add(p, T, "crop", "detect/segment: train on random PX x PX crops of the --image-size film (crops holding an "
                       "object oversampled), infer on the whole film", int, default_text="the whole film")
    _add(p, T, "hard_negatives", "with --crop: share of the crops not drawn around an object that are drawn around "
                                 "one of the film's brightest small structures outside every object (burnt-in text, "
                                 "electrodes, wires) instead of uniformly", float)
    _add(p, T, "object_crops", "with --crop: share of the crops drawn around an object (on a film holding one); "
                               "the rest are hard negatives or uniform", float)
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt when present (default: off)")
    _add(p, T, "log_every", "log a line every N steps")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar (default: shown)")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    names = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in names}).validate()  # before torch is imported
    from trainer.distributed import train

    result = train(cfg)
    print(result.line())
    return 0


def add_evaluate_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="metrics, ROC and confusion plots of a checkpoint on labelled data")
    E = EvalConfig
    p.add_argument("--checkpoint", required=True, help="a checkpoint written by radiopaque train (required)")
    p.add_argument("--data", required=True, help="a build, a folder of class subfolders, or a CSV (required)")
    p.add_argument("--out", required=True, help="folder for metrics.json and the PNGs (required)")
    _add(p, E, "batch_size", "images per batch")
    _add(p, E, "loader_workers", "DataLoader worker processes")
    _add(p, E, "device", "auto = cuda when present", choices=DEVICES)
    _add(p, E, "image_size", "input size", int, default_text="the checkpoint's training size")
    _add(p, E, "threshold", "detect/segment: image-level score threshold for sensitivity and specificity")
    _add(p, E, "min_box_px", "detect/segment: FROC widens object boxes narrower than this (model pixels) so a mark "
                             "within half of it hits a 1-3 px fragment; 0 scores boxes as drawn", float,
         default_text="9 on a build, 0 on a labelled set")
    _add(p, E, "top_losses", "samples in the top-losses contact sheet (and in the sheet of the highest-scoring "
                             "--negatives)")
    _add(p, E, "negatives", "real films with no inserted object, all counted as none (a folder of images or a CSV "
                            "of paths): their false-positive rate at two operating points set on --data goes into "
                            "metrics.json", str, default_text="none")
    _add(p, E, "negatives_split", "keep only the --negatives whose patient falls in this split of the "
                                  "generate --split partition (--split-fractions, --split-seed)", str,
         default_text="all of them")
    p.add_argument("--split-fractions", dest="split_fractions", type=parse_fractions,
                   default=_default(E, "split_fractions"),
                   help="the partition of patients, as in generate --split "
                        f"(default: {format_fractions(_default(E, 'split_fractions'))})")
    _add(p, E, "split_seed", "the partition's seed, as in generate --split")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar (default: shown)")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args) -> int:
    names = {f.name for f in fields(EvalConfig)}
    cfg = EvalConfig(**{k: v for k, v in vars(args).items() if k in names}).validate()  # before torch is imported
    from trainer.evaluate import evaluate_checkpoint

    report = evaluate_checkpoint(cfg)
    any_fb = (report.get("any_foreign_body") or {}).get("auroc")
    summary = {"n": report["n"], "accuracy": report.get("accuracy"), "auroc_any": any_fb,
               "macro_auroc": report.get("macro_auroc")}
    if "froc" in report:  # a localiser (trainer.localise.evaluation)
        summary = {"n": report["n"], "froc_mean": report["froc"]["mean"],
                   "map_50": (report.get("map") or {}).get("map_50"),
                   "dice_mean": ((report.get("dice_iou") or {}).get("mean") or {}).get("dice"),
                   "auroc_any": report["image_level"]["auroc_any"]}
    if "negatives" in report:
        summary["negatives_fpr"] = report["negatives"]["false_positive_rate"]
    print(f"evaluated {json.dumps(summary)} -> {args.out}/metrics.json")
    return 0


def add_experiment_parser(sub) -> None:
    X = ExperimentConfig
    p = sub.add_parser("experiment", help="synthetic only / real only / synthetic then real, same budget")
    p.add_argument("--synthetic", required=True, help="synthetic build (required)")
    p.add_argument("--real", required=True, help="real labelled data: folder of class subfolders or CSV (required)")
    p.add_argument("--out", required=True, help="folder for the arms' runs and results.md/json (required)")
    _add(p, X, "test", "real test data", str, default_text="the held-out --val-fraction of --real")
    _add(p, X, "steps", "optimiser steps per arm (the shared budget)")
    _add(p, X, "pretrain_fraction", "share of the synthetic+real arm's steps spent on synthetic")
    _add(p, X, "val_fraction", "held-out fraction of --real used as test set without --test")
    _add(p, X, "model", "architecture (detect/segment: as train --model lists)", choices=MODELS)
    _add(p, X, "task", "what every arm learns; detect/segment take a build or a labelled set (COCO .json, "
                       "object-CXR .csv, YOLO folder) as --real", choices=TASKS)
    _add(p, X, "crop", "detect/segment: train on PX x PX crops", int, default_text="the whole film")
    _add(p, X, "hard_negatives", "with --crop: share of the crops not around an object drawn around a bright "
                                 "structure (as train --hard-negatives)", float)
    _add(p, X, "object_crops", "with --crop: share of the crops drawn around an object (as train --object-crops)",
         float)
    _add(p, X, "image_size", "square input size in pixels")
    _add(p, X, "batch_size", "images per step")
    _add(p, X, "lr", "peak learning rate")
    _add(p, X, "seed", "seed of every arm")
    _add(p, X, "loader_workers", "DataLoader worker processes")
    _add(p, X, "device", "auto = cuda when present", choices=DEVICES)
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar (default: shown)")
    p.set_defaults(func=cmd_experiment)


def cmd_experiment(args) -> int:
    names = {f.name for f in fields(ExperimentConfig)}
    cfg = ExperimentConfig(**{k: v for k, v in vars(args).items() if k in names}).validate()  # before torch
    from trainer.experiment import markdown_table, run_experiment

    table = run_experiment(cfg)
    print(markdown_table(table))
    return 0
