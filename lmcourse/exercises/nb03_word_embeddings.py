"""Checkers for notebook 03: cosine similarity, skip-gram pairs after subsampling, analogies, and the gradients of
the negative-sampling loss written by hand."""

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
    """``cosine_similarity(u, v)`` must return u·v / (|u| |v|) as a Python float."""
    return check_function(cosine_similarity, _cosine, _COSINE_CASES, name="check_cosine_similarity",
                          atol=1e-5, mistakes=[
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


# ----------------------------------------------------------------------------- exercise 2: pairs after subsampling

T, F = True, False
_KEPT_CASES = [
    Case(([10, 11, 12, 13, 14], [T, F, T, T, F], 1),
         label="ids=[10, 11, 12, 13, 14], keep=[T, F, T, T, F], window=1"),
    Case(([10, 11, 12, 13, 14], [T, T, T, T, T], 2), label="ids=[10, 11, 12, 13, 14], everything kept, window=2"),
    Case(([7, 7, 8, 7, 9], [T, F, T, T, T], 2),
         label="ids=[7, 7, 8, 7, 9], keep=[T, F, T, T, T], window=2 (repeated words are separate positions)"),
    Case(([1, 2, 3, 4, 5, 6], [F, T, F, F, T, F], 3),
         label="ids=[1, 2, 3, 4, 5, 6], keep=[F, T, F, F, T, F], window=3 (window longer than what is kept)"),
    Case(([4, 5, 6], [F, F, F], 2), label="ids=[4, 5, 6], nothing kept, window=2"),
    Case(([3, 9, 3, 9, 3], [T, F, T, F, T], 1), label="ids=[3, 9, 3, 9, 3], keep=[T, F, T, F, T], window=1"),
]


def _window_pairs(seq, window, centres=None):
    """(centre, context) at most ``window`` positions apart in ``seq``; only centre positions in ``centres``."""
    return [(seq[i], seq[j]) for i in range(len(seq)) if centres is None or i in centres
            for j in range(max(0, i - window), min(len(seq), i + window + 1)) if j != i]


def _kept_pairs(ids, keep, window):
    return _window_pairs([w for w, k in zip(ids, keep) if k], window)


def _pairs_then_drop(ids, keep, window):
    return [(ids[i], ids[j]) for i in range(len(ids)) for j in range(max(0, i - window), min(len(ids), i + window + 1))
            if j != i and keep[i] and keep[j]]


def check_pairs_after_subsampling(pairs_after_subsampling) -> Result:
    """``pairs_after_subsampling(ids, keep, window)``: the skip-gram pairs of the words that survive subsampling,
    the window counted in surviving words, as a list of (centre, context) tuples in order."""
    return check_function(pairs_after_subsampling, _kept_pairs, _KEPT_CASES, name="check_pairs_after_subsampling",
                          mistakes=[
        Mistake(_pairs_then_drop,
                "you built the pairs on the full text and then dropped those that touch a removed word, so the "
                "window still counts the removed words. Subsampling removes them first: build the pairs on the "
                "kept words only, so a dropped word no longer takes a place in the window."),
        Mistake(lambda ids, keep, window: _window_pairs(list(ids), window),
                "keep was ignored: every word is there. Keep position i only where keep[i] is True, then pair."),
        Mistake(lambda ids, keep, window: _window_pairs(list(ids), window, {i for i, k in enumerate(keep) if k}),
                "only the centre words were subsampled; their contexts still come from the full text. A removed "
                "word is neither a centre nor a context."),
    ])


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


# ----------------------------------------------------------------------------- exercise 4: SGNS gradients by hand

def _sgns_loss(V_in, U_out, centre, context, negatives):
    v = V_in[centre]                                                   # (B, D)
    pos = (U_out[context] * v).sum(-1)                                 # (B,)
    neg = (U_out[negatives] * v[:, None, :]).sum(-1)                   # (B, K)
    return -(torch.nn.functional.logsigmoid(pos) + torch.nn.functional.logsigmoid(-neg).sum(-1)).mean()


def _sgns_grads(V_in, U_out, centre, context, negatives):
    V_in, U_out = V_in.detach().requires_grad_(), U_out.detach().requires_grad_()
    with torch.enable_grad():
        dV, dU = torch.autograd.grad(_sgns_loss(V_in, U_out, centre, context, negatives), [V_in, U_out])
    return dV, dU


def _hand_grads(V_in, U_out, centre, context, negatives, *, accumulate=True, mean=True, neg_label=0.0,
                neg_into_v=True, sign=1.0):
    B = len(centre) if mean else 1
    v, u_pos, u_neg = V_in[centre], U_out[context], U_out[negatives]          # (B, D), (B, D), (B, K, D)
    g_pos = (torch.sigmoid((u_pos * v).sum(-1)) - 1) / B                      # (B,)
    g_neg = (torch.sigmoid((u_neg * v[:, None]).sum(-1)) - neg_label) / B     # (B, K)
    into_v = g_pos[:, None] * u_pos + ((g_neg[..., None] * u_neg).sum(1) if neg_into_v else 0)
    into_u_pos, into_u_neg = g_pos[:, None] * v, (g_neg[..., None] * v[:, None]).flatten(0, 1)
    dV, dU = torch.zeros_like(V_in), torch.zeros_like(U_out)
    if accumulate:
        dV.index_add_(0, centre, into_v)
        dU.index_add_(0, context, into_u_pos)
        dU.index_add_(0, negatives.flatten(), into_u_neg)
    else:                                   # indexed assignment: a row that occurs twice keeps one contribution
        dV[centre] = into_v
        dU[context] = into_u_pos
        dU[negatives.flatten()] = into_u_neg
    return sign * dV, sign * dU


def _sgns_cases() -> list[Case]:
    gen = torch.Generator().manual_seed(3)
    cases = []
    for V, D, centre, context, negatives, scale, what in (
            (5, 3, [0], [1], [[2]], 1.0, "one pair, one noise word, all different"),
            (6, 4, [1, 1, 2, 1], [3, 0, 3, 4], [[3, 5, 5], [2, 4, 0], [1, 1, 5], [0, 2, 3]], 1.0,
             "centre 1 three times, a noise word equal to the context, one noise word drawn twice"),
            (4, 2, [0, 1, 2], [1, 2, 0], [[2, 3], [0, 3], [1, 1]], 1.0, "words that are centres and contexts"),
            (3, 5, [2, 2], [2, 0], [[1, 1, 1, 0, 2], [0, 0, 1, 2, 2]], 2.0,
             "a vocabulary of 3: every word repeats, even centre = context"),
            (7, 3, [6, 0, 3, 3, 5], [0, 6, 2, 2, 1], [[1, 2], [3, 4], [5, 5], [6, 0], [3, 3]], 3.0,
             "five pairs, large scores"),
    ):
        V_in = torch.randn(V, D, generator=gen) * scale
        U_out = torch.randn(V, D, generator=gen) * scale
        B, K = len(centre), len(negatives[0])
        cases.append(Case((V_in, U_out, torch.tensor(centre), torch.tensor(context), torch.tensor(negatives)),
                          label=f"V={V}, D={D}, B={B}, K={K}: {what}"))
    return cases


def check_sgns_grads(sgns_grads) -> Result:
    """``sgns_grads(V_in, U_out, centre, context, negatives) -> (dV_in, dU_out)``: the gradients of the mean
    negative-sampling loss with respect to both (V, D) tables, by hand."""
    return check_function(sgns_grads, _sgns_grads, _sgns_cases(), name="check_sgns_grads", atol=1e-5, mistakes=[
        Mistake(lambda *a: _hand_grads(*a, accumulate=False),
                "a word that occurs more than once in the batch (a repeated centre, a noise word drawn twice, a "
                "noise word equal to the context) got only one of its contributions: dV[centre] = ... overwrites. "
                "Add them up: dV.index_add_(0, centre, rows) (and the same for dU)."),
        Mistake(lambda *a: _hand_grads(*a, mean=False),
                "your gradients are B times too large: the loss is the mean over the B pairs, so every term "
                "carries a factor 1 / B."),
        Mistake(lambda *a: _hand_grads(*a, neg_label=1.0),
                "the noise words were treated like real pairs. For a score s with label y the loss's slope is "
                "sigmoid(s) - y: sigmoid(s) - 1 for the real pair, sigmoid(s) - 0 for each noise word."),
        Mistake(lambda *a: _hand_grads(*a, neg_into_v=False),
                "dV_in is missing the noise words' part: the centre vector v_c meets every u_k too, so its "
                "gradient is (sigmoid(s_o) - 1) u_o + sum_k sigmoid(s_k) u_k (divided by B)."),
        Mistake(lambda *a: _hand_grads(*a, sign=-1.0),
                "every sign is flipped: that is the direction to move (minus the gradient). Return the gradient "
                "itself, what loss.backward() would put in .grad."),
    ])
