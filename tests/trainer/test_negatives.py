"""evaluate --negatives: false positives of real films with no inserted object at the two
operating points set on the labelled data, on a hand-made case whose answer is known (a model
whose any-foreign-body score is the film's grey level); --negatives-split keeps exactly the
films of that split's patients; the sheet of the highest-scoring films names no file."""

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from generator.errors import ConfigError
from generator.inputs.splits import split_of
from trainer import evaluate as evaluate_module
from trainer.cli import add_evaluate_parser
from trainer.config import EvalConfig
from trainer.data import open_negatives
from trainer.evaluate import evaluate_checkpoint
from trainer.metrics import negatives_report, threshold_at_fpr, threshold_at_sensitivity
from trainer.split import group_key


class GreyLevelModel(nn.Module):
    """Classes (none, coin): P(coin) = the image's mean grey level, so the score is known."""

    def forward(self, x):  # (B, 1, H, W) -> (B, 2) logits
        v = x.mean(dim=(1, 2, 3)).clamp(1e-6, 1 - 1e-6)
        return torch.stack([torch.log(1 - v), torch.log(v)], dim=1)


def _save(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((32, 32), value, dtype=np.uint8)).save(path)


@pytest.fixture
def grey_model(monkeypatch):
    checkpoint = {"config": {"image_size": 32, "task": "multiclass"}, "classes": ["none", "coin"]}
    monkeypatch.setattr(evaluate_module, "load_checkpoint", lambda path: checkpoint)
    monkeypatch.setattr(evaluate_module, "model_from_checkpoint", lambda ckpt: GreyLevelModel())


@pytest.fixture
def labelled(tmp_path) -> Path:
    """Synthetic positives at grey 100, 110, ..., 190; synthetic negatives at 0, 5, ..., 95."""
    root = tmp_path / "labelled"
    for i, v in enumerate(range(100, 200, 10)):
        _save(root / "coin" / f"{i:03d}.png", v)
    for i, v in enumerate(range(0, 100, 5)):
        _save(root / "none" / f"{i:03d}.png", v)
    return root


REAL = {"00000001_000.png": 20, "00000001_001.png": 96, "00000002_000.png": 110, "00000003_000.png": 200,
        "00000004_000.png": 50, "00000005_002.png": 120, "00000006_000.png": 94, "00000007_000.png": 105}


def _real(root: Path) -> Path:
    for name, v in REAL.items():
        _save(root / name, v)
    return root


def test_thresholds_of_the_two_operating_points():
    assert threshold_at_sensitivity(np.arange(1, 11) / 10, 0.9) == 0.2  # 9 of 10 score >= 0.2
    assert threshold_at_sensitivity(np.array([0.5, 0.5, 0.5]), 0.9) == 0.5
    assert threshold_at_fpr(np.arange(20) / 20, 0.05) == 0.95  # 1 of 20 scores >= 0.95
    assert threshold_at_fpr(np.array([0.1, 0.9, 0.9]), 0.5) == np.nextafter(0.9, 1)  # a tie: none may reach it
    assert threshold_at_sensitivity(np.array([]), 0.9) is None and threshold_at_fpr(np.array([]), 0.05) is None
    report = negatives_report(np.array([0.9, 0.8, 0.1]), np.array([True, True, False]), np.array([0.85, 0.05]))
    assert report["thresholds"]["at_sensitivity_0.9"] == 0.8 and report["false_positive_rate"] == {
        "at_sensitivity_0.9": 0.5, "at_synthetic_fpr_0.05": 0.5}  # 1 negative: above it, at 0.1's next float


def test_negatives_false_positive_rates_are_known(grey_model, labelled, tmp_path):
    negatives = _real(tmp_path / "real")
    out = tmp_path / "eval"
    report = evaluate_checkpoint(EvalConfig(checkpoint="ckpt", data=str(labelled), out=str(out),
                                            negatives=str(negatives), loader_workers=0, top_losses=4, device="cpu",
                                            progress=False))
    section = report["negatives"]
    assert section["count"] == 8 and section["score"] == "P(any foreign body) = 1 - P(none)"
    # (a) 9 of the 10 positives score >= grey 110; (b) 1 of the 20 negatives scores >= grey 95.
    assert section["thresholds"]["at_sensitivity_0.9"] == pytest.approx(110 / 255, abs=1e-5)
    assert section["thresholds"]["at_synthetic_fpr_0.05"] == pytest.approx(95 / 255, abs=1e-5)
    # Real films at or above 110: 110, 120, 200; at or above 95: also 96 and 105 (not 94).
    assert section["false_positive_rate"] == {"at_sensitivity_0.9": 3 / 8, "at_synthetic_fpr_0.05": 5 / 8}
    assert section["synthetic"]["sensitivity"]["at_sensitivity_0.9"] == 0.9
    assert section["synthetic"]["false_positive_rate"]["at_synthetic_fpr_0.05"] == 0.05
    assert json.loads((out / "metrics.json").read_text())["negatives"] == section
    assert report["n"] == 30  # --data is scored as before
    ordered = sorted(REAL)  # the listing's order: the top films are 200, 120, 110, 105
    assert [t["index"] for t in section["top"]] == [ordered.index(n) for n in
                                                    ("00000003_000.png", "00000005_002.png", "00000002_000.png",
                                                     "00000007_000.png")]


def test_sheet_of_the_highest_scoring_films_names_no_file(grey_model, labelled, tmp_path, monkeypatch):
    titles = []
    draw = evaluate_module._sheet

    def spy(entries, path):
        if path.name == "top_negatives.png":
            titles.extend(title for _, title in entries)
        draw(entries, path)

    monkeypatch.setattr(evaluate_module, "_sheet", spy)
    out = tmp_path / "eval"
    report = evaluate_checkpoint(EvalConfig(checkpoint="ckpt", data=str(labelled), out=str(out),
                                            negatives=str(_real(tmp_path / "real")), loader_workers=0, top_losses=3,
                                            device="cpu", progress=False))
    assert (out / "top_negatives.png").stat().st_size > 1000 and report["negatives"]["sheet"] == "top_negatives.png"
    assert len(titles) == 3 and titles[0].startswith("negative #") and "score 0.784" in titles[0]  # grey 200
    names = json.dumps(report["negatives"]) + "".join(titles)
    for name in REAL:
        assert name[:8] not in names and Path(name).stem not in names


def test_negatives_split_keeps_exactly_the_films_of_that_split(grey_model, labelled, tmp_path):
    real = tmp_path / "real"
    names = [f"{p:08d}_{f:03d}.png" for p in range(1, 31) for f in range(2)]  # 30 patients, 2 films each
    for name in names:
        _save(real / name, 100)
    fractions = (("train", 0.5), ("val", 0.25), ("test", 0.25))
    kept = {}
    for split in ("train", "val", "test"):
        data = open_negatives(str(real), classes=["none", "coin"], image_size=32, task="multiclass", batch_size=8,
                              loader_workers=0, split=split, fractions=fractions, split_seed=4)
        kept[split] = [Path(path).name for path, _ in data.dataset.items]
        assert kept[split] == [n for n in names if split_of(group_key(n)[1], fractions, 4) == split]
        assert all(label == "none" for _, label in data.dataset.items)
    assert sorted(sum(kept.values(), [])) == names and all(kept.values())  # each film in exactly one split
    patients = {split: {n[:8] for n in films} for split, films in kept.items()}
    assert not (patients["train"] & patients["val"] or patients["train"] & patients["test"]
                or patients["val"] & patients["test"])  # whole patients
    report = evaluate_checkpoint(EvalConfig(checkpoint="ckpt", data=str(labelled), out=str(tmp_path / "eval"),
                                            negatives=str(real), negatives_split="test", split_fractions=fractions,
                                            split_seed=4, loader_workers=0, top_losses=0, device="cpu",
                                            progress=False))
    assert report["negatives"]["count"] == len(kept["test"]) and report["negatives"]["split"] == "test"


def test_negatives_options_are_validated(grey_model, labelled, tmp_path):
    with pytest.raises(ConfigError, match="--negatives-split.*together with --negatives"):
        EvalConfig(checkpoint="c", data="d", out="o", negatives_split="test").validate()
    with pytest.raises(ConfigError, match="--negatives-split.*train, val, test"):
        EvalConfig(checkpoint="c", data="d", out="o", negatives="n", negatives_split="holdout").validate()
    with pytest.raises(ConfigError, match="--split-fractions.*summing to 1"):
        EvalConfig(checkpoint="c", data="d", out="o", split_fractions=(("train", 0.8), ("test", 0.1))).validate()


def test_evaluate_flags_map_onto_eval_config():
    parser = argparse.ArgumentParser()
    add_evaluate_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["evaluate", "--checkpoint", "c", "--data", "d", "--out", "o", "--negatives", "n",
                              "--negatives-split", "test", "--split-fractions", "train=0.7,val=0.1,test=0.2",
                              "--split-seed", "3"])
    cfg = EvalConfig(**{k: v for k, v in vars(args).items() if k in EvalConfig.__dataclass_fields__}).validate()
    assert (cfg.negatives, cfg.negatives_split, cfg.split_seed) == ("n", "test", 3)
    assert cfg.split_fractions == (("train", 0.7), ("val", 0.1), ("test", 0.2))
    default = parser.parse_args(["evaluate", "--checkpoint", "c", "--data", "d", "--out", "o"])
    assert default.split_fractions == (("train", 0.8), ("val", 0.1), ("test", 0.1)) and default.negatives is None
