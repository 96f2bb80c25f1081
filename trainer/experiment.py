"""The three-arm experiment: does synthetic pretraining help on real radiographs?

Arms, each with the same budget of `steps` optimiser steps and the same model, size, batch
and seed, all scored on the same real test set:
  synthetic        trained on the synthetic build only
  real             trained on the real training data only
  synthetic+real   `pretrain_fraction` of the steps on synthetic, the rest fine-tuning on
                   real from that checkpoint (`--init`; head replaced when classes differ)
The real test set is `test`, or else the fixed held-out split (`val_fraction`) of `real`,
which the real training arms then never see. Results: OUT/results.json and OUT/results.md.

With `task` detect or segment (`--task`, `--crop`), the arms train localisers on builds or
labelled real films (COCO .json, object-CXR .csv, YOLO folder) and are scored by FROC mean,
mAP@0.5 (detect), mean Dice (segment) and the image-level AUROC (`trainer.localise`; class-
agnostically where the test set's class names are not the arm's).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

from generator.device import resolve_device
from trainer.checkpoint import load_checkpoint, model_from_checkpoint
from trainer.config import ExperimentConfig as ExperimentConfig  # re-exported
from trainer.data import data_classes, open_data
from trainer.distributed import train
from trainer.localise.names import LOC_TASKS
from trainer.localise.samples import loc_classes
from trainer.train import headline, predict, report_for

log = logging.getLogger(__name__)

ARMS = ("synthetic", "real", "synthetic+real")


def run_experiment(cfg: ExperimentConfig) -> dict:
    """Train the three arms and score them; return (and write) the results table."""
    cfg = cfg.validate()
    for option, source in (("--synthetic", cfg.synthetic), ("--real", cfg.real), ("--test", cfg.test)):
        if source is None:
            continue
        # each input usable, checked before the folder is created
        if cfg.task in LOC_TASKS:
            loc_classes(source)
        else:
            data_classes(source, option)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    # With no --test the real data's val split is the test set: real arms train on the rest.
    real_split = dict(val=None, val_fraction=cfg.val_fraction) if cfg.test is None else dict(val=cfg.test)
    pre_steps = max(1, round(cfg.steps * cfg.pretrain_fraction))
    runs = {
        "synthetic": [cfg.base(cfg.synthetic, str(out / "synthetic"), max_steps=cfg.steps)],
        "real": [cfg.base(cfg.real, str(out / "real"), max_steps=cfg.steps, **real_split)],
        "synthetic+real": [
            cfg.base(cfg.synthetic, str(out / "synthetic+real" / "pretrain"), max_steps=pre_steps),
            cfg.base(cfg.real, str(out / "synthetic+real" / "finetune"), max_steps=cfg.steps - pre_steps,
                     init=str(out / "synthetic+real" / "pretrain" / "last.pt"), **real_split),
        ],
    }
    device = resolve_device(cfg.device)
    rows = []
    for arm in ARMS:
        results = [train(stage.validate()) for stage in runs[arm]]
        checkpoint = load_checkpoint(results[-1].checkpoint)
        classes = list(checkpoint["classes"])
        test_source = cfg.test or cfg.real
        if cfg.task in LOC_TASKS:
            rows.append({"arm": arm, "steps": cfg.steps, "seconds": round(sum(r.seconds for r in results), 1),
                         **_score_localiser(cfg, checkpoint, test_source, device),
                         "checkpoint": results[-1].checkpoint})
            continue
        data = open_data(test_source, classes=classes, subset="all" if cfg.test else "val", train=False, cfg_seed=0,
                         image_size=cfg.image_size, task="multiclass", batch_size=cfg.batch_size,
                         loader_workers=cfg.loader_workers, val_fraction=cfg.val_fraction)
        model = model_from_checkpoint(checkpoint).to(device)
        report = report_for("multiclass", predict(model, data, device=device, task="multiclass",
                                                  channels_last=False), classes)
        any_fb = (report.get("any_foreign_body") or {}).get("auroc")
        rows.append({"arm": arm, "steps": cfg.steps, "seconds": round(sum(r.seconds for r in results), 1),
                     "test_n": report["n"], "accuracy": report["accuracy"], "auroc_any": any_fb,
                     "macro_auroc": report.get("macro_auroc"), "headline": headline(report)[0],
                     "checkpoint": results[-1].checkpoint, "report": report})
        log.info("arm %s: accuracy %s, any-FB AUROC %s", arm, report["accuracy"], any_fb)
    table = {"config": asdict(cfg), "test": cfg.test or f"{cfg.real} (held-out {cfg.val_fraction:.0%})",
             "classes_real": loc_classes(cfg.real) if cfg.task in LOC_TASKS else data_classes(cfg.real),
             "rows": rows}
    (out / "results.json").write_text(json.dumps(table, indent=2))
    (out / "results.md").write_text(markdown_table(table))
    return table


def _score_localiser(cfg: ExperimentConfig, checkpoint: dict, test_source: str, device) -> dict:
    from trainer.localise.evaluation import load_localiser, open_eval_data

    task, model, _ = load_localiser(checkpoint, "checkpoint of this experiment")
    loader, _, agnostic = open_eval_data(test_source, task, image_size=cfg.image_size, batch_size=cfg.batch_size,
                                         loader_workers=cfg.loader_workers, subset="all" if cfg.test else "val",
                                         val_fraction=cfg.val_fraction)
    report = task.report(task.predict(model.to(device), loader, device, agnostic=agnostic), agnostic=agnostic,
                         min_box_px=task.min_box_px_for(test_source))
    report["froc"].pop("curve_result")
    log.info("FROC mean %s, image-level AUROC %s", report["froc"]["mean"], report["image_level"]["auroc_any"])
    return {"test_n": report["n"], "froc_mean": report["froc"]["mean"],
            "map_50": (report.get("map") or {}).get("map_50"),
            "dice": ((report.get("dice_iou") or {}).get("mean") or {}).get("dice"),
            "auroc_any": report["image_level"]["auroc_any"], "class_agnostic": agnostic, "report": report}


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


_CLASSIFIER_COLUMNS = (("accuracy", "accuracy"), ("AUROC any FB", "auroc_any"), ("macro AUROC", "macro_auroc"))
_LOCALISER_COLUMNS = (("FROC mean", "froc_mean"), ("mAP@0.5", "map_50"), ("Dice", "dice"),
                      ("image AUROC", "auroc_any"))


def markdown_table(table: dict) -> str:
    columns = _LOCALISER_COLUMNS if table["config"].get("task") in LOC_TASKS else _CLASSIFIER_COLUMNS
    lines = ["# Three-arm experiment\n", f"Test set: {table['test']}\n",
             "| arm | steps | train s | test n | " + " | ".join(name for name, _ in columns) + " |",
             "|---|---:|---:|---:|" + "---:|" * len(columns)]
    for r in table["rows"]:
        lines.append(f"| {r['arm']} | {r['steps']} | {r['seconds']} | {r['test_n']} | "
                     + " | ".join(_fmt(r[key]) for _, key in columns) + " |")
    return "\n".join(lines) + "\n"
