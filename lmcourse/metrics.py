"""Metrics: numbers that say how good a model's outputs are.

Notebook 08 builds **BLEU** (Papineni et al. 2002) from its definition, for machine
translation: the geometric mean of modified n-gram precisions (n = 1…4) times a brevity
penalty, computed over a whole test corpus, and checks it against ``sacrebleu`` on the same
tokens. Inputs here are already tokenized: a hypothesis is a list of tokens (for Chinese,
characters), and each hypothesis has one or more references.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._checks import ArgumentError, integer, number, one_of

SMOOTHING = ("none", "floor", "add-k", "exp")
_DEFAULT_SMOOTH_VALUE = {"floor": 0.1, "add-k": 1.0}


def ngrams(tokens: Sequence[str], n: int) -> Counter:
    """Count the n-grams (tuples of ``n`` consecutive tokens) of ``tokens``."""
    integer("n", n, min=1)
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def modified_precision_counts(hypothesis: Sequence[str], references: Sequence[Sequence[str]],
                              n: int) -> tuple[int, int]:
    """``(matches, total)`` for n-grams of one hypothesis: each n-gram counts at most as often as
    it appears in the reference that has it most ("clipping"), so repeating a correct word
    earns nothing extra."""
    hyp = ngrams(hypothesis, n)
    most = Counter()
    for ref in references:
        most |= ngrams(ref, n)                         # |: the maximum count per n-gram
    return sum(min(c, most[g]) for g, c in hyp.items()), sum(hyp.values())


def brevity_penalty(hyp_len: int, ref_len: int) -> float:
    """``1`` if the hypotheses are at least as long as the references, else ``exp(1 - ref_len / hyp_len)``.

    Precision alone rewards saying little; this penalty takes that reward back. Lengths
    are summed over the corpus; an empty output (hyp_len = 0) gets 0.
    """
    integer("hyp_len", hyp_len, min=0)
    integer("ref_len", ref_len, min=0)
    if hyp_len >= ref_len:
        return 1.0
    return math.exp(1 - ref_len / hyp_len) if hyp_len > 0 else 0.0


def closest_ref_length(hyp_len: int, ref_lens: Sequence[int]) -> int:
    """The reference length closest to ``hyp_len`` (the shorter one on a tie), as BLEU uses."""
    return min(ref_lens, key=lambda r: (abs(r - hyp_len), r))


@dataclass(frozen=True)
class BLEUScore:
    """A BLEU result: ``score`` in 0…100, the n-gram ``precisions`` (in %), the brevity penalty,
    and the statistics they came from."""

    score: float
    precisions: tuple[float, ...]
    brevity_penalty: float
    hyp_len: int
    ref_len: int
    matches: tuple[int, ...]
    totals: tuple[int, ...]

    def __str__(self) -> str:
        p = "/".join(f"{x:.1f}" for x in self.precisions)
        return (f"BLEU = {self.score:.2f} {p} (BP = {self.brevity_penalty:.3f} "
                f"hyp_len = {self.hyp_len} ref_len = {self.ref_len})")


def _check_corpus(hypotheses, references) -> list[list[Sequence[str]]]:
    if isinstance(hypotheses, str) or not isinstance(hypotheses, Sequence):
        raise TypeError(f"hypotheses must be a list of token lists; got {type(hypotheses).__name__}")
    if not hypotheses:
        raise ValueError("hypotheses must contain at least one sentence; got an empty list")
    for h in hypotheses:
        if isinstance(h, str):
            raise TypeError(f"each hypothesis must be a list of tokens, not a str; got {h!r:.40} "
                            "(split it first, e.g. list(text) for Chinese characters)")
    if isinstance(references, str) or not isinstance(references, Sequence) or not references:
        raise ValueError("references must be a non-empty list with one list of reference token lists per hypothesis")
    refs = []
    for i, r in enumerate(references):
        if isinstance(r, str) or not isinstance(r, Sequence) or not r:
            raise ValueError(f"references[{i}] must be a non-empty list of reference token lists; got {r!r:.40}")
        if any(isinstance(x, str) for x in r):
            raise TypeError(f"references[{i}] must hold token lists (one per reference), not strings; got {r!r:.60}")
        refs.append(list(r))
    if len(refs) != len(hypotheses):
        raise ValueError(f"references must have one entry per hypothesis; got {len(refs)} reference sets "
                         f"for {len(hypotheses)} hypotheses")
    hyp_types = {type(t) for h in hypotheses for t in h}
    ref_types = {type(t) for r in refs for ref in r for t in ref}
    if hyp_types and ref_types and not hyp_types & ref_types:
        names = lambda types: "/".join(sorted(t.__name__ for t in types))        # noqa: E731
        raise ArgumentError(f"references must hold tokens of the hypotheses' type ({names(hyp_types)}); got "
                            f"{names(ref_types)} tokens, which never match (e.g. 1 against '1')")
    return refs


def _smoothing(smooth: str, smooth_value: float | None) -> float:
    """The smoothing constant ``smooth`` uses: ``smooth_value`` (finite, >= 0) or the method's default."""
    one_of("smooth", smooth, SMOOTHING)
    if smooth_value is None:
        return _DEFAULT_SMOOTH_VALUE.get(smooth, 0.0)
    return number("smooth_value", smooth_value, min=0)


def corpus_bleu(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[Sequence[str]]], *,
                max_n: int = 4, smooth: str = "exp", smooth_value: float | None = None) -> BLEUScore:
    """Corpus BLEU of tokenized ``hypotheses`` against ``references`` (one list of references each).

    Matches and totals of each n-gram order are summed over the whole corpus before
    dividing, and the brevity penalty uses the summed hypothesis length and the summed
    closest reference lengths. ``smooth`` handles an order with no match (which would make
    the geometric mean 0): ``"none"``, ``"floor"`` (use ``smooth_value``/total), ``"add-k"``
    (add ``smooth_value`` to matches and totals for n > 1) or ``"exp"`` (1/(2^k · total) for
    the k-th zero, sacrebleu's default). The same statistics give sacrebleu's number.
    """
    refs = _check_corpus(hypotheses, references)
    value = _smoothing(smooth, smooth_value)
    integer("max_n", max_n, min=1)
    matches, totals = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for hyp, rs in zip(hypotheses, refs):
        hyp_len += len(hyp)
        ref_len += closest_ref_length(len(hyp), [len(r) for r in rs])
        for n in range(1, max_n + 1):
            m, t = modified_precision_counts(hyp, rs, n)
            matches[n - 1] += m
            totals[n - 1] += t
    return _bleu(matches, totals, hyp_len, ref_len, smooth, value)


def _bleu(matches: Sequence[int], totals: Sequence[int], hyp_len: int, ref_len: int, smooth: str,
          value: float) -> BLEUScore:
    """BLEU from corpus-level counts (the second half of :func:`corpus_bleu`)."""
    max_n = len(matches)
    bp = brevity_penalty(hyp_len, ref_len)
    precisions = [0.0] * max_n
    if not any(matches):
        return BLEUScore(0.0, tuple(precisions), bp, hyp_len, ref_len, tuple(matches), tuple(totals))
    halvings = 1.0
    for n in range(max_n):
        m, t = float(matches[n]), float(totals[n])
        if smooth == "add-k" and n > 0:
            m, t = m + value, t + value
        if t == 0:                                     # sentences too short for this order: stop here
            break
        if m > 0:
            precisions[n] = 100.0 * m / t
        elif smooth == "exp":
            halvings *= 2
            precisions[n] = 100.0 / (halvings * t)
        elif smooth == "floor":
            precisions[n] = 100.0 * value / t
    log_sum = sum(math.log(p) if p > 0 else -9_999_999_999 for p in precisions)
    score = bp * math.exp(log_sum / max_n)
    return BLEUScore(score, tuple(precisions), bp, hyp_len, ref_len, tuple(matches), tuple(totals))


def bleu_statistics(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[Sequence[str]]], *,
                    max_n: int = 4) -> list[tuple[int, ...]]:
    """One row of BLEU's sufficient statistics per sentence:
    ``(matches_1 … matches_max_n, totals_1 … totals_max_n, hyp_len, closest_ref_len)``.

    Corpus BLEU only ever adds these counts up, so the BLEU of any subset (or resample) of
    the sentences is :func:`bleu_from_statistics` of the sum of their rows — which is what
    makes bootstrap resampling of BLEU (notebook 13) cheap.
    """
    refs = _check_corpus(hypotheses, references)
    integer("max_n", max_n, min=1)
    rows = []
    for hyp, rs in zip(hypotheses, refs):
        counts = [modified_precision_counts(hyp, rs, n) for n in range(1, max_n + 1)]
        rows.append(tuple(m for m, _ in counts) + tuple(t for _, t in counts)
                    + (len(hyp), closest_ref_length(len(hyp), [len(r) for r in rs])))
    return rows


def bleu_from_statistics(statistics, *, smooth: str = "exp", smooth_value: float | None = None) -> BLEUScore:
    """Corpus BLEU from :func:`bleu_statistics` rows (a list of rows or a 2-D array; they are summed)
    or from one already-summed row; equal to :func:`corpus_bleu` on the same sentences."""
    value = _smoothing(smooth, smooth_value)
    arr = np.asarray(statistics, dtype=float)
    if arr.ndim == 2:
        arr = arr.sum(axis=0)
    if arr.ndim != 1 or arr.size < 4 or arr.size % 2 or not (arr >= 0).all() or not np.isfinite(arr).all():
        raise ArgumentError("statistics must be rows of finite non-negative "
                            "(matches_1..n, totals_1..n, hyp_len, ref_len) "
                            f"as bleu_statistics returns them; got shape {np.shape(statistics)}")
    width, total = arr.size, [int(round(x)) for x in arr]
    max_n = (width - 2) // 2
    return _bleu(total[:max_n], total[max_n:2 * max_n], total[-2], total[-1], smooth, value)


def sentence_bleu(hypothesis: Sequence[str], references: Sequence[Sequence[str]], **kwargs) -> BLEUScore:
    """BLEU of one tokenized sentence (smoothed with ``"exp"`` unless ``smooth`` says otherwise)."""
    return corpus_bleu([hypothesis], [references], **kwargs)

