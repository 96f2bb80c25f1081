"""A tiny real run: generate a build, train, evaluate, export to class folders, fine-tune
with --init (head replaced), resume. Small images keep it well under a minute on CPU."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from generator.config import BuildConfig, RunConfig, SourceConfig
from generator.errors import ConfigError
from generator.run.build import build
from trainer.checkpoint import load_checkpoint
from trainer.config import EvalConfig, TrainConfig
from trainer.distributed import train
from trainer.evaluate import evaluate_checkpoint
from trainer.plain import PlainDataset, export_class_folders


def _films(folder, patients: int = 8):
    """Smooth grey films named as NIH's (PPPPPPPP_FFF.png), two per patient: the trainer holds
    out whole patients, so a build of one film (the built-in sample) has no validation split."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for p in range(patients):
        for f in range(2):
            img = np.clip(np.linspace(40, 200, 80)[None, :] + rng.normal(0, 8, (96, 80)).cumsum(0) / 8, 0, 255)
            Image.fromarray(img.astype(np.uint8)).save(folder / f"{p + 1:08d}_{f:03d}.png")
    return folder


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    out = root / "build"
    build(BuildConfig(count=48, seed=7, size=64, style="legacy", formats=("wds", "parquet"), shard_size=16,
                      sources=SourceConfig(input=str(_films(root / "films")))),
          RunConfig(out=str(out), progress=False))
    return out


def test_a_validation_split_without_a_patient_is_refused(tmp_path):
    out = tmp_path / "one-film"
    build(BuildConfig(count=8, seed=1, size=64, style="legacy", shard_size=8), RunConfig(out=str(out), progress=False))
    with pytest.raises(ConfigError, match="--val-fraction: .*at least one sample: whole patients are held out"):
        train(TrainConfig(data=str(out), out=str(tmp_path / "run"), image_size=32, epochs=1, batch_size=4,
                          val_fraction=0.25, loader_workers=0, progress=False))


def test_train_evaluate_finetune_resume(tiny_build, tmp_path):
    torch.set_num_threads(2)
    run_dir = tmp_path / "run"
    cfg = TrainConfig(data=str(tiny_build), out=str(run_dir), image_size=32, epochs=1, batch_size=16,
                      val_fraction=0.25, loader_workers=1, progress=False, balance="weights", mixup=0.2,
                      label_smoothing=0.1)
    result = train(cfg)
    assert result.epochs == 1 and result.images_per_s > 0
    assert (run_dir / "last.pt").exists() and (run_dir / "best.pt").exists()
    assert result.best_metric_name == "auroc_any" and 0.0 <= result.best_metric <= 1.0
    state = load_checkpoint(run_dir / "last.pt")
    assert state["classes"] == ["none", "coin", "magnets", "bullet"]
    assert state["epoch"] == 0 and state["optimizer"] is not None and state["config"]["image_size"] == 32
    assert str(run_dir / "best.pt") in result.line()

    eval_dir = tmp_path / "eval"
    report = evaluate_checkpoint(EvalConfig(checkpoint=str(run_dir / "best.pt"), data=str(tiny_build),
                                            out=str(eval_dir), loader_workers=0, top_losses=4, progress=False))
    assert report["n"] == 48
    assert sum(map(sum, report["confusion_matrix"])) == 48
    assert json.loads((eval_dir / "metrics.json").read_text())["n"] == 48
    for png in ("confusion.png", "roc.png", "top_losses.png"):
        assert (eval_dir / png).stat().st_size > 1000
    assert len(report["top_losses"]) == 4

    # Real data arrives as class folders; two classes here, so --init must replace the head.
    folder = tmp_path / "folder"
    counts = export_class_folders(str(tiny_build), str(folder),
                                  rename={"coin": "foreign_body", "magnets": "foreign_body", "bullet": "foreign_body"})
    assert sum(counts.values()) == 48 and set(counts) == {"none", "foreign_body"}
    assert PlainDataset(str(folder), image_size=32).classes == ["foreign_body", "none"]
    ft_dir = tmp_path / "finetune"
    ft = train(cfg.but(data=str(folder), out=str(ft_dir), init=str(run_dir / "last.pt"), balance="sampler",
                       mixup=0.0))
    ft_state = load_checkpoint(ft_dir / "last.pt")
    assert ft_state["classes"] == ["foreign_body", "none"]
    assert ft_state["model"]["fc.weight"].shape == (2, 512)
    assert ft.best_metric is not None

    # --resume continues after the saved epoch with the saved optimiser step.
    resumed = train(cfg.but(resume=True, epochs=2))
    state2 = load_checkpoint(run_dir / "last.pt")
    assert resumed.epochs == 1 and state2["epoch"] == 1 and state2["step"] == 2 * state["step"]
    assert [h["epoch"] for h in state2["metrics"]["history"]] == [0, 1]

    # Evaluate also reads a CSV of path,label.
    csv_path = tmp_path / "labels.csv"
    rows = [f"{p.relative_to(tmp_path)},{p.parent.name}" for p in sorted(folder.rglob("*.jpg"))[:10]]
    csv_path.write_text("path,label\n" + "\n".join(rows) + "\n")
    report_csv = evaluate_checkpoint(EvalConfig(checkpoint=str(ft_dir / "last.pt"), data=str(csv_path),
                                                out=str(tmp_path / "eval_csv"), loader_workers=0, top_losses=0,
                                                progress=False))
    assert report_csv["n"] == len(rows)
