"""Notebook 14's checkers beyond their Mistakes: the package's answers and crashing functions."""


from lmcourse import compression as C
from lmcourse.exercises import nb14_small_and_fast as ex


def test_package_functions_pass_their_checkers():
    assert ex.check_quantize_per_channel(C.quantize_int8).passed
    assert ex.check_magnitude_mask(C.magnitude_mask).passed
    assert ex.check_distillation_loss(lambda s, t, T: C.distillation_loss(s, t, temperature=T, alpha=1.0)).passed


def test_a_crashing_answer_is_reported_with_its_error():
    result = ex.check_lora_merge(lambda W, A, B, alpha: W + A @ B)
    assert not result.passed and "raised RuntimeError" in result.message
