"""Checkers of notebook 14 accept the notebook's own solutions and catch the usual compression mistakes."""

import pytest
import torch
import torch.nn.functional as F

from lmcourse import compression as C
from lmcourse.exercises import nb14_small_and_fast as ex
from solutions import solution_namespace


@pytest.fixture(scope="module")
def solved():
    return solution_namespace("14_small_and_fast", setup="import torch\nimport torch.nn.functional as F\n"
                                                          "from lmcourse.exercises import nb14_small_and_fast as ex")


def test_reference_solutions_pass(solved):
    assert ex.check_quantize_per_channel(solved["quantize"]).passed
    assert ex.check_magnitude_mask(solved["make_mask"]).passed
    assert ex.check_distillation_loss(solved["soft_loss"]).passed
    assert ex.check_lora_merge(solved["merge"]).passed


def test_package_functions_pass_their_checkers():
    assert ex.check_quantize_per_channel(C.quantize_int8).passed
    assert ex.check_magnitude_mask(C.magnitude_mask).passed
    assert ex.check_distillation_loss(lambda s, t, T: C.distillation_loss(s, t, temperature=T, alpha=1.0)).passed


def _q(w, scale, lo=-127, hi=127):
    return torch.clamp(torch.round(w / scale), lo, hi).to(torch.int8)


@pytest.mark.parametrize("wrong, hint", [
    (lambda w: (_q(w, w.abs().max() / 127), (w.abs().max() / 127).expand(len(w), 1)), "per-tensor"),
    (lambda w: (_q(w, w.abs().amax(0, keepdim=True) / 127), w.abs().amax(0, keepdim=True) / 127), "per input column"),
    (lambda w: ((w / (w.abs().amax(1, keepdim=True) / 127)).to(torch.int8), w.abs().amax(1, keepdim=True) / 127),
     "round it first"),
    (lambda w: (_q(w, w.abs().amax(1, keepdim=True) / 128, -128), w.abs().amax(1, keepdim=True) / 128), "/ 127"),
    (lambda w: (_q(w, w.abs().amax(1, keepdim=True) / 127).float(), w.abs().amax(1, keepdim=True) / 127), "still a float tensor"),
    (lambda w: (_q(w, w.abs().amax(1, keepdim=True) / 127), w.abs().amax(1) / 127), "has shape (out,)"),
])
def test_quantize_mistakes_get_their_hint(wrong, hint):
    result = ex.check_quantize_per_channel(wrong)
    assert not result.passed and hint in result.mistake


def _drop(w, k, key):
    mask = torch.ones(w.numel(), dtype=torch.bool)
    if k:
        mask[torch.topk(key(w).flatten(), k, largest=False).indices] = False
    return mask.view_as(w)


@pytest.mark.parametrize("wrong, hint", [
    (lambda w, s: ~_drop(w, round(s * w.numel()), torch.abs), "inverted"),
    (lambda w, s: _drop(w, round(s * w.numel()), lambda t: t), "absolute value"),
    (lambda w, s: _drop(w, round((1 - s) * w.numel()), torch.abs) if s else torch.zeros_like(w, dtype=torch.bool),
     "share to remove"),
    (lambda w, s: _drop(w, int(s * w.numel()), torch.abs), "rounds 3.6 down"),
])
def test_magnitude_mask_mistakes_get_their_hint(wrong, hint):
    result = ex.check_magnitude_mask(wrong)
    assert not result.passed and hint in result.mistake


def _rows(x):
    return x.reshape(-1, x.shape[-1])


def _kl(s, t, T, reduction="batchmean"):
    return F.kl_div(F.log_softmax(_rows(s) / T, -1), F.log_softmax(_rows(t) / T, -1), reduction=reduction,
                    log_target=True)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("wrong, hint", [
    (lambda s, t, T: _kl(s, t, T), "no T²"),
    (lambda s, t, T: _kl(t, s, T) * T * T, "direction is reversed"),
    (lambda s, t, T: F.kl_div(F.log_softmax(_rows(s), -1), F.log_softmax(_rows(t) / T, -1), reduction="batchmean",
                              log_target=True) * T * T, "soften both"),
    (lambda s, t, T: F.kl_div(F.softmax(_rows(s) / T, -1), F.softmax(_rows(t) / T, -1), reduction="batchmean") * T * T,
     "log-probabilities"),
    (lambda s, t, T: _kl(s, t, T, reduction="mean") * T * T, "batchmean"),
])
def test_distillation_mistakes_get_their_hint(wrong, hint):
    result = ex.check_distillation_loss(wrong)
    assert not result.passed and hint in result.mistake


@pytest.mark.parametrize("wrong, hint", [
    (lambda W, A, B, alpha: W + B @ A, "without its scale"),
    (lambda W, A, B, alpha: W + alpha * B @ A, "divide by the rank"),
    (lambda W, A, B, alpha: W + A.shape[0] / alpha * B @ A, "upside down"),
    (lambda W, A, B, alpha: alpha / A.shape[0] * B @ A, "W itself is missing"),
])
def test_lora_merge_mistakes_get_their_hint(wrong, hint):
    result = ex.check_lora_merge(wrong)
    assert not result.passed and hint in result.mistake


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
