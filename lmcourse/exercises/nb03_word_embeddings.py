"""Checkers for notebook 03: cosine similarity, and the (centre, context) pairs of skip-gram."""

from __future__ import annotations

import torch

from .checking import Case, Mistake, Result, check_function

# ----------------------------------------------------------------------------- exercise 1: cosine similarity

_COSINE_CASES = [
    Case((torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])), label="u=[1, 0], v=[0, 1] (orthogonal)"),
    Case((torch.tensor([3.0, 4.0]), torch.tensor([6.0, 8.0])),
         label="u=[3, 4], v=[6, 8] (same direction, lengths 5 and 10)"),
    Case((torch.tensor([1.0, 2.0, 2.0]), torch.tensor([-2.0, -4.0, -4.0])),
         label="u=[1, 2, 2], v=[-2, -4, -4] (opposite)"),
    Case((torch.tensor([2.0, 1.0, 0.0, 3.0]), torch.tensor([1.0, 5.0, 2.0, 0.5])),
         label="u=[2, 1, 0, 3], v=[1, 5, 2, 0.5]"),
]


def _cosine(u, v):
    return float(u @ v / (u.norm() * v.norm()))


def check_cosine_similarity(cosine_similarity) -> Result:
    """``cosine_similarity(u, v)`` must return u·v / (|u| |v|) as a float."""
    return check_function(cosine_similarity, _cosine, _COSINE_CASES, name="check_cosine_similarity",
                          compare=_close, mistakes=[
        Mistake(lambda u, v: float(u @ v),
                "this is the dot product: it grows with the vectors' lengths. Divide by |u| * |v| so only the "
                "angle counts (cosine of [3, 4] and [6, 8] is 1)."),
        Mistake(lambda u, v: 1 - _cosine(u, v),
                "this is the cosine *distance*, 1 - cos. Similar words should score close to 1, not 0."),
        Mistake(lambda u, v: float(u @ v / u.norm()),
                "you divided by the length of u only; divide by |u| * |v|."),
        Mistake(lambda u, v: float(u @ v / (u.norm() * v.norm()) ** 2),
                "you divided by the squared lengths; cosine divides by |u| * |v| once."),
    ])


def _close(got, expected) -> bool:
    try:
        return abs(float(got) - float(expected)) < 1e-5
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------------------- exercise 2: skip-gram pairs

_PAIR_CASES = [
    Case(([10, 11, 12, 13], 1), label="ids=[10, 11, 12, 13], window=1"),
    Case(([10, 11, 12, 13, 14], 2), label="ids=[10, 11, 12, 13, 14], window=2"),
    Case(([7, 7, 8], 2), label="ids=[7, 7, 8], window=2 (a repeated word is still a separate position)"),
    Case(([5], 3), label="ids=[5], window=3 (one word: no pairs)"),
]


def _pairs(ids, window, *, right_only=False, short=0, with_self=False):
    out = []
    for i, c in enumerate(ids):
        lo = i if right_only else i - window
        for j in range(max(lo, 0), min(i + window - short, len(ids) - 1) + 1):
            if j != i or with_self:
                out.append((c, ids[j]))
    return out


def check_skipgram_pairs(skipgram_pairs) -> Result:
    """``skipgram_pairs(ids, window)`` must list (centre, context) for every context at most ``window`` away,
    ordered by centre position, then by context position."""
    return check_function(skipgram_pairs, _pairs, _PAIR_CASES, name="check_skipgram_pairs",
                          compare=_same_pairs, mistakes=[
        Mistake(lambda ids, w: _pairs(ids, w, with_self=True),
                "each word was paired with itself. The centre word is not its own context: skip j == i."),
        Mistake(lambda ids, w: _pairs(ids, w, right_only=True),
                "only words to the right were used. Skip-gram's window reaches `window` words on *both* sides."),
        Mistake(lambda ids, w: _pairs(ids, w, short=1),
                "the window is one word too short: range(i - window, i + window) stops before i + window. "
                "Use range(i - window, i + window + 1)."),
        Mistake(lambda ids, w: [(ids[j], c) for c, j in [(c, j) for i, c in enumerate(ids)
                                                         for j in range(max(i - w, 0), min(i + w, len(ids) - 1) + 1)
                                                         if j != i]],
                "the pairs are the wrong way round: put the centre word first, (centre, context)."),
    ])


def _same_pairs(got, expected) -> bool:
    try:
        return [tuple(int(x) for x in p) for p in got] == expected
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------------------- exercise 3: analogies

def _unit_rows(E):
    return E / E.norm(dim=1, keepdim=True)


def _toy_space():
    # dimensions: royal, common, male, female, adult, young — every word has length sqrt(3) before normalising
    itos = ["king", "queen", "man", "woman", "prince", "princess", "boy", "girl"]
    rows = [[1, 0, 1, 0, 1, 0], [1, 0, 0, 1, 1, 0], [0, 1, 1, 0, 1, 0], [0, 1, 0, 1, 1, 0],
            [1, 0, 1, 0, 0, 1], [1, 0, 0, 1, 0, 1], [0, 1, 1, 0, 0, 1], [0, 1, 0, 1, 0, 1]]
    return _unit_rows(torch.tensor(rows, dtype=torch.float)), itos


def _random_space(seed, n=12, dim=8):
    g = torch.Generator().manual_seed(seed)
    return _unit_rows(torch.randn(n, dim, generator=g)), [f"w{i}" for i in range(n)]


_TOY_E, _TOY_ITOS = _toy_space()
_R1_E, _R1_ITOS = _random_space(1)
_R2_E, _R2_ITOS = _random_space(2)
_ANALOGY_CASES = [
    Case((_TOY_E, _TOY_ITOS, "man", "woman", "king"), label="toy space, man : woman :: king : ?"),
    Case((_TOY_E, _TOY_ITOS, "boy", "prince", "girl"), label="toy space, boy : prince :: girl : ?"),
    Case((_R1_E, _R1_ITOS, "w0", "w1", "w2"), label="12 random unit vectors, w0 : w1 :: w2 : ?"),
    Case((_R2_E, _R2_ITOS, "w3", "w4", "w5"), label="12 other random unit vectors, w3 : w4 :: w5 : ?"),
]


def _solve(E, itos, a, b, c, *, exclude=True, sign=1):
    ia, ib, ic = (itos.index(w) for w in (a, b, c))
    target = sign * (E[ib] - E[ia]) + E[ic]
    sims = (E @ target) / (E.norm(dim=1) * target.norm())
    if exclude:
        sims[[ia, ib, ic]] = -float("inf")
    return itos[int(sims.argmax())]


def check_solve_analogy(solve_analogy) -> Result:
    """``solve_analogy(E, itos, a, b, c)`` must return the word nearest (cosine) to b - a + c, other than a, b, c."""
    return check_function(solve_analogy, _solve, _ANALOGY_CASES, name="check_solve_analogy", mistakes=[
        Mistake(lambda E, itos, a, b, c: _solve(E, itos, a, b, c, sign=-1),
                "the offset points the wrong way: you computed a - b + c. a : b :: c : d means d - c ≈ b - a, "
                "so the target is b - a + c."),
        Mistake(lambda E, itos, a, b, c: _solve(E, itos, a, b, c, exclude=False),
                "a, b and c themselves were allowed as answers, and one of them won (b - a + c is usually "
                "closest to b or c). Exclude the three question words before taking the best match."),
        Mistake(lambda E, itos, a, b, c: itos.index(_solve(E, itos, a, b, c)),
                "you returned the row number of the best match; return the word itself, itos[best]."),
    ])
