"""Checkers of notebook 09 accept the notebook's own solutions and catch the usual mistakes."""

import pytest
import torch

from lmcourse.exercises import nb09_gpt_from_scratch as ex
from lmcourse.gpt import parameter_count
from lmcourse.sampling import top_p_filter
from solutions import solution_namespace


@pytest.fixture(scope="module")
def solved():
    return solution_namespace("09_gpt_from_scratch", setup="import math, torch\n"
                                                            "from lmcourse.exercises import nb09_gpt_from_scratch as ex")


def test_reference_solutions_pass(solved):
    assert ex.check_causal_mask(solved["causal_mask"]).passed
    assert ex.check_top_p(solved["nucleus"]).passed
    assert ex.check_parameter_count(solved["count_parameters"]).passed


def test_package_functions_pass_their_checkers():
    from lmcourse.attention import causal_mask
    assert ex.check_causal_mask(causal_mask).passed
    assert ex.check_top_p(lambda probs, p: top_p_filter(probs.log(), p).isfinite()).passed
    assert ex.check_parameter_count(parameter_count).passed


@pytest.mark.parametrize("wrong, hint", [
    (lambda t: torch.ones(t, t, dtype=torch.bool).triu(), "upper triangle"),
    (lambda t: torch.ones(t, t, dtype=torch.bool).tril(diagonal=-1), "diagonal is missing"),
    (lambda t: ~torch.ones(t, t, dtype=torch.bool).tril(), "inverted"),
    (lambda t: torch.ones(t, t).tril(), "dtype is float"),
])
def test_causal_mask_mistakes_get_their_hint(wrong, hint):
    result = ex.check_causal_mask(wrong)
    assert not result.passed and hint in result.mistake


# Wrong nucleus filters written the way a learner might, not taken from the checker.
def _keep_while_total_below(probs, p):
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    keep_sorted = torch.cumsum(sorted_probs, dim=-1) <= p
    return torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)


def _left_in_sorted_order(probs, p):
    sorted_probs = torch.sort(probs, dim=-1, descending=True).values
    return torch.cumsum(sorted_probs, dim=-1) - sorted_probs < p


def _in_vocabulary_order(probs, p):
    return torch.cumsum(probs, dim=-1) - probs < p


def _least_likely_first(probs, p):
    sorted_probs, order = torch.sort(probs, dim=-1)
    keep_sorted = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < p
    return torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)


@pytest.mark.parametrize("wrong, hint", [
    (_keep_while_total_below, "crosses"),
    (_left_in_sorted_order, "put it back in vocabulary order"),
    (_in_vocabulary_order, "sort them, most likely first"),
    (_least_likely_first, "least likely first"),
])
def test_top_p_mistakes_get_their_hint(wrong, hint):
    result = ex.check_top_p(wrong)
    assert not result.passed and hint in result.mistake


def test_top_k_is_not_top_p():
    result = ex.check_top_p(lambda probs, p: torch.zeros_like(probs, dtype=torch.bool).scatter(
        -1, probs.topk(2).indices, True))
    assert not result.passed and result.failed_case is not None


def test_a_float_mask_is_rejected():
    result = ex.check_top_p(lambda probs, p: (probs.sort(-1, descending=True)[0].cumsum(-1) * 0 + 1.0))
    assert not result.passed


def _count(c, *, untied_head=False, positions=True, vectors=True, mlp_width=4, final_norm=True):
    """A learner's parameter count of GPT(c), with one of the usual slips switched on."""
    C = c.n_embd
    weights = 4 * C * C + 2 * mlp_width * C * C                   # q, k, v, proj; MLP up and down
    vectors_per_block = 4 * C + mlp_width * C + C + 2 * 2 * C     # their biases; two LayerNorms
    block = weights + (vectors_per_block if vectors else 0)
    return (c.vocab_size * C * (2 if untied_head else 1) + (c.block_size * C if positions else 0)
            + c.n_layer * block + (2 * C if final_norm else 0))


def test_the_learners_formula_with_no_slip_is_right():
    assert ex.check_parameter_count(_count).passed


@pytest.mark.parametrize("wrong, hint", [
    (lambda c: _count(c, untied_head=True), "tied"),
    (lambda c: _count(c, positions=False), "position embedding"),
    (lambda c: _count(c, vectors=False), "biases"),
    (lambda c: _count(c, mlp_width=1), "4·C wide"),
    (lambda c: _count(c, final_norm=False), "ln_f"),
])
def test_parameter_count_mistakes_get_their_hint(wrong, hint):
    result = ex.check_parameter_count(wrong)
    assert not result.passed and hint in result.mistake


def test_unwritten_exercises_say_so():
    def todo(*args):
        raise NotImplementedError
    for checker in (ex.check_causal_mask, ex.check_top_p, ex.check_parameter_count):
        result = checker(todo)
        assert not result.passed and "not written yet" in result.message
