"""Notebook 03's checkers beyond their Mistakes: the package's and torch's answers are accepted, answers in another
valid form pass, and plausible wrong answers written here (not taken from the checkers' own lists) are refused."""

import numpy as np
import torch

from lmcourse.embeddings import Vocabulary, analogy, cosine_matrix, skipgram_pairs
from lmcourse.exercises import nb03_word_embeddings as ex
from solutions import solution_namespace

# ----------------------------------------------------------------------------- wrong answers, written independently


def cosine_of_the_sum_of_squares(u, v):
    # divides by the sum of squared lengths instead of the product of the lengths
    return float(u @ v / (u @ u + v @ v))


def cosine_as_a_0d_tensor(u, v):
    # the right number, left as a tensor where a float is asked
    return u @ v / (u.norm() * v.norm())


def cosine_as_a_string(u, v):
    # formats the answer for printing instead of returning it
    return f"{float(u @ v / (u.norm() * v.norm())):.4f}"


def pairs_dropping_only_contexts(ids, keep, window):
    # subsamples the contexts but still uses every word as a centre
    kept = {i for i, k in enumerate(keep) if k}
    return [(ids[i], ids[j]) for i in range(len(ids))
            for j in range(max(0, i - window), min(len(ids), i + window + 1)) if j != i and j in kept]


def pairs_with_keep_inverted(ids, keep, window):
    # reads keep[i] as "drop position i"
    kept = [w for w, k in zip(ids, keep) if not k]
    return [(kept[i], kept[j]) for i in range(len(kept))
            for j in range(max(0, i - window), min(len(kept), i + window + 1)) if j != i]


def pairs_as_a_tensor(ids, keep, window):
    # returns the package's (N, 2) tensor where a list of tuples is asked
    return skipgram_pairs([w for w, k in zip(ids, keep) if k], window)


def pairs_grouped_by_context(ids, keep, window):
    # right pairs, sorted by context word instead of by centre position
    kept = [w for w, k in zip(ids, keep) if k]
    pairs = [(kept[i], kept[j]) for i in range(len(kept))
             for j in range(max(0, i - window), min(len(kept), i + window + 1)) if j != i]
    return sorted(pairs, key=lambda p: p[1])


def analogy_forgetting_c(E, itos, a, b, c):
    # the relation's offset b - a alone, never moved to c
    ia, ib, ic = (itos.index(w) for w in (a, b, c))
    scores = E @ (E[ib] - E[ia])
    scores[[ia, ib, ic]] = -float("inf")
    return itos[int(scores.argmax())]


def analogy_excluding_only_c(E, itos, a, b, c):
    # remembers to exclude the word asked about, c, but not a and b
    ia, ib, ic = (itos.index(w) for w in (a, b, c))
    scores = E @ (E[ib] - E[ia] + E[ic])
    scores[ic] = -float("inf")
    return itos[int(scores.argmax())]


def analogy_returning_the_top_two(E, itos, a, b, c):
    # returns the two best words instead of the best one
    ia, ib, ic = (itos.index(w) for w in (a, b, c))
    scores = E @ (E[ib] - E[ia] + E[ic])
    scores[[ia, ib, ic]] = -float("inf")
    return [itos[int(i)] for i in scores.topk(2).indices]


def _slopes(V_in, U_out, centre, context, negatives):
    v, u_pos, u_neg = V_in[centre], U_out[context], U_out[negatives]
    return v, u_pos, u_neg, torch.sigmoid((u_pos * v).sum(-1)) - 1, torch.sigmoid((u_neg * v[:, None]).sum(-1))


def sgns_grads_without_the_output_table_for_noise(V_in, U_out, centre, context, negatives):
    # updates u for the real context only, never the noise words' output vectors
    v, u_pos, u_neg, g_pos, g_neg = _slopes(V_in, U_out, centre, context, negatives)
    B = len(centre)
    dV = torch.zeros_like(V_in).index_add_(0, centre, (g_pos[:, None] * u_pos + (g_neg[..., None] * u_neg).sum(1)) / B)
    dU = torch.zeros_like(U_out).index_add_(0, context, g_pos[:, None] * v / B)
    return dV, dU


def sgns_grads_with_the_tables_swapped(V_in, U_out, centre, context, negatives):
    # right numbers, returned as (dU_out, dV_in)
    v, u_pos, u_neg, g_pos, g_neg = _slopes(V_in, U_out, centre, context, negatives)
    B = len(centre)
    dV = torch.zeros_like(V_in).index_add_(0, centre, (g_pos[:, None] * u_pos + (g_neg[..., None] * u_neg).sum(1)) / B)
    dU = torch.zeros_like(U_out).index_add_(0, context, g_pos[:, None] * v / B)
    dU.index_add_(0, negatives.flatten(), (g_neg[..., None] * v[:, None]).flatten(0, 1) / B)
    return dU, dV


def sgns_grads_per_pair_rows(V_in, U_out, centre, context, negatives):
    # returns the (B, D) gradients of the batch's rows instead of the (V, D) table gradients
    v, u_pos, u_neg, g_pos, g_neg = _slopes(V_in, U_out, centre, context, negatives)
    B = len(centre)
    return (g_pos[:, None] * u_pos + (g_neg[..., None] * u_neg).sum(1)) / B, g_pos[:, None] * v / B


def sgns_grads_with_the_mean_over_k_too(V_in, U_out, centre, context, negatives):
    # averages the K noise terms as well, as if the loss were a mean over all B * (1 + K) scores
    v, u_pos, u_neg, g_pos, g_neg = _slopes(V_in, U_out, centre, context, negatives)
    B, K = negatives.shape
    g_pos, g_neg = g_pos / B, g_neg / (B * K)
    dV = torch.zeros_like(V_in).index_add_(0, centre, g_pos[:, None] * u_pos + (g_neg[..., None] * u_neg).sum(1))
    dU = torch.zeros_like(U_out).index_add_(0, context, g_pos[:, None] * v)
    dU.index_add_(0, negatives.flatten(), (g_neg[..., None] * v[:, None]).flatten(0, 1))
    return dV, dU


WRONG_ANSWERS = {
    "check_cosine_similarity": [cosine_of_the_sum_of_squares, cosine_as_a_0d_tensor, cosine_as_a_string],
    "check_pairs_after_subsampling": [pairs_dropping_only_contexts, pairs_with_keep_inverted, pairs_as_a_tensor,
                                      pairs_grouped_by_context],
    "check_solve_analogy": [analogy_forgetting_c, analogy_excluding_only_c,
                            analogy_returning_the_top_two],
    "check_sgns_grads": [sgns_grads_without_the_output_table_for_noise, sgns_grads_with_the_tables_swapped,
                         sgns_grads_per_pair_rows, sgns_grads_with_the_mean_over_k_too],
}


# ----------------------------------------------------------------------------- the real thing, other valid forms

def test_check_cosine_similarity_accepts_torch_and_lmcourse_converted_to_float_and_a_numpy_float():
    assert ex.check_cosine_similarity(lambda u, v: torch.nn.functional.cosine_similarity(u, v, dim=0).item()).passed
    assert ex.check_cosine_similarity(lambda u, v: float(cosine_matrix(u[None], v[None])[0, 0])).passed
    assert ex.check_cosine_similarity(lambda u, v: np.float64(u @ v / (u.norm() * v.norm()))).passed


def test_a_cosine_left_as_a_tensor_is_told_to_convert_it():
    result = ex.check_cosine_similarity(cosine_as_a_0d_tensor)
    assert not result.passed and ".item()" in result.message


def test_check_pairs_after_subsampling_accepts_the_packages_pairs_as_lists_and_numpy_ids():
    def via_package(ids, keep, window):
        return [tuple(p) for p in skipgram_pairs([w for w, k in zip(ids, keep) if k], window).tolist()]
    assert ex.check_pairs_after_subsampling(via_package).passed
    assert ex.check_pairs_after_subsampling(lambda *a: [list(p) for p in via_package(*a)]).passed
    assert ex.check_pairs_after_subsampling(lambda *a: [tuple(np.int64(x) for x in p) for p in via_package(*a)]).passed


def test_check_solve_analogy_accepts_lmcourses_analogy():
    assert ex.check_solve_analogy(
        lambda E, itos, a, b, c: analogy(E, Vocabulary(list(itos), [1] * len(itos)), a, b, c)[0]).passed


def test_an_analogy_on_unnormalised_vectors_that_keeps_the_question_words_gets_the_exclusion_hint():
    def no_exclusion(E, itos, a, b, c):
        ia, ib, ic = (itos.index(w) for w in (a, b, c))
        return itos[int((E @ (E[ib] - E[ia] + E[ic])).argmax())]
    assert "Exclude the three question words" in ex.check_solve_analogy(no_exclusion).mistake


def test_check_sgns_grads_accepts_autograd_through_the_package_module_and_a_list_pair():
    from lmcourse.embeddings import SkipGram

    def via_module(V_in, U_out, centre, context, negatives):
        model = SkipGram(*V_in.shape)
        with torch.no_grad():
            model.inp.weight.copy_(V_in)
            model.out.weight.copy_(U_out)
        model(centre, context, negatives).backward()
        return [model.inp.weight.grad, model.out.weight.grad]
    assert ex.check_sgns_grads(via_module).passed


def test_the_sgns_solution_equals_autograd_in_float64_on_a_batch_full_of_repeats():
    sgns_grads = solution_namespace("03_word_embeddings")["sgns_grads"]
    g = torch.Generator().manual_seed(1)
    V_in, U_out = (torch.randn(5, 3, generator=g, dtype=torch.float64) for _ in range(2))
    centre, context, negatives = (torch.randint(0, 5, shape, generator=g) for shape in ((32,), (32,), (32, 4)))
    tables = [V_in.clone().requires_grad_(), U_out.clone().requires_grad_()]
    v = tables[0][centre]
    loss = -(torch.nn.functional.logsigmoid((tables[1][context] * v).sum(-1))
             + torch.nn.functional.logsigmoid(-(tables[1][negatives] * v[:, None]).sum(-1)).sum(-1)).mean()
    auto = torch.autograd.grad(loss, tables)
    ours = sgns_grads(V_in, U_out, centre, context, negatives)
    assert all(torch.allclose(a, b) for a, b in zip(ours, auto))
