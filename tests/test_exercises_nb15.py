"""Checkers of notebook 15 accept the notebook's own solutions and catch the usual mistakes."""

import math
import re

import pytest
import torch
import torch.nn.functional as F

from lmcourse.exercises import nb15_responsibly as ex
from solutions import solution_namespace


@pytest.fixture(scope="module")
def solved():
    return solution_namespace("15_responsibly", setup="from lmcourse.exercises import nb15_responsibly as ex")


def test_reference_solutions_pass(solved):
    assert ex.check_exposure(solved["exposure"]).passed
    assert ex.check_scrub_emails(solved["scrub_emails"]).passed
    assert ex.check_weat_effect_size(solved["weat_effect_size"]).passed


def test_unfinished_and_non_function_answers_fail_without_raising():
    def todo(*args):
        raise NotImplementedError
    assert "not written yet" in ex.check_exposure(todo).message
    assert not ex.check_scrub_emails("[EMAIL]").passed


@pytest.mark.parametrize("wrong, hint", [
    (lambda r, n: math.log2(r) - math.log2(n), "sign is flipped"),
    (lambda r, n: math.log(n) - math.log(r), "natural logarithm"),
    (lambda r, n: math.log2(n - r + 1), "wrong end"),
    (lambda r, n: n / r, "base-2 logarithm"),
])
def test_exposure_mistakes_get_their_hint(wrong, hint):
    result = ex.check_exposure(wrong)
    assert not result.passed and hint in result.mistake


@pytest.mark.parametrize("wrong, hint", [
    (lambda t: re.sub(r"\S+@\S+", "[EMAIL]", t), "swallowed the punctuation"),
    (lambda t: re.sub(r"\w+@\w+\.\w+", "[EMAIL]", t), "only part of"),
    (lambda t: re.sub(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*", "[EMAIL]", t), "'a@b' is not an address"),
])
def test_scrub_emails_mistakes_get_their_hint(wrong, hint):
    result = ex.check_scrub_emails(wrong)
    assert not result.passed and hint in result.mistake


def test_scrub_emails_catches_a_scrubber_that_does_nothing():
    result = ex.check_scrub_emails(lambda t: t)
    assert not result.passed and result.failed_case.startswith("'write to")


def _s(W, A, B, unit=True):
    n = (lambda t: F.normalize(t.double(), dim=-1)) if unit else (lambda t: t.double())
    return (n(W) @ n(A).T).mean(1) - (n(W) @ n(B).T).mean(1)


@pytest.mark.parametrize("wrong, hint", [
    (lambda X, Y, A, B: float((_s(X, A, B).mean() - _s(Y, A, B).mean())
                              / torch.cat([_s(X, A, B), _s(Y, A, B)]).std(unbiased=False)), "population standard deviation"),
    (lambda X, Y, A, B: float(_s(X, A, B).mean() - _s(Y, A, B).mean()), "difference of the mean associations"),
    (lambda X, Y, A, B: float((_s(X, A, B, False).mean() - _s(Y, A, B, False).mean())
                              / torch.cat([_s(X, A, B, False), _s(Y, A, B, False)]).std()), "dot products"),
    (lambda X, Y, A, B: float((_s(Y, A, B).mean() - _s(X, A, B).mean())
                              / torch.cat([_s(X, A, B), _s(Y, A, B)]).std()), "sign is flipped"),
])
def test_weat_mistakes_get_their_hint(wrong, hint):
    result = ex.check_weat_effect_size(wrong)
    assert not result.passed and hint in result.mistake
