"""Classification metrics of the emotion papers: accuracy (WAR), UAR, WAP, confusion matrix.

Definitions (C classes, n_c true samples of class c, N samples in all):

- ``accuracy`` = ``war`` (weighted average recall) = correct / N = Σ_c (n_c / N) · recall_c.
- ``uar`` (unweighted average recall) = mean of recall_c over the classes present in y_true;
  classes with no true sample have no recall and are left out of the mean.
- ``wap`` (weighted average precision) = Σ_c (n_c / N) · precision_c. A class that was never
  predicted has no defined precision; it counts as precision 0 (as scikit-learn's
  ``zero_division=0``), so a model that ignores a class is penalised for it.

Detection (`roc_auc`, `true_positive_rate_at`, `bootstrap_interval`): how well a score
separates two classes (e.g. clean vs attacked sequences), threshold-free and at a fixed
false-alarm rate, with a bootstrap interval over resampled groups.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata

from ela.errors import ElaError


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) int64 counts; row = true class, column = predicted class."""
    yt = _as_labels(y_true, num_classes, "y_true")
    yp = _as_labels(y_pred, num_classes, "y_pred")
    if yt.shape != yp.shape:
        raise ElaError(f"y_true has {yt.size} labels but y_pred has {yp.size}")
    flat = np.bincount(yt * num_classes + yp, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes).astype(np.int64)


def classification_metrics(
    y_true: np.ndarray | Sequence[int],
    y_pred: np.ndarray | Sequence[int],
    num_classes: int,
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Accuracy/WAR, UAR, WAP, per-class recall and the confusion matrix, as JSON-able values.

    Returns a dict with ``accuracy``, ``war`` (same value), ``uar``, ``wap`` (floats in [0, 1]),
    ``per_class_recall`` (class name -> recall, None for classes absent from y_true),
    ``confusion`` (list of C rows, row = true class), ``classes`` (C names), ``support``
    (true samples per class) and ``num_samples``.
    """
    if num_classes < 1:
        raise ElaError(f"num_classes must be at least 1, got {num_classes}")
    names = _class_names(class_names, num_classes)
    cm = confusion_matrix(np.asarray(y_true), np.asarray(y_pred), num_classes)
    n = int(cm.sum())
    if n == 0:
        raise ElaError("cannot compute metrics of an empty set (no labels given)")
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    correct = np.diag(cm)
    present = support > 0
    recall = np.divide(correct, support, out=np.zeros(num_classes), where=present)
    precision = np.divide(correct, predicted, out=np.zeros(num_classes), where=predicted > 0)
    accuracy = float(correct.sum() / n)
    return {
        "accuracy": accuracy,
        "war": accuracy,
        "uar": float(recall[present].mean()),
        "wap": float((support / n * precision).sum()),
        "per_class_recall": {
            name: (float(r) if p else None) for name, r, p in zip(names, recall, present,
                                                                  strict=True)
        },
        "confusion": cm.tolist(),
        "classes": names,
        "support": support.tolist(),
        "num_samples": n,
    }


def mean_std(results: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Mean and standard deviation over folds of every scalar metric.

    Scalars are top-level ints/floats (booleans excluded) present in every dict; dicts of
    scalars (e.g. ``per_class_recall``) are averaged key by key, ignoring None entries.
    The std is the population std (``ddof=0``, numpy's default). Returns
    ``{"mean": {...}, "std": {...}}``.
    """
    if not results:
        raise ElaError("mean_std needs at least one result")
    mean: dict[str, Any] = {}
    std: dict[str, Any] = {}
    for key, first in results[0].items():
        if _is_scalar(first) and all(_is_scalar(r.get(key)) for r in results):
            values = np.array([r[key] for r in results], dtype=np.float64)
            mean[key], std[key] = float(values.mean()), float(values.std())
        elif isinstance(first, dict) and all(isinstance(r.get(key), dict) for r in results):
            sub_mean, sub_std = {}, {}
            for sub in first:
                values = [r[key].get(sub) for r in results]
                values = [v for v in values if _is_scalar(v)]
                if values:
                    arr = np.array(values, dtype=np.float64)
                    sub_mean[sub], sub_std[sub] = float(arr.mean()), float(arr.std())
                else:
                    sub_mean[sub] = sub_std[sub] = None
            if any(v is not None for v in sub_mean.values()):
                mean[key], std[key] = sub_mean, sub_std
    return {"mean": mean, "std": std}


def vote_metrics(
    probabilities: np.ndarray,
    y_true: np.ndarray | Sequence[int],
    groups: Sequence[str] | np.ndarray,
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """`classification_metrics` of one prediction per group (e.g. the windows of one clip).

    probabilities: (N, C) class probabilities of the N samples; a group's prediction is the
    class of the highest mean probability over its samples. Every group must hold one true
    label (windows of one clip share the clip's label).
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(y_true).reshape(-1)
    keys, inverse = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    if probs.ndim != 2 or len(probs) != len(labels) or len(labels) != len(inverse):
        raise ElaError(f"vote_metrics: {probs.shape} probabilities, {labels.size} labels and "
                       f"{len(inverse)} groups do not match")
    sums = np.zeros((len(keys), probs.shape[1]))
    np.add.at(sums, inverse, probs)
    group_label = np.zeros(len(keys), dtype=np.int64)
    group_label[inverse] = labels
    mixed = keys[np.unique(inverse[group_label[inverse] != labels])]
    if mixed.size:
        raise ElaError(f"vote_metrics: groups with more than one true label: {mixed[:5].tolist()}")
    return classification_metrics(group_label, sums.argmax(axis=1), probs.shape[1], class_names)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _class_names(class_names: Sequence[str] | None, num_classes: int) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(num_classes)]
    names = [str(c) for c in class_names]
    if len(names) != num_classes:
        raise ElaError(f"{len(names)} class names given for {num_classes} classes: {names}")
    return names


def _as_labels(y: np.ndarray, num_classes: int, what: str) -> np.ndarray:
    arr = np.asarray(y).reshape(-1)
    integral = np.issubdtype(arr.dtype, np.integer) or np.all(np.equal(np.mod(arr, 1), 0))
    if arr.size and not integral:
        raise ElaError(f"{what} holds non-integer class labels")
    arr = arr.astype(np.int64)
    bad = (arr < 0) | (arr >= num_classes)
    if bad.any():
        raise ElaError(
            f"{what} holds labels outside 0..{num_classes - 1}: {sorted(set(arr[bad].tolist()))}"
        )
    return arr


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of `scores` (higher = more likely positive) for the boolean
    labels `positive`: the Mann–Whitney probability that a random positive scores above a
    random negative, ties counting one half. 0.5 = cannot tell; NaN without both classes."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(scores)  # average ranks for ties
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def true_positive_rate_at(scores: np.ndarray, positive: np.ndarray,
                          false_alarms: float = 0.05) -> float:
    """Share of positives scoring above the threshold that at most `false_alarms` of the
    negatives exceed (the detection rate at that false-alarm rate); NaN without both."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    if not positive.any() or positive.all():
        return math.nan
    negatives = np.sort(scores[~positive])[::-1]
    allowed = int(math.floor(false_alarms * len(negatives)))
    threshold = negatives[allowed] if allowed < len(negatives) else -math.inf
    return float((scores[positive] > threshold).mean())


def bootstrap_interval(statistic: Callable[[np.ndarray], float], groups: np.ndarray,
                       repeats: int = 1000, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic(rows)` over `repeats` resamples of the
    groups (rows sharing a group id — e.g. a clean sequence and its attacked copy — are drawn
    together). `statistic` receives the indices of the resampled rows; NaN draws are dropped."""
    groups = np.asarray(groups)
    ids, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == k) for k in range(len(ids))]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(repeats):
        pick = rng.integers(0, len(ids), len(ids))
        v = statistic(np.concatenate([members[k] for k in pick]))
        if math.isfinite(v):
            values.append(v)
    if not values:
        return math.nan, math.nan
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
