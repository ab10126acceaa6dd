"""Notebook 09's checkers beyond their Mistakes: the package's answers, a learner's own formula, unknown mistakes."""

import torch

from lmcourse.attention import causal_mask
from lmcourse.exercises import nb09_gpt_from_scratch as ex
from lmcourse.gpt import parameter_count
from lmcourse.sampling import top_p_filter


def test_package_functions_pass_their_checkers():
    assert ex.check_causal_mask(causal_mask).passed
    assert ex.check_top_p(lambda probs, p: top_p_filter(probs.log(), p).isfinite()).passed
    assert ex.check_parameter_count(parameter_count).passed


def test_a_parameter_count_written_as_a_learners_formula_passes():
    def count(c):
        C = c.n_embd
        block = 4 * C * C + 8 * C * C + (4 * C + 4 * C + C + 4 * C)  # attention, MLP, their biases, two LayerNorms
        return c.vocab_size * C + c.block_size * C + c.n_layer * block + 2 * C
    assert ex.check_parameter_count(count).passed


def test_top_k_is_not_top_p():
    result = ex.check_top_p(lambda probs, p: torch.zeros_like(probs, dtype=torch.bool).scatter(
        -1, probs.topk(2).indices, True))
    assert not result.passed and result.failed_case is not None


def test_a_float_mask_is_rejected():
    result = ex.check_top_p(lambda probs, p: (probs.sort(-1, descending=True)[0].cumsum(-1) * 0 + 1.0))
    assert not result.passed and "✘ check_top_p" in result.message


def test_unwritten_exercises_say_so():
    def todo(*args):
        raise NotImplementedError
    for checker in (ex.check_causal_mask, ex.check_top_p, ex.check_parameter_count):
        result = checker(todo)
        assert not result.passed and "not written yet" in result.message
