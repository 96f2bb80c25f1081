"""The localiser's operating point on real films: the highest threshold whose marks find 90 %
of the objects (`froc.score_at_sensitivity`), and at it the real films flagged, by hand."""

import numpy as np
import pytest
import torch

from trainer.localise.evaluation import at_object_sensitivity, negative_rows
from trainer.localise.froc import froc, score_at_sensitivity


def _pts(*rows):
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 3)


def _boxes(*rows):
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)


# 4 synthetic images, 3 objects (two on image 0, one on image 1), images 2 and 3 without one.
# By score: 0.9 hit, 0.8 hit, 0.7 FP, 0.6 FP, 0.5 hit (3 of 3), 0.3 FP.
POINTS = [_pts((0.9, 5, 5), (0.5, 25, 25), (0.7, 50, 50)), _pts((0.8, 5, 5)), _pts((0.6, 1, 1)), _pts((0.3, 1, 1))]
BOXES = [_boxes((0, 0, 10, 10), (20, 20, 30, 30)), _boxes((0, 0, 10, 10)), _boxes(), _boxes()]


def test_score_at_sensitivity_is_the_score_of_the_mark_that_reaches_it():
    result = froc(POINTS, BOXES)
    assert score_at_sensitivity(POINTS, result, 0.9) == pytest.approx(0.5)
    assert score_at_sensitivity(POINTS, result, 2 / 3) == pytest.approx(0.8)
    assert score_at_sensitivity(POINTS, result, 0.3) == pytest.approx(0.9)
    missed = [POINTS[0][:1], POINTS[1], POINTS[2], POINTS[3]]  # object 1 never marked
    assert score_at_sensitivity(missed, froc(missed, BOXES), 0.9) is None


def test_real_films_flagged_at_the_synthetic_object_sensitivity():
    result = {"points": POINTS, "positive": np.array([True, True, False, False]),
              "image_score": np.array([0.9, 0.8, 0.6, 0.3])}
    real_points = [_pts((0.55, 1, 1), (0.51, 5, 5)), _pts((0.4, 1, 1)), _pts()]
    found = {"image_score": np.array([0.55, 0.4, 0.0]), "points": real_points}
    real_marks = np.concatenate([p[:, 0].numpy() for p in real_points])
    section = at_object_sensitivity(result, found, froc(POINTS, BOXES), real_marks)
    assert section["threshold"] == pytest.approx(0.5)
    assert section["object_sensitivity"] == 1.0
    assert section["synthetic_false_positives_per_image"] == 0.5  # 0.7 and 0.6 on 4 images
    assert section["synthetic_none_flagged"] == 0.5  # image 2 (0.6), not image 3 (0.3)
    assert section["real_films_flagged"] == pytest.approx(1 / 3) and section["real_films_flagged_count"] == 1
    assert section["real_false_positives_per_film"] == pytest.approx(2 / 3)  # 0.55 and 0.51


def test_negatives_csv_rows_give_each_real_film_its_score_marks_and_flag_by_index():
    real_points = [_pts((0.55, 1, 1), (0.51, 5, 5), (0.2, 9, 9)), _pts((0.4, 1, 1)), _pts()]
    found = {"image_score": np.array([0.55, 0.4, 0.0]), "points": real_points}
    rows = negative_rows(found, 0.5)
    assert [r["film"] for r in rows] == [0, 1, 2]  # top_negatives.png's "#N", never a name
    assert [r["marks_at_90%"] for r in rows] == [2, 0, 0] and [r["flagged_at_90%"] for r in rows] == [1, 0, 0]
    assert [r["score"] for r in rows] == pytest.approx([0.55, 0.4, 0.0])
    none = negative_rows(found, None)  # no operating point: the score alone
    assert all(r["marks_at_90%"] is None and r["flagged_at_90%"] is None for r in none)


def test_no_operating_point_when_the_marks_never_find_enough():
    points = [POINTS[0][:1], _pts(), POINTS[2], POINTS[3]]
    result = {"points": points, "positive": np.array([True, True, False, False]),
              "image_score": np.array([0.9, 0.0, 0.6, 0.3])}
    found = {"image_score": np.array([0.2]), "points": [_pts((0.2, 1, 1))]}
    section = at_object_sensitivity(result, found, froc(points, BOXES), np.array([0.2]))
    assert section["threshold"] is None and section["real_films_flagged"] is None
    assert "never find 90%" in section["note"]


def test_objects_csv_rows_give_each_object_its_best_mark_hardest_first():
    from types import SimpleNamespace

    from trainer.localise.evaluation import object_rows

    missed = [POINTS[0][:2], _pts(), POINTS[2], POINTS[3]]  # the object of image 1 is never marked
    result = {"points": missed, "keys": ["a", "b", "c", "d"], "boxes_fb": BOXES,
              "labels_fb": [torch.tensor([0, 1]), torch.tensor([1])] + [torch.zeros(0, dtype=torch.int64)] * 2,
              "scale": torch.tensor([[0.5, 0.5]] * 4)}
    full = froc(missed, BOXES)
    assert full["object_scores"] == [pytest.approx(0.9), pytest.approx(0.5), None]
    task = SimpleNamespace(fb=[0, 1], fg=["coin", "pin_needle"])
    rows = object_rows(result, full, task)
    assert [(r["image_path"], r["class"], r["best_score"]) for r in rows] == [
        ("b", "pin_needle", None), ("a", "pin_needle", pytest.approx(0.5)), ("a", "coin", pytest.approx(0.9))]
    assert rows[1]["x1"] == 40.0 and rows[1]["y2"] == 60.0  # stored pixels: model pixels / scale
    assert all(r["found_at_90%"] == 0 for r in rows)  # 2 of 3 is never 90 %: no threshold
