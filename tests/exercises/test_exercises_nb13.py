"""Notebook 13's checkers beyond their Mistakes: scikit-learn's answers pass, malformed answers fail quietly."""

from sklearn.metrics import f1_score
from sklearn.model_selection import KFold

from lmcourse.exercises import nb13_evaluating_honestly as ex


def test_trusted_implementations_pass():
    assert ex.check_f1(lambda t, p: f1_score(t, p, zero_division=0)).passed
    assert ex.check_kfold_splits(lambda n, k: [(list(tr), list(va)) for tr, va in KFold(k).split(range(n))]).passed


def test_malformed_answers_fail_without_raising():
    assert not ex.check_kfold_splits(lambda n, k: 42).passed
    assert not ex.check_f1(lambda t, p: "high").passed
