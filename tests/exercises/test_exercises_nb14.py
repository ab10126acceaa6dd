"""Notebook 14's checkers beyond their Mistakes: the package's answers, unfinished and crashing functions."""

import pytest

from lmcourse import compression as C
from lmcourse.exercises import nb14_small_and_fast as ex


def test_package_functions_pass_their_checkers():
    assert ex.check_quantize_per_channel(C.quantize_int8).passed
    assert ex.check_magnitude_mask(C.magnitude_mask).passed
    assert ex.check_distillation_loss(lambda s, t, T: C.distillation_loss(s, t, temperature=T, alpha=1.0)).passed


@pytest.mark.parametrize("check", [ex.check_quantize_per_channel, ex.check_magnitude_mask,
                                   ex.check_distillation_loss, ex.check_lora_merge])
def test_unwritten_exercise_is_reported_not_raised(check):
    def todo(*args):
        raise NotImplementedError
    result = check(todo)
    assert not result.passed and "not written yet" in result.message


def test_a_crashing_answer_is_reported_with_its_error():
    result = ex.check_lora_merge(lambda W, A, B, alpha: W + A @ B)
    assert not result.passed and "raised RuntimeError" in result.message
