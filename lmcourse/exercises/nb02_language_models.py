"""Checkers for notebook 02: perplexity from probabilities, and add-k smoothing."""

from __future__ import annotations

import math

from .checking import Case, Mistake, Result, check_function

_PROB_CASES = [
    Case(([0.5, 0.5],), label="probs=[0.5, 0.5] (a fair coin)"),
    Case(([0.25, 0.25, 0.25, 0.25],), label="probs=[0.25]*4 (a fair 4-sided die)"),
    Case(([0.9, 0.1, 0.5, 0.02],), label="probs=[0.9, 0.1, 0.5, 0.02]"),
    Case(([1.0, 1.0, 1.0],), label="probs=[1.0]*3 (a perfect model)"),
]


def _perplexity(probs) -> float:
    return math.exp(-sum(math.log(p) for p in probs) / len(probs))


def check_perplexity(perplexity) -> Result:
    """``perplexity(probs)``: ``exp`` of the mean negative log of the probabilities of the actual tokens."""
    return check_function(perplexity, _perplexity, _PROB_CASES, name="check_perplexity", mistakes=[
        Mistake(lambda ps: sum(-math.log(p) for p in ps) / len(ps),
                "this is the cross-entropy (mean negative log-probability). Perplexity is exp of it."),
        Mistake(lambda ps: math.exp(sum(math.log(p) for p in ps) / len(ps)),
                "the sign is missing: you returned exp(mean log p) = 1/perplexity. Use the *negative* log."),
        Mistake(lambda ps: math.exp(-sum(math.log(p) for p in ps)),
                "you summed the log-probabilities instead of averaging them: divide by the number of tokens, "
                "so that perplexity does not grow with the length of the text."),
        Mistake(lambda ps: len(ps) / sum(ps),
                "you inverted the average probability. Perplexity is the inverse of the *geometric* mean: "
                "average the logs, then exponentiate."),
    ])


_COUNT_CASES = [
    Case(({"a": 3, "b": 1}, ["a", "b", "c"], 1.0), label="counts={'a': 3, 'b': 1}, vocab=['a','b','c'], k=1"),
    Case(({"a": 3, "b": 1}, ["a", "b", "c", "d"], 0.5),
         label="counts={'a': 3, 'b': 1}, vocab=['a','b','c','d'], k=0.5"),
    Case(({"x": 10}, ["x", "y"], 0.0), label="counts={'x': 10}, vocab=['x','y'], k=0 (no smoothing)"),
    Case(({}, ["p", "q", "r"], 1.0), label="counts={} (an unseen context), vocab=['p','q','r'], k=1"),
]


def _add_k(counts, vocab, k) -> dict:
    total = sum(counts.values())
    return {tok: (counts.get(tok, 0) + k) / (total + k * len(vocab)) for tok in vocab}


def check_add_k(add_k) -> Result:
    """``add_k(counts, vocab, k)`` must return ``{token: (count + k) / (total + k·V)}`` for every vocab token."""
    return check_function(add_k, _add_k, _COUNT_CASES, name="check_add_k", mistakes=[
        Mistake(lambda c, v, k: {t: (c.get(t, 0) + k) / (sum(c.values()) + k) for t in v},
                "the denominator adds k once; it must add k for *every* vocabulary token (k·V), "
                "otherwise the probabilities sum to more than 1."),
        Mistake(lambda c, v, k: {t: (c.get(t, 0) + k) / sum(c.values()) for t in v},
                "the denominator is missing k·V: you added pseudo-counts on top but not below, "
                "so the probabilities do not sum to 1."),
        Mistake(lambda c, v, k: {t: (n + k) / (sum(c.values()) + k * len(v)) for t, n in c.items()},
                "only tokens that were counted got a probability. Smoothing exists for the *unseen* ones: "
                "return an entry for every token of vocab."),
        Mistake(lambda c, v, k: {t: c.get(t, 0) / (sum(c.values()) + k * len(v)) for t in v},
                "k is missing from the numerator: every token, seen or not, gets k extra pseudo-counts."),
    ])
