"""`radiopaque evaluate` for a detect or segment checkpoint, on a build or on labelled real
films (a COCO .json, an object-CXR .csv, a YOLO folder: `trainer.labelled.read_labelled`).

Writes into EVAL_DIR: `metrics.json` (FROC at 0.125-8 false positives per image and its mean,
mAP@0.5, mAP@[.5:.95] and per-class AP for detectors, Dice/IoU per class for U-Nets, the
image-level AUROC overall and per class, sensitivity/specificity at `--threshold`, the eval and
training configs), `froc.png`, `predictions.png` (the first images with true boxes in green and
predicted boxes, outlines and marks in red, titled by index), `predictions.csv` (per image:
score, per-class scores, truth, marks), object-CXR's submission files `classification.csv`
(`image_path,prediction`) and `localization.csv` (`image_path,prediction` with `score x y;...`
in the stored image's pixels: the model's divided by the loader's scale) and, for detectors,
`detections.csv` (every predicted and true box), and `objects.csv`: per foreign body of --data its
image, class, box (stored pixels), the highest score of a mark that hits it (empty: none does)
and whether it is found at the threshold that finds 90 % of them (sorted by score, the hardest
first: which objects set that threshold). Drawn and written by `trainer.localise.report`.

Labelled sets whose class names are not the model's (object-CXR's single class) are scored
class-agnostically: every object and prediction counts as one class "object" (FROC and the
any-object AUROC need no class; mAP and Dice are then class-agnostic), flagged in metrics.json.
FROC counts a mark inside an object's box (object-CXR's ellipses and polygons: their box); on a
build, a box under `--min-box-px` (default `task.BUILD_MIN_BOX_PX`, 9 model pixels; 0 on a
labelled set: the challenge's rule) is widened to it first (`froc`'s "Small objects"), and
metrics.json's `froc.min_box_px` says which rule scored it.

With `--negatives` (untouched real films, no object), `negatives` in metrics.json: the
image-level false-positive rate at the two operating points of `trainer.metrics.negatives_report`
set on --data, and `marks_per_film`: the false positives per image on the real films at the score
threshold of each FROC operating point of --data (every mark on a film without an inserted
object is a false positive), and `at_object_sensitivity_0.9`: at the highest threshold whose marks
find 90 % of --data's objects (FROC's hit rule), the share of real films flagged (image score at or
above it), their marks per film, and --data's own false positives per image and flagged `none`
images; `top_negatives.png` shows the highest-scoring real films with their marks at that
operating point, titled by index and score, and `negatives.csv` gives every real film's row by
the same index: its score, its marks at that point and whether it is flagged (`negative_rows`),
so two checkpoints compare film by film. Films are never named: they are counted.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from generator.device import resolve_device
from trainer.config import EvalConfig, TrainConfig
from trainer.data import open_negatives
from trainer.errors import CheckpointError
from trainer.metrics import negatives_report, share_at_or_above
from trainer.rng import INIT, derive_seed, forked_rng
from trainer.stream import is_build

from . import report as files
from .froc import score_at_sensitivity
from .samples import open_loc_data
from .targets import collate_loc
from .task import LocTask

log = logging.getLogger(__name__)

OBJECT_SENSITIVITY = 0.9  # the share of --data's objects found at the real films' operating point


def load_localiser(checkpoint: dict, path: str = "checkpoint") -> tuple[LocTask, torch.nn.Module, TrainConfig]:
    """The task, the model with the checkpoint's weights, and its training config. Raises
    CheckpointError naming `path` when its config or weights do not make a localiser."""
    try:
        train_cfg = TrainConfig.from_dict(checkpoint["config"])
        task = LocTask(train_cfg, list(checkpoint["classes"]))
        with forked_rng(derive_seed(int(train_cfg.seed), INIT), torch.device("cpu")):
            model = task.build_model()
        model.load_state_dict(checkpoint["model"])
    except (ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise CheckpointError(path, f"its config and weights do not make a {checkpoint['config'].get('model')!r} "
                                    f"localiser ({str(exc).strip().splitlines()[0][:200]})") from None
    return task, model, train_cfg


def collate_plain(items: list) -> dict:
    """Plain (image, target, key) items (real films, no object) as a `collate_loc` batch."""
    images = torch.stack([x[0] for x in items])
    n, _, h, w = images.shape
    empty = [torch.zeros(0, 4) for _ in items]
    return {"image": images, "inst": torch.zeros(n, h, w, dtype=torch.uint8), "scale": torch.ones(n, 2),
            "boxes": empty, "labels": [torch.zeros(0, dtype=torch.int64) for _ in items],
            "inst_classes": [torch.zeros(0, dtype=torch.int64) for _ in items], "key": [x[2] for x in items]}


def open_eval_data(source: str, task: LocTask, *, image_size: int, batch_size: int, loader_workers: int,
                   subset: str = "all", val_fraction: float = 0.0, split_seed: int = 0):
    """(loader, number of images, class-agnostic?) over a build or a labelled set; `subset`
    "val": the held-out patients of `val_fraction` (as training held them out)."""
    if is_build(source):
        data = open_loc_data(source, classes=task.classes, subset=subset, train=False, cfg_seed=0,
                             image_size=image_size, batch_size=batch_size, loader_workers=loader_workers,
                             val_fraction=val_fraction, split_seed=split_seed)
        return data.loader, len(data.dataset), False
    from trainer.labelled.loc_dataset import LabelledLocDataset
    from trainer.labelled.read import read_labelled

    labelled = read_labelled(source)
    unknown = [name for name in labelled.class_names if name not in task.fg]
    class_map = {name: task.fg[task.fb[0]] for name in labelled.class_names} if unknown else None
    if unknown:
        log.warning("%s: classes %s are not the model's %s: scoring class-agnostically", source, unknown, task.fg)
    ds = LabelledLocDataset(labelled, classes=task.classes, image_size=image_size, class_map=class_map)
    if subset != "all":
        from trainer.data import plain_split
        from trainer.split import plain_groups

        from .labelled_data import LabelledSubset

        names = [im.name for im in labelled.images]
        ds = LabelledSubset(ds, plain_split(plain_groups(names), val_fraction, split_seed, subset), crop=None, seed=0)
    loader = DataLoader(ds, batch_size=batch_size, num_workers=loader_workers, collate_fn=collate_loc)
    return loader, len(ds), bool(unknown)


def evaluate_localiser(cfg: EvalConfig, checkpoint: dict) -> dict:
    """Run the evaluation of a localising checkpoint; return the metrics also in `metrics.json`."""
    device = resolve_device(cfg.device)
    task, model, train_cfg = load_localiser(checkpoint, cfg.checkpoint)
    model.to(device)
    image_size = cfg.image_size or train_cfg.image_size
    loader, n, agnostic = open_eval_data(cfg.data, task, image_size=image_size, batch_size=cfg.batch_size,
                                         loader_workers=cfg.loader_workers)
    negatives = None
    if cfg.negatives:  # opened (and split) before any scoring: a bad option fails fast
        negatives = open_negatives(cfg.negatives, classes=task.classes, image_size=image_size, task="multiclass",
                                   batch_size=cfg.batch_size, loader_workers=cfg.loader_workers,
                                   split=cfg.negatives_split, fractions=cfg.split_fractions,
                                   split_seed=cfg.split_seed)
    bar = None
    if cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=n, unit="img", desc="evaluate", dynamic_ncols=True)
    try:
        result = task.predict(model, loader, device, bar=bar, keep=cfg.top_losses, agnostic=agnostic)
    finally:
        if bar is not None:
            bar.close()
    min_box_px = cfg.min_box_px if cfg.min_box_px is not None else task.min_box_px_for(cfg.data)
    report = task.report(result, cfg.threshold, agnostic=agnostic, min_box_px=min_box_px)
    froc_full = report["froc"].pop("curve_result")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    report.update(data=cfg.data, checkpoint=cfg.checkpoint, eval_config=cfg.to_dict(), train_config=train_cfg.to_dict(),
                  image_size=image_size, class_agnostic=agnostic)
    if negatives is not None:
        neg_loader = DataLoader(negatives.dataset, batch_size=cfg.batch_size, num_workers=cfg.loader_workers,
                                collate_fn=collate_plain)
        found = task.predict(model, neg_loader, device)
        report["negatives"] = _negatives(result, found, froc_full)
        threshold = report["negatives"][f"at_object_sensitivity_{OBJECT_SENSITIVITY:g}"]["threshold"]
        files.write_rows_csv(out / "negatives.csv", negative_rows(found, threshold))
        if cfg.top_losses:
            _write_top_negatives(out / "top_negatives.png", task, model, device, negatives.dataset, found, cfg,
                                 threshold)
    import json

    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    write_outputs(result, report, froc_full, task, out)
    return report


def _negatives(result: dict, found: dict, froc_full: dict) -> dict:
    positive = result["positive"]
    section = negatives_report(result["image_score"], positive, found["image_score"])
    section["score"] = "image-level score (highest box score / pixel probability)"
    n = len(found["keys"])
    real = np.concatenate([p[:, 0].numpy() for p in found["points"]]) if found["points"] else np.zeros(0)
    thresholds = froc_full["thresholds"]
    section["marks_per_film"] = {
        "thresholds": thresholds,
        "false_positives_per_film": {k: (float((real >= t).sum()) / n if t is not None else None)
                                     for k, t in thresholds.items()},
        "films": n,
    }
    section[f"at_object_sensitivity_{OBJECT_SENSITIVITY:g}"] = at_object_sensitivity(result, found, froc_full, real)
    return section


def at_object_sensitivity(result: dict, found: dict, froc_full: dict, real_marks: np.ndarray) -> dict:
    """The operating point of issue 16's target: the highest threshold at which the marks on
    --data find OBJECT_SENSITIVITY of its objects, and at it the share of real films flagged
    (image score >= threshold), their marks per film, and --data's own false positives."""
    t = score_at_sensitivity(result["points"], froc_full, OBJECT_SENSITIVITY)
    out = {"threshold": t, "object_sensitivity": None, "synthetic_false_positives_per_image": None,
           "synthetic_none_flagged": None, "real_films_flagged": None, "real_films_flagged_count": None,
           "real_false_positives_per_film": None}
    if t is None:
        return {**out, "note": f"the marks on --data never find {OBJECT_SENSITIVITY:.0%} of its objects"}
    pooled = np.concatenate([p[:, 0].numpy() for p in result["points"] if len(p)])
    at = int((pooled >= t).sum())  # curve entry after every mark scoring >= t
    positive = result["positive"]
    flagged = np.asarray(found["image_score"]) >= t
    return {**out, "object_sensitivity": froc_full["curve"]["sensitivity"][at],
            "synthetic_false_positives_per_image": froc_full["curve"]["fps"][at],
            "synthetic_none_flagged": share_at_or_above(result["image_score"][~positive], t),
            "real_films_flagged": float(flagged.mean()) if len(flagged) else None,
            "real_films_flagged_count": int(flagged.sum()),
            "real_false_positives_per_film": float((real_marks >= t).sum()) / max(len(flagged), 1)}


def negative_rows(found: dict, threshold: float | None) -> list[dict]:
    """`negatives.csv`: per real film, by its index among the negatives (top_negatives.png's
    "#N"; never its name), its image score and, at the 90 %-of-objects threshold (empty when
    there is none), its marks and whether it is flagged (image score at or above it)."""
    column = f"at_{OBJECT_SENSITIVITY:.0%}"
    rows = []
    for index, (score, marks) in enumerate(zip(np.asarray(found["image_score"]).tolist(), found["points"])):
        at = None if threshold is None else int((marks[:, 0] >= threshold).sum())
        rows.append({"film": index, "score": float(score), f"marks_{column}": at,
                     f"flagged_{column}": None if threshold is None else int(score >= threshold)})
    return rows


def _write_top_negatives(path: Path, task: LocTask, model: torch.nn.Module, device: torch.device, dataset,
                         found: dict, cfg: EvalConfig, threshold: float | None) -> None:
    """The highest-scoring real films (up to `cfg.top_losses`), predicted again one sheet's worth
    at a time so no probability map of the other films is held; titled by their index among the
    negatives and their score, never by file name. Marks drawn: those at or above `threshold`
    (the 90 %-of-objects operating point), else 0.3."""
    from torch.utils.data import Subset

    order = np.argsort(-np.asarray(found["image_score"]), kind="stable")[:cfg.top_losses].tolist()
    loader = DataLoader(Subset(dataset, order), batch_size=cfg.batch_size, num_workers=0, collate_fn=collate_plain)
    kept = task.predict(model, loader, device, keep=len(order))["kept"]
    floor = 0.3 if threshold is None else threshold
    entries = []
    for index, (image, pred, _, _) in zip(order, kept):
        entry = {"image": image, "title": f"real film #{index}\nscore {found['image_score'][index]:.3f}",
                 "points": pred["points"][pred["points"][:, 0] >= floor]}
        if "boxes" in pred:
            keep = pred["scores"] >= floor
            entry.update(pred_boxes=pred["boxes"][keep], pred_scores=pred["scores"][keep],
                         pred_labels=pred["labels"][keep] + 1, points=torch.zeros(0, 3))
        else:
            entry["pred_masks"] = pred["probs"] >= max(floor, 0.5)
        entries.append(entry)
    if entries:
        files.write_prediction_sheet(path, entries, task.fg)


def object_rows(result: dict, froc_full: dict, task: LocTask) -> list[dict]:
    """`objects.csv`'s rows (module docstring), the objects no mark hits first, then by score."""
    t = score_at_sensitivity(result["points"], froc_full, OBJECT_SENSITIVITY)
    best = iter(froc_full["object_scores"])
    rows = []
    for key, boxes, labels, s in zip(result["keys"], result["boxes_fb"], result["labels_fb"], result["scale"]):
        stored = boxes.reshape(-1, 4) / torch.tensor([float(s[0]), float(s[1])] * 2)
        for box, label in zip(stored.tolist(), labels.tolist()):
            score = next(best)
            rows.append({"image_path": key, "class": task.fg[label], "x1": box[0], "y1": box[1], "x2": box[2],
                         "y2": box[3], "best_score": score,
                         f"found_at_{OBJECT_SENSITIVITY:.0%}": int(score is not None and t is not None and score >= t)})
    return sorted(rows, key=lambda r: -1.0 if r["best_score"] is None else r["best_score"])


def write_outputs(result: dict, report: dict, froc_full: dict, task: LocTask, out: Path) -> None:
    """The CSVs and PNGs of the module docstring."""
    keys = result["keys"]
    scale = result["scale"]
    stored = [p / torch.tensor([1.0, float(s[0]), float(s[1])]) for p, s in zip(result["points"], scale)]
    files.write_classification_csv(out / "classification.csv", keys, result["image_score"].tolist())
    files.write_localisation_csv(out / "localization.csv", keys, stored)
    rows = []
    for i, key in enumerate(keys):
        row = {"image_path": key, "score": float(result["image_score"][i])}
        row.update({f"score_{c}": float(v) for c, v in zip(task.fg, result["class_scores"][i])})
        row["truth"] = ",".join(c for c, t in zip(task.fg, result["present"][i]) if t) or "none"
        row["marks"] = files.format_points(stored[i])
        rows.append(row)
    files.write_rows_csv(out / "predictions.csv", rows)
    files.write_rows_csv(out / "objects.csv", object_rows(result, froc_full, task))
    if task.kind == "detect":
        unscale = [torch.tensor([float(s[0]), float(s[1])] * 2) for s in scale]
        preds = [{"boxes": b / u, "scores": sc, "labels": lab + 1}
                 for b, sc, lab, u in zip(result["boxes"], result["scores"], result["labels"], unscale)]
        targets = [{"boxes": b.reshape(-1, 4) / u, "labels": lab + 1}
                   for b, lab, u in zip(result["boxes_true"], result["labels_true"], unscale)]
        files.write_detections_csv(out / "detections.csv", keys, preds, targets, task.fg)
    mean = report["froc"]["mean"]
    files.write_froc_png(out / "froc.png", {f"{task.cfg.model} (mean {mean:.3f})" if mean is not None
                                            else task.cfg.model: froc_full},
                         title=f"FROC, {report['froc']['objects']} objects on {report['froc']['images']} images")
    entries = []
    for i, (image, pred, true_boxes, true_labels) in enumerate(result["kept"]):
        entry = {"image": image, "title": f"#{i}", "true_boxes": true_boxes, "true_labels": true_labels + 1,
                 "points": pred["points"]}
        if "boxes" in pred:
            keep = pred["scores"] >= 0.3
            entry.update(pred_boxes=pred["boxes"][keep], pred_scores=pred["scores"][keep],
                         pred_labels=pred["labels"][keep] + 1, points=torch.zeros(0, 3))
        else:
            entry["pred_masks"] = pred["probs"] >= 0.5
            entry["points"] = pred["points"][pred["points"][:, 0] >= 0.3]
        entries.append(entry)
    if entries:
        files.write_prediction_sheet(out / "predictions.png", entries, task.fg)
