"""Checkers for notebook 05: the scale that keeps scores unit-variance, and masked attention that never gives NaN."""

from __future__ import annotations

import math

import torch

from .checking import Case, Mistake, Result, check_function

_STD_CASES = [
    Case((9, 2.0, 1.0), label="d_k=9, std_q=2, std_k=1"),
    Case((4, 1.0, 1.0), label="d_k=4, std_q=1, std_k=1 (the setting of section 3)"),
    Case((64, 0.1, 0.1), label="d_k=64, std_q=0.1, std_k=0.1 (small queries and keys)"),
    Case((16, 2.0, 0.5), label="d_k=16, std_q=2, std_k=0.5"),
    Case((1, 3.0, 1.0), label="d_k=1, std_q=3, std_k=1 (one dimension)"),
    Case((100, 0.5, 4.0), label="d_k=100, std_q=0.5, std_k=4"),
]


def _score_std(d_k, std_q, std_k):
    return math.sqrt(d_k) * std_q * std_k


def check_score_std(score_std) -> Result:
    """``score_std(d_k, std_q, std_k)``: the standard deviation of q·k for independent mean-0 entries, a float."""
    return check_function(score_std, _score_std, _STD_CASES, name="check_score_std", mistakes=[
        Mistake(lambda d, sq, sk: math.sqrt(d),
                "that is √d_k, the answer for unit-variance entries only. Each product q_i·k_i has variance "
                "std_q²·std_k², and d_k of them add up: Var(q·k) = d_k·std_q²·std_k²."),
        Mistake(lambda d, sq, sk: d * sq**2 * sk**2,
                "that is the variance of q·k; the question asks for its standard deviation (the square root)."),
        Mistake(lambda d, sq, sk: d * sq * sk,
                "the square root applies to d_k too: std(q·k) = √(d_k·std_q²·std_k²) = √d_k·std_q·std_k."),
        Mistake(lambda d, sq, sk: math.sqrt(d) * sq**2 * sk**2,
                "you multiplied √d_k by the variances std_q²·std_k²; after the square root the stds remain: "
                "√d_k·std_q·std_k."),
        Mistake(lambda d, sq, sk: math.sqrt(d * sq * sk),
                "√(d_k·std_q·std_k) mixes a variance and stds: the variance of one product is std_q²·std_k², "
                "so std(q·k) = √(d_k·std_q²·std_k²)."),
    ])


def _qkv(seed: int, *lead: int, t_q: int, t_k: int, d_k: int = 4, d_v: int = 3, scale: float = 1.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*lead, t_q, d_k, generator=g) * scale, torch.randn(*lead, t_k, d_k, generator=g) * scale,
            torch.randn(*lead, t_k, d_v, generator=g))


def _causal(t: int) -> torch.Tensor:
    return torch.ones(t, t, dtype=torch.bool).tril()


def _masked_cases() -> list[Case]:
    causal, real = _causal(4), torch.tensor([[True, True, True, True], [True, True, False, False]])
    left_padded = torch.tensor([[False, False, True, True], [True, True, True, True]])
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    k = torch.tensor([[0.5, -1.0], [-0.5, 2.0], [200.0, 200.0]])   # key 2 scores > 100 for every query
    v = _qkv(3, t_q=3, t_k=3, d_k=2)[2]
    return [
        Case((*_qkv(0, t_q=4, t_k=4), causal), label="q, k, v (4, 4), (4, 4), (4, 3); causal mask (4, 4)"),
        Case((*_qkv(1, 2, 3, t_q=4, t_k=4), real[:, None, None, :]),
             label="batched (2, 3, 4, ·) with a padding mask (2, 1, 1, 4): sentence 1 has 2 padded keys"),
        Case((q, k, v, _causal(3)),
             label="causal (3, 3); key 2, blocked for queries 0 and 1, scores above 100 for them"),
        Case((*_qkv(4, 2, t_q=4, t_k=4), causal & left_padded[:, None, :]),
             label="causal & left padding (2, 4, 4): sentence 0's queries 0 and 1 have every key blocked"),
        Case((*_qkv(5, 2, t_q=2, t_k=5, scale=8.0), torch.tensor([[[True] * 5], [[False] * 5]])),
             label="cross-attention 2 queries × 5 keys, large scores; sentence 1's mask (1, 5) blocks every key"),
        Case((*_qkv(6, 1, t_q=1, t_k=1, d_k=16), torch.ones(1, 1, dtype=torch.bool)), label="one query, one key"),
    ]


def _masked_attention(q, k, v, mask):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    return weights @ v, weights


def _scores(q, k, scale=True):
    return q @ k.transpose(-2, -1) / (math.sqrt(q.shape[-1]) if scale else 1.0)


def _with(weights, v):
    return weights @ v, weights


def check_masked_attention(masked_attention) -> Result:
    """``masked_attention(q, k, v, mask)`` -> ``(out, weights)``; a query with every key blocked gets zeros."""
    inf = float("-inf")
    return check_function(masked_attention, _masked_attention, _masked_cases(), name="check_masked_attention",
                          atol=1e-5, mistakes=[
        Mistake(lambda q, k, v, m: _masked_attention(q, k, v, m)[0],
                "return both tensors, as a pair: `return out, weights` (the weights are what a plot shows)."),
        Mistake(lambda q, k, v, m: _with(torch.softmax(_scores(q, k), -1) * m, v),
                "you zeroed the blocked weights after the softmax but did not renormalise: the rows no longer sum "
                "to 1. Divide each row by its new sum (or mask the scores before the softmax)."),
        Mistake(lambda q, k, v, m: _with(torch.softmax(_scores(q, k).masked_fill(~m, inf), -1), v),
                "a query whose keys are all blocked gets NaN: softmax of a row of -inf is 0/0. Such a row must "
                "give weights 0 and output 0 — set those rows to 0 (find them with mask.any(dim=-1))."),
        Mistake(lambda q, k, v, m: _with(torch.softmax(_scores(q, k), -1) * m /
                                         (torch.softmax(_scores(q, k), -1) * m).sum(-1, keepdim=True), v),
                "you renormalised after a softmax over *all* keys: when a blocked key scores far higher, the "
                "allowed weights underflow to 0 and 0/0 gives NaN. Subtract the largest *allowed* score before "
                "exp, or fill the blocked scores with -inf before the softmax."),
        Mistake(lambda q, k, v, m: _with(torch.softmax(_scores(q, k).masked_fill(~m, -1e9), -1), v),
                "with a finite fill such as -1e9, a query whose keys are all blocked spreads its weight evenly "
                "over them (all scores equal): it must get weights 0 instead."),
        Mistake(lambda q, k, v, m: _with(torch.softmax(_scores(q, k, scale=False).masked_fill(~m, inf), -1)
                                         .masked_fill(~m.any(-1, keepdim=True), 0.0), v),
                "no √d_k: divide the scores q @ kᵀ by math.sqrt(d_k) before masking and the softmax."),
    ])
