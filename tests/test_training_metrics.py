"""Classification metrics on small cases computed by hand."""

import math

import numpy as np
import pytest

from ela.errors import ElaError
from ela.training.metrics import classification_metrics, confusion_matrix, mean_std, vote_metrics


def test_hand_computed_three_classes():
    # true:  a a a a b b c c      pred: a a a b b c c a
    y_true = [0, 0, 0, 0, 1, 1, 2, 2]
    y_pred = [0, 0, 0, 1, 1, 2, 2, 0]
    m = classification_metrics(y_true, y_pred, 3, ["a", "b", "c"])
    assert m["confusion"] == [[3, 1, 0], [0, 1, 1], [1, 0, 1]]
    assert m["support"] == [4, 2, 2]
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["war"] == m["accuracy"]
    # recalls 3/4, 1/2, 1/2 -> UAR 7/12
    assert m["per_class_recall"] == pytest.approx({"a": 0.75, "b": 0.5, "c": 0.5})
    assert m["uar"] == pytest.approx(7 / 12)
    # precisions 3/4, 1/2, 1/2 weighted by support 4/8, 2/8, 2/8
    assert m["wap"] == pytest.approx(0.5 * 0.75 + 0.25 * 0.5 + 0.25 * 0.5)
    assert m["classes"] == ["a", "b", "c"]
    assert m["num_samples"] == 8


def test_unpredicted_class_counts_precision_zero_and_absent_class_left_out_of_uar():
    # class 2 never occurs in y_true; class 1 is never predicted
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 0, 0, 2])
    m = classification_metrics(y_true, y_pred, 3)
    assert m["per_class_recall"] == {"0": 1.0, "1": 0.0, "2": None}
    assert m["uar"] == pytest.approx(0.5)  # mean over the two present classes
    # precision: class 0 = 2/3, class 1 = 0 (never predicted), weights 1/2, 1/2
    assert m["wap"] == pytest.approx(0.5 * 2 / 3)
    assert m["accuracy"] == pytest.approx(0.5)


def test_uar_differs_from_war_on_imbalanced_data():
    y_true = [0] * 9 + [1]
    y_pred = [0] * 10
    m = classification_metrics(y_true, y_pred, 2)
    assert m["accuracy"] == pytest.approx(0.9)
    assert m["uar"] == pytest.approx(0.5)
    assert m["wap"] == pytest.approx(0.9 * 0.9)


def test_confusion_rows_are_true_classes():
    cm = confusion_matrix(np.array([1, 1, 0]), np.array([0, 0, 0]), 2)
    assert cm.tolist() == [[1, 0], [2, 0]]


@pytest.mark.parametrize(
    ("y_true", "y_pred", "n", "names", "text"),
    [
        ([0, 3], [0, 0], 3, None, "outside 0..2"),
        ([0, 1], [0], 2, None, "labels but y_pred"),
        ([], [], 2, None, "empty"),
        ([0], [0], 2, ["only one"], "class names"),
    ],
)
def test_bad_input_raises(y_true, y_pred, n, names, text):
    with pytest.raises(ElaError, match=text):
        classification_metrics(y_true, y_pred, n, names)


def test_mean_std_over_folds():
    folds = [
        {"accuracy": 0.5, "uar": 0.4, "classes": ["a"], "per_class_recall": {"a": 0.2, "b": None},
         "flag": True},
        {"accuracy": 0.7, "uar": 0.6, "classes": ["a"], "per_class_recall": {"a": 0.4, "b": 1.0},
         "flag": False},
    ]
    out = mean_std(folds)
    assert out["mean"]["accuracy"] == pytest.approx(0.6)
    assert out["std"]["accuracy"] == pytest.approx(0.1)  # population std
    assert out["mean"]["uar"] == pytest.approx(0.5)
    assert out["mean"]["per_class_recall"] == pytest.approx({"a": 0.3, "b": 1.0})
    assert out["std"]["per_class_recall"]["b"] == 0.0
    assert "classes" not in out["mean"] and "flag" not in out["mean"]
    assert not math.isnan(out["std"]["uar"])
    with pytest.raises(ElaError):
        mean_std([])


def test_vote_metrics_one_prediction_per_group():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7],   # clip a: mean [0.47, 0.53] -> 1
                      [0.6, 0.4], [0.6, 0.4]])              # clip b: -> 0
    m = vote_metrics(probs, [0, 0, 0, 1, 1], ["a", "a", "a", "b", "b"], ["x", "y"])
    assert m["num_samples"] == 2 and m["confusion"] == [[0, 1], [1, 0]]
    assert m["accuracy"] == 0.0
    right = vote_metrics(probs, [1, 1, 1, 0, 0], ["a", "a", "a", "b", "b"])
    assert right["accuracy"] == 1.0 and right["uar"] == 1.0


def test_vote_metrics_rejects_mixed_groups_and_bad_shapes():
    with pytest.raises(ElaError, match="more than one true label"):
        vote_metrics(np.full((2, 2), 0.5), [0, 1], ["a", "a"])
    with pytest.raises(ElaError, match="do not match"):
        vote_metrics(np.full((3, 2), 0.5), [0, 1], ["a", "b"])
