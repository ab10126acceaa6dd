"""Checkers of notebook 09 accept the notebook's own solutions and catch the usual mistakes."""

import pytest
import torch

from lmcourse.exercises import nb09_gpt as ex
from lmcourse.exercises.nb09_gpt import (_mlp_width_c, _no_biases, _no_final_norm, _no_positions, _nucleus_ascending,
                                          _nucleus_keep_below, _nucleus_sorted_positions, _nucleus_unsorted, _with_head)
from lmcourse.gpt import parameter_count
from lmcourse.sampling import top_p_filter
from solutions import solution_namespace


@pytest.fixture(scope="module")
def solved():
    return solution_namespace("09_gpt_from_scratch", setup="import math, torch\n"
                                                            "from lmcourse.exercises import nb09_gpt as ex")


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


@pytest.mark.parametrize("wrong, hint", [
    (_nucleus_keep_below, "crosses"),
    (_nucleus_sorted_positions, "put it back in vocabulary order"),
    (_nucleus_unsorted, "sort them, most likely first"),
    (_nucleus_ascending, "least likely first"),
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


@pytest.mark.parametrize("wrong, hint", [
    (_with_head, "tied"), (_no_positions, "position embedding"), (_no_biases, "biases"),
    (_mlp_width_c, "4·C wide"), (_no_final_norm, "ln_f"),
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
