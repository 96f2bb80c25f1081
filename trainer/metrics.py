"""Classification metrics in pure numpy: confusion matrix, per-class rates, rank-based AUROC.

Conventions: `y_true` int class indices (N,), `y_pred` int (N,), `scores` float (N,) or (N, C)
probabilities. Per-class rates are one-vs-rest. A rate whose denominator is 0 is NaN (written
to JSON as null), never a made-up 0 or 1.
"""

from __future__ import annotations

import math

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) int64 counts; row = true class, column = predicted class."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {y_true.shape} vs {y_pred.shape}")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{name} holds values outside 0..{num_classes - 1}")
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else float("nan")


def per_class_rates(cm: np.ndarray) -> list[dict[str, float]]:
    """One-vs-rest sensitivity (TP/(TP+FN)), specificity (TN/(TN+FP)), PPV (TP/(TP+FP)),
    NPV (TN/(TN+FN)), prevalence ((TP+FN)/N) and the raw counts, per class."""
    cm = np.asarray(cm, dtype=np.int64)
    total = int(cm.sum())
    rates = []
    for k in range(cm.shape[0]):
        tp = int(cm[k, k])
        fn = int(cm[k, :].sum()) - tp
        fp = int(cm[:, k].sum()) - tp
        tn = total - tp - fn - fp
        rates.append({
            "tp": tp, "fn": fn, "fp": fp, "tn": tn,
            "sensitivity": _ratio(tp, tp + fn),
            "specificity": _ratio(tn, tn + fp),
            "ppv": _ratio(tp, tp + fp),
            "npv": _ratio(tn, tn + fn),
            "prevalence": _ratio(tp + fn, total),
        })
    return rates


def accuracy(cm: np.ndarray) -> float:
    return _ratio(np.trace(cm), np.sum(cm))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks; tied values share the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    # Boundaries of runs of equal values in sorted order.
    starts = np.flatnonzero(np.r_[True, sorted_vals[1:] != sorted_vals[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + 1 + e) / 2.0  # mean of ranks s+1..e
    return ranks


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve by the Mann-Whitney U statistic (ties count one half).

    scores: (N,) float, higher = more positive; positive: (N,) bool. NaN when either
    class is absent.
    """
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(scores)
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def roc_curve(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) at every distinct threshold, from (0, 0) to (1, 1); ties form one step."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    order = np.argsort(-scores, kind="mergesort")
    s, p = scores[order], positive[order]
    last_of_run = np.r_[s[1:] != s[:-1], True]
    tps = np.cumsum(p)[last_of_run]
    fps = np.cumsum(~p)[last_of_run]
    n_pos, n_neg = max(int(p.sum()), 1), max(int((~p).sum()), 1)
    return np.r_[0.0, fps / n_neg], np.r_[0.0, tps / n_pos]


def classification_report(probs: np.ndarray, y_true: np.ndarray, classes: list[str],
                          none_class: str = "none") -> dict:
    """Everything for a multi-class evaluation, JSON-ready (NaN -> None).

    probs: (N, C) class probabilities; y_true: (N,) int. When `none_class` is a class, also
    the binary "any foreign body vs none" task, scored by 1 - p(none).
    """
    probs = np.asarray(probs, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.int64)
    num_classes = len(classes)
    if probs.ndim != 2 or probs.shape[1] != num_classes:
        raise ValueError(f"expected probs of shape (N, {num_classes}), got {probs.shape}")
    y_pred = probs.argmax(axis=1)
    cm = confusion_matrix(y_true, y_pred, num_classes)
    rates = per_class_rates(cm)
    per_class = {}
    for k, name in enumerate(classes):
        per_class[name] = {**rates[k], "auroc": auroc(probs[:, k], y_true == k)}
    report = {
        "n": int(len(y_true)),
        "classes": list(classes),
        "accuracy": accuracy(cm),
        "confusion_matrix": cm.tolist(),
        "per_class": per_class,
    }
    aurocs = [v["auroc"] for v in per_class.values() if not np.isnan(v["auroc"])]
    report["macro_auroc"] = float(np.mean(aurocs)) if aurocs else float("nan")
    if none_class in classes:
        k = classes.index(none_class)
        any_true = y_true != k
        any_pred = y_pred != k
        bcm = confusion_matrix(any_true.astype(int), any_pred.astype(int), 2)
        brates = per_class_rates(bcm)[1]
        report["any_foreign_body"] = {**brates, "accuracy": accuracy(bcm),
                                      "auroc": auroc(1.0 - probs[:, k], any_true)}
    return _json_clean(report)


def _json_clean(value):
    if isinstance(value, dict):
        return {k: _json_clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_clean(v) for v in value]
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def multilabel_report(probs: np.ndarray, targets: np.ndarray, classes: list[str], threshold: float = 0.5,
                      none_class: str = "none") -> dict:
    """Per-label rates at `threshold` and AUROC for a multi-label task.

    probs, targets: (N, C), targets 0/1. "any_foreign_body" scores a sample by its largest
    probability over the classes other than `none_class`.
    """
    probs = np.asarray(probs, dtype=np.float64)
    targets = np.asarray(targets) > 0.5
    per_class = {}
    for k, name in enumerate(classes):
        cm = confusion_matrix(targets[:, k].astype(int), (probs[:, k] >= threshold).astype(int), 2)
        per_class[name] = {**per_class_rates(cm)[1], "auroc": auroc(probs[:, k], targets[:, k])}
    aurocs = [v["auroc"] for v in per_class.values() if not np.isnan(v["auroc"])]
    report = {"n": int(len(probs)), "classes": list(classes), "threshold": threshold,
              "exact_match": (float(np.mean(np.all((probs >= threshold) == targets, axis=1)))
                              if len(probs) else float("nan")),
              "per_class": per_class, "macro_auroc": float(np.mean(aurocs)) if aurocs else float("nan")}
    fb = [k for k, c in enumerate(classes) if c != none_class]
    if fb and len(fb) < len(classes):
        any_true = targets[:, fb].any(axis=1)
        report["any_foreign_body"] = {"auroc": auroc(probs[:, fb].max(axis=1), any_true)}
    return _json_clean(report)


# ------------------------------------------------------------- false positives on real films


def any_foreign_body_score(probs: np.ndarray, classes: list[str], task: str, none_class: str = "none") -> np.ndarray:
    """(N,) P(any foreign body): 1 - P(none) (multiclass), or the largest probability of the
    classes other than `none_class` (multilabel, as `multilabel_report` scores it)."""
    probs = np.asarray(probs, dtype=np.float64)
    k = classes.index(none_class)
    if task == "multilabel":
        return np.delete(probs, k, axis=1).max(axis=1)
    return 1.0 - probs[:, k]


def threshold_at_sensitivity(positive_scores: np.ndarray, sensitivity: float) -> float | None:
    """The highest threshold t at which at least `sensitivity` of the positives score >= t
    (the ceil(sensitivity * P)-th highest positive score); None without positives."""
    s = np.sort(np.asarray(positive_scores, dtype=np.float64))[::-1]
    if not len(s):
        return None
    return float(s[max(math.ceil(sensitivity * len(s) - 1e-9), 1) - 1])


def threshold_at_fpr(negative_scores: np.ndarray, rate: float) -> float | None:
    """The lowest threshold t, a negative's score, at which at most `rate` of the negatives score
    >= t; just above the highest negative score (the next float) when even one would be too many.
    None without negatives."""
    s = np.sort(np.asarray(negative_scores, dtype=np.float64))[::-1]
    if not len(s):
        return None
    allowed = math.floor(rate * len(s) + 1e-9)  # negatives that may score >= t
    if allowed >= len(s):
        return float(s[-1])
    above = s[:allowed][s[:allowed] > s[allowed]]
    return float(above.min()) if len(above) else float(np.nextafter(s[allowed], np.inf))


def share_at_or_above(scores: np.ndarray, threshold: float | None) -> float | None:
    """The share of `scores` >= threshold; None when there is no threshold or no score."""
    scores = np.asarray(scores, dtype=np.float64)
    if threshold is None or not len(scores):
        return None
    return float(np.mean(scores >= threshold))


def negatives_report(scores: np.ndarray, positive: np.ndarray, real_scores: np.ndarray, *, sensitivity: float = 0.9,
                     synthetic_fpr: float = 0.05) -> dict:
    """False positives on real films with no inserted object at two operating points set on the
    labelled data: (a) the threshold finding `sensitivity` of its positives, (b) the threshold
    that `synthetic_fpr` of its negatives reach. scores, positive: (N,) any-foreign-body score and
    truth of the labelled data; real_scores: (M,) scores of the real negatives."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    names = (f"at_sensitivity_{sensitivity:g}", f"at_synthetic_fpr_{synthetic_fpr:g}")
    thresholds = dict(zip(names, (threshold_at_sensitivity(scores[positive], sensitivity),
                                  threshold_at_fpr(scores[~positive], synthetic_fpr))))
    return {
        "count": int(len(real_scores)),
        "false_positive_rate": {n: share_at_or_above(real_scores, t) for n, t in thresholds.items()},
        "thresholds": thresholds,
        "synthetic": {"positives": int(positive.sum()), "negatives": int((~positive).sum()),
                      "sensitivity": {n: share_at_or_above(scores[positive], t) for n, t in thresholds.items()},
                      "false_positive_rate": {n: share_at_or_above(scores[~positive], t)
                                              for n, t in thresholds.items()}},
    }
