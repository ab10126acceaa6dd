"""Checkers of notebook 07 accept the notebook's own solutions and catch the usual mistakes in
layer normalization, residual wiring and parameter counting."""

import pytest
import torch

from lmcourse.exercises import nb07_transformer_block as ex
from lmcourse.transformer import layer_parameter_count
from solutions import solution_namespace


@pytest.fixture(scope="module")
def solved():
    return solution_namespace("07_transformer_block", setup="import math, torch\n"
                                                             "from lmcourse.exercises import nb07_transformer_block as ex")


def test_reference_solutions_pass(solved):
    assert ex.check_layer_norm(solved["layer_norm"]).passed
    assert ex.check_pre_norm_block(solved["pre_norm_block"]).passed
    assert ex.check_encoder_layer_params(solved["encoder_layer_params"]).passed


def test_pytorch_layer_norm_and_package_formula_pass():
    assert ex.check_layer_norm(lambda x, w, b, eps=1e-5: torch.nn.functional.layer_norm(x, x.shape[-1:], w, b, eps)).passed
    assert ex.check_encoder_layer_params(layer_parameter_count).passed


def _mean(x, dim=-1):
    return x.mean(dim, keepdim=True)


@pytest.mark.parametrize("wrong, hint", [
    (lambda x, w, b, eps=1e-5: (x - _mean(x)) / torch.sqrt(x.var(-1, keepdim=True) + eps) * w + b, "unbiased"),
    (lambda x, w, b, eps=1e-5: (x - _mean(x)) / (((x - _mean(x)) ** 2).mean(-1, keepdim=True).sqrt() + eps) * w + b,
     "inside the square root"),
    (lambda x, w, b, eps=1e-5: (x - _mean(x, 0)) / torch.sqrt(((x - _mean(x, 0)) ** 2).mean(0, keepdim=True) + eps) * w + b,
     "BatchNorm"),
    (lambda x, w, b, eps=1e-5: (x - _mean(x)) / torch.sqrt(((x - _mean(x)) ** 2).mean(-1, keepdim=True) + eps),
     "scale and shift are missing"),
    (lambda x, w, b, eps=1e-5: (x - _mean(x)) / torch.sqrt(((x - _mean(x)) ** 2).mean(-1, keepdim=True)) * w + b,
     "no eps"),
])
def test_layer_norm_mistakes_get_their_hint(wrong, hint):
    result = ex.check_layer_norm(wrong)
    assert not result.passed and hint in result.mistake


def _post_norm(x, attn, ffn, norm1, norm2):
    x = norm1(x + attn(x))
    return norm2(x + ffn(x))


@pytest.mark.parametrize("wrong, hint", [
    (_post_norm, "post-norm"),
    (lambda x, a, f, n1, n2: f(n2(a(n1(x)))), "residual connections are missing"),
    (lambda x, a, f, n1, n2: (lambda y: n2(y) + f(n2(y)))(n1(x) + a(n1(x))), "*normalized* input"),
    (lambda x, a, f, n1, n2: (lambda y: y + f(n1(y)))(x + a(n1(x))), "own norm2"),
    (lambda x, a, f, n1, n2: x + a(n1(x)) + f(n2(x)), "in sequence, not in parallel"),
])
def test_pre_norm_block_mistakes_get_their_hint(wrong, hint):
    result = ex.check_pre_norm_block(wrong)
    assert not result.passed and hint in result.mistake


@pytest.mark.parametrize("wrong, hint", [
    (lambda d, f: 4 * d * d + 2 * d * f + 4 * d, "biases are missing"),
    (lambda d, f: 4 * (d * d + d) + (d * f + f) + (f * d + d), "LayerNorms are missing"),
    (lambda d, f: 3 * (d * d + d) + (d * f + f) + (f * d + d) + 4 * d, "four projections"),
    (lambda d, f: 4 * (d * d + d) + (d * f + f) + (f * d + d) + 2 * d, "two vectors"),
    (lambda d, f: 4 * (d * d + d) + 2 * (d * f + f) + 4 * d, "bias has d_model entries, not d_ff"),
])
def test_parameter_count_mistakes_get_their_hint(wrong, hint):
    result = ex.check_encoder_layer_params(wrong)
    assert not result.passed and hint in result.mistake
