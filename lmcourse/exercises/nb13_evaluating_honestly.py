"""Checkers for notebook 13: F1 from labels and predictions, and k-fold splits without leakage."""

from __future__ import annotations

from ..evaluation import accuracy, precision_recall_f1
from .checking import Case, Mistake, Result, check_function


def _f1_cases() -> list[Case]:
    return [Case(([1, 1, 0, 0, 1, 0], [1, 0, 0, 1, 1, 0]), label="y_true [1,1,0,0,1,0], y_pred [1,0,0,1,1,0]"),
            Case(([1, 1, 1, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 1]),
                 label="y_true [1,1,1,0,0,0,0,0], y_pred [1,0,0,0,0,0,0,1] (few positives)"),
            Case(([1, 0, 1, 1], [1, 1, 1, 1]), label="y_true [1,0,1,1], y_pred all 1"),
            Case(([0, 0, 1], [0, 0, 0]), label="y_true [0,0,1], y_pred all 0 (no predicted positives: F1 = 0)")]


def _f1(y_true, y_pred) -> float:
    return precision_recall_f1(y_true, y_pred, positive=1)[2]


def check_f1(f1) -> Result:
    """``f1(y_true, y_pred)`` -> the F1 score of class 1 (0.0 when there are no true positives)."""
    def arithmetic(t, p):
        precision, recall, _ = precision_recall_f1(t, p)
        return (precision + recall) / 2

    return check_function(f1, _f1, _f1_cases(), name="check_f1", mistakes=[
        Mistake(lambda t, p: accuracy(t, p), "this is the accuracy. F1 only counts class 1: "
                                             "precision = TP/(TP+FP), recall = TP/(TP+FN), F1 = 2PR/(P+R)."),
        Mistake(arithmetic, "you took the arithmetic mean (P+R)/2; F1 is the *harmonic* mean 2PR/(P+R), which "
                            "stays low when either one is low."),
        Mistake(lambda t, p: precision_recall_f1(t, p, positive=0)[2],
                "you computed the F1 of class 0: the positive class is 1 (TP = predicted 1 and truly 1)."),
        Mistake(lambda t, p: precision_recall_f1(t, p)[0],
                "this is the precision TP/(TP+FP) alone; F1 also needs the recall TP/(TP+FN): 2PR/(P+R)."),
        Mistake(lambda t, p: precision_recall_f1(t, p)[1],
                "this is the recall TP/(TP+FN) alone; F1 also needs the precision TP/(TP+FP): 2PR/(P+R)."),
    ])


def _kfold(n: int, k: int) -> list[tuple[list[int], list[int]]]:
    sizes = [n // k + (1 if f < n % k else 0) for f in range(k)]
    out, start = [], 0
    for size in sizes:
        val = list(range(start, start + size))
        out.append(([i for i in range(n) if not start <= i < start + size], val))
        start += size
    return out


def _as_lists(splits):
    try:
        return [(sorted(int(i) for i in tr), sorted(int(i) for i in va)) for tr, va in splits]
    except (TypeError, ValueError):
        return None


def check_kfold_splits(kfold_splits) -> Result:
    """``kfold_splits(n, k)`` -> k pairs ``(train_idx, val_idx)``: consecutive validation blocks, the
    first ``n % k`` one longer, and each train set = every other index (scikit-learn's KFold)."""
    cases = [Case((10, 5), label="n=10, k=5"), Case((10, 3), label="n=10, k=3 (10 does not divide by 3)"),
             Case((7, 7), label="n=7, k=7 (leave-one-out)")]

    def leaky(n, k):
        return [(list(range(n)), va) for _, va in _kfold(n, k)]

    def dropped(n, k):
        return [([i for i in range(n) if i not in range(f * (n // k), (f + 1) * (n // k))],
                 list(range(f * (n // k), (f + 1) * (n // k)))) for f in range(k)]

    def last_gets_rest(n, k):
        size = n // k
        out = []
        for f in range(k):
            va = list(range(f * size, n if f == k - 1 else (f + 1) * size))
            out.append(([i for i in range(n) if i not in va], va))
        return out

    return check_function(kfold_splits, _kfold, cases, name="check_kfold_splits",
                          compare=lambda got, exp: _as_lists(got) == _as_lists(exp), mistakes=[
        Mistake(leaky, "leakage: every train set contains its own validation fold. The model would be scored "
                       "on examples it trained on; train = all indices *not* in the fold."),
        Mistake(dropped, "the folds have n // k items each, so the last n % k examples are never validated. "
                         "Give the first n % k folds one extra example."),
        Mistake(last_gets_rest, "the last fold got all the leftover examples; spread them over the first "
                                "n % k folds instead (sizes differ by at most one, as in scikit-learn's KFold)."),
    ])
