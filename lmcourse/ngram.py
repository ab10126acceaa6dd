"""Count-based n-gram language models: the first language model of the course.

An order-n model predicts the next token from the previous n-1 tokens using counts:
``P(x | context) = (count(context, x) + k) / (count(context) + k·V)`` (add-k smoothing;
``k=0`` is the plain maximum-likelihood estimate). With ``lambdas`` the model
*interpolates* instead: it mixes the estimates of every order from 1 (unigram) to n,
``P(x | context) = Σ_m λ_m · P_m(x | last m-1 tokens)``, so a context never seen at the
full order still borrows strength from shorter ones. Tokens may be the characters of a
string or the items of any sequence of hashable values (e.g. words). Notebook 02 builds
these from scratch.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Sequence
from itertools import accumulate

from ._checks import ArgumentError, integer, number


class NGramLM:
    """An order-``order`` n-gram model with add-``k`` smoothing, optionally interpolated.

    ``lambdas``, if given, holds one non-negative weight per order (unigram first, the full
    order last) that sums to 1; each order's estimate is itself add-``k`` smoothed (with
    ``k=0``, a context never seen in training falls back to the uniform distribution).

    >>> lm = NGramLM(order=2, k=0).fit("abab")
    >>> lm.prob("a", "b")
    1.0
    """

    def __init__(self, order: int = 2, k: float = 1.0, lambdas: Sequence[float] | None = None):
        order = integer("order", order, min=1)
        k = number("k", k, min=0)
        if lambdas is not None:
            lambdas = tuple(number(f"lambdas[{m}]", w, min=0) for m, w in enumerate(lambdas))
            if len(lambdas) != order:
                raise ArgumentError(f"lambdas must hold one weight per order (order={order}); got {len(lambdas)}")
            if not math.isclose(sum(lambdas), 1.0, abs_tol=1e-9):
                raise ArgumentError(f"lambdas must sum to 1; got {lambdas} (sum {sum(lambdas):g})")
        self.order, self.k, self.lambdas = order, k, lambdas
        self.counts: dict[tuple, Counter] = defaultdict(Counter)  # full-order counts: context -> next-token counts
        self.vocab: list[Hashable] = []
        self._counts: list[dict[tuple, Counter]] = []  # _counts[m-1]: counts of order m
        self._totals: list[dict[tuple, int]] = []

    def fit(self, tokens: Sequence[Hashable], vocab: Iterable[Hashable] | None = None) -> NGramLM:
        """Count every m-gram (m = 1 … order) in ``tokens``; returns ``self`` so calls can chain.

        ``vocab`` (optional) is the set of tokens the model spreads probability over; by
        default it is the set of tokens seen in ``tokens``. Pass the full vocabulary when
        the held-out text may contain tokens training never saw.
        """
        if len(tokens) < self.order:
            raise ValueError(f"tokens must hold at least order={self.order} items; got {len(tokens)}")
        seen = set(tokens)
        if vocab is None:
            vocab = seen
        else:
            vocab = set(vocab)
            if not seen <= vocab:
                missing = sorted(seen - vocab, key=repr)[:5]
                raise ValueError(f"vocab must contain every token of tokens; missing {missing}")
        self.vocab = sorted(vocab, key=repr)
        self._counts, self._totals = [], []
        for m in range(1, self.order + 1):
            table: dict[tuple, Counter] = defaultdict(Counter)
            for gram, n in Counter(zip(*(tokens[i:] for i in range(m)))).items():
                table[gram[:-1]][gram[-1]] = n
            self._counts.append(table)
            self._totals.append({ctx: sum(row.values()) for ctx, row in table.items()})
        self.counts = self._counts[-1]
        return self

    def with_settings(self, *, order: int | None = None, k: float | None = None,
                      lambdas: Sequence[float] | None = None) -> NGramLM:
        """A model that reuses these counts with other settings, without counting again.

        ``order`` (default: this model's) may be lower than the fitted order, since a fit
        counts every m-gram up to it; ``k`` defaults to this model's; ``lambdas`` must match the
        new order (``None``: plain add-k). The counts are shared, not copied. Notebooks 00, 02 and 04
        use it to get several orders and smoothing settings out of one fit.

        >>> lm = NGramLM(order=3, k=0).fit("abab")
        >>> lm.with_settings(order=2).prob("a", "b")
        1.0
        """
        if not self._counts:
            raise RuntimeError("the model has not been fitted yet: call fit(tokens) first")
        order = self.order if order is None else integer("order", order, min=1, max=self.order)  # <= fitted order
        new = NGramLM(order=order, k=self.k if k is None else k, lambdas=lambdas)
        new.vocab = self.vocab
        new._counts, new._totals = self._counts[:order], self._totals[:order]
        new.counts = new._counts[-1]
        return new

    @property
    def size(self) -> int:
        """How many numbers the model stores: the distinct m-grams counted, over every order it uses."""
        orders = range(1, self.order + 1) if self.lambdas is not None else [self.order]
        return sum(len(row) for m in orders for row in self._counts[m - 1].values()) if self._counts else 0

    def _context(self, context: Sequence[Hashable]) -> tuple:
        if not self.vocab:
            raise RuntimeError("the model has not been fitted yet: call fit(tokens) first")
        need = self.order - 1
        if len(context) < need:
            raise ValueError(f"context must hold at least order-1={need} tokens; got {len(context)}")
        return tuple(context[len(context) - need:]) if need else ()

    def _add_k(self, m: int, context: tuple, token: Hashable) -> float:
        """The add-k estimate of order ``m`` for ``token`` after the last m-1 items of ``context``."""
        ctx = context[len(context) - (m - 1):] if m > 1 else ()
        row = self._counts[m - 1].get(ctx)
        total, vocab_size = self._totals[m - 1].get(ctx, 0), len(self.vocab)
        if total + self.k * vocab_size == 0:  # unseen context and no smoothing: fall back to uniform
            return 1.0 / vocab_size
        return ((row[token] if row else 0) + self.k) / (total + self.k * vocab_size)

    def prob(self, context: Sequence[Hashable], token: Hashable) -> float:
        """``P(token | last order-1 tokens of context)``: add-k, or interpolated if ``lambdas`` is set."""
        ctx = self._context(context)
        if self.lambdas is None:
            return self._add_k(self.order, ctx, token)
        return sum(w * self._add_k(m, ctx, token) for m, w in enumerate(self.lambdas, start=1) if w)

    def distribution(self, context: Sequence[Hashable]) -> dict[Hashable, float]:
        """The whole next-token distribution after ``context``, as ``{token: probability}``."""
        return {tok: self.prob(context, tok) for tok in self.vocab}

    def perplexity(self, tokens: Sequence[Hashable]) -> float:
        """``exp`` of the mean negative log-probability of each token after its first order-1 tokens.

        Infinite when some token gets probability 0 (possible only with ``k=0`` and no interpolation).
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
        integer("length", length, min=0)
        rng = random.Random(seed)
        out = list(start)
        for _ in range(length):
            dist = self.distribution(out)
            cumulative = list(accumulate(dist.values()))
            out.append(self.vocab[min(bisect(cumulative, rng.random() * cumulative[-1]), len(self.vocab) - 1)])
        return "".join(out) if isinstance(start, str) else out
