"""Measuring a classifier honestly: metrics from scratch, k-fold splits, a small grid search.

Notebook 13 writes each metric by hand and checks it against scikit-learn:

    confusion[i, j] = number of examples whose true class is i and predicted class is j
    precision = TP / (TP + FP)    recall = TP / (TP + FN)    F1 = 2·P·R / (P + R)

:func:`kfold_indices` gives k disjoint validation folds that cover every example once
(optionally stratified by label), and :func:`grid_search` tries every combination of a
few hyperparameters with a function you give it and returns the scores, best first.

The error bars: :func:`paired_differences` compares two settings scored on the same folds
(or seeds) by their per-fold differences; :func:`bootstrap_ci` resamples the test items to
put a confidence interval on a score; :func:`paired_bootstrap` is Koehn's (2004) paired
bootstrap resampling: draw the test set again with replacement many times, score both
systems on every draw, and count how often the winner stays the winner.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import ArgumentError, integer, number


def _labels(name: str, values) -> tuple[np.ndarray, str]:
    """``values`` as an int array of class labels, and their kind ("int" or "bool"): strings,
    fractions, NaN and negative numbers are refused, so a mix-up fails instead of scoring 0."""
    arr = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values)
    if arr.ndim != 1 or arr.size == 0:
        raise ArgumentError(f"{name} must be a non-empty 1-D sequence of class labels; got shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(int), "bool"
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        items = arr.tolist()
        bad = next((v for v in items if isinstance(v, bool) or not isinstance(v, (int, float))), items[0])
        raise ArgumentError(f"{name} must hold integer class labels; got dtype {arr.dtype} such as {bad!r}"
                            + (" (strings: convert them with int() or a label-to-index dict)"
                               if arr.dtype.kind in "US" else ""))
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ArgumentError(f"{name} must hold integer class labels; got dtype {arr.dtype} with "
                                f"{arr[np.mod(arr, 1) != 0][0].item()!r}")
        arr = arr.astype(int)
    if arr.min() < 0:
        raise ArgumentError(f"{name} must hold class labels >= 0; got {arr.min()}")
    return arr, "int"


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    (t, t_kind), (p, p_kind) = _labels("y_true", y_true), _labels("y_pred", y_pred)
    if t_kind != p_kind:
        raise ArgumentError(f"y_pred must hold the same kind of labels as y_true ({t_kind}s); got {p_kind}s "
                            "(convert one side, e.g. y_pred.astype(int))")
    if t.shape != p.shape:
        raise ArgumentError(f"y_true and y_pred must have the same length; got {t.size} and {p.size}")
    return t, p


def confusion_matrix(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """(n_classes, n_classes) counts: row = true class, column = predicted class (scikit-learn's layout)."""
    t, p = _pair(y_true, y_pred)
    n = integer("n_classes", n_classes, min=1) if n_classes is not None else int(max(t.max(), p.max())) + 1
    if n <= max(t.max(), p.max()):
        raise ArgumentError(f"n_classes must be larger than every label; got {n} with label {max(t.max(), p.max())}")
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
    return _precision_recall_f1(t, p, integer("positive", positive, min=0))


def _precision_recall_f1(t: np.ndarray, p: np.ndarray, positive: int) -> tuple[float, float, float]:
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
    return float(np.mean([_precision_recall_f1(t, p, int(c))[2] for c in classes]))


def kfold_indices(n: int, k: int, *, labels: Sequence[int] | None = None, shuffle: bool = True,
                  seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` pairs ``(train_idx, val_idx)`` over ``range(n)``: the validation folds are disjoint,
    cover every index once, and each train set is everything else (so nothing leaks).

    With ``labels``, each fold gets the same share of every class (stratified k-fold).
    """
    integer("n", n, min=1)
    integer("k", k, min=2, max=n)
    order = list(range(n))
    if shuffle:
        random.Random(seed).shuffle(order)
    if labels is not None:
        if len(labels) != n:
            raise ArgumentError(f"labels must have n={n} entries; got {len(labels)}")
        order.sort(key=lambda i: labels[i])  # stable: shuffled within each class, then dealt round-robin
    folds = [np.array(sorted(order[f::k])) for f in range(k)]
    every = np.arange(n)
    return [(np.setdiff1d(every, val), val) for val in folds]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1, the spread across folds or seeds)."""
    arr = np.asarray(values, dtype=float)
    if arr.size < 2:
        raise ArgumentError(f"values must hold at least 2 numbers to have a spread; got {arr.size}")
    if not np.isfinite(arr).all():
        raise ArgumentError(f"values must be finite numbers; got {arr.tolist()}")
    return float(arr.mean()), float(arr.std(ddof=1))


def grid_search(evaluate: Callable[..., float], grid: Mapping[str, Sequence[Any]], *,
                higher_is_better: bool = True) -> list[dict[str, Any]]:
    """Call ``evaluate(**params)`` for every combination in ``grid``; return ``params | {"score": s}``
    for each, best first.

    A NaN or infinite value in ``grid`` is refused; a NaN score (say, a run that diverged) sorts
    last, never first.

    >>> grid_search(lambda a, b: -(a - 1) ** 2 - b, {"a": [0, 1, 2], "b": [0, 1]})[0]
    {'a': 1, 'b': 0, 'score': 0}
    """
    if not grid or any(len(v) == 0 for v in grid.values()):
        raise ArgumentError(f"grid must map each name to a non-empty list of values; got {dict(grid)!r}")
    for name, values in grid.items():
        bad = [v for v in values if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            raise ArgumentError(f"grid[{name!r}] must hold finite values; got {bad[0]!r} in {list(values)!r}")
    names = list(grid)
    results = []
    for values in itertools.product(*(grid[n] for n in names)):
        params = dict(zip(names, values))
        results.append({**params, "score": evaluate(**params)})
    sign = -1 if higher_is_better else 1
    return sorted(results, key=lambda r: (math.isnan(r["score"]), sign * r["score"]))


def paired_differences(scores_a: Sequence[float], scores_b: Sequence[float]) -> dict[str, float]:
    """Per-fold (or per-seed) differences ``b - a`` of two settings scored on the same folds:
    ``{"mean", "sd", "n_positive", "n_negative", "n"}``.

    Each fold's sd says how much *one setting's* score moves from fold to fold; what decides
    between two settings is how much their *difference* moves, which is usually far less,
    because a hard fold is hard for both.
    """
    a, b = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape or a.size < 2:
        raise ArgumentError(f"scores_a and scores_b must be 1-D, of the same length >= 2; got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ArgumentError(f"scores_a and scores_b must be finite; got {a.tolist()} and {b.tolist()}")
    d = b - a
    return {"mean": float(d.mean()), "sd": float(d.std(ddof=1)), "n_positive": int((d > 0).sum()),
            "n_negative": int((d < 0).sum()), "n": int(d.size)}


def _check_resampling(n_items: int, n_resamples: int, confidence: float) -> None:
    integer("n_items", n_items, min=1)
    integer("n_resamples", n_resamples, min=1)
    number("confidence", confidence, min=0, max=1, min_open=True, max_open=True)


def resample_indices(n_items: int, n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """(n_resamples, n_items) indices drawn with replacement: row r is the r-th bootstrap test set.

    ``np.random.default_rng(seed).integers(0, n_items, (n_resamples, n_items))``; both bootstrap
    functions use it, so the same seed gives the same resamples everywhere.
    """
    _check_resampling(n_items, n_resamples, 0.5)
    return np.random.default_rng(seed).integers(0, n_items, size=(n_resamples, n_items))


def _items(name: str, stats) -> np.ndarray:
    arr = np.asarray(stats.detach().cpu() if hasattr(stats, "detach") else stats, dtype=float)
    if arr.ndim not in (1, 2) or arr.shape[0] == 0:
        raise ArgumentError(f"{name} must be per-item statistics of shape (N,) or (N, k) with N >= 1; "
                            f"got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ArgumentError(f"{name} must be finite; got {int((~np.isfinite(arr)).sum())} NaN or inf values")
    return arr


def bootstrap_ci(stats, metric: Callable[[np.ndarray], float] = np.mean, *, n_resamples: int = 1000,
                 confidence: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """``(score, low, high)``: ``metric(stats)`` and its percentile bootstrap interval.

    ``stats`` holds one row per test item (e.g. a loss per sequence, or ``(label, prediction)``
    pairs); ``metric`` turns any (N, ...) selection of rows into a score. The interval is the
    middle ``confidence`` share of the scores of ``n_resamples`` resampled test sets.
    """
    arr = _items("stats", stats)
    _check_resampling(arr.shape[0], n_resamples, confidence)
    scores = np.array([metric(arr[idx]) for idx in resample_indices(arr.shape[0], n_resamples, seed)])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return float(metric(arr)), float(low), float(high)


@dataclass(frozen=True)
class PairedBootstrap:
    """What :func:`paired_bootstrap` found: the two scores, their difference ``b - a`` with its
    interval, the share of resamples in which each system scored higher, and the p-value."""

    score_a: float
    score_b: float
    difference: float        # score_b - score_a on the real test set
    low: float               # percentile interval of the difference over the resamples
    high: float
    share_b_higher: float    # share of resamples with score_b > score_a
    share_a_higher: float
    p_value: float           # share of resamples where the observed winner does not win (1.0 when tied)
    n_resamples: int

    def __str__(self) -> str:
        return (f"difference {self.difference:+.3f} [{self.low:+.3f}, {self.high:+.3f}]; b higher in "
                f"{self.share_b_higher:.1%}, a higher in {self.share_a_higher:.1%} of {self.n_resamples} "
                f"resamples (p = {self.p_value:.3f})")


def paired_bootstrap(stats_a, stats_b, metric: Callable[[np.ndarray], float] = np.mean, *,
                     n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> PairedBootstrap:
    """Koehn's (2004) paired bootstrap: is system b's score really different from system a's?

    ``stats_a`` and ``stats_b`` hold one row per test item, **the same items in the same order**
    (a loss per validation sequence; BLEU statistics per sentence from
    :func:`lmcourse.metrics.bleu_statistics`); ``metric`` turns rows into a score (the mean; or
    ``lambda s: bleu_from_statistics(s).score``). Each resample draws N items with
    replacement and scores *both* systems on the same draw, so what varies is only which
    items are in the test set. ``p_value`` is the share of resamples in which the system
    that won on the real test set does not score higher (Koehn's one-sided test).
    """
    a, b = _items("stats_a", stats_a), _items("stats_b", stats_b)
    if a.shape[0] != b.shape[0]:
        raise ArgumentError(f"stats_a and stats_b must score the same items; got {a.shape[0]} and {b.shape[0]} rows")
    _check_resampling(a.shape[0], n_resamples, confidence)
    idx = resample_indices(a.shape[0], n_resamples, seed)
    sa = np.array([metric(a[i]) for i in idx])
    sb = np.array([metric(b[i]) for i in idx])
    diff = sb - sa
    score_a, score_b = float(metric(a)), float(metric(b))
    observed = score_b - score_a
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(diff, [tail, 100 - tail])
    if observed > 0:
        p = float((diff <= 0).mean())
    elif observed < 0:
        p = float((diff >= 0).mean())
    else:
        p = 1.0
    return PairedBootstrap(score_a, score_b, observed, float(low), float(high), float((diff > 0).mean()),
                           float((diff < 0).mean()), p, n_resamples)
