"""Bahdanau's additive attention against its formula written as a loop, with masks and both query shapes."""

import pytest
import torch

from lmcourse._checks import ArgumentError
from lmcourse.attention import AdditiveAttention


def _by_hand(att, s, keys, values, mask=None):
    """e_j = vᵀ tanh(W_q s + W_k h_j) for one query s (D_q,) and keys (T_k, D_k), one position at a time."""
    e = torch.stack([att.v(torch.tanh(att.W_q(s) + att.W_k(h)))[0] for h in keys])
    if mask is not None:
        e = e.masked_fill(~mask, float("-inf"))
    alpha = torch.softmax(e, dim=0)
    return alpha @ values, alpha


def test_one_decoder_step_equals_the_formula(seeded):
    att = AdditiveAttention(query_size=6, key_size=4, hidden_size=5).double()
    s, keys = torch.randn(3, 6, dtype=torch.float64), torch.randn(3, 7, 4, dtype=torch.float64)
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[1, 5:] = False                                                  # sequence 1 is padded after 5 tokens
    context, weights = att(s, keys, mask=mask)
    assert context.shape == (3, 4) and weights.shape == (3, 7)
    for b in range(3):
        ctx, alpha = _by_hand(att, s[b], keys[b], keys[b], mask[b])
        assert torch.allclose(context[b], ctx, atol=1e-12) and torch.allclose(weights[b], alpha, atol=1e-12)
    assert torch.equal(weights[1, 5:], torch.zeros(2, dtype=torch.float64))
    assert torch.allclose(weights.sum(-1), torch.ones(3, dtype=torch.float64))


def test_many_queries_at_once_and_separate_values(seeded):
    att = AdditiveAttention(6, 4, 5)
    queries, keys, values = torch.randn(2, 3, 6), torch.randn(2, 7, 4), torch.randn(2, 7, 9)
    context, weights = att(queries, keys, values)
    assert context.shape == (2, 3, 9) and weights.shape == (2, 3, 7)
    for t in range(3):                                                   # the same as asking one query at a time
        ctx, w = att(queries[:, t], keys, values)
        assert torch.allclose(context[:, t], ctx, atol=1e-6) and torch.allclose(weights[:, t], w, atol=1e-6)


def test_keys_projected_once_give_the_same_attention(seeded):
    att = AdditiveAttention(query_size=6, key_size=4, hidden_size=5).double()
    keys = torch.randn(3, 7, 4, dtype=torch.float64)
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[2, 4:] = False
    projected = att.W_k(keys)                                            # what a decoder keeps for every step
    for s in (torch.randn(3, 6, dtype=torch.float64), torch.randn(3, 2, 6, dtype=torch.float64)):
        want, got = att(s, keys, mask=mask), att(s, keys, mask=mask, projected_keys=projected)
        assert all(torch.equal(a, b) for a, b in zip(want, got))


def test_a_query_with_every_key_masked_gets_zeros_not_nan():
    att = AdditiveAttention(2, 2, 3)
    context, weights = att(torch.randn(1, 2), torch.randn(1, 4, 2), mask=torch.zeros(1, 4, dtype=torch.bool))
    assert torch.equal(weights, torch.zeros(1, 4)) and torch.equal(context, torch.zeros(1, 2))


def test_gradients_reach_every_weight(seeded):
    att = AdditiveAttention(3, 3, 4)
    context, _ = att(torch.randn(2, 3), torch.randn(2, 5, 3))
    context.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in att.parameters())


@pytest.mark.parametrize("call, fragment", [
    (lambda: AdditiveAttention(0, 2, 3), "query_size must be an int >= 1; got 0"),
    (lambda: AdditiveAttention(2, 2, 3)(torch.randn(1, 3), torch.randn(1, 4, 2)), "query must be of shape (B, D_q)"),
    (lambda: AdditiveAttention(2, 2, 3)(torch.randn(2, 2), torch.randn(1, 4, 2)), "query must be of shape (B, D_q)"),
    (lambda: AdditiveAttention(2, 2, 3)(torch.randn(1, 2), torch.randn(1, 4, 3)),
     "keys must be of shape (B, T_k, D_k)"),
    (lambda: AdditiveAttention(2, 2, 3)(torch.randn(1, 2), torch.randn(1, 4, 2), mask=torch.ones(1, 4)),
     "mask must be a bool tensor"),
    (lambda: AdditiveAttention(2, 2, 3)(torch.randn(1, 2), torch.randn(1, 4, 2),
                                        mask=torch.ones(1, 3, dtype=torch.bool)),
     "mask must be of shape (B, T_k)"),
    (lambda: AdditiveAttention(2, 2, 3)(torch.randn(1, 2), torch.randn(1, 4, 2), projected_keys=torch.randn(1, 4, 2)),
     "projected_keys must be of shape (B, T_k, H)"),
])
def test_bad_input_names_the_argument(call, fragment):
    with pytest.raises(ArgumentError) as info:
        call()
    assert fragment in str(info.value)
