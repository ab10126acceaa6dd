"""Notebook 04's checkers beyond their Mistakes: the package's LSTM and GRU cells and torch's clipping are accepted."""

import torch

from lmcourse.exercises import nb04_recurrent_networks as ex
from lmcourse.rnn import GRUCell, LSTMCell


def test_lstm_checker_accepts_the_package_cell():
    def via_package(x, h, c, W_ih, W_hh, b):
        cell = LSTMCell(x.shape[1], h.shape[1])
        with torch.no_grad():
            cell.weight_ih.copy_(W_ih)
            cell.weight_hh.copy_(W_hh)
            cell.bias_ih.copy_(b)
            cell.bias_hh.zero_()
        return tuple(t.detach() for t in cell(x, (h, c)))
    assert ex.check_lstm_step(via_package).passed


def test_clip_checker_accepts_torchs_clip_grad_norm():
    def via_torch(grads, max_norm):
        params = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        torch.nn.utils.clip_grad_norm_(params, max_norm)
        return [p.grad for p in params]
    assert ex.check_clip_by_global_norm(via_torch).passed


def test_an_lstm_step_returning_only_h_is_answered_not_raised():
    def h_only(x, h, c, W_ih, W_hh, b):
        i, f, g, o = (x @ W_ih.T + h @ W_hh.T + b).chunk(4, dim=1)
        return torch.sigmoid(o) * torch.tanh(torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g))
    result = ex.check_lstm_step(h_only)
    assert not result.passed and "expected:" in result.message


def test_gru_checker_accepts_the_package_cell_and_torchs_grucell():
    def via(cell_class):
        def gru_step(x, h, W_ih, W_hh, b_ih, b_hh):
            cell = cell_class(x.shape[1], h.shape[1])
            with torch.no_grad():
                for name, w in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), (W_ih, W_hh, b_ih, b_hh)):
                    getattr(cell, name).copy_(w)
            return cell(x, h).detach()
        return gru_step
    assert ex.check_gru_step(via(GRUCell)).passed
    assert ex.check_gru_step(via(torch.nn.GRUCell)).passed


def test_gru_checker_rejects_the_reset_gate_that_skips_the_bias_b_hn():
    def bias_outside_reset(x, h, W_ih, W_hh, b_ih, b_hh):
        H = h.shape[1]
        x_r, x_z, x_n = (x @ W_ih.T + b_ih).chunk(3, dim=1)
        h_r, h_z, _ = (h @ W_hh.T + b_hh).chunk(3, dim=1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + b_hh[2 * H:] + r * (h @ W_hh[2 * H:].T))   # b_hn escapes the reset gate
        return (1 - z) * n + z * h
    result = ex.check_gru_step(bias_outside_reset)
    assert not result.passed and "expected:" in result.message


def test_a_gru_step_returning_h_twice_is_answered_not_raised():
    def pair(x, h, W_ih, W_hh, b_ih, b_hh):
        return h, h
    result = ex.check_gru_step(pair)
    assert not result.passed and "expected:" in result.message
