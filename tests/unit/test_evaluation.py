"""Metrics written from scratch agree with scikit-learn; k-fold splits never leak; grid search ranks."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.model_selection import KFold

from lmcourse.evaluation import (
    accuracy,
    confusion_matrix,
    grid_search,
    kfold_indices,
    macro_f1,
    mean_std,
    precision_recall_f1,
)

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
    (lambda: kfold_indices(5, 6), r"k must be an int in \[2, 5\]; got 6"),
    (lambda: kfold_indices(5, 1), "k must be"),
    (lambda: kfold_indices(0, 2), "n must be an int >= 1; got 0"),
    (lambda: kfold_indices(4, 2, labels=[0, 1]), "labels must have n=4"),
    (lambda: mean_std([1.0]), "at least 2"),
    (lambda: grid_search(lambda a: a, {"a": []}), "non-empty list"),
    (lambda: grid_search(lambda lr: lr, {"lr": [1e-3, float("nan")]}),
     r"grid\['lr'\] must hold finite values; got nan"),
    (lambda: grid_search(lambda lr: lr, {"lr": [float("inf")]}), r"grid\['lr'\] must hold finite values; got inf"),
    (lambda: mean_std([1.0, float("nan")]), "values must be finite numbers"),
    (lambda: confusion_matrix([0, 1], [0, 1], n_classes=2.0), "n_classes must be an int >= 1; got 2.0"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()


def test_paired_differences_see_a_consistent_gain_that_the_fold_spreads_hide():
    from lmcourse.evaluation import paired_differences

    a = [0.60, 0.90, 0.70, 0.80, 0.65]                  # folds differ a lot in difficulty ...
    b = [x + 0.02 for x in a]                            # ... but b is better on every one
    d = paired_differences(a, b)
    assert d["mean"] == pytest.approx(0.02) and d["sd"] == pytest.approx(0.0, abs=1e-12)
    assert (d["n_positive"], d["n_negative"], d["n"]) == (5, 0, 5)
    assert mean_std(a)[1] > 0.1                          # each setting's own spread is five times the gain
    with pytest.raises(ValueError, match="same length"):
        paired_differences([1, 2, 3], [1, 2])


def test_paired_bootstrap_of_identical_systems_finds_no_difference():
    from lmcourse.evaluation import paired_bootstrap

    losses = np.random.default_rng(1).normal(2.0, 0.3, size=50)
    r = paired_bootstrap(losses, losses.copy(), n_resamples=200)
    assert r.difference == 0 and r.low == 0 and r.high == 0
    assert r.p_value == 1.0 and r.share_a_higher == r.share_b_higher == 0.0


def test_paired_bootstrap_gives_a_clear_winner_a_p_value_near_zero():
    from lmcourse.evaluation import paired_bootstrap

    rng = np.random.default_rng(2)
    a = rng.normal(2.0, 0.5, size=80)                    # items vary a lot ...
    b = a - 0.1 + rng.normal(0, 0.02, size=80)           # ... b is 0.1 lower on each of them
    r = paired_bootstrap(a, b, n_resamples=500)
    assert r.difference == pytest.approx(float(b.mean() - a.mean()))
    assert r.p_value == 0.0 and r.share_a_higher == 1.0 and r.high < 0
    unpaired_sd = np.sqrt(a.var(ddof=1) / 80 + b.var(ddof=1) / 80)
    assert r.high - r.low < unpaired_sd                  # pairing removes the item-to-item spread


def test_paired_bootstrap_equals_a_hand_computation_at_a_fixed_seed():
    from lmcourse.evaluation import paired_bootstrap, resample_indices

    a, b = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0]), np.array([1.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    r = paired_bootstrap(a, b, n_resamples=300, seed=7)
    idx = np.random.default_rng(7).integers(0, 6, size=(300, 6))
    assert np.array_equal(idx, resample_indices(6, 300, seed=7))
    diff = b[idx].mean(axis=1) - a[idx].mean(axis=1)
    assert r.difference == pytest.approx(b.mean() - a.mean())
    assert r.p_value == pytest.approx((diff <= 0).mean())
    assert (r.low, r.high) == pytest.approx(tuple(np.percentile(diff, [2.5, 97.5])))
    assert r.share_b_higher == pytest.approx((diff > 0).mean())


def test_paired_bootstrap_of_bleu_uses_sentence_statistics():
    from lmcourse.evaluation import paired_bootstrap
    from lmcourse.metrics import bleu_from_statistics, bleu_statistics, corpus_bleu

    refs = [[list("我爱编程")], [list("汤姆每天爱茶")], [list("我看信")], [list("她不喜欢编程")]] * 5
    good = [r[0] for r in refs]
    bad = [r[0][:-1] for r in refs]                      # every sentence loses its last character
    r = paired_bootstrap(bleu_statistics(bad, refs), bleu_statistics(good, refs),
                         lambda s: bleu_from_statistics(s).score, n_resamples=200)
    assert r.score_b == pytest.approx(100.0) and r.score_a == pytest.approx(corpus_bleu(bad, refs).score)
    assert r.p_value == 0.0


def test_bootstrap_ci_covers_the_score_and_narrows_with_more_items():
    from lmcourse.evaluation import bootstrap_ci

    rng = np.random.default_rng(3)
    small, large = rng.integers(0, 2, 40), rng.integers(0, 2, 4000)
    s, lo, hi = bootstrap_ci(small, n_resamples=400)
    assert lo <= s <= hi
    _, lo2, hi2 = bootstrap_ci(large, n_resamples=400)
    assert hi2 - lo2 < (hi - lo) / 4
    pairs = np.stack([rng.integers(0, 2, 60), rng.integers(0, 2, 60)], axis=1)   # (label, prediction) rows
    f1, lo, hi = bootstrap_ci(pairs, lambda rows: precision_recall_f1(rows[:, 0], rows[:, 1])[2], n_resamples=200)
    assert f1 == pytest.approx(precision_recall_f1(pairs[:, 0], pairs[:, 1])[2]) and lo <= f1 <= hi


@pytest.mark.parametrize("kwargs, fragment", [({"n_resamples": 0}, "n_resamples must be an int >= 1; got 0"),
                                              ({"confidence": 1.5}, r"confidence must be a finite number in \(0, 1\)"),
                                              ({"confidence": float("nan")}, "confidence must be a finite number")])
def test_bootstrap_rejects_bad_settings(kwargs, fragment):
    from lmcourse.evaluation import bootstrap_ci, paired_bootstrap

    with pytest.raises(ValueError, match=fragment):
        bootstrap_ci([1.0, 2.0], **kwargs)
    with pytest.raises(ValueError, match=fragment):
        paired_bootstrap([1.0, 2.0], [1.0, 2.0], **kwargs)
    with pytest.raises(ValueError, match="same items"):
        paired_bootstrap([1.0, 2.0], [1.0, 2.0, 3.0])


@pytest.mark.parametrize("y_true, y_pred, fragment", [
    ([1, 0, 1], ["1", "0", "1"], r"y_pred must hold integer class labels; got dtype <U1 such as '1' \(strings"),
    (["pos", "neg"], [1, 0], "y_true must hold integer class labels; got dtype <U3"),
    ([True, False, True], [1, 0, 1], r"y_pred must hold the same kind of labels as y_true \(bools\); got ints"),
    ([1, 0, 1], np.array([True, False, True]),
     r"y_pred must hold the same kind of labels as y_true \(ints\); got bools"),
    ([1, 0, float("nan")], [1, 0, 1], "y_true must hold integer class labels; got dtype float64 with nan"),
    ([1, 0, None], [1, 0, 1], "y_true must hold integer class labels; got dtype object such as None"),
    ([0, 1, 1], [0, 1], "y_true and y_pred must have the same length; got 3 and 2"),
])
@pytest.mark.parametrize("metric", [accuracy, precision_recall_f1, macro_f1, confusion_matrix])
def test_mixed_label_types_and_lengths_are_refused_by_every_metric(metric, y_true, y_pred, fragment):
    with pytest.raises(ValueError, match=fragment):
        metric(y_true, y_pred)


def test_bool_labels_on_both_sides_score_as_zero_and_one():
    t, p = torch.tensor([True, False, True, True]), torch.tensor([True, True, False, True])
    assert accuracy(t, p) == accuracy([1, 0, 1, 1], [1, 1, 0, 1]) == 0.5
    assert precision_recall_f1(t, p) == precision_recall_f1([1, 0, 1, 1], [1, 1, 0, 1])


@pytest.mark.parametrize("positive, fragment", [("1", "positive must be an int >= 0; got '1'"),
                                                (1.0, "positive must be an int >= 0; got 1.0"),
                                                (-1, "positive must be an int >= 0; got -1")])
def test_the_positive_class_must_be_an_int_label(positive, fragment):
    with pytest.raises(ValueError, match=fragment):
        precision_recall_f1([1, 0, 1], [1, 1, 0], positive=positive)


def test_grid_search_puts_a_nan_score_last_whichever_way_it_sorts():
    scores = {1: 0.5, 2: float("nan"), 3: 0.9}
    assert [r["a"] for r in grid_search(lambda a: scores[a], {"a": [1, 2, 3]})] == [3, 1, 2]
    assert [r["a"] for r in grid_search(lambda a: scores[a], {"a": [1, 2, 3]}, higher_is_better=False)] == [1, 3, 2]


def test_bootstrap_refuses_nan_statistics():
    from lmcourse.evaluation import bootstrap_ci, paired_bootstrap

    with pytest.raises(ValueError, match="stats must be finite; got 1 NaN or inf values"):
        bootstrap_ci([1.0, float("nan"), 2.0])
    with pytest.raises(ValueError, match="stats_b must be finite"):
        paired_bootstrap([1.0, 2.0], [1.0, float("inf")])
