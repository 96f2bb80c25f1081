"""Evaluate a checkpoint on a build, a folder of class subfolders or a CSV.

Writes into EVAL_DIR: `metrics.json` (everything: accuracy, per-class sensitivity,
specificity, PPV, NPV, prevalence, AUROC, confusion matrix, any-foreign-body AUROC, the
eval and training configs), `confusion.png`, `roc.png` and `top_losses.png` (the samples
the model got most wrong, with true and predicted class).

With `--negatives` (real films with no inserted object, all `none`), also `negatives` in
metrics.json: their false-positive rate on the any-foreign-body score at two operating points
set on `--data` (`trainer.metrics.negatives_report`: (a) the threshold that finds 90 % of its
synthetic positives, (b) the threshold that 5 % of its synthetic negatives reach), and
`top_negatives.png`, the highest-scoring real films, each titled by its index among the
negatives and its score, never by its file name (NIH names carry patient numbers).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from generator.device import resolve_device
from generator.errors import ConfigError
from trainer.checkpoint import load_checkpoint, model_from_checkpoint
from trainer.config import EvalConfig
from trainer.data import as_option, open_data, open_negatives
from trainer.errors import CheckpointError
from trainer.localise.names import LOC_TASKS
from trainer.metrics import any_foreign_body_score, negatives_report, roc_curve
from trainer.train import predict, report_for

log = logging.getLogger(__name__)


def evaluate_checkpoint(cfg: EvalConfig) -> dict:
    """Run the evaluation; return the metrics dict also written to `metrics.json`."""
    import torch

    cfg = cfg.validate()
    device = resolve_device(cfg.device)
    try:
        checkpoint = load_checkpoint(cfg.checkpoint)
        localiser = checkpoint["config"].get("task") in LOC_TASKS  # builds its own model
        model = None if localiser else model_from_checkpoint(checkpoint)
    except CheckpointError as exc:
        raise ConfigError("--checkpoint", cfg.checkpoint, f"a checkpoint written by radiopaque train "
                                                          f"({exc.reason})") from None
    train_cfg = checkpoint["config"]
    if localiser:
        from trainer.localise.evaluation import evaluate_localiser

        return evaluate_localiser(cfg, checkpoint)
    classes = list(checkpoint["classes"])
    task = train_cfg.get("task", "multiclass")
    image_size = cfg.image_size or int(train_cfg["image_size"])
    model = model.to(device)
    channels_last = bool(train_cfg.get("channels_last", True)) and device.type == "cuda"
    if channels_last:
        model.to(memory_format=torch.channels_last)
    data = open_data(cfg.data, classes=classes, subset="all", train=False, cfg_seed=0, image_size=image_size,
                     task=task, batch_size=cfg.batch_size, loader_workers=cfg.loader_workers)
    negatives = None
    if cfg.negatives:  # opened (and split) before any scoring: a bad option fails fast
        if "none" not in classes:
            raise ConfigError("--negatives", cfg.negatives, f"a checkpoint with a 'none' class (it has {classes})")
        negatives = open_negatives(cfg.negatives, classes=classes, image_size=image_size, task=task,
                                   batch_size=cfg.batch_size, loader_workers=cfg.loader_workers,
                                   split=cfg.negatives_split, fractions=cfg.split_fractions,
                                   split_seed=cfg.split_seed)
    bar = None
    if cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=len(data.dataset), unit="img", desc="evaluate", dynamic_ncols=True)
    try:
        with as_option("--data", cfg.data):  # a build whose every sample was skipped as malformed
            result = predict(model, data, device=device, task=task, channels_last=channels_last,
                             top_k=cfg.top_losses, bar=bar)
    finally:
        if bar is not None:
            bar.close()
    report = report_for(task, result, classes)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    report["data"] = cfg.data
    report["checkpoint"] = cfg.checkpoint
    report["eval_config"] = cfg.to_dict()
    report["train_config"] = train_cfg
    report["mean_loss"] = float(np.mean(result["losses"])) if len(result["losses"]) else None
    report["top_losses"] = [{"key": key, "loss": loss} for loss, key, *_ in result["top"]]
    sheet = None
    if negatives is not None:
        def score(probs):
            return any_foreign_body_score(probs, classes, task)

        found = predict(model, negatives, device=device, task=task, channels_last=channels_last,
                        top_k=cfg.top_losses, top_by=score)
        report["negatives"], sheet = _negatives(cfg, result, found, score, classes, task)
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    _plot(result, report, classes, task, out)
    if sheet:
        _sheet(sheet, out / "top_negatives.png")
    return report


def _negatives(cfg: EvalConfig, result: dict, found: dict, score, classes: list[str], task: str):
    """The `negatives` section of metrics.json, and the sheet's (image, title) entries."""
    k = classes.index("none")
    targets = result["targets"]
    positive = (np.delete(targets, k, axis=1) > 0.5).any(axis=1) if task == "multilabel" else targets != k
    section = negatives_report(score(result["probs"]), positive, score(found["probs"]))
    section["score"] = ("P(any foreign body) = max P(class) over the classes other than none" if task == "multilabel"
                        else "P(any foreign body) = 1 - P(none)")
    # Films are named by their index in the (sorted) listing of --negatives, never by file name.
    index = {key: i for i, key in enumerate(found["keys"])}
    top = [(index[key], value) for value, key, *_ in found["top"]]
    section.update(source=cfg.negatives, split=cfg.negatives_split, sheet="top_negatives.png" if top else None,
                   top=[{"index": i, "score": value} for i, value in top])
    sheet = [(image, f"negative #{i}\nscore {value:.3f}") for (i, value), (_, _, image, *_) in zip(top, found["top"])]
    return section, sheet


def _plot(result: dict, report: dict, classes: list[str], task: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    probs, targets = result["probs"], result["targets"]
    if task == "multiclass" and "confusion_matrix" in report:
        cm = np.array(report["confusion_matrix"])
        fig, ax = plt.subplots(figsize=(1.2 * len(classes) + 2, 1.2 * len(classes) + 1.5))
        ax.imshow(cm, cmap="Blues")
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
        ax.set_yticks(range(len(classes)), classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
        ax.set_title(f"accuracy {report['accuracy']:.3f}, n = {report['n']}")
        fig.tight_layout()
        fig.savefig(out / "confusion.png", dpi=100)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 6))
    positives = targets > 0.5 if task == "multilabel" else np.eye(len(classes), dtype=bool)[targets.astype(int)]
    for k, name in enumerate(classes):
        if 0 < positives[:, k].sum() < len(positives):
            fpr, tpr = roc_curve(probs[:, k], positives[:, k])
            ax.plot(fpr, tpr, label=f"{name} (AUROC {report['per_class'][name]['auroc']:.3f})")
    any_fb = report.get("any_foreign_body") or {}
    if "none" in classes and any_fb.get("auroc") is not None:
        k = classes.index("none")
        fpr, tpr = roc_curve(1.0 - probs[:, k], ~positives[:, k])
        ax.plot(fpr, tpr, "k--", lw=2, label=f"any foreign body (AUROC {any_fb['auroc']:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.5)
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "roc.png", dpi=100)
    plt.close(fig)

    entries = []
    for loss, key, image, target, p in result["top"]:
        if task == "multilabel":
            true = ",".join(classes[k] for k in np.flatnonzero(np.asarray(target) > 0.5)) or "-"
            pred = ",".join(classes[k] for k in np.flatnonzero(p >= 0.5)) or "-"
        else:
            true, pred = classes[int(target)], f"{classes[int(np.argmax(p))]} {float(np.max(p)):.2f}"
        entries.append((image, f"{sample_title(key)}\ntrue {true} / pred {pred}\nloss {loss:.2f}"))
    if entries:
        _sheet(entries, out / "top_losses.png")


def sample_title(key: str, width: int = 28) -> str:
    """The first line of a top-loss tile: a build's sample as "sample 00000042" (sample keys are
    unique in a build, whatever the shard: `radiopaque preview` and the shards use the same
    key); a file of a folder or CSV by its name, shortened in the middle to `width` characters
    so that both its start and its distinguishing end stay readable."""
    shard, sep, sample = key.rpartition(":")
    if sep and shard.endswith((".tar", ".parquet")):
        return f"sample {sample}"
    name = key.rsplit("/", 1)[-1]
    if len(name) <= width:
        return name
    head = (width - 1) // 2
    return f"{name[:head]}…{name[-(width - 1 - head):]}"


def _sheet(entries: list, path: Path) -> None:
    """A contact sheet of (image (1, H, W) float in [0, 1], title) entries, four to a row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(4, len(entries))
    rows = -(-len(entries) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (image, title) in zip(axes.flat, entries):
        ax.imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
