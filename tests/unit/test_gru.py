"""GRUCell and GRU written from the equations, against nn.GRUCell and nn.GRU (outputs and gradients)."""

import pytest
import torch
import torch.nn as nn

from lmcourse._checks import ArgumentError
from lmcourse.rnn import GRU, GRUCell


def test_gru_cell_equals_torch_outputs_and_gradients(seeded):
    ref = nn.GRUCell(3, 5).double()
    ours = GRUCell(3, 5).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ours, name).copy_(getattr(ref, name))
    x, h = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    assert torch.allclose(ours(x, h), ref(x, h), atol=1e-12)
    assert torch.allclose(ours(x), ref(x), atol=1e-12)               # no state: zeros, as in PyTorch
    grads = torch.autograd.grad(ours(x, h).sum(), list(ours.parameters()))
    ref_grads = torch.autograd.grad(ref(x, h).sum(), [getattr(ref, n) for n, _ in ours.named_parameters()])
    assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(grads, ref_grads))


@pytest.mark.parametrize("layers", [1, 2])
def test_gru_over_a_sequence_equals_torch(layers, seeded):
    ref = nn.GRU(3, 5, layers, batch_first=True).double()
    ours = GRU.from_torch(ref)
    x, h0 = torch.randn(2, 7, 3, dtype=torch.float64), torch.randn(layers, 2, 5, dtype=torch.float64)
    (out, h_n), (ref_out, ref_h) = ours(x, h0), ref(x, h0)
    assert torch.allclose(out, ref_out, atol=1e-12) and torch.allclose(h_n, ref_h, atol=1e-12)
    (g,) = torch.autograd.grad(ours(x)[0].sum(), [ours.cells[0].weight_hh])
    (g_ref,) = torch.autograd.grad(ref(x)[0].sum(), [ref.weight_hh_l0])
    assert torch.allclose(g, g_ref, atol=1e-12)


def test_the_update_gate_can_keep_the_state_unchanged():
    cell = GRUCell(2, 3)
    with torch.no_grad():
        for p in cell.parameters():
            p.zero_()
        cell.bias_ih[3:6] = 50.0                                     # z = sigmoid(50) ≈ 1: keep the past
    h = torch.randn(1, 3)
    assert torch.allclose(cell(torch.randn(1, 2), h), h, atol=1e-6)


@pytest.mark.parametrize("call, fragment", [
    (lambda: GRUCell(0, 4), "input_size must be an int >= 1; got 0"),
    (lambda: GRU(3, 4, num_layers=0), "num_layers must be an int >= 1; got 0"),
    (lambda: GRU.from_torch(nn.LSTM(3, 4, batch_first=True)), "gru must be a torch.nn.GRU; got LSTM"),
    (lambda: GRU.from_torch(nn.GRU(3, 4)), "batch_first=True"),
    (lambda: GRUCell(3, 4)(torch.randn(2, 3), torch.randn(3, 4)), "h must be of shape (B, hidden_size)"),
    (lambda: GRU(3, 4)(torch.randn(2, 5, 3), torch.randn(1, 2, 5)), "h0 must be of shape"),
    (lambda: GRU(3, 4)(torch.randn(2, 5)), "x must be a 3-d tensor"),
])
def test_bad_input_names_the_argument(call, fragment):
    with pytest.raises(ArgumentError) as info:
        call()
    assert fragment in str(info.value)
