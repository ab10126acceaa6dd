"""Notebook 10's checkers beyond their Mistakes: the package's schedule and RMSNorm, PyTorch's RMSNorm, and the
wrong RMSNorms a learner writes first (LayerNorm, no eps, the std, the norm)."""

import torch

from lmcourse.exercises import nb10_training_like_the_pros as ex
from lmcourse.schedules import warmup_cosine_lambda
from lmcourse.transformer import RMSNorm


def test_the_package_schedule_scaled_to_max_lr_passes():
    assert ex.check_lr_at(lambda s, hi, lo, w, t: hi * warmup_cosine_lambda(w, t, lo / hi)(s)).passed


def test_pytorch_rms_norm_and_the_package_layer_pass_check_rms_norm():
    def with_module(x, weight, eps=1e-6):
        norm = torch.nn.RMSNorm(x.shape[-1], eps=eps)
        with torch.no_grad():
            norm.weight.copy_(weight)
        return norm(x).detach()

    def with_package(x, weight, eps=1e-6):
        norm = RMSNorm(x.shape[-1], eps=eps)
        with torch.no_grad():
            norm.weight.copy_(weight)
        return norm(x).detach()

    assert ex.check_rms_norm(with_module).passed
    assert ex.check_rms_norm(with_package).passed


def test_check_rms_norm_rejects_layer_norm_a_missing_eps_std_and_the_norm_with_their_hints():
    def layer_norm(x, weight, eps=1e-6):
        return torch.nn.functional.layer_norm(x, x.shape[-1:], weight, None, eps)

    def no_eps(x, weight, eps=1e-6):
        return x / x.pow(2).mean(-1, keepdim=True).sqrt() * weight

    def std(x, weight, eps=1e-6):
        return x / (x.std(-1, keepdim=True) + eps) * weight

    def norm(x, weight, eps=1e-6):
        return x / (x.norm(dim=-1, keepdim=True) + eps) * weight

    for wrong, hint in [(layer_norm, "that is LayerNorm"), (no_eps, "there is no eps"),
                        (std, "standard deviation"), (norm, "√C times too big")]:
        result = ex.check_rms_norm(wrong)
        assert not result.passed and hint in (result.mistake or ""), (wrong.__name__, result.message)


def test_check_rms_norm_refuses_a_hard_coded_eps_and_a_numpy_answer_of_the_wrong_shape():
    fixed = ex.check_rms_norm(lambda x, weight, eps=1e-6: torch.nn.functional.rms_norm(x, x.shape[-1:], weight, 1e-6))
    assert not fixed.passed and "eps=1.0" in fixed.message
    flat = ex.check_rms_norm(lambda x, weight, eps=1e-6: torch.nn.functional.rms_norm(x, x.shape[-1:], weight, eps)
                             .flatten().numpy())
    assert not flat.passed and "shape" in flat.message
