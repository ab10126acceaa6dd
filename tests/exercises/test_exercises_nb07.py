"""Notebook 07's checkers beyond their Mistakes: PyTorch's layer norm and the package's count are right answers."""

import torch

from lmcourse.exercises import nb07_transformer_block as ex
from lmcourse.transformer import layer_parameter_count


def test_pytorch_layer_norm_and_package_formula_pass():
    torch_layer_norm = torch.nn.functional.layer_norm
    assert ex.check_layer_norm(lambda x, w, b, eps=1e-5: torch_layer_norm(x, x.shape[-1:], w, b, eps)).passed
    assert ex.check_encoder_layer_params(layer_parameter_count).passed


def test_a_layer_norm_with_eps_fixed_inside_passes_because_no_case_passes_another_eps():
    assert ex.check_layer_norm(lambda x, w, b: torch.nn.functional.layer_norm(x, x.shape[-1:], w, b)).passed
