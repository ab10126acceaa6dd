"""Checkers for notebook 13: a paired bootstrap of F1 for two classifiers, k-fold splits without leakage,
and macro- vs micro-averaged F1 over several classes."""

from __future__ import annotations

import numpy as np

from ..evaluation import macro_f1, paired_bootstrap, precision_recall_f1
from .checking import Case, Mistake, Result, check_function


def _f1(labels: np.ndarray, predictions: np.ndarray) -> float:
    return precision_recall_f1(labels, predictions, positive=1)[2]


def _rows_f1(rows: np.ndarray) -> float:
    return _f1(rows[:, 0], rows[:, 1])


def _bootstrap(y_true, pred_a, pred_b, n_resamples=1000, seed=0):
    """The reference: :func:`lmcourse.evaluation.paired_bootstrap` with the two systems as (label, prediction) rows."""
    rows_a, rows_b = np.stack([y_true, pred_a], axis=1), np.stack([y_true, pred_b], axis=1)
    boot = paired_bootstrap(rows_b, rows_a, _rows_f1, n_resamples=n_resamples, seed=seed)   # difference = A - B
    return (boot.share_b_higher, boot.low, boot.high)


def _differences(y, a, b, n_resamples, seed, *, paired=True, replace=True, metric=_f1):
    """F1(A) - F1(B) on each resample, the reference's way (all flags at their defaults) or a mistaken one."""
    rng, n = np.random.default_rng(seed), len(y)
    diffs = []
    for _ in range(n_resamples):
        ia = rng.integers(0, n, n) if replace else rng.permutation(n)
        ib = ia if paired else rng.integers(0, n, n)
        diffs.append(metric(y[ia], a[ia]) - metric(y[ib], b[ib]))
    return np.array(diffs)


def _summary(diffs: np.ndarray, *, ties_win=False) -> tuple[float, float, float]:
    wins = (diffs >= 0) if ties_win else (diffs > 0)
    low, high = np.percentile(diffs, [2.5, 97.5])
    return (float(wins.mean()), float(low), float(high))


def _labels(seed: int, n: int, positives: int, errors_a: int, errors_b: int):
    """Labels with ``positives`` ones, and two systems that each flip a different random set of them."""
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype=np.int64)
    y[rng.choice(n, positives, replace=False)] = 1
    a, b = y.copy(), y.copy()
    a[rng.choice(n, errors_a, replace=False)] ^= 1
    b[rng.choice(n, errors_b, replace=False)] ^= 1
    return y, a, b


def _bootstrap_cases() -> list[Case]:
    y, a, b = _labels(0, 14, 7, 2, 5)
    y2, a2, b2 = _labels(1, 10, 2, 2, 2)
    y3, a3, b3 = _labels(2, 12, 6, 4, 1)
    return [Case((y, a, b), {"n_resamples": 100, "seed": 0}, label="14 sentences, A wrong on 2, B on 5, seed 0"),
            Case((y, a, b), {"n_resamples": 100, "seed": 1}, label="the same sentences, seed 1"),
            Case((y, a, a.copy()), {"n_resamples": 50, "seed": 0},
                 label="B's predictions identical to A's (every difference is 0)"),
            Case((y2, a2, b2), {"n_resamples": 150, "seed": 3},
                 label="10 sentences, only 2 positive (many resamples have none: F1 = 0 there)"),
            Case((y3, a3, b3), {"n_resamples": 100, "seed": 4}, label="12 sentences, B better than A"),
            Case((y, a, b), {"n_resamples": 1, "seed": 5}, label="n_resamples=1")]


def check_paired_bootstrap(paired_bootstrap_f1) -> Result:
    """``paired_bootstrap_f1(y_true, pred_a, pred_b, n_resamples, seed)`` -> ``(a_wins, low, high)``: the share of
    resamples in which F1(A) > F1(B), and the 2.5th and 97.5th percentiles of F1(A) - F1(B), resampling with
    ``np.random.default_rng(seed).integers(0, N, size=(n_resamples, N))`` (row r is resample r)."""
    def unpaired(y, a, b, n_resamples=1000, seed=0):
        return _summary(_differences(y, a, b, n_resamples, seed, paired=False))

    def ties_win(y, a, b, n_resamples=1000, seed=0):
        return _summary(_differences(y, a, b, n_resamples, seed), ties_win=True)

    def b_minus_a(y, a, b, n_resamples=1000, seed=0):
        return _summary(-_differences(y, a, b, n_resamples, seed))

    def normal(y, a, b, n_resamples=1000, seed=0):
        d = _differences(y, a, b, n_resamples, seed)
        return (float((d > 0).mean()), float(d.mean() - 1.96 * d.std()), float(d.mean() + 1.96 * d.std()))

    def permuted(y, a, b, n_resamples=1000, seed=0):
        return _summary(_differences(y, a, b, n_resamples, seed, replace=False))

    def accuracy(t, p):
        return float((t == p).mean())

    return check_function(paired_bootstrap_f1, _bootstrap, _bootstrap_cases(), name="check_paired_bootstrap",
                          mistakes=[
        Mistake(unpaired, "you drew one resample for A and another for B: the pairing is lost, and the interval "
                          "mixes in how hard each draw happens to be. Draw the indices once per resample and "
                          "score *both* systems on them."),
        Mistake(permuted, "every resample is a reordering of all N sentences (without replacement), so F1 never "
                          "changes. Draw N indices *with* replacement: rng.integers(0, N, size=(n_resamples, N))."),
        Mistake(b_minus_a, "the difference is the wrong way round: F1(A) - F1(B), so that a_wins = share of "
                           "resamples with a positive difference."),
        Mistake(ties_win, "a resample where A and B tie is not a win for A: count F1(A) > F1(B) strictly."),
        Mistake(normal, "this is mean ± 1.96·sd (a normal approximation). The bootstrap interval is the "
                        "2.5th and 97.5th percentiles of the differences: np.percentile(diffs, [2.5, 97.5])."),
        Mistake(lambda y, a, b, n_resamples=1000, seed=0: _summary(_differences(y, a, b, n_resamples, seed,
                                                                                metric=accuracy)),
                "this is the bootstrap of the *accuracy*. Score each resample with the F1 of class 1 "
                "(2·TP / (2·TP + FP + FN), and 0.0 when there is no true positive)."),
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


def _macro_micro(y_true, y_pred) -> tuple[float, float]:
    t, p = np.asarray(y_true), np.asarray(y_pred)
    tp = int((t == p).sum())                      # summed over classes, every right answer is one class's TP
    return (macro_f1(y_true, y_pred), 2 * tp / (2 * tp + 2 * (len(t) - tp)))


def _per_class(t, p, classes):
    return [precision_recall_f1(t, p, positive=int(c))[2] for c in classes]


def check_macro_micro_f1(macro_micro_f1) -> Result:
    """``macro_micro_f1(y_true, y_pred)`` -> ``(macro, micro)``: the unweighted mean of the per-class F1 over every
    class in ``y_true`` or ``y_pred``, and the F1 of the TP, FP and FN counts summed over those classes."""
    cases = [Case(([0, 0, 0, 0, 1, 1, 2, 2, 2, 0], [0, 0, 1, 0, 1, 2, 2, 2, 0, 0]),
                  label="3 classes, y_true [0,0,0,0,1,1,2,2,2,0], y_pred [0,0,1,0,1,2,2,2,0,0]"),
             Case(([0, 0, 0, 0, 0, 0, 1, 1, 2, 2], [0, 0, 0, 0, 0, 0, 1, 0, 0, 1]),
                  label="class 2 is never predicted: y_true [0,0,0,0,0,0,1,1,2,2], y_pred [0,0,0,0,0,0,1,0,0,1]"),
             Case(([0, 1, 0, 1, 0, 1], [0, 1, 2, 1, 0, 0]),
                  label="class 2 is predicted but never true: y_true [0,1,0,1,0,1], y_pred [0,1,2,1,0,0]"),
             Case(([1, 0, 1, 1], [1, 0, 1, 1]), label="two classes, every prediction right"),
             Case(([0, 0, 0, 1, 2], [0, 0, 0, 0, 0]), label="everything predicted as the majority class 0")]

    def skips_unpredicted(t, p):
        classes = sorted(set(p))
        return (float(np.mean(_per_class(t, p, classes))), _macro_micro(t, p)[1])

    def true_classes_only(t, p):
        return (float(np.mean(_per_class(t, p, sorted(set(t))))), _macro_micro(t, p)[1])

    def weighted(t, p):
        classes = sorted(set(t) | set(p))
        support = [list(t).count(c) for c in classes]
        return (float(np.average(_per_class(t, p, classes), weights=support)), _macro_micro(t, p)[1])

    def micro_as_class_1(t, p):
        return (_macro_micro(t, p)[0], precision_recall_f1(t, p, positive=1)[2])

    return check_function(macro_micro_f1, _macro_micro, cases, name="check_macro_micro_f1", mistakes=[
        Mistake(lambda t, p: _macro_micro(t, p)[::-1],
                "the two numbers are swapped: return (macro, micro)."),
        Mistake(skips_unpredicted,
                "a class that is never predicted was left out of the macro average. Its F1 is 0 (no true "
                "positive), and it still counts: that is what macro-averaging is for — a class the model ignores "
                "pulls the score down."),
        Mistake(true_classes_only,
                "you averaged over the classes of y_true only; a class that is predicted but never true also has "
                "an F1 (0: all its predictions are false positives). Average over every class in y_true or y_pred."),
        Mistake(weighted,
                "this is the support-weighted mean (scikit-learn's average='weighted'): large classes count more. "
                "Macro-F1 is the plain mean, every class weighing the same."),
        Mistake(micro_as_class_1,
                "the micro F1 is not the F1 of one class: sum TP, FP and FN over all classes first, then "
                "F1 = 2·TP / (2·TP + FP + FN). (With one label per example it equals the accuracy.)"),
    ])
