"""Checkers of notebook 05 accept the notebook's own solutions and catch the usual attention mistakes."""

import math

import pytest
import torch

from lmcourse.exercises import nb05_self_attention as ex
from solutions import solution_namespace


@pytest.fixture(scope="module")
def solved():
    return solution_namespace("05_self_attention", setup="import math, torch\n"
                                                          "from lmcourse.exercises import nb05_self_attention as ex")


def test_reference_solutions_pass(solved):
    assert ex.check_attention(solved["scaled_attention"]).passed
    assert ex.check_masked_softmax(solved["masked_softmax"]).passed


def test_package_attention_passes_the_attention_checker():
    from lmcourse.attention import attention
    assert ex.check_attention(lambda q, k, v: attention(q, k, v)[0]).passed


def _scores(q, k):
    return q @ k.transpose(-2, -1)


@pytest.mark.parametrize("wrong, hint", [
    (lambda q, k, v: torch.softmax(_scores(q, k), -1) @ v, "no √d_k"),
    (lambda q, k, v: torch.softmax(_scores(q, k) / q.shape[-1], -1) @ v, "divided by d_k"),
    (lambda q, k, v: torch.softmax(_scores(q, k) / math.sqrt(q.shape[-1]), -2) @ v, "wrong axis"),
    (lambda q, k, v: torch.softmax(_scores(q, k) / math.sqrt(q.shape[-1]), -1), "multiply them by v"),
    (lambda q, k, v: torch.exp(_scores(q, k) / math.sqrt(q.shape[-1])) @ v, "not a softmax"),
])
def test_attention_mistakes_get_their_hint(wrong, hint):
    result = ex.check_attention(wrong)
    assert not result.passed and hint in result.mistake


@pytest.mark.filterwarnings("ignore:The use of `x.T`")
def test_attention_that_only_handles_2d_inputs_is_rejected_on_the_batched_case():
    result = ex.check_attention(lambda q, k, v: torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), -1) @ v)
    assert not result.passed and "batched" in result.failed_case


@pytest.mark.parametrize("wrong, hint", [
    (lambda s, m: torch.softmax(s, -1) * m, "after the softmax"),
    (lambda s, m: torch.softmax(s.masked_fill(~m, 0.0), -1), "exp(0) = 1"),
    (lambda s, m: torch.softmax(s.masked_fill(m, float("-inf")), -1), "inverted"),
    (lambda s, m: torch.softmax(s.masked_fill(~m, float("-inf")), -2), "wrong axis"),
])
def test_masked_softmax_mistakes_get_their_hint(wrong, hint):
    result = ex.check_masked_softmax(wrong)
    assert not result.passed and hint in result.mistake


def test_masked_softmax_renormalised_after_the_softmax_is_accepted_because_it_is_equal():
    def renormalised(s, m):
        w = torch.softmax(s, -1) * m
        return w / w.sum(-1, keepdim=True)
    assert ex.check_masked_softmax(renormalised).passed


def test_unwritten_exercise_is_reported_not_raised():
    def todo(q, k, v):
        raise NotImplementedError
    result = ex.check_attention(todo)
    assert not result.passed and "not written yet" in result.message
