"""Notebook 12's checkers beyond their Mistakes: other right answers, unfinished and crashing functions."""

import torch
import torch.nn.functional as F

from lmcourse.exercises import nb12_attention_and_applications as ex


def test_other_right_answers_pass():
    assert ex.check_mean_pool(lambda h, m: torch.einsum("btc,bt->bc", h, m.float()) / m.sum(1, keepdim=True)).passed
    assert ex.check_top_k(
        lambda q, d, k: (F.normalize(d, dim=-1) @ F.normalize(q, dim=0)).argsort(descending=True)[:k].tolist()).passed


def test_a_number_instead_of_a_list_of_indices_is_answered_not_raised():
    result = ex.check_top_k(lambda q, d, k: 7)
    assert not result.passed and "expected:" in result.message


def test_unfinished_and_crashing_functions_are_reported_not_raised():
    def todo(*args):
        raise NotImplementedError
    assert "not written yet" in ex.check_top_k(todo).message
    assert "raised" in ex.check_mean_pool(lambda h, m: h @ torch.zeros(1)).message
