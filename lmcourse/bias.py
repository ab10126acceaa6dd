"""Measuring associations in embeddings: the Word Embedding Association Test (WEAT).

WEAT (Caliskan, Bryson and Narayanan 2017, *Science* 356(6334)) asks whether two sets of
*target* words X and Y (e.g. male and female terms) sit differently close to two sets of
*attribute* words A and B (e.g. career and family words). Each word's association is
``s(w, A, B) = mean_a cos(w, a) - mean_b cos(w, b)``; :func:`weat_effect_size` is the
difference of the mean association of X and Y divided by the standard deviation over
X ∪ Y (a Cohen's-d-like number between about -2 and 2); :func:`weat_p_value` is a
one-sided permutation test of the statistic ``Σ_x s(x) - Σ_y s(y)`` over all equal-size
re-splits of X ∪ Y. The word lists the course uses are below, written for the course.
"""

from __future__ import annotations

import itertools
import math
import random

import torch
import torch.nn.functional as F

from ._checks import ArgumentError, finite_tensor, integer, tensor

# Word lists written for notebook 15 (every word occurs in tinyshakespeare).
MALE_TERMS = ["he", "him", "his", "man", "men", "father", "son", "brother", "king", "lord", "sir", "husband"]
FEMALE_TERMS = ["she", "her", "hers", "woman", "women", "mother", "daughter", "sister", "queen", "lady", "madam",
                "wife"]
WAR_WORDS = ["war", "sword", "battle", "soldier", "fight", "arms", "blood", "enemy", "kill", "army", "victory", "foe"]
HOME_WORDS = ["love", "home", "child", "kiss", "gentle", "beauty", "marriage", "heart", "tender", "sweet", "fair",
              "wedding"]
# A control: two sets of words with no reason to differ (the first and second halves of a list of plain nouns).
NOUNS_1 = ["house", "door", "table", "water", "stone", "horse", "tree", "book"]
NOUNS_2 = ["window", "chair", "wine", "field", "bird", "gold", "ship", "letter"]


def _check_sets(**sets: torch.Tensor) -> None:
    sizes = {}
    for name, vectors in sets.items():
        tensor(name, vectors, shape=("n", "d") if not sizes else (None, "d"), sizes=sizes)
        if len(vectors) == 0:
            raise ArgumentError(f"{name} must be a non-empty (n, d) tensor of word vectors; "
                                f"got shape {tuple(vectors.shape)}")
        finite_tensor(name, vectors)


def associations(W: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``s(w, A, B) = mean_a cos(w, a) - mean_b cos(w, b)`` for every row w of ``W``:
    (n, d), (nA, d), (nB, d) -> (n,)."""
    _check_sets(W=W, A=A, B=B)
    return _associations(W, A, B)


def _associations(W: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    W, A, B = (F.normalize(t.double(), dim=-1) for t in (W, A, B))
    return (W @ A.T).mean(1) - (W @ B.T).mean(1)


def weat_effect_size(X: torch.Tensor, Y: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> float:
    """WEAT effect size: ``(mean_x s(x) - mean_y s(y)) / std_{w ∈ X ∪ Y} s(w)`` (sample std, ddof=1).

    Positive when X is closer to A (and Y to B) than the other way round. X and Y are
    (n, d) and (m, d) target word vectors, A and B attribute word vectors.
    """
    _check_sets(X=X, Y=Y, A=A, B=B)
    if len(X) + len(Y) < 3:
        raise ArgumentError(f"X and Y need at least 3 words together for a standard deviation; got {len(X) + len(Y)}")
    sx, sy = _associations(X, A, B), _associations(Y, A, B)
    return float((sx.mean() - sy.mean()) / torch.cat([sx, sy]).std())


def weat_p_value(X: torch.Tensor, Y: torch.Tensor, A: torch.Tensor, B: torch.Tensor, *,
                 n_permutations: int = 10_000, seed: int = 0) -> float:
    """One-sided permutation p-value: the share of equal-size splits (Xᵢ, Yᵢ) of X ∪ Y whose statistic
    ``Σ_{x ∈ Xᵢ} s(x, A, B) - Σ_{y ∈ Yᵢ} s(y, A, B)`` is >= the observed one.

    X and Y must have the same size. When there are at most ``n_permutations`` splits,
    all of them are tried (an exact test, the observed split included); otherwise
    ``n_permutations`` random splits are drawn and the observed one is counted once
    more, ``(1 + #{>=}) / (1 + n)``, so the p-value is never 0.
    """
    _check_sets(X=X, Y=Y, A=A, B=B)
    if len(X) != len(Y):
        raise ArgumentError(f"X and Y must have the same number of words for the permutation test; "
                            f"got {len(X)} and {len(Y)}")
    integer("n_permutations", n_permutations, min=1)
    s = _associations(torch.cat([X, Y]), A, B)                         # (2n,): each word's association, once
    n, total = len(X), float(s.sum())
    observed = float(s[:n].sum()) * 2 - total                           # Σ_X s - Σ_Y s = 2 Σ_X s - Σ_all s
    tol = 1e-12 * max(1.0, abs(observed))                                # float sums in another order: count ties
    if math.comb(2 * n, n) <= n_permutations:
        splits = torch.tensor(list(itertools.combinations(range(2 * n), n)))
        stats = s[splits].sum(1) * 2 - total
        return float((stats >= observed - tol).double().mean())
    rng = random.Random(seed)
    splits = torch.tensor([rng.sample(range(2 * n), n) for _ in range(n_permutations)])
    stats = s[splits].sum(1) * 2 - total
    return (1 + int((stats >= observed - tol).sum())) / (1 + n_permutations)
