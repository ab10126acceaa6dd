"""Checkers for notebook 02: the perplexity of several texts pooled together, and EM for the weights of an
interpolated n-gram model."""

from __future__ import annotations

import math

import torch

from .checking import Case, Mistake, Result, check_function

# ----------------------------------------------------------------------------- exercise 1: pooled perplexity

_DOC_CASES = [
    Case(([[0.5, 0.5]],), label="docs=[[0.5, 0.5]] (one text: a fair coin)"),
    Case(([[0.25, 0.25, 0.25, 0.25]],), label="docs=[[0.25]*4] (one text: a fair 4-sided die)"),
    Case(([[0.5, 0.5], [0.25, 0.25, 0.25]],), label="docs=[[0.5, 0.5], [0.25]*3] (two texts, unequal lengths)"),
    Case(([[0.9, 0.1, 0.5, 0.02], [0.8]],), label="docs=[[0.9, 0.1, 0.5, 0.02], [0.8]]"),
    Case(([[1.0, 1.0, 1.0], [0.5]],), label="docs=[[1.0]*3, [0.5]] (a perfect text and a coin flip)"),
    Case(([[], [0.5, 0.25]],), label="docs=[[], [0.5, 0.25]] (an empty text adds no tokens)"),
]


def _pooled_perplexity(docs) -> float:
    logs = [math.log(p) for doc in docs for p in doc]
    return math.exp(-sum(logs) / len(logs))


def _each_text(docs):
    return [doc for doc in docs if doc]


def _mean_of_perplexities(docs) -> float:
    return sum(_pooled_perplexity([d]) for d in _each_text(docs)) / len(_each_text(docs))


def _texts_weighted_equally(docs) -> float:
    ces = [-sum(math.log(p) for p in d) / len(d) for d in _each_text(docs)]
    return math.exp(sum(ces) / len(ces))


def check_pooled_perplexity(pooled_perplexity) -> Result:
    """``pooled_perplexity(docs)``: one perplexity for several texts, each token of each text counted once."""
    return check_function(pooled_perplexity, _pooled_perplexity, _DOC_CASES, name="check_pooled_perplexity",
                          mistakes=[
        Mistake(lambda ds: -sum(math.log(p) for d in ds for p in d) / sum(len(d) for d in ds),
                "this is the cross-entropy (mean negative log-probability). Perplexity is exp of it."),
        Mistake(lambda ds: math.exp(sum(math.log(p) for d in ds for p in d) / sum(len(d) for d in ds)),
                "the sign is missing: you returned exp(mean log p) = 1/perplexity. Use the *negative* log."),
        Mistake(lambda ds: math.exp(-sum(math.log(p) for d in ds for p in d)),
                "you summed the log-probabilities instead of averaging them: divide by the number of tokens, "
                "so that perplexity does not grow with the length of the text."),
        Mistake(lambda ds: sum(len(d) for d in ds) / sum(p for d in ds for p in d),
                "you inverted the average probability. Perplexity is the inverse of the *geometric* mean: "
                "average the logs, then exponentiate."),
        Mistake(_mean_of_perplexities,
                "you averaged the texts' perplexities. Perplexity is not additive: pool the log-probabilities "
                "of every token of every text, average them, then take exp once."),
        Mistake(_texts_weighted_equally,
                "you averaged each text's cross-entropy, so a 1-token text counts as much as a 4-token one. "
                "Every *token* counts once: divide the total negative log-probability by the total number of "
                "tokens."),
    ])


# ----------------------------------------------------------------------------- exercise 2: EM for the lambdas


def _probs(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


_SMALL = _probs([[0.10, 0.30, 0.60], [0.05, 0.20, 0.00], [0.20, 0.10, 0.50],
                 [0.02, 0.40, 0.90], [0.15, 0.00, 0.00], [0.10, 0.25, 0.70]])
_EM_CASES = [
    Case((_SMALL, 1), label="probs = 6 positions x 3 orders (some zeros: contexts never seen), steps=1"),
    Case((_SMALL, 5), label="the same probs, steps=5"),
    Case((_SMALL, 0), label="the same probs, steps=0 (no step: the starting weights)"),
    Case((_probs([[0.2, 0.0], [0.1, 0.0], [0.4, 0.0]]), 3),
         label="probs = 3 x 2, the second order never gives the true token any probability, steps=3"),
    Case((_probs([[0.3, 0.3, 0.3, 0.3], [0.1, 0.1, 0.1, 0.1]]), 4),
         label="probs = 2 x 4, four identical orders, steps=4 (nothing to choose between them)"),
    Case((_probs([[0.05, 0.5]]), 2), label="probs = 1 x 2 (one position), steps=2"),
    Case((_probs([[0.2], [0.7]]), 3), label="probs = 2 x 1 (one order only), steps=3"),
]


def _em(probs: torch.Tensor, steps: int) -> torch.Tensor:
    lam = torch.full((probs.shape[1],), 1.0 / probs.shape[1], dtype=torch.float64)
    for _ in range(steps):
        weighted = lam * probs                                       # (N, M)
        resp = weighted / weighted.sum(dim=1, keepdim=True)          # E-step: each row sums to 1
        lam = resp.mean(dim=0)                                       # M-step: the average responsibility
    return lam


def _em_unnormalised(probs, steps):
    lam = torch.full((probs.shape[1],), 1.0 / probs.shape[1], dtype=torch.float64)
    for _ in range(steps):
        weighted = lam * probs
        lam = (weighted / weighted.sum(dim=1, keepdim=True)).sum(dim=0)
    return lam


def _em_without_the_weights(probs, steps):
    lam = torch.full((probs.shape[1],), 1.0 / probs.shape[1], dtype=torch.float64)
    for _ in range(steps):
        lam = (probs / probs.sum(dim=1, keepdim=True)).mean(dim=0)
    return lam


def _em_normalised_over_positions(probs, steps):
    lam = torch.full((probs.shape[1],), 1.0 / probs.shape[1], dtype=torch.float64)
    for _ in range(steps):
        weighted = lam * probs
        resp = weighted / weighted.sum(dim=0, keepdim=True).clamp(min=1e-300)   # over positions, not orders
        lam = resp.mean(dim=0) / resp.mean(dim=0).sum()
    return lam


def _em_one_step_more(probs, steps):
    return _em(probs, steps + 1)


def _em_from_column_means(probs, steps):
    lam = probs.mean(dim=0) / probs.mean(dim=0).sum()
    for _ in range(steps):
        weighted = lam * probs
        lam = (weighted / weighted.sum(dim=1, keepdim=True)).mean(dim=0)
    return lam


def check_em_lambdas(em_lambdas) -> Result:
    """``em_lambdas(probs, steps)``: ``steps`` EM iterations from uniform weights for the mixture weights of the
    columns of ``probs`` (N positions, M orders), returned as a float tensor of shape (M,)."""
    return check_function(em_lambdas, _em, _EM_CASES, name="check_em_lambdas", mistakes=[
        Mistake(_em_unnormalised,
                "your weights do not sum to 1: in the M-step, average the responsibilities over the positions "
                "(divide their sum by N), so that the new lambdas are again a distribution."),
        Mistake(_em_without_the_weights,
                "your E-step ignores the current lambdas, so every step gives the same answer as the first. "
                "A responsibility is lambda_m * P_m(x_t) divided by the sum of lambda_j * P_j(x_t) over j."),
        Mistake(_em_normalised_over_positions,
                "your responsibilities are normalised over the positions (dim 0). For each position t they "
                "must sum to 1 over the orders m: divide by the sum along dim 1."),
        Mistake(_em_one_step_more,
                "you ran one step too many: with steps=0 the answer is the starting weights, all 1/M."),
        Mistake(_em_from_column_means,
                "start from uniform weights, 1/M each: EM's answer after a few steps depends on where it starts."),
    ])
