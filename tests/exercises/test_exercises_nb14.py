"""Notebook 14's checkers beyond their Mistakes: the package's answers and crashing functions."""

import torch

from lmcourse import compression as C
from lmcourse.exercises import nb14_small_and_fast as ex


def test_package_functions_pass_their_checkers():
    assert ex.check_quantize_per_channel(C.quantize_int8).passed
    assert ex.check_magnitude_mask(C.magnitude_mask).passed
    assert ex.check_distillation_loss(lambda s, t, T: C.distillation_loss(s, t, temperature=T, alpha=1.0)).passed


def test_a_crashing_answer_is_reported_with_its_error():
    result = ex.check_lora_merge(lambda W, A, B, alpha: W + A @ B)
    assert not result.passed and "raised RuntimeError" in result.message


def test_merged_partial_softmax_results_give_attention_over_all_the_keys():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(5, 9, generator=g, dtype=torch.float64) * 4                 # 5 queries, 9 keys
    v = torch.randn(9, 3, generator=g, dtype=torch.float64)
    scores[2, :4] = float("-inf")                                    # one query sees nothing in the first part
    parts = ex._partial_softmax(scores[:, :4], v[:4]) + ex._partial_softmax(scores[:, 4:], v[4:])
    m, total, acc = ex._merge_softmax(*parts)
    assert torch.equal(m, scores.amax(-1))
    assert torch.allclose(acc / total[:, None], torch.softmax(scores, -1) @ v, atol=1e-12)


def test_a_merge_that_returns_too_few_results_is_rejected_without_crashing():
    result = ex.check_softmax_merge(lambda m1, l1, acc1, m2, l2, acc2: (torch.maximum(m1, m2), l1 + l2))
    assert not result.passed and "wrong answer on case 1" in result.message
