"""Notebook 05's checkers beyond their Mistakes: the package's attention, an equal answer, 2-D-only code, a TODO."""

import math

import pytest
import torch

from lmcourse.exercises import nb05_self_attention as ex


def test_package_attention_passes_the_attention_checker():
    from lmcourse.attention import attention
    assert ex.check_attention(lambda q, k, v: attention(q, k, v)[0]).passed


@pytest.mark.filterwarnings("ignore:The use of `x.T`")
def test_attention_that_only_handles_2d_inputs_is_rejected_on_the_batched_case():
    result = ex.check_attention(lambda q, k, v: torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), -1) @ v)
    assert not result.passed and "batched" in result.failed_case


def test_masked_softmax_renormalised_after_the_softmax_is_accepted_because_it_is_equal():
    def renormalised(s, m):
        w = torch.softmax(s, -1) * m
        return w / w.sum(-1, keepdim=True)
    assert ex.check_masked_softmax(renormalised).passed
