"""Metrics written from scratch agree with scikit-learn; k-fold splits never leak; grid search ranks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.model_selection import KFold

from lmcourse.evaluation import (accuracy, confusion_matrix, grid_search, kfold_indices, macro_f1, mean_std,
                                 precision_recall_f1)

labels = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=40)


@given(labels)
@settings(max_examples=60, deadline=None)
def test_metrics_match_scikit_learn_on_random_labels(pairs):
    y_true, y_pred = [a for a, _ in pairs], [b for _, b in pairs]
    assert accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert np.array_equal(confusion_matrix(y_true, y_pred, n_classes=3),
                          skm.confusion_matrix(y_true, y_pred, labels=[0, 1, 2]))
    p, r, f = precision_recall_f1(y_true, y_pred, positive=1)
    assert p == pytest.approx(skm.precision_score(y_true, y_pred, labels=[1], average="macro", zero_division=0))
    assert r == pytest.approx(skm.recall_score(y_true, y_pred, labels=[1], average="macro", zero_division=0))
    assert f == pytest.approx(skm.f1_score(y_true, y_pred, labels=[1], average="macro", zero_division=0))
    present = sorted(set(y_true) | set(y_pred))
    assert macro_f1(y_true, y_pred) == pytest.approx(
        skm.f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0))


@given(st.integers(2, 60), st.integers(2, 10), st.booleans())
@settings(max_examples=60, deadline=None)
def test_kfold_folds_are_disjoint_cover_everything_and_do_not_leak(n, k, stratify):
    if k > n:
        return
    labels = [i % 3 for i in range(n)] if stratify else None
    folds = kfold_indices(n, k, labels=labels)
    vals = np.concatenate([val for _, val in folds])
    assert sorted(vals.tolist()) == list(range(n))
    for train, val in folds:
        assert not set(train) & set(val)
        assert len(train) + len(val) == n
    sizes = [len(val) for _, val in folds]
    assert max(sizes) - min(sizes) <= (3 if stratify else 1)


def test_unshuffled_kfold_matches_scikit_learn_fold_sizes():
    ours = kfold_indices(10, 3, shuffle=False)
    theirs = list(KFold(3).split(range(10)))
    assert sorted(len(v) for _, v in ours) == sorted(len(v) for _, v in theirs)


def test_stratified_folds_keep_the_class_balance():
    labels = [0] * 20 + [1] * 10
    for _, val in kfold_indices(30, 5, labels=labels):
        assert sum(labels[i] for i in val) == 2


def test_grid_search_tries_every_combination_best_first():
    calls = []
    results = grid_search(lambda a, b: calls.append((a, b)) or -(a - 1) ** 2 - b, {"a": [0, 1, 2], "b": [0, 1]})
    assert len(calls) == 6 and results[0] == {"a": 1, "b": 0, "score": 0}
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert grid_search(lambda a: a, {"a": [3, 1, 2]}, higher_is_better=False)[0]["a"] == 1


def test_mean_std_uses_the_sample_standard_deviation():
    assert mean_std([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1.0))


@pytest.mark.parametrize("call, fragment", [
    (lambda: accuracy([], []), "non-empty"),
    (lambda: accuracy([0, 1], [0]), "same length"),
    (lambda: accuracy([0.5, 1], [0, 1]), "integer class labels"),
    (lambda: accuracy([-1, 1], [0, 1]), ">= 0"),
    (lambda: confusion_matrix([0, 2], [0, 1], n_classes=2), "n_classes must be larger"),
    (lambda: kfold_indices(5, 6), "k must be an int with 2 <= k <= n"),
    (lambda: kfold_indices(5, 1), "k must be"),
    (lambda: kfold_indices(0, 2), "n must be a positive int"),
    (lambda: kfold_indices(4, 2, labels=[0, 1]), "labels must have n=4"),
    (lambda: mean_std([1.0]), "at least 2"),
    (lambda: grid_search(lambda a: a, {"a": []}), "non-empty list"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()
