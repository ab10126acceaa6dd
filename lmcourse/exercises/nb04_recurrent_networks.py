"""Checkers for notebook 04: one LSTM step and one GRU step from the equations, and clipping by global norm."""

from __future__ import annotations

import torch

from .checking import Case, Mistake, Result, check_function


def _lstm_cases() -> list[Case]:
    gen = torch.Generator().manual_seed(4)
    cases = []
    for B, D, H in ((1, 3, 2), (4, 5, 3), (2, 2, 6)):   # batch, input size, hidden size
        args = (torch.randn(B, D, generator=gen), torch.randn(B, H, generator=gen),
                torch.randn(B, H, generator=gen), torch.randn(4 * H, D, generator=gen),
                torch.randn(4 * H, H, generator=gen), torch.randn(4 * H, generator=gen))
        cases.append(Case(args, label=f"random x ({B}, {D}), h and c ({B}, {H}), hidden size {H}"))
    return cases


def _gates(x, h, W_ih, W_hh, b):
    return (x @ W_ih.T + h @ W_hh.T + b).chunk(4, dim=1)


def _lstm_step(x, h, c, W_ih, W_hh, b):
    i, f, g, o = _gates(x, h, W_ih, W_hh, b)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _sigmoid_candidate(x, h, c, W_ih, W_hh, b):
    i, f, g, o = _gates(x, h, W_ih, W_hh, b)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.sigmoid(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _no_tanh_on_cell(x, h, c, W_ih, W_hh, b):
    i, f, g, o = _gates(x, h, W_ih, W_hh, b)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * c, c


def _no_input_gate(x, h, c, W_ih, W_hh, b):
    i, f, g, o = _gates(x, h, W_ih, W_hh, b)
    c = torch.sigmoid(f) * c + torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _order_ifog(x, h, c, W_ih, W_hh, b):
    i, f, o, g = _gates(x, h, W_ih, W_hh, b)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def check_lstm_step(lstm_step) -> Result:
    """``lstm_step(x, h, c, W_ih, W_hh, b) -> (h_new, c_new)`` with PyTorch's gate order (i, f, g, o)."""
    return check_function(lstm_step, _lstm_step, _lstm_cases(), name="check_lstm_step", mistakes=[
        Mistake(_sigmoid_candidate, "the candidate g went through a sigmoid. Gates (i, f, o) use sigmoid, "
                                    "but the candidate g uses tanh so new memory can be negative."),
        Mistake(_no_tanh_on_cell, "h_new = o * c is missing a tanh: the output is o * tanh(c_new)."),
        Mistake(_no_input_gate, "the input gate is missing: c_new = f * c + i * g, not f * c + g."),
        Mistake(_order_ifog, "the gates are in the wrong order: PyTorch's rows are (i, f, g, o), "
                             "so the third chunk is the candidate g and the fourth is the output gate o."),
    ])


def _gru_cases() -> list[Case]:
    gen = torch.Generator().manual_seed(16)
    cases = []
    for B, D, H in ((1, 3, 2), (4, 5, 3), (2, 2, 6)):   # batch, input size, hidden size
        args = (torch.randn(B, D, generator=gen), torch.randn(B, H, generator=gen),
                torch.randn(3 * H, D, generator=gen), torch.randn(3 * H, H, generator=gen),
                torch.randn(3 * H, generator=gen), torch.randn(3 * H, generator=gen))
        cases.append(Case(args, label=f"random x ({B}, {D}), h ({B}, {H}), hidden size {H}, two biases"))
    return cases


def _gru_parts(x, h, W_ih, W_hh, b_ih, b_hh):
    x_r, x_z, x_n = (x @ W_ih.T + b_ih).chunk(3, dim=1)
    h_r, h_z, h_n = (h @ W_hh.T + b_hh).chunk(3, dim=1)
    return x_r, x_z, x_n, h_r, h_z, h_n


def _gru_step(x, h, W_ih, W_hh, b_ih, b_hh):
    x_r, x_z, x_n, h_r, h_z, h_n = _gru_parts(x, h, W_ih, W_hh, b_ih, b_hh)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


def _gru_order_zrn(x, h, W_ih, W_hh, b_ih, b_hh):
    x_z, x_r, x_n, h_z, h_r, h_n = _gru_parts(x, h, W_ih, W_hh, b_ih, b_hh)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    return (1 - z) * torch.tanh(x_n + r * h_n) + z * h


def _gru_reset_before_matrix(x, h, W_ih, W_hh, b_ih, b_hh):
    H = h.shape[1]
    x_r, x_z, x_n, h_r, h_z, _ = _gru_parts(x, h, W_ih, W_hh, b_ih, b_hh)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + (r * h) @ W_hh[2 * H:].T + b_hh[2 * H:])
    return (1 - z) * n + z * h


def _gru_z_swapped(x, h, W_ih, W_hh, b_ih, b_hh):
    x_r, x_z, x_n, h_r, h_z, h_n = _gru_parts(x, h, W_ih, W_hh, b_ih, b_hh)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    return z * torch.tanh(x_n + r * h_n) + (1 - z) * h


def _gru_no_reset(x, h, W_ih, W_hh, b_ih, b_hh):
    x_r, x_z, x_n, h_r, h_z, h_n = _gru_parts(x, h, W_ih, W_hh, b_ih, b_hh)
    z = torch.sigmoid(x_z + h_z)
    return (1 - z) * torch.tanh(x_n + h_n) + z * h


def check_gru_step(gru_step) -> Result:
    """``gru_step(x, h, W_ih, W_hh, b_ih, b_hh) -> h_new`` with PyTorch's gate order (r, z, n) and two biases."""
    return check_function(gru_step, _gru_step, _gru_cases(), name="check_gru_step", mistakes=[
        Mistake(_gru_order_zrn, "the gates are in the wrong order: PyTorch's rows are (r, z, n), so the first "
                                "chunk is the reset gate r and the second the update gate z."),
        Mistake(_gru_reset_before_matrix, "the reset gate multiplied h before W_hn. That is the original "
                                          "paper's form; PyTorch (and cuDNN) apply r after the matrix: "
                                          "n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."),
        Mistake(_gru_z_swapped, "z and 1 - z are swapped: in PyTorch's convention z is how much of the old "
                                "state to keep, h_new = (1 - z) * n + z * h."),
        Mistake(_gru_no_reset, "the reset gate is missing from the candidate: n = tanh(W_in x + b_in + "
                               "r * (W_hn h + b_hn)), with r = sigmoid(first chunk)."),
    ])


def _clip_cases() -> list[Case]:
    gen = torch.Generator().manual_seed(7)
    big = [torch.randn(3, 4, generator=gen) * 5, torch.randn(5, generator=gen) * 5]
    small = [torch.randn(2, 2, generator=gen) * 0.01, torch.randn(3, generator=gen) * 0.01]
    lopsided = [torch.full((2,), 3.0), torch.full((2,), 0.5)]
    return [Case((big, 1.0), label="two large gradients, max_norm=1.0"),
            Case((small, 1.0), label="two tiny gradients (total norm < max_norm), max_norm=1.0"),
            Case((lopsided, 2.0), label="gradients [3, 3] and [0.5, 0.5], max_norm=2.0")]


def _total_norm(grads) -> torch.Tensor:
    return torch.sqrt(sum((g ** 2).sum() for g in grads))


def _clip(grads, max_norm):
    scale = min(1.0, max_norm / (float(_total_norm(grads)) + 1e-6))
    return [g * scale for g in grads]


def check_clip_by_global_norm(clip_by_global_norm) -> Result:
    """``clip_by_global_norm(grads, max_norm)``: scale *all* gradients by one factor so their joint norm ≤ max_norm."""
    return check_function(clip_by_global_norm, _clip, _clip_cases(), name="check_clip_by_global_norm",
                          atol=1e-5, mistakes=[
        Mistake(lambda gs, m: [g * min(1.0, m / (float(g.norm()) + 1e-6)) for g in gs],
                "each tensor was clipped on its own. Global-norm clipping measures all gradients together "
                "(sqrt of the sum of every squared entry) and scales them all by the same factor, "
                "so the update keeps its direction."),
        Mistake(lambda gs, m: [g.clamp(-m, m) for g in gs],
                "you clipped each value (clip by value). That changes the direction of the update; "
                "scale all gradients by max_norm / total_norm instead."),
        Mistake(lambda gs, m: [g * (m / (float(_total_norm(gs)) + 1e-6)) for g in gs],
                "you rescaled even when the total norm was already below max_norm. Clipping only shrinks: "
                "use the factor min(1, max_norm / total_norm)."),
    ])
