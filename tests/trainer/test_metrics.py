import math

import numpy as np
import pytest

from trainer.metrics import accuracy, auroc, classification_report, confusion_matrix, per_class_rates, roc_curve


def test_confusion_matrix_and_rates_match_hand_computation():
    # 3 classes, 10 samples.
    y_true = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 0, 1, 2, 1, 1, 0, 2, 2, 1])
    cm = confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[2, 1, 1], [1, 2, 0], [0, 1, 2]]
    assert accuracy(cm) == pytest.approx(6 / 10)
    r = per_class_rates(cm)
    # class 1: TP 2, FN 1, FP 2 (one from class 0, one from class 2), TN 5
    assert (r[1]["tp"], r[1]["fn"], r[1]["fp"], r[1]["tn"]) == (2, 1, 2, 5)
    assert r[1]["sensitivity"] == pytest.approx(2 / 3)
    assert r[1]["specificity"] == pytest.approx(5 / 7)
    assert r[1]["ppv"] == pytest.approx(2 / 4)
    assert r[1]["npv"] == pytest.approx(5 / 6)
    assert r[1]["prevalence"] == pytest.approx(3 / 10)
    # class 0: TP 2, FN 2, FP 1, TN 5
    assert r[0]["sensitivity"] == pytest.approx(0.5)
    assert r[0]["specificity"] == pytest.approx(5 / 6)
    assert r[0]["ppv"] == pytest.approx(2 / 3)
    assert r[0]["npv"] == pytest.approx(5 / 7)


def test_rate_with_zero_denominator_is_nan_not_zero():
    cm = confusion_matrix(np.array([0, 0]), np.array([0, 0]), 2)
    r = per_class_rates(cm)
    assert math.isnan(r[1]["sensitivity"]) and math.isnan(r[1]["ppv"])
    assert r[0]["sensitivity"] == 1.0


def test_auroc_hand_checked_with_ties():
    # positives 0.8, 0.4, 0.4; negatives 0.4, 0.2.
    # pairs (pos > neg = 1, tie = 1/2): 0.8 beats both (2); each 0.4 ties 0.4 (0.5) and beats 0.2 (1) -> 1.5 each
    # U = 2 + 1.5 + 1.5 = 5 of 3 * 2 = 6 pairs
    scores = np.array([0.8, 0.4, 0.4, 0.4, 0.2])
    positive = np.array([1, 1, 1, 0, 0], dtype=bool)
    assert auroc(scores, positive) == pytest.approx(5 / 6)
    assert auroc(-scores, positive) == pytest.approx(1 / 6)
    assert auroc(np.ones(4), np.array([1, 0, 1, 0], dtype=bool)) == pytest.approx(0.5)
    assert math.isnan(auroc(scores, np.ones(5, dtype=bool)))


def test_roc_curve_area_equals_auroc():
    rng = np.random.default_rng(0)
    positive = rng.random(200) < 0.4
    scores = np.round(rng.random(200) + positive * 0.5, 1)  # rounding makes ties
    fpr, tpr = roc_curve(scores, positive)
    assert fpr[0] == tpr[0] == 0.0 and fpr[-1] == tpr[-1] == 1.0
    assert np.trapezoid(tpr, fpr) == pytest.approx(auroc(scores, positive))


def test_classification_report_any_foreign_body():
    classes = ["none", "coin", "bullet"]
    probs = np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.6, 0.1, 0.3], [0.1, 0.1, 0.8]])
    y_true = np.array([0, 1, 2, 2])
    report = classification_report(probs, y_true, classes)
    assert report["accuracy"] == pytest.approx(3 / 4)
    any_fb = report["any_foreign_body"]
    # 1 - p(none): negative 0.1; positives 0.8, 0.4, 0.9: all above -> AUROC 1
    assert any_fb["auroc"] == pytest.approx(1.0)
    assert any_fb["sensitivity"] == pytest.approx(2 / 3)  # sample 2 predicted "none"
    assert report["per_class"]["coin"]["auroc"] == pytest.approx(1.0)
    assert report["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]


def test_top_loss_titles_name_the_sample_not_a_cut_shard_path():
    from trainer.evaluate import sample_title

    assert sample_title("wds/shard-000003.tar:00000042") == "sample 00000042"
    assert sample_title("shard-000000.parquet:00000007") == "sample 00000007"  # a build made before wds/
    assert sample_title("coin/film_001.png") == "film_001.png"
    long = sample_title("folder/an_unusually_long_file_name_of_a_film_0123.png")
    assert len(long) == 28 and long.startswith("an_unusually") and long.endswith("film_0123.png")
