"""Notebook 05's checkers beyond their Mistakes: wrong answers written here, right answers in other forms."""

import math

import numpy as np
import pytest
import torch

from lmcourse.exercises import nb05_self_attention as ex


# --- check_score_std: plausible wrong derivations -------------------------------------------------------------
def score_std_averaging_the_two_stds(d_k, std_q, std_k):
    return math.sqrt(d_k) * (std_q + std_k) / 2          # treats the two scales as one "typical" scale


def score_std_adding_the_variances(d_k, std_q, std_k):
    return math.sqrt(d_k * (std_q**2 + std_k**2))        # variance of a sum q_i + k_i, not of a product


def score_std_inverted(d_k, std_q, std_k):
    return math.sqrt(d_k) / (std_q * std_k)              # the factor one would multiply by, not divide by


def score_std_rounded(d_k, std_q, std_k):
    return round(math.sqrt(d_k) * std_q * std_k)         # an int: right for whole answers, wrong for 0.08


# --- check_masked_attention: plausible wrong implementations ----------------------------------------------------
def _scores(q, k):
    return q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])


def attention_filling_blocked_scores_with_zero(q, k, v, mask):
    w = torch.softmax(_scores(q, k).masked_fill(~mask, 0.0), -1)          # exp(0) = 1 still weighs them
    return w @ v, w


def attention_with_the_mask_inverted(q, k, v, mask):
    w = torch.softmax(_scores(q, k).masked_fill(mask, float("-inf")), -1).nan_to_num(0.0)   # True read as blocked
    return w @ v, w


def attention_with_softmax_over_the_queries(q, k, v, mask):
    w = torch.softmax(_scores(q, k).masked_fill(~mask, float("-inf")), -2).nan_to_num(0.0)  # columns sum to 1
    return w @ v, w


def attention_transposing_the_first_two_axes(q, k, v, mask):
    kt = k.transpose(0, 1)                                                   # right for 2-D k only
    w = torch.softmax((q @ kt / math.sqrt(q.shape[-1])).masked_fill(~mask, float("-inf")), -1)
    return w.nan_to_num(0.0) @ v, w.nan_to_num(0.0)


def attention_returning_weights_first(q, k, v, mask):
    w = torch.softmax(_scores(q, k).masked_fill(~mask, float("-inf")), -1).nan_to_num(0.0)
    return w, w @ v                                                          # the pair in the wrong order


def attention_renormalising_without_subtracting_the_max(q, k, v, mask):
    e = torch.exp(_scores(q, k)).masked_fill(~mask, 0.0)                    # exp of a score near 100 overflows
    w = e / e.sum(-1, keepdim=True).clamp_min(1e-30)
    return w @ v, w


WRONG_ANSWERS = {
    "check_score_std": [score_std_averaging_the_two_stds, score_std_adding_the_variances, score_std_inverted,
                        score_std_rounded],
    "check_masked_attention": [attention_filling_blocked_scores_with_zero, attention_with_the_mask_inverted,
                               attention_with_softmax_over_the_queries, attention_transposing_the_first_two_axes,
                               attention_returning_weights_first,
                               attention_renormalising_without_subtracting_the_max],
}


def test_score_std_accepts_a_numpy_float_and_an_int_where_the_answer_is_whole():
    assert ex.check_score_std(lambda d, sq, sk: np.sqrt(d) * np.float64(sq) * sk).passed
    exact = {(4, 1.0, 1.0): 2, (16, 2.0, 0.5): 4, (1, 3.0, 1.0): 3, (100, 0.5, 4.0): 20}
    assert ex.check_score_std(lambda d, sq, sk: exact.get((d, sq, sk), math.sqrt(d) * sq * sk)).passed


def test_score_std_refuses_a_tensor_and_says_to_convert_it():
    result = ex.check_score_std(lambda d, sq, sk: torch.tensor(math.sqrt(d) * sq * sk))
    assert not result.passed and ".item()" in result.message


def test_score_std_matches_a_measured_standard_deviation():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(4000, 64, generator=g) * 0.5, torch.randn(4000, 64, generator=g) * 3.0
    measured = (q * k).sum(-1).std().item()
    assert measured == pytest.approx(ex._score_std(64, 0.5, 3.0), rel=0.05)


def test_masked_attention_accepts_the_package_attention_a_list_and_nan_to_num_after_the_softmax():
    from lmcourse.attention import attention
    assert ex.check_masked_attention(lambda q, k, v, m: attention(q, k, v, m)).passed
    assert ex.check_masked_attention(lambda q, k, v, m: list(attention(q, k, v, m))).passed

    def nan_to_num_after_softmax(q, k, v, m):
        w = torch.softmax(_scores(q, k).masked_fill(~m, float("-inf")), -1).nan_to_num(0.0)
        return w @ v, w
    assert ex.check_masked_attention(nan_to_num_after_softmax).passed


def test_masked_attention_reference_equals_sdpa_where_a_row_has_an_allowed_key():
    import torch.nn.functional as F
    for case in ex._masked_cases():
        q, k, v, mask = case.args
        out, weights = ex._masked_attention(q, k, v, mask)
        assert not torch.isnan(out).any() and not torch.isnan(weights).any()
        full = mask.expand(*q.shape[:-1], k.shape[-2])
        live = full.any(-1)
        theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=full)
        assert torch.allclose(out[live], theirs[live], atol=1e-5)
        assert torch.equal(out[~live], torch.zeros_like(out[~live]))


def test_masked_attention_returning_only_the_output_is_told_to_return_the_pair():
    result = ex.check_masked_attention(lambda q, k, v, m: ex._masked_attention(q, k, v, m)[0])
    assert not result.passed and "return out, weights" in result.message
