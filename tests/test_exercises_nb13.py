"""Checkers of notebook 13 accept the notebook's own solutions and catch the usual mistakes."""

import pytest
from sklearn.metrics import f1_score
from sklearn.model_selection import KFold

from lmcourse.evaluation import accuracy, precision_recall_f1
from lmcourse.exercises import nb13_evaluating_honestly as ex
from solutions import solution_namespace


@pytest.fixture(scope="module")
def solved():
    return solution_namespace("13_evaluating_honestly", setup="from lmcourse.exercises import nb13_evaluating_honestly as ex")


def test_reference_solutions_pass(solved):
    assert ex.check_f1(solved["f1"]).passed
    assert ex.check_kfold_splits(solved["kfold_splits"]).passed


def test_trusted_implementations_pass():
    assert ex.check_f1(lambda t, p: f1_score(t, p, zero_division=0)).passed
    assert ex.check_kfold_splits(lambda n, k: [(list(tr), list(va)) for tr, va in KFold(k).split(range(n))]).passed


def _arithmetic(t, p):
    precision, recall, _ = precision_recall_f1(t, p)
    return (precision + recall) / 2


@pytest.mark.parametrize("wrong, hint", [
    (accuracy, "this is the accuracy"),
    (_arithmetic, "harmonic"),
    (lambda t, p: precision_recall_f1(t, p, positive=0)[2], "class 0"),
    (lambda t, p: sum(a == b == 1 for a, b in zip(t, p)) / max(sum(p), 1), "precision TP/(TP+FP) alone"),
    (lambda t, p: sum(a == b == 1 for a, b in zip(t, p)) / max(sum(t), 1), "recall TP/(TP+FN) alone"),
])
def test_f1_mistakes_get_their_hint(wrong, hint):
    result = ex.check_f1(wrong)
    assert not result.passed and hint in result.mistake


def _leaky(n, k):
    return [(list(range(n)), list(va)) for _, va in KFold(k).split(range(n))]


def _dropped(n, k):
    s = n // k
    return [([i for i in range(n) if not f * s <= i < (f + 1) * s], list(range(f * s, (f + 1) * s))) for f in range(k)]


def _last_gets_rest(n, k):
    s, out = n // k, []
    for f in range(k):
        va = list(range(f * s, n if f == k - 1 else (f + 1) * s))
        out.append(([i for i in range(n) if i not in va], va))
    return out


@pytest.mark.parametrize("wrong, hint", [
    (_leaky, "leakage"),
    (_dropped, "never validated"),
    (_last_gets_rest, "leftover"),
])
def test_kfold_mistakes_get_their_hint(wrong, hint):
    result = ex.check_kfold_splits(wrong)
    assert not result.passed and hint in result.mistake


def test_malformed_answers_fail_without_raising():
    assert not ex.check_kfold_splits(lambda n, k: 42).passed
    assert not ex.check_f1(lambda t, p: "high").passed
