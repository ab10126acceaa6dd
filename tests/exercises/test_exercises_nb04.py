"""Notebook 04's checkers beyond their Mistakes: the package's LSTM cell and torch's clipping are right answers."""

import torch

from lmcourse.exercises import nb04_recurrent_networks as ex
from lmcourse.rnn import LSTMCell


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
