"""`radiopaque evaluate` for a detect or segment checkpoint.

Writes into EVAL_DIR: `metrics.json` (FROC at 0.125-8 false positives per image and its mean,
mAP@0.5, mAP@[.5:.95] and per-class AP for detectors, Dice/IoU per class for U-Nets, the
image-level AUROC overall and per class, sensitivity/specificity at `--threshold`, the eval and
training configs), `froc.png`, `predictions.png` (a sheet of images with predicted marks/boxes
and true boxes), `predictions.csv` (one row per image: key, image score, per-class scores,
marks), and object-CXR's submission files `classification.csv` (`image_path,prediction`) and
`localization.csv` (`image_path,prediction` with `score x y;...`), coordinates in the stored
image's pixels (the model's divided by the loader's scale).

With `--negatives` (untouched real films, no object), `negatives` in metrics.json: the
image-level false-positive rate at the two operating points of `trainer.metrics.negatives_report`
set on --data, and `marks_per_film`: the false positives per image on the real films at the score
threshold of each FROC operating point of --data (every mark on a film without an inserted
object is a false positive). Films are never named: they are counted.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from generator.device import resolve_device
from trainer.config import EvalConfig, TrainConfig
from trainer.data import open_negatives
from trainer.metrics import negatives_report
from trainer.rng import INIT, derive_seed, forked_rng

from .froc import DEFAULT_FPS, fp_key
from .samples import open_loc_data
from .task import LocTask

log = logging.getLogger(__name__)


def load_localiser(checkpoint: dict) -> tuple[LocTask, torch.nn.Module, TrainConfig]:
    """The task, the model with the checkpoint's weights, and its training config."""
    train_cfg = TrainConfig.from_dict(checkpoint["config"])
    task = LocTask(train_cfg, list(checkpoint["classes"]))
    with forked_rng(derive_seed(int(train_cfg.seed), INIT), torch.device("cpu")):
        model = task.build_model()
    model.load_state_dict(checkpoint["model"])
    return task, model, train_cfg


def collate_plain(items: list) -> dict:
    """Plain (image, target, key) items (real films, no object) as a `collate_loc` batch."""
    images = torch.stack([x[0] for x in items])
    n, _, h, w = images.shape
    empty = [torch.zeros(0, 4) for _ in items]
    return {"image": images, "inst": torch.zeros(n, h, w, dtype=torch.uint8), "scale": torch.ones(n, 2),
            "boxes": empty, "labels": [torch.zeros(0, dtype=torch.int64) for _ in items],
            "inst_classes": [torch.zeros(0, dtype=torch.int64) for _ in items], "key": [x[2] for x in items]}


def evaluate_localiser(cfg: EvalConfig, checkpoint: dict) -> dict:
    """Run the evaluation of a localising checkpoint; return the metrics also in `metrics.json`."""
    device = resolve_device(cfg.device)
    task, model, train_cfg = load_localiser(checkpoint)
    model.to(device)
    image_size = cfg.image_size or train_cfg.image_size
    data = open_loc_data(cfg.data, classes=task.classes, subset="all", train=False, cfg_seed=0,
                         image_size=image_size, batch_size=cfg.batch_size, loader_workers=cfg.loader_workers)
    negatives = None
    if cfg.negatives:  # opened (and split) before any scoring: a bad option fails fast
        negatives = open_negatives(cfg.negatives, classes=task.classes, image_size=image_size, task="multiclass",
                                   batch_size=cfg.batch_size, loader_workers=cfg.loader_workers,
                                   split=cfg.negatives_split, fractions=cfg.split_fractions,
                                   split_seed=cfg.split_seed)
    bar = None
    if cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=len(data.dataset), unit="img", desc="evaluate", dynamic_ncols=True)
    try:
        result = task.predict(model, data.loader, device, bar=bar, keep=cfg.top_losses)
    finally:
        if bar is not None:
            bar.close()
    report = task.report(result, cfg.threshold)
    curve = report["froc"].pop("curve")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    report.update(data=cfg.data, checkpoint=cfg.checkpoint, eval_config=cfg.to_dict(), train_config=train_cfg.to_dict(),
                  image_size=image_size)
    if negatives is not None:
        loader = DataLoader(negatives.dataset, batch_size=cfg.batch_size, num_workers=cfg.loader_workers,
                            collate_fn=collate_plain)
        found = task.predict(model, loader, device)
        report["negatives"] = _negatives(result, found)
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    write_predictions(result, task.fg, out)
    plot_froc(curve, report["froc"], out / "froc.png")
    if result["kept"]:
        plot_sheet(result["kept"], out / "predictions.png")
    return report


def operating_thresholds(points: list[torch.Tensor], curve_fps: list[float], fps=DEFAULT_FPS) -> dict:
    """The score threshold at which the pooled marks of --data first reach each operating point
    of false positives per image (`froc`'s order: by score, ties in input order); None when
    never reached. points: per image (P, 3) (score, x, y); curve_fps: froc's curve["fps"]."""
    scores = np.concatenate([p[:, 0].numpy() for p in points]) if points else np.zeros(0)
    ordered = scores[np.argsort(-scores, kind="stable")]
    reached = np.asarray(curve_fps[1:])
    out = {}
    for f in fps:
        j = np.flatnonzero(reached >= f)
        out[fp_key(f)] = float(ordered[j[0]]) if len(j) else None
    return out


def _negatives(result: dict, found: dict) -> dict:
    from .froc import froc

    positive = result["present"].any(axis=1)
    section = negatives_report(result["image_score"], positive, found["image_score"])
    section["score"] = "image-level score (highest box score / pixel probability)"
    curve = froc(result["points"], result["boxes_true"])["curve"]
    thresholds = operating_thresholds(result["points"], curve["fps"])
    n = len(found["keys"])
    real = np.concatenate([p[:, 0].numpy() for p in found["points"]]) if found["points"] else np.zeros(0)
    section["marks_per_film"] = {
        "thresholds": thresholds,
        "false_positives_per_film": {k: (float((real >= t).sum()) / n if t is not None else None)
                                     for k, t in thresholds.items()},
        "synthetic_false_positives_per_image": {k: float(k) for k in thresholds},
        "films": n,
    }
    return section


def write_predictions(result: dict, fg: list[str], out: Path) -> None:
    """predictions.csv and object-CXR's classification.csv / localization.csv (stored pixels)."""
    rows = []
    for i, key in enumerate(result["keys"]):
        sx, sy = (float(v) for v in result["scale"][i])
        marks = ";".join(f"{s:.4f} {x / sx:.1f} {y / sy:.1f}" for s, x, y in result["points"][i].tolist())
        rows.append((key, float(result["image_score"][i]), result["class_scores"][i], marks))
    with open(out / "predictions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["key", "score", *[f"score_{c}" for c in fg], "truth", "marks"])
        for (key, score, cls, marks), truth in zip(rows, result["present"]):
            w.writerow([key, f"{score:.5f}", *[f"{v:.5f}" for v in cls],
                        ",".join(c for c, t in zip(fg, truth) if t) or "none", marks])
    for name, value in (("classification.csv", lambda r: f"{r[1]:.5f}"), ("localization.csv", lambda r: r[3])):
        with open(out / name, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["image_path", "prediction"])
            for r in rows:
                w.writerow([r[0], value(r)])


def plot_froc(curve: dict, summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.plot(curve["fps"], curve["sensitivity"], lw=1.5)
    pts = [(float(k), v) for k, v in summary["sensitivity"].items() if v is not None]
    if pts:
        ax.plot(*zip(*pts), "o")
    ax.set_xscale("symlog", linthresh=0.125)
    ax.set_xlim(0, 8)
    ax.set_ylim(0, 1)
    ax.set_xlabel("false positives per image")
    ax.set_ylabel("sensitivity")
    mean = summary["mean"]
    ax.set_title(f"FROC ({summary['objects']} objects, {summary['images']} images): "
                 f"mean {mean:.3f}" if mean is not None else "FROC: no objects")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_sheet(kept: list, path: Path, cols: int = 4) -> None:
    """Images with true boxes (green), predicted boxes (red, score >= 0.3) and marks (red x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    cols = min(cols, len(kept))
    rows = -(-len(kept) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, (image, pred, true)) in enumerate(zip(axes.flat, kept)):
        ax.imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=1)
        for x1, y1, x2, y2 in true.reshape(-1, 4).tolist():
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec="lime", lw=1))
        for (x1, y1, x2, y2), s in zip(pred.get("boxes", torch.zeros(0, 4)).tolist(),
                                       pred.get("scores", torch.zeros(0)).tolist()):
            if s >= 0.3:
                ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec="red", lw=1))
        if "probs" in pred:
            ax.contour(pred["probs"].max(0).values.numpy(), levels=[0.5], colors="red", linewidths=0.8)
        marks = pred["points"] if "points" in pred else torch.zeros(0, 3)
        top = marks[marks[:, 0] >= 0.3] if len(marks) else marks
        if len(top):
            ax.plot(top[:, 1].numpy(), top[:, 2].numpy(), "rx", ms=4)
        best = float(marks[:, 0].max()) if len(marks) else (float(pred["scores"].max()) if len(pred.get(
            "scores", [])) else 0.0)
        ax.set_title(f"#{i}: {len(true)} true, top score {best:.2f}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
