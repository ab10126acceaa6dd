"""EncoderLayer(need_weights=True) returns the attention weights it used, and nothing else changes."""

import pytest
import torch

from lmcourse.attention import padding_mask
from lmcourse.transformer import EncoderLayer


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_need_weights_returns_same_output_and_row_stochastic_weights(norm_first):
    torch.manual_seed(0)
    layer = EncoderLayer(16, 4, 32, norm_first=norm_first).eval()
    x = torch.randn(3, 7, 16)
    tokens = torch.tensor([[5] * 7, [5] * 4 + [0] * 3, [5] * 6 + [0]])
    mask = padding_mask(tokens, 0)
    plain = layer(x, mask)
    out, weights = layer(x, mask, need_weights=True)
    assert torch.allclose(out, plain, atol=1e-5)
    assert weights.shape == (3, 4, 7, 7)
    assert torch.allclose(weights.sum(-1), torch.ones(3, 4, 7), atol=1e-5)
    assert (weights[1, :, :, 4:] == 0).all()          # padding keys get no weight


def test_encoder_layer_without_need_weights_returns_a_tensor():
    layer = EncoderLayer(8, 2, 16)
    assert isinstance(layer(torch.randn(1, 3, 8)), torch.Tensor)
