"""Repeat an experiment over seeds, and say how much of a difference is noise.

One training run is one draw: another seed, another thread count or another BLAS gives
another number. Before a notebook says "A beats B", it runs both on the same few seeds and
reports each as mean ± standard deviation, and — because the seeds are shared — the *paired*
difference B − A seed by seed, which is far less noisy than comparing the two spreads:

>>> a = repeat(lambda seed: 2.0 + 0.1 * seed, seeds=(0, 1, 2))
>>> b = repeat(lambda seed: 1.9 + 0.1 * seed, seeds=(0, 1, 2))
>>> print(a)
2.100 ± 0.100 (n=3)
>>> print(paired(a, b, labels=("A", "B")))
B − A = -0.100 ± 0.000 (n=3; B < A on 3 of 3 seeds)

Notebooks use it wherever they compare two settings; notebook 13 explains the statistics.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ._checks import number
from .device import set_seed


def _as_float(value, where: str) -> float:
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:  # a 0-d tensor or numpy scalar
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where} must be a real number; got {type(value).__name__}")
    return float(value)


@dataclass(frozen=True)
class Spread:
    """One quantity measured once per seed: ``values[i]`` came from ``seeds[i]``."""

    seeds: tuple[int, ...]
    values: tuple[float, ...]

    def __post_init__(self):
        if len(self.seeds) != len(self.values):
            raise ValueError("seeds and values must have the same length; "
                             f"got {len(self.seeds)} and {len(self.values)}")
        if not self.values:
            raise ValueError("values must hold at least one measurement; got none")

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return math.fsum(self.values) / self.n

    @property
    def sd(self) -> float:
        """Sample standard deviation (n − 1 in the denominator); NaN for a single run."""
        if self.n < 2:
            return math.nan
        m = self.mean
        return math.sqrt(math.fsum((v - m) ** 2 for v in self.values) / (self.n - 1))

    @property
    def sem(self) -> float:
        """Standard error of the mean, sd / √n."""
        return self.sd / math.sqrt(self.n)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """A Student-t confidence interval for the mean (needs n ≥ 2)."""
        number("level", level, min=0, max=1, min_open=True, max_open=True)
        if self.n < 2:
            return (math.nan, math.nan)
        from scipy.stats import t

        half = t.ppf(0.5 + level / 2, df=self.n - 1) * self.sem
        return (self.mean - half, self.mean + half)

    def format(self, digits: int = 3) -> str:
        if self.n == 1:
            return f"{self.mean:.{digits}f} (one run: spread unknown)"
        return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f} (n={self.n})"

    def __str__(self) -> str:
        return self.format()


@dataclass(frozen=True)
class Difference(Spread):
    """Per-seed differences ``b − a`` of two :class:`Spread` s measured on the same seeds."""

    labels: tuple[str, str] = ("a", "b")

    @property
    def n_negative(self) -> int:
        """Seeds on which b came out lower than a."""
        return sum(v < 0 for v in self.values)

    @property
    def n_positive(self) -> int:
        """Seeds on which b came out higher than a."""
        return sum(v > 0 for v in self.values)

    def format(self, digits: int = 3) -> str:
        a, b = self.labels
        if self.n_negative >= self.n_positive:
            count = f"{b} < {a} on {self.n_negative} of {self.n} seeds"
        else:
            count = f"{b} > {a} on {self.n_positive} of {self.n} seeds"
        spread = f"{self.sd:.{digits}f}" if self.n > 1 else "?"
        return f"{b} − {a} = {self.mean:.{digits}f} ± {spread} (n={self.n}; {count})"


def repeat(fn: Callable[[int], object], seeds: Sequence[int] = (0, 1, 2), *, reseed: bool = True):
    """Run ``fn(seed)`` once per seed and collect what it returns.

    ``fn`` returns a number (a loss, an accuracy) or a mapping name -> number; the result
    is a :class:`Spread`, or a dict name -> :class:`Spread` with the same keys. With
    ``reseed`` (the default) Python's, NumPy's and torch's generators are seeded with the
    seed before each call (:func:`lmcourse.set_seed`), so ``fn`` only has to pass the seed on
    to whatever draws its own randomness.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable; got {type(fn).__name__}")
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed; got none")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError(f"seeds must be integers; got {s!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct; got {seeds}")
    seeds = tuple(int(s) for s in seeds)

    results = []
    for seed in seeds:
        if reseed:
            set_seed(seed)
        results.append(fn(seed))
    if isinstance(results[0], Mapping):
        keys = list(results[0])
        for seed, r in zip(seeds, results):
            if not isinstance(r, Mapping) or list(r) != keys:
                got = list(r) if isinstance(r, Mapping) else type(r).__name__
                raise ValueError("fn must return the same keys for every seed; "
                                 f"seed {seed} gave {got}, expected {keys}")
        return {
            k: Spread(seeds, tuple(_as_float(r[k], f"fn({seed})[{k!r}]") for seed, r in zip(seeds, results)))
            for k in keys
        }
    return Spread(seeds, tuple(_as_float(r, f"fn({seed})") for seed, r in zip(seeds, results)))


def paired(a: Spread, b: Spread, *, labels: tuple[str, str] = ("a", "b")) -> Difference:
    """The seed-by-seed difference ``b − a`` of two settings run on the same seeds.

    Its spread is what decides whether b really differs from a: two settings whose own
    spreads overlap can still differ consistently seed by seed, and the other way round.
    """
    for name, s in (("a", a), ("b", b)):
        if not isinstance(s, Spread):
            raise TypeError(f"{name} must be a Spread from repeat(); got {type(s).__name__}")
    if a.seeds != b.seeds:
        raise ValueError(f"b must be measured on the same seeds as a; got {b.seeds} and {a.seeds}")
    if len(labels) != 2 or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"labels must be two strings; got {labels!r}")
    return Difference(a.seeds, tuple(y - x for x, y in zip(a.values, b.values)), tuple(labels))
