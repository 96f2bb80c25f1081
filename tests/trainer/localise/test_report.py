"""Localisation reports: object-CXR submission CSVs round-trip, PNGs draw where they should."""

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from trainer.localise.froc import froc
from trainer.localise.report import (
    PRED_RGB,
    TRUE_RGB,
    read_localisation_csv,
    write_classification_csv,
    write_detections_csv,
    write_froc_png,
    write_localisation_csv,
    write_prediction_sheet,
    write_rows_csv,
)


def test_localisation_csv_has_the_object_cxr_shape_and_reads_back(tmp_path):
    points = [torch.tensor([[0.9, 1000, 500], [0.8, 200.5, 400]]), torch.zeros(0, 3)]
    path = tmp_path / "prediction_localization.csv"
    write_localisation_csv(path, ["a.jpg", "b.jpg"], points)
    assert path.read_text() == ("image_path,prediction\na.jpg,0.900000 1000.00 500.00;0.800000 200.50 400.00\n"
                                "b.jpg,\n")
    back = read_localisation_csv(path)
    assert list(back) == ["a.jpg", "b.jpg"]
    assert torch.allclose(back["a.jpg"], points[0]) and back["b.jpg"].shape == (0, 3)


def test_bad_localisation_row_names_the_line(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("image_path,prediction\na.jpg,0.5 1\n")
    with pytest.raises(ValueError, match=r"line 2: a point is 'score x y'"):
        read_localisation_csv(path)


def test_classification_detections_and_rows_csv(tmp_path):
    write_classification_csv(tmp_path / "c.csv", ["a", "b"], [0.25, 1.0])
    assert (tmp_path / "c.csv").read_text() == "image_path,prediction\na,0.250000\nb,1.000000\n"
    preds = [{"boxes": torch.tensor([[1.0, 2, 3, 4]]), "scores": torch.tensor([0.5]), "labels": torch.tensor([2])},
             {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0), "labels": torch.zeros(0, dtype=torch.int64)}]
    targets = [{"boxes": torch.tensor([[1.0, 2, 3, 5]]), "labels": torch.tensor([1])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}]
    write_detections_csv(tmp_path / "d.csv", ["a", "b"], preds, targets, ["coin", "bullet"])
    rows = list(csv.DictReader(open(tmp_path / "d.csv")))
    assert rows[0] == {"image_path": "a", "objects": "1", "detections": "1", "top_score": "0.500000",
                       "predicted": "bullet 0.5000 1.0 2.0 3.0 4.0", "true": "coin 1.0 2.0 3.0 5.0"}
    assert rows[1]["predicted"] == "" and rows[1]["top_score"] == ""
    write_rows_csv(tmp_path / "r.csv", [{"image_path": "a", "dice": 0.5, "n": 3}])
    assert (tmp_path / "r.csv").read_text() == "image_path,dice,n\na,0.500000,3\n"


def test_froc_png_is_drawn(tmp_path):
    result = froc([torch.tensor([[0.9, 5, 5], [0.5, 50, 50]])], [torch.tensor([[0.0, 0, 10, 10]])])
    write_froc_png(tmp_path / "froc.png", {"detector": result, "unet": result})
    img = np.asarray(Image.open(tmp_path / "froc.png"))
    assert img.shape == (460, 640, 3) and (img != 255).any(axis=2).mean() > 0.01


def test_sheet_draws_true_boxes_green_and_predicted_red(tmp_path):
    image = torch.full((1, 64, 64), 0.5)
    mask = torch.zeros(1, 64, 64, dtype=torch.bool)
    mask[0, 40:50, 40:50] = True
    entry = {"image": image, "title": "0", "true_boxes": torch.tensor([[8.0, 8, 24, 24]]),
             "true_labels": torch.tensor([1]), "pred_boxes": torch.tensor([[30.0, 8, 60, 24]]),
             "pred_scores": torch.tensor([0.7]), "pred_labels": torch.tensor([1]), "pred_masks": mask}
    write_prediction_sheet(tmp_path / "s.png", [entry], ["coin"], tile_px=64)
    img = np.asarray(Image.open(tmp_path / "s.png").convert("RGB"))
    tile = img[28:28 + 64]
    assert tuple(tile[8, 16]) == TRUE_RGB  # top edge of the true box
    assert tuple(tile[16, 30]) == PRED_RGB  # left edge of the predicted box
    assert tuple(tile[40, 45]) == PRED_RGB and tuple(tile[45, 45]) != PRED_RGB  # outline, not fill
