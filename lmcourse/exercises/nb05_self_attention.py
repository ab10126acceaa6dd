"""Checkers for notebook 05: scaled dot-product attention and masked softmax."""

from __future__ import annotations

import math

import torch

from .checking import Case, Mistake, Result, check_function


def _qkv(seed: int, *shape_q: int, t_k: int | None = None, d_v: int | None = None):
    g = torch.Generator().manual_seed(seed)
    *lead, t_q, d_k = shape_q
    t_k = t_q if t_k is None else t_k
    d_v = d_k if d_v is None else d_v
    return (torch.randn(*lead, t_q, d_k, generator=g) * 2, torch.randn(*lead, t_k, d_k, generator=g) * 2,
            torch.randn(*lead, t_k, d_v, generator=g))


_ATTN_CASES = [
    Case(_qkv(0, 3, 4), label="q, k, v of shape (3, 4)"),
    Case(_qkv(1, 2, 16, t_k=5, d_v=3), label="q (2, 16), k (5, 16), v (5, 3): 2 queries, 5 keys, d_v ≠ d_k"),
    Case(_qkv(2, 2, 3, 6, 8), label="batched: q, k, v of shape (2, 3, 6, 8)"),
]


def _attention(q, k, v):
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) @ v


def check_attention(attention) -> Result:
    """``attention(q, k, v)`` must return ``softmax(q kᵀ / √d_k) v`` for any leading batch axes."""
    d = math.sqrt
    return check_function(attention, _attention, _ATTN_CASES, name="check_attention", mistakes=[
        Mistake(lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1), -1) @ v,
                "no √d_k: divide the scores q @ kᵀ by math.sqrt(d_k) before the softmax."),
        Mistake(lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1], -1) @ v,
                "you divided by d_k; the scale is √d_k (math.sqrt(q.shape[-1]))."),
        Mistake(lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / d(q.shape[-1]), -2) @ v,
                "softmax over the wrong axis: each *query's* weights must sum to 1 over the keys, so use dim=-1."),
        Mistake(lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / d(q.shape[-1]), -1),
                "you returned the attention weights; multiply them by v to get the output (V is not optional)."),
        Mistake(lambda q, k, v: torch.exp(q @ k.transpose(-2, -1) / d(q.shape[-1])) @ v,
                "exp without normalizing is not a softmax: "
                "divide by the sum over the keys (torch.softmax(…, dim=-1))."),
    ])


def _scores_and_masks():
    g = torch.Generator().manual_seed(5)
    causal = torch.ones(4, 4, dtype=torch.bool).tril()
    pad = torch.tensor([[True, True, True, False, False]])
    return [
        Case((torch.randn(4, 4, generator=g) * 3, causal), label="scores (4, 4), causal mask (4, 4)"),
        Case((torch.randn(3, 5, generator=g) * 3, pad.expand(3, 5)),
             label="scores (3, 5), padding mask: last 2 keys blocked"),
        Case((torch.randn(2, 4, 4, generator=g), causal), label="batched scores (2, 4, 4), causal mask (4, 4)"),
    ]


def _masked_softmax(scores, mask):
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


def check_masked_softmax(masked_softmax) -> Result:
    """``masked_softmax(scores, mask)``: softmax over the last axis where ``mask`` is True, exactly 0 elsewhere."""
    return check_function(masked_softmax, _masked_softmax, _scores_and_masks(), name="check_masked_softmax",
                          mistakes=[
        Mistake(lambda s, m: torch.softmax(s, -1) * m,
                "mask applied after the softmax: zeroing weights afterwards leaves rows that no longer sum to 1, "
                "and the blocked keys still shaped the denominator (the future leaks in). "
                "Fill blocked scores with -inf *before* the softmax."),
        Mistake(lambda s, m: torch.softmax(s.masked_fill(~m, 0.0), -1),
                "you filled blocked scores with 0, but exp(0) = 1 still gives them weight. Use float('-inf')."),
        Mistake(lambda s, m: torch.softmax(s.masked_fill(m, float("-inf")), -1),
                "the mask is inverted: True means 'may attend', so block where the mask is False (~mask)."),
        Mistake(lambda s, m: torch.softmax(s.masked_fill(~m, float("-inf")), -2),
                "softmax over the wrong axis: normalize over the keys (dim=-1), one distribution per query."),
    ])
