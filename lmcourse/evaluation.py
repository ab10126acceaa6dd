"""Measuring a classifier honestly: metrics from scratch, k-fold splits, a small grid search.

Notebook 13 writes each metric by hand and checks it against scikit-learn:

    confusion[i, j] = number of examples whose true class is i and predicted class is j
    precision = TP / (TP + FP)    recall = TP / (TP + FN)    F1 = 2·P·R / (P + R)

:func:`kfold_indices` gives k disjoint validation folds that cover every example once
(optionally stratified by label), and :func:`grid_search` tries every combination of a
few hyperparameters with a function you give it and returns the scores, best first.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np


def _labels(name: str, values) -> np.ndarray:
    arr = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of class labels; got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError(f"{name} must hold integer class labels; got dtype {arr.dtype}")
        arr = arr.astype(int)
    if arr.min() < 0:
        raise ValueError(f"{name} must hold class labels >= 0; got {arr.min()}")
    return arr


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t, p = _labels("y_true", y_true), _labels("y_pred", y_pred)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same length; got {t.size} and {p.size}")
    return t, p


def confusion_matrix(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """(n_classes, n_classes) counts: row = true class, column = predicted class (scikit-learn's layout)."""
    t, p = _pair(y_true, y_pred)
    n = n_classes if n_classes is not None else int(max(t.max(), p.max())) + 1
    if n <= max(t.max(), p.max()):
        raise ValueError(f"n_classes must be larger than every label; got {n} with label {max(t.max(), p.max())}")
    cm = np.zeros((n, n), dtype=int)
    np.add.at(cm, (t, p), 1)
    return cm


def accuracy(y_true, y_pred) -> float:
    """Share of examples whose prediction equals the label."""
    t, p = _pair(y_true, y_pred)
    return float((t == p).mean())


def precision_recall_f1(y_true, y_pred, positive: int = 1) -> tuple[float, float, float]:
    """Precision, recall and F1 of class ``positive``; a 0/0 ratio counts as 0 (as scikit-learn's zero_division=0)."""
    t, p = _pair(y_true, y_pred)
    tp = int(((p == positive) & (t == positive)).sum())
    fp = int(((p == positive) & (t != positive)).sum())
    fn = int(((p != positive) & (t == positive)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def macro_f1(y_true, y_pred) -> float:
    """Mean of the per-class F1 scores over every class that appears in ``y_true`` or ``y_pred``."""
    t, p = _pair(y_true, y_pred)
    classes = np.union1d(t, p)
    return float(np.mean([precision_recall_f1(t, p, positive=int(c))[2] for c in classes]))


def kfold_indices(n: int, k: int, *, labels: Sequence[int] | None = None, shuffle: bool = True,
                  seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` pairs ``(train_idx, val_idx)`` over ``range(n)``: the validation folds are disjoint,
    cover every index once, and each train set is everything else (so nothing leaks).

    With ``labels``, each fold gets the same share of every class (stratified k-fold).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int; got {n!r}")
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= n:
        raise ValueError(f"k must be an int with 2 <= k <= n={n}; got {k!r}")
    order = list(range(n))
    if shuffle:
        random.Random(seed).shuffle(order)
    if labels is not None:
        if len(labels) != n:
            raise ValueError(f"labels must have n={n} entries; got {len(labels)}")
        order.sort(key=lambda i: labels[i])  # stable: shuffled within each class, then dealt round-robin
    folds = [np.array(sorted(order[f::k])) for f in range(k)]
    every = np.arange(n)
    return [(np.setdiff1d(every, val), val) for val in folds]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1, the spread across folds or seeds)."""
    arr = np.asarray(values, dtype=float)
    if arr.size < 2:
        raise ValueError(f"values must hold at least 2 numbers to have a spread; got {arr.size}")
    return float(arr.mean()), float(arr.std(ddof=1))


def grid_search(evaluate: Callable[..., float], grid: Mapping[str, Sequence[Any]], *,
                higher_is_better: bool = True) -> list[dict[str, Any]]:
    """Call ``evaluate(**params)`` for every combination in ``grid``; return ``params | {"score": s}``
    for each, best first.

    >>> grid_search(lambda a, b: -(a - 1) ** 2 - b, {"a": [0, 1, 2], "b": [0, 1]})[0]
    {'a': 1, 'b': 0, 'score': 0}
    """
    if not grid or any(len(v) == 0 for v in grid.values()):
        raise ValueError(f"grid must map each name to a non-empty list of values; got {dict(grid)!r}")
    names = list(grid)
    results = []
    for values in itertools.product(*(grid[n] for n in names)):
        params = dict(zip(names, values))
        results.append({**params, "score": evaluate(**params)})
    return sorted(results, key=lambda r: r["score"], reverse=higher_is_better)
