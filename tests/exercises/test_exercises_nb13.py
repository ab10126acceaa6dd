"""Notebook 13's checkers beyond their Mistakes: the reference agrees with scikit-learn, other right answers
pass, and wrong answers written here (not taken from the checkers' own lists) are refused."""

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import KFold

from lmcourse.exercises import nb13_evaluating_honestly as ex


def _f1(t, p):
    """F1 of class 1, written out (scikit-learn's f1_score is too slow to call thousands of times in a test)."""
    tp, fp, fn = np.sum((p == 1) & (t == 1)), np.sum((p == 1) & (t == 0)), np.sum((p == 0) & (t == 1))
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


# ---------------------------------------------------------------- wrong answers for check_paired_bootstrap


def global_numpy_seed(y_true, pred_a, pred_b, n_resamples=1000, seed=0):
    # seeds NumPy's global generator instead of the documented np.random.default_rng(seed)
    np.random.seed(seed)
    idx = np.random.randint(0, len(y_true), size=(n_resamples, len(y_true)))
    d = np.array([_f1(y_true[i], pred_a[i]) - _f1(y_true[i], pred_b[i]) for i in idx])
    low, high = np.percentile(d, [2.5, 97.5])
    return float((d > 0).mean()), float(low), float(high)


def ninety_percent_interval(y_true, pred_a, pred_b, n_resamples=1000, seed=0):
    # the 5th and 95th percentiles: a 90 % interval where a 95 % one is asked
    idx = np.random.default_rng(seed).integers(0, len(y_true), size=(n_resamples, len(y_true)))
    d = np.array([_f1(y_true[i], pred_a[i]) - _f1(y_true[i], pred_b[i]) for i in idx])
    low, high = np.percentile(d, [5, 95])
    return float((d > 0).mean()), float(low), float(high)


def f1_of_the_negative_class(y_true, pred_a, pred_b, n_resamples=1000, seed=0):
    # scores each resample with the F1 of class 0
    idx = np.random.default_rng(seed).integers(0, len(y_true), size=(n_resamples, len(y_true)))
    d = np.array([f1_score(y_true[i], pred_a[i], pos_label=0, zero_division=0)
                  - f1_score(y_true[i], pred_b[i], pos_label=0, zero_division=0) for i in idx])
    low, high = np.percentile(d, [2.5, 97.5])
    return float((d > 0).mean()), float(low), float(high)


def interval_of_each_system_not_of_the_difference(y_true, pred_a, pred_b, n_resamples=1000, seed=0):
    # reports the interval of F1(A) alone, as if A's own error bar answered the comparison
    idx = np.random.default_rng(seed).integers(0, len(y_true), size=(n_resamples, len(y_true)))
    fa = np.array([_f1(y_true[i], pred_a[i]) for i in idx])
    fb = np.array([_f1(y_true[i], pred_b[i]) for i in idx])
    low, high = np.percentile(fa, [2.5, 97.5])
    return float((fa > fb).mean()), float(low), float(high)


def results_as_an_array(y_true, pred_a, pred_b, n_resamples=1000, seed=0):
    # the right numbers, but in a NumPy array where a tuple of three floats is asked
    idx = np.random.default_rng(seed).integers(0, len(y_true), size=(n_resamples, len(y_true)))
    d = np.array([_f1(y_true[i], pred_a[i]) - _f1(y_true[i], pred_b[i]) for i in idx])
    return np.array([(d > 0).mean(), *np.percentile(d, [2.5, 97.5])])


# ---------------------------------------------------------------- wrong answers for check_kfold_splits


def shuffled_folds(n, k):
    # shuffles before cutting: valid k-fold, but not the consecutive blocks asked for
    return [(list(tr), list(va)) for tr, va in KFold(k, shuffle=True, random_state=0).split(range(n))]


def strided_folds(n, k):
    # fold f takes every k-th index (f, f + k, ...) instead of a consecutive block
    return [([i for i in range(n) if i % k != f], [i for i in range(n) if i % k == f]) for f in range(k)]


def validation_folds_only(n, k):
    # returns the validation blocks without their train sets
    return [va for _, va in ex._kfold(n, k)]


def last_fold_one_longer(n, k):
    # gives the extra indices to the *last* n % k folds instead of the first
    sizes = [n // k + (1 if f >= k - n % k else 0) for f in range(k)]
    out, start = [], 0
    for size in sizes:
        out.append(([i for i in range(n) if not start <= i < start + size], list(range(start, start + size))))
        start += size
    return out


# ---------------------------------------------------------------- wrong answers for check_macro_micro_f1


def _class_f1(t, p, c):
    tp = sum(a == c and b == c for a, b in zip(t, p))
    fp = sum(a != c and b == c for a, b in zip(t, p))
    fn = sum(a == c and b != c for a, b in zip(t, p))
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def macro_over_a_fixed_range_of_classes(y_true, y_pred):
    # assumes the classes are 0 .. max(y_true) and misses a class that only appears in y_pred
    classes = range(max(y_true) + 1)
    micro = sum(a == b for a, b in zip(y_true, y_pred)) / len(y_true)
    return sum(_class_f1(y_true, y_pred, c) for c in classes) / len(classes), micro


def micro_as_mean_of_per_class_precision(y_true, y_pred):
    # averages the per-class precisions for "micro" (that is macro-precision, not micro-F1)
    classes = sorted(set(y_true) | set(y_pred))
    precision = [sum(a == b == c for a, b in zip(y_true, y_pred)) / max(1, list(y_pred).count(c)) for c in classes]
    return sum(_class_f1(y_true, y_pred, c) for c in classes) / len(classes), sum(precision) / len(classes)


def macro_as_f1_of_mean_precision_and_recall(y_true, y_pred):
    # averages precision and recall over classes first, then takes one harmonic mean
    classes = sorted(set(y_true) | set(y_pred))
    P = sum(sum(a == b == c for a, b in zip(y_true, y_pred)) / max(1, list(y_pred).count(c)) for c in classes)
    R = sum(sum(a == b == c for a, b in zip(y_true, y_pred)) / max(1, list(y_true).count(c)) for c in classes)
    P, R = P / len(classes), R / len(classes)
    return (0.0 if P + R == 0 else 2 * P * R / (P + R)), sum(a == b for a, b in zip(y_true, y_pred)) / len(y_true)


def sklearn_binary_call_on_multiclass(y_true, y_pred):
    # scikit-learn's "binary" F1 of class 1 for both numbers, as if the labels were 0/1
    one = f1_score([int(t == 1) for t in y_true], [int(p == 1) for p in y_pred], zero_division=0)
    return float(one), float(one)


WRONG_ANSWERS = {
    "check_paired_bootstrap": [global_numpy_seed, ninety_percent_interval, f1_of_the_negative_class,
                               interval_of_each_system_not_of_the_difference, results_as_an_array],
    "check_kfold_splits": [shuffled_folds, strided_folds, validation_folds_only, last_fold_one_longer],
    "check_macro_micro_f1": [macro_over_a_fixed_range_of_classes, micro_as_mean_of_per_class_precision,
                             macro_as_f1_of_mean_precision_and_recall, sklearn_binary_call_on_multiclass],
}


# ---------------------------------------------------------------- the reference, and right answers in other forms


def _row_by_row(y_true, pred_a, pred_b, n_resamples=1000, seed=0, f1=_f1):
    """The documented resampling, one row at a time; a list of NumPy floats instead of a tuple of floats."""
    rng, n = np.random.default_rng(seed), len(y_true)
    d = []
    for _ in range(n_resamples):
        i = rng.integers(0, n, n)
        d.append(f1(y_true[i], pred_a[i]) - f1(y_true[i], pred_b[i]))
    return [np.mean(np.array(d) > 0), *np.quantile(d, [0.025, 0.975])]


def test_the_bootstrap_reference_equals_a_row_by_row_loop_scored_by_scikit_learn():
    def sklearn_f1(t, p):
        return f1_score(t, p, zero_division=0)
    for case in [ex._bootstrap_cases()[i] for i in (0, 3)]:     # a usual test set, and one with 2 positives
        kwargs = {**case.kwargs, "n_resamples": 40}
        assert np.allclose(ex._bootstrap(*case.args, **kwargs), _row_by_row(*case.args, **kwargs, f1=sklearn_f1))


def test_a_row_by_row_loop_returning_numpy_floats_in_a_list_passes():
    assert ex.check_paired_bootstrap(_row_by_row).passed


def test_trusted_kfold_passes_with_numpy_index_arrays():
    assert ex.check_kfold_splits(lambda n, k: list(KFold(k).split(range(n)))).passed


def test_a_bootstrap_that_divides_by_zero_on_a_resample_without_positives_is_told_where():
    def unguarded(y_true, pred_a, pred_b, n_resamples=1000, seed=0):
        def f1(t, p):
            tp, fp = int(((p == 1) & (t == 1)).sum()), int(((p == 1) & (t == 0)).sum())
            fn = int(((p == 0) & (t == 1)).sum())
            precision, recall = tp / (tp + fp), tp / (tp + fn)
            return 2 * precision * recall / (precision + recall)
        idx = np.random.default_rng(seed).integers(0, len(y_true), size=(n_resamples, len(y_true)))
        d = np.array([f1(y_true[i], pred_a[i]) - f1(y_true[i], pred_b[i]) for i in idx])
        return float((d > 0).mean()), *np.percentile(d, [2.5, 97.5])
    result = ex.check_paired_bootstrap(unguarded)
    assert not result.passed and "ZeroDivisionError" in result.message


def test_scikit_learn_macro_and_micro_f1_pass_as_numpy_floats_in_a_list():
    def sklearn(y_true, y_pred):
        return [f1_score(y_true, y_pred, average=a, zero_division=0) for a in ("macro", "micro")]
    assert ex.check_macro_micro_f1(sklearn).passed
