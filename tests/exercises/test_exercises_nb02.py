"""Notebook 02's checkers beyond their Mistakes: other right answers, answers of the wrong kind, and wrong answers
written here, independently of the checkers' own lists of mistakes."""

import math

import numpy as np
import torch

from lmcourse.exercises import nb02_language_models as ex

# ----------------------------------------------------------------------------- wrong answers, written here


def perplexity_of_the_last_text_only(docs):  # overwrites the running total inside the loop
    for doc in docs:
        if doc:
            ppl = math.exp(-sum(math.log(p) for p in doc) / len(doc))
    return ppl


def perplexity_dividing_by_the_number_of_texts(docs):  # averages over texts, counting tokens in the numerator
    return math.exp(-sum(math.log(p) for d in docs for p in d) / len(docs))


def perplexity_in_bits_without_the_power(docs):  # cross-entropy in bits, never turned back into a perplexity
    logs = [math.log2(p) for d in docs for p in d]
    return -sum(logs) / len(logs)


def perplexity_as_a_tensor(docs):  # right number, but a 0-d tensor instead of a float
    logs = torch.tensor([p for d in docs for p in d], dtype=torch.float64).log()
    return torch.exp(-logs.mean())


def em_without_normalising_the_responsibilities(probs, steps):  # M-step on lambda * p, never divided per row
    lam = torch.full((probs.shape[1],), 1 / probs.shape[1], dtype=torch.float64)
    for _ in range(steps):
        lam = (lam * probs).mean(dim=0)
        lam = lam / lam.sum()
    return lam


def em_picking_the_best_order(probs, steps):  # hard EM: each position goes wholly to its most likely order
    lam = torch.full((probs.shape[1],), 1 / probs.shape[1], dtype=torch.float64)
    for _ in range(steps):
        winner = (lam * probs).argmax(dim=1)
        lam = torch.bincount(winner, minlength=probs.shape[1]).double() / probs.shape[0]
    return lam


def em_returning_a_list(probs, steps):  # right weights, as a Python list instead of a tensor
    lam = torch.full((probs.shape[1],), 1 / probs.shape[1], dtype=torch.float64)
    for _ in range(steps):
        resp = lam * probs / (lam * probs).sum(dim=1, keepdim=True)
        lam = resp.mean(dim=0)
    return lam.tolist()


def em_with_log_probabilities(probs, steps):  # mixes log-probabilities instead of probabilities
    logp = probs.clamp(min=1e-12).log()
    lam = torch.full((probs.shape[1],), 1 / probs.shape[1], dtype=torch.float64)
    for _ in range(steps):
        resp = lam * logp / (lam * logp).sum(dim=1, keepdim=True)
        lam = resp.mean(dim=0)
    return lam


WRONG_ANSWERS = {
    "check_pooled_perplexity": [perplexity_of_the_last_text_only, perplexity_dividing_by_the_number_of_texts,
                                perplexity_in_bits_without_the_power, perplexity_as_a_tensor],
    "check_em_lambdas": [em_without_normalising_the_responsibilities, em_picking_the_best_order,
                         em_returning_a_list, em_with_log_probabilities],
}

# ----------------------------------------------------------------------------- other right answers


def test_pooled_perplexity_in_base_two_or_from_numpy_is_the_same_perplexity():
    def base_two(docs):
        logs = [math.log2(p) for d in docs for p in d]
        return 2 ** (-sum(logs) / len(logs))

    def with_numpy(docs):
        logs = np.log(np.concatenate([np.asarray(d, dtype=float) for d in docs]))
        return np.exp(-logs.mean())            # an np.float64
    assert ex.check_pooled_perplexity(base_two).passed
    assert ex.check_pooled_perplexity(with_numpy).passed


def test_em_in_float32_or_with_a_loop_over_the_orders_is_a_right_answer():
    def in_float32(probs, steps):
        p = probs.float()
        lam = torch.ones(p.shape[1]) / p.shape[1]
        for _ in range(steps):
            resp = lam * p / (lam * p).sum(1, keepdim=True)
            lam = resp.sum(0) / p.shape[0]
        return lam

    def order_by_order(probs, steps):
        n, m = probs.shape
        lam = [1 / m] * m
        for _ in range(steps):
            mix = sum(lam[j] * probs[:, j] for j in range(m))
            lam = [(lam[j] * probs[:, j] / mix).mean().item() for j in range(m)]
        return torch.tensor(lam, dtype=torch.float64)
    assert ex.check_em_lambdas(in_float32).passed
    assert ex.check_em_lambdas(order_by_order).passed


# ----------------------------------------------------------------------------- what the checkers say


def test_a_list_where_a_tensor_is_asked_is_named_not_converted():
    result = ex.check_em_lambdas(em_returning_a_list)
    assert not result.passed and "expected a tensor" in result.message


def test_em_lambdas_stay_a_distribution_and_never_lower_the_likelihood_on_the_checkers_cases():
    probs = ex._SMALL
    loglik = []
    for steps in range(8):
        lam = ex._em(probs, steps)
        assert torch.all(lam >= 0) and math.isclose(lam.sum().item(), 1.0, abs_tol=1e-12)
        loglik.append((probs @ lam).log().sum().item())
    assert all(b >= a - 1e-12 for a, b in zip(loglik, loglik[1:]))


def test_em_converges_to_the_maximum_likelihood_weights_of_a_two_order_mixture():
    probs = torch.tensor([[0.1, 0.6], [0.5, 0.2], [0.3, 0.3], [0.05, 0.4]], dtype=torch.float64)
    grid = torch.linspace(0, 1, 10_001, dtype=torch.float64)
    loglik = torch.stack([(probs @ torch.stack([1 - w, w])).log().sum() for w in grid])
    best = grid[loglik.argmax()].item()
    assert abs(ex._em(probs, 500)[1].item() - best) < 1e-3
