"""Checkers for notebook 08: BLEU's brevity penalty and one step of beam search."""

from __future__ import annotations

import math

import torch

from .checking import Case, Mistake, Result, check_function

_BP_CASES = [
    Case((10, 8), label="hyp_len=10, ref_len=8 (output longer than the reference)"),
    Case((8, 8), label="hyp_len=8, ref_len=8 (same length)"),
    Case((5, 10), label="hyp_len=5, ref_len=10 (half as long)"),
    Case((9, 12), label="hyp_len=9, ref_len=12"),
    Case((0, 3), label="hyp_len=0, ref_len=3 (an empty output)"),
]


def _brevity_penalty(hyp_len, ref_len):
    if hyp_len >= ref_len:
        return 1.0
    return math.exp(1 - ref_len / hyp_len) if hyp_len > 0 else 0.0


def check_brevity_penalty(brevity_penalty) -> Result:
    """``brevity_penalty(hyp_len, ref_len)`` must be 1 for long enough output, else
    exp(1 - ref_len / hyp_len) (0 if empty)."""
    return check_function(brevity_penalty, _brevity_penalty, _BP_CASES, name="check_brevity_penalty", mistakes=[
        Mistake(lambda c, r: 1.0 if c >= r else (math.exp(1 - c / r) if c > 0 else 0.0),
                "the ratio is upside down: the penalty is exp(1 - ref_len / hyp_len), which falls towards 0 as the "
                "output gets shorter (exp(1 - hyp_len / ref_len) stays above e^-1 ≈ 0.37 however short it is)."),
        Mistake(lambda c, r: math.exp(1 - r / c) if c > 0 else 0.0,
                "an output longer than the reference must get exactly 1 (no bonus, no penalty): only short "
                "outputs are penalised, so return 1.0 when hyp_len >= ref_len."),
        Mistake(lambda c, r: 1.0 if c >= r else (1 - r / c if c > 0 else 0.0),
                "the exponential is missing: the penalty is exp(1 - ref_len / hyp_len), a number in (0, 1]."),
        Mistake(lambda c, r: 1.0 if c >= r else (math.exp(1 - r / c) if c > 0 else 1.0),
                "an empty output must score 0: nothing was translated, so the penalty is 0, not 1."),
    ])


def _beams(seed: int, k: int, v: int, first: bool = False):
    g = torch.Generator().manual_seed(seed)
    scores = -torch.rand(k, generator=g) * 3
    if first:
        scores = torch.tensor([0.0] + [float("-inf")] * (k - 1))
    log_probs = torch.log_softmax(torch.randn(k, v, generator=g) * 2, dim=-1)
    return scores, log_probs, k


_STEP_CASES = [
    Case(_beams(0, 3, 5), label="K=3 beams, V=5 tokens, random scores"),
    Case(_beams(1, 2, 7), label="K=2 beams, V=7 tokens"),
    Case(_beams(2, 4, 6, first=True), label="first step: scores [0, -inf, -inf, -inf] (one live beam)"),
    Case(_beams(3, 4, 9), label="K=4 beams, V=9 tokens"),
]


def _beam_step(scores, log_probs, k):
    v = log_probs.shape[-1]
    top, flat = (scores[:, None] + log_probs).flatten().topk(k)
    return top, flat // v, flat % v


def _per_beam_best(scores, log_probs, k):
    best, token = log_probs.max(-1)
    top, parent = (scores + best).topk(k)
    return top, parent, token[parent]


def check_beam_step(beam_step) -> Result:
    """``beam_step(scores (K,), log_probs (K, V), k)`` must return ``(new_scores, parent, token)``,
    each (k,), best first."""
    return check_function(beam_step, _beam_step, _STEP_CASES, name="check_beam_step", mistakes=[
        Mistake(lambda s, lp, k: _beam_step(torch.zeros_like(s), lp, k),
                "each candidate's score is its beam's running score plus the token's log-prob: "
                "scores[:, None] + log_probs. You ranked the new token's log-prob alone."),
        Mistake(_per_beam_best,
                "you kept only the best token of each beam. Beam search ranks all K·V extensions together, "
                "so one good beam may supply several of the new beams."),
        Mistake(lambda s, lp, k: (lambda t, f: (t, f // lp.shape[-1], f))(*(s[:, None] + lp).flatten().topk(k)),
                "token is the flat index into K·V candidates; the token id is flat % V (and the parent flat // V)."),
        Mistake(lambda s, lp, k: (lambda t, f: (t, f % lp.shape[-1], f // lp.shape[-1]))(
                    *(s[:, None] + lp).flatten().topk(k)),
                "parent and token are swapped: in the flattened (K, V) grid, parent = flat // V and token = flat % V."),
        Mistake(lambda s, lp, k: _beam_step(s, lp.exp(), k),
                "add log-probabilities (or multiply probabilities); here probabilities were added to log-scores."),
    ])
