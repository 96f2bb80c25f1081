"""Tiny end-to-end localisation runs: segment trains and evaluates (with real-film negatives),
detect resumes and starts from a classifier's backbone."""

import csv
import json

import numpy as np
import pytest
import torch
from _loc_builds import write_loc_build
from PIL import Image

from trainer.checkpoint import load_checkpoint
from trainer.config import EvalConfig, TrainConfig
from trainer.distributed import train
from trainer.evaluate import evaluate_checkpoint


def _cfg(build, out, **kw):
    args = dict(data=str(build), out=str(out), task="detect", model="fasterrcnn_resnet18", image_size=64,
                epochs=1, batch_size=4, val_fraction=0.0, loader_workers=0, progress=False)
    args.update(kw)
    return TrainConfig(**args)


@pytest.fixture(scope="module")
def loc_build(tmp_path_factory):
    return write_loc_build(tmp_path_factory.mktemp("loc") / "build", [6, 6])


@pytest.mark.slow
def test_segment_trains_and_evaluates(loc_build, tmp_path):
    negatives = tmp_path / "films"
    negatives.mkdir()
    for i in range(3):
        Image.fromarray(np.full((80, 80), 20 * i, dtype=np.uint8)).save(negatives / f"film{i}.png")
    result = train(_cfg(loc_build, tmp_path / "run", task="segment", model="unet_resnet18", image_size=128, crop=64,
                        val_fraction=0.5, split_seed=1))
    state = load_checkpoint(result.checkpoint)
    assert state["config"]["crop"] == 64 and state["metrics"]["best_metric_name"] == "froc_mean"
    out = tmp_path / "eval"
    report = evaluate_checkpoint(EvalConfig(checkpoint=result.checkpoint, data=str(loc_build), out=str(out),
                                            loader_workers=0, progress=False, top_losses=4,
                                            negatives=str(negatives)))
    assert set(report["froc"]["sensitivity"]) == {"0.125", "0.25", "0.5", "1", "2", "4", "8"}
    assert report["froc"]["images"] == 12 and report["froc"]["objects"] == 12
    assert set(report["dice_iou"]) == {"coin", "pin_needle", "mean"}
    assert set(report["image_level"]["per_class_auroc"]) == {"coin", "pin_needle"}
    assert report["negatives"]["count"] == 3 and report["negatives"]["marks_per_film"]["films"] == 3
    point = report["negatives"]["at_object_sensitivity_0.9"]
    assert set(point) >= {"threshold", "object_sensitivity", "real_films_flagged", "real_films_flagged_count"}
    if point["threshold"] is not None:
        assert point["object_sensitivity"] >= 0.9 and 0 <= point["real_films_flagged_count"] <= 3
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["froc"]["mean"] == report["froc"]["mean"]
    for name in ("froc.png", "predictions.png", "top_negatives.png"):
        assert (out / name).stat().st_size > 0
    rows = list(csv.reader(open(out / "localization.csv")))
    assert rows[0] == ["image_path", "prediction"] and len(rows) == 13
    rows = list(csv.DictReader(open(out / "predictions.csv")))
    assert len(rows) == 12 and {"score", "score_coin", "truth", "marks"} <= set(rows[0])
    films = list(csv.DictReader(open(out / "negatives.csv")))  # one row per real film, by index, no name
    assert [r["film"] for r in films] == ["0", "1", "2"] and "film0" not in (out / "negatives.csv").read_text()
    if point["threshold"] is not None:
        assert sum(int(r["flagged_at_90%"]) for r in films) == point["real_films_flagged_count"]


@pytest.mark.slow
def test_detect_resume_continues_the_run(loc_build, tmp_path):
    run = tmp_path / "run"
    train(_cfg(loc_build, run, max_steps=2))
    first = load_checkpoint(run / "last.pt")
    assert first["step"] == 2
    train(_cfg(loc_build, run, max_steps=4, epochs=2, resume=True))
    state = load_checkpoint(run / "last.pt")
    assert state["step"] == 4 and [h["epoch"] for h in state["metrics"]["history"]] == [0, 1]


@pytest.mark.slow
def test_detect_init_takes_a_classifier_backbone(loc_build, tmp_path):
    clf = train(_cfg(loc_build, tmp_path / "clf", task="multiclass", model="resnet18", max_steps=1))
    clf_state = load_checkpoint(clf.checkpoint)["model"]
    det = train(_cfg(loc_build, tmp_path / "det", init=clf.checkpoint, max_steps=1, lr=1e-12))
    det_state = load_checkpoint(det.checkpoint)["model"]
    # lr ~0: after one step the backbone is still the classifier's
    assert torch.allclose(det_state["backbone.body.conv1.weight"], clf_state["conv1.weight"], atol=1e-6)
    assert torch.allclose(det_state["backbone.body.layer4.1.conv2.weight"], clf_state["layer4.1.conv2.weight"],
                          atol=1e-6)
    assert not torch.allclose(det_state["backbone.body.layer4.1.conv2.weight"],
                              load_checkpoint(train(_cfg(loc_build, tmp_path / "fresh", max_steps=1)).checkpoint)
                              ["model"]["backbone.body.layer4.1.conv2.weight"])
    other = train(_cfg(loc_build, tmp_path / "clf34", task="multiclass", model="resnet34", max_steps=1))
    with pytest.raises(ValueError, match="does not fit"):
        train(_cfg(loc_build, tmp_path / "det34", init=other.checkpoint, max_steps=1))
