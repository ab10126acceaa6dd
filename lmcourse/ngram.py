"""Count-based n-gram language models: the first language model of the course.

An order-n model predicts the next token from the previous n-1 tokens using counts:
``P(x | context) = (count(context, x) + k) / (count(context) + k·V)`` (add-k smoothing;
``k=0`` is the plain maximum-likelihood estimate). Tokens may be the characters of a
string or the items of any sequence of hashable values (e.g. words).
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from itertools import accumulate


class NGramLM:
    """An order-``order`` n-gram model with add-``k`` smoothing.

    >>> lm = NGramLM(order=2, k=0).fit("abab")
    >>> lm.prob("a", "b")
    1.0
    """

    def __init__(self, order: int = 2, k: float = 1.0):
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"order must be an integer >= 1; got {order!r}")
        if not isinstance(k, (int, float)) or k < 0:
            raise ValueError(f"k must be a number >= 0; got {k!r}")
        self.order, self.k = order, float(k)
        self.counts: dict[tuple, Counter] = defaultdict(Counter)
        self.vocab: list[Hashable] = []

    def fit(self, tokens: Sequence[Hashable]) -> NGramLM:
        """Count every n-gram in ``tokens``; returns ``self`` so calls can chain."""
        if len(tokens) < self.order:
            raise ValueError(f"tokens must hold at least order={self.order} items; got {len(tokens)}")
        self.vocab = sorted(set(tokens), key=repr)
        grams = Counter(zip(*(tokens[i:] for i in range(self.order))))
        self.counts = defaultdict(Counter)
        for gram, n in grams.items():
            self.counts[gram[:-1]][gram[-1]] = n
        return self

    def _context(self, context: Sequence[Hashable]) -> tuple:
        if not self.vocab:
            raise RuntimeError("the model has not been fitted yet: call fit(tokens) first")
        need = self.order - 1
        if len(context) < need:
            raise ValueError(f"context must hold at least order-1={need} tokens; got {len(context)}")
        return tuple(context[len(context) - need:]) if need else ()

    def prob(self, context: Sequence[Hashable], token: Hashable) -> float:
        """``P(token | last order-1 tokens of context)`` with add-k smoothing."""
        row = self.counts.get(self._context(context), Counter())
        total, vocab_size = sum(row.values()), len(self.vocab)
        if total + self.k * vocab_size == 0:  # unseen context and no smoothing: fall back to uniform
            return 1.0 / vocab_size
        return (row[token] + self.k) / (total + self.k * vocab_size)

    def distribution(self, context: Sequence[Hashable]) -> dict[Hashable, float]:
        """The whole next-token distribution after ``context``, as ``{token: probability}``."""
        return {tok: self.prob(context, tok) for tok in self.vocab}

    def perplexity(self, tokens: Sequence[Hashable]) -> float:
        """``exp`` of the mean negative log-probability of each token after its first order-1 tokens.

        Infinite when some token gets probability 0 (possible only with ``k=0``).
        """
        positions = range(self.order - 1, len(tokens))
        if not positions:
            raise ValueError(f"tokens must hold more than order-1={self.order - 1} items; got {len(tokens)}")
        nll = 0.0
        for t in positions:
            p = self.prob(tokens[t - self.order + 1: t], tokens[t])
            if p == 0.0:
                return math.inf
            nll -= math.log(p)
        return math.exp(nll / len(positions))

    def generate(self, start: Sequence[Hashable], length: int, *, seed: int = 0):
        """Sample ``length`` tokens after ``start`` (a string in gives a string out)."""
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise ValueError(f"length must be an integer >= 0; got {length!r}")
        rng = random.Random(seed)
        out = list(start)
        for _ in range(length):
            dist = self.distribution(out)
            cumulative = list(accumulate(dist.values()))
            out.append(self.vocab[min(bisect(cumulative, rng.random() * cumulative[-1]), len(self.vocab) - 1)])
        return "".join(out) if isinstance(start, str) else out
