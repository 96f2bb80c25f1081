"""radiopaque experiment --task segment: three arms on a synthetic build and a labelled real set
(a COCO file), one table with FROC, Dice and image-level AUROC."""

import pytest
import torch
from _loc_builds import write_loc_build

from generator.tools.export import export_build
from trainer.experiment import ExperimentConfig, markdown_table, run_experiment


@pytest.mark.slow
def test_segment_experiment_three_arms(tmp_path):
    synthetic = write_loc_build(tmp_path / "syn", [30], patients=30)  # its arms hold out 10 % of patients
    real = write_loc_build(tmp_path / "real-build", [9], first=100)
    export_build(str(real), str(tmp_path / "real"), fmt="coco", progress=False)
    table = run_experiment(ExperimentConfig(
        synthetic=str(synthetic), real=str(tmp_path / "real" / "annotations.json"), out=str(tmp_path / "exp"),
        task="segment", model="unet_resnet18", image_size=128, crop=64, steps=2, batch_size=3, loader_workers=0,
        val_fraction=0.4, hard_negatives=0.5, object_crops=0.6, progress=False))
    assert [r["arm"] for r in table["rows"]] == ["synthetic", "real", "synthetic+real"]
    for row in table["rows"]:
        assert row["test_n"] > 0 and row["class_agnostic"] is False
        assert set(row["report"]["dice_iou"]) == {"coin", "pin_needle", "mean"}
    text = markdown_table(table)
    assert "FROC mean" in text and "| synthetic+real | 2 |" in text
    assert (tmp_path / "exp" / "results.md").read_text() == text
    for arm in ("synthetic", "real", "synthetic+real/finetune"):  # every arm trains with the crop options
        config = torch.load(tmp_path / "exp" / arm / "last.pt", map_location="cpu", weights_only=False)["config"]
        assert (config["hard_negatives"], config["object_crops"]) == (0.5, 0.6)
