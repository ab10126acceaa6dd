"""Checkers of notebook 12 accept the notebook's own solutions and catch the usual mistakes."""

import pytest
import torch
import torch.nn.functional as F

from lmcourse.exercises import nb12_attention_and_applications as ex
from solutions import solution_namespace


@pytest.fixture(scope="module")
def solved():
    return solution_namespace("12_attention_and_applications",
                              setup="from lmcourse.exercises import nb12_attention_and_applications as ex")


def test_reference_solutions_pass(solved):
    assert ex.check_mean_pool(solved["mean_pool"]).passed
    assert ex.check_top_k(solved["top_k"]).passed


@pytest.mark.parametrize("wrong, hint", [
    (lambda h, m: h.mean(1), "padding included"),
    (lambda h, m: (h * m.unsqueeze(-1)).sum(1) / h.shape[1], "divided by T"),
    (lambda h, m: (h * m.unsqueeze(-1)).sum(1), "this is the sum"),
    (lambda h, m: torch.einsum("btc,bt->bc", h, m.float()) / m.sum(), "of the whole batch"),
])
def test_mean_pool_mistakes_get_their_hint(wrong, hint):
    result = ex.check_mean_pool(wrong)
    assert not result.passed and hint in result.mistake


@pytest.mark.parametrize("wrong, hint", [
    (lambda q, d, k: (d @ q).topk(k).indices.tolist(), "raw dot product"),
    (lambda q, d, k: (F.normalize(d, dim=-1) @ F.normalize(q, dim=0)).topk(k, largest=False).indices.tolist(),
     "least"),
    (lambda q, d, k: sorted((F.normalize(d, dim=-1) @ F.normalize(q, dim=0)).topk(k).indices.tolist()),
     "best first"),
])
def test_top_k_mistakes_get_their_hint(wrong, hint):
    result = ex.check_top_k(wrong)
    assert not result.passed and hint in result.mistake


def test_unfinished_and_crashing_functions_are_reported_not_raised():
    def todo(*args):
        raise NotImplementedError
    assert "not written yet" in ex.check_top_k(todo).message
    assert "raised" in ex.check_mean_pool(lambda h, m: h @ torch.zeros(1)).message
