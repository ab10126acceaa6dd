"""Notebook 04's checkers beyond their Mistakes: the real thing is accepted, answers in another valid form pass,
and plausible wrong answers written here (not taken from the checkers' own lists) are refused."""

import torch
from torch import nn

from lmcourse.exercises import nb04_recurrent_networks as ex
from solutions import solution_namespace

# ----------------------------------------------------------------------------- wrong answers, written independently


def peephole_reads_h_not_c(x, h, c, W_ih, W_hh, b, p_i, p_f, p_o):
    # confuses the two states: the peepholes look at the hidden state h instead of the cell state c
    a_i, a_f, a_g, a_o = (x @ W_ih.T + h @ W_hh.T + b).chunk(4, dim=1)
    c_new = torch.sigmoid(a_f + p_f * h) * c + torch.sigmoid(a_i + p_i * h) * torch.tanh(a_g)
    return torch.sigmoid(a_o + p_o * h) * torch.tanh(c_new), c_new


def peephole_without_tanh_on_output(x, h, c, W_ih, W_hh, b, p_i, p_f, p_o):
    # h_new = o * c_new: forgets to squash the memory before showing it
    a_i, a_f, a_g, a_o = (x @ W_ih.T + h @ W_hh.T + b).chunk(4, dim=1)
    c_new = torch.sigmoid(a_f + p_f * c) * c + torch.sigmoid(a_i + p_i * c) * torch.tanh(a_g)
    return torch.sigmoid(a_o + p_o * c_new) * c_new, c_new


def peephole_in_order_i_f_o_g(x, h, c, W_ih, W_hh, b, p_i, p_f, p_o):
    # reads the chunks as (i, f, o, g), the order of several papers, not PyTorch's (i, f, g, o)
    a_i, a_f, a_o, a_g = (x @ W_ih.T + h @ W_hh.T + b).chunk(4, dim=1)
    c_new = torch.sigmoid(a_f + p_f * c) * c + torch.sigmoid(a_i + p_i * c) * torch.tanh(a_g)
    return torch.sigmoid(a_o + p_o * c_new) * torch.tanh(c_new), c_new


def peephole_returns_c_then_h(x, h, c, W_ih, W_hh, b, p_i, p_f, p_o):
    # right numbers, wrong order in the returned pair
    a_i, a_f, a_g, a_o = (x @ W_ih.T + h @ W_hh.T + b).chunk(4, dim=1)
    c_new = torch.sigmoid(a_f + p_f * c) * c + torch.sigmoid(a_i + p_i * c) * torch.tanh(a_g)
    return c_new, torch.sigmoid(a_o + p_o * c_new) * torch.tanh(c_new)


def clip_with_squared_norm(grads, max_norm):
    # forgets the square root: compares the sum of squares with max_norm
    total = sum(float((g ** 2).sum()) for g in grads)
    return [g * min(1.0, max_norm / (total + 1e-6)) for g in grads]


def clip_with_sum_of_norms(grads, max_norm):
    # adds the tensors' norms instead of taking the norm of all entries together
    total = sum(float(g.norm()) for g in grads)
    return [g * min(1.0, max_norm / (total + 1e-6)) for g in grads]


def clip_returns_the_norm(grads, max_norm):
    # copies clip_grad_norm_'s return value (the total norm) instead of returning the clipped gradients
    return torch.sqrt(sum((g ** 2).sum() for g in grads))


def padded_resets_state_to_zero(step, xs, lengths, h0):
    # past a row's end the state is set to zero instead of kept, so h_last is zero for short rows
    h, outs = h0, []
    for t in range(xs.shape[1]):
        alive = (t < lengths)[:, None]
        h = torch.where(alive, step(xs[:, t], h), torch.zeros_like(h))
        outs.append(h)
    return torch.stack(outs, dim=1), h


def padded_keeps_rows_sorted_by_length(step, xs, lengths, h0):
    # sorts the rows longest first (as pack_padded_sequence's enforce_sorted wants) and never puts them back
    order = torch.argsort(lengths, descending=True)
    xs, lengths, h0 = xs[order], lengths[order], h0[order]
    h, outs = h0, []
    for t in range(xs.shape[1]):
        alive = (t < lengths)[:, None]
        h = torch.where(alive, step(xs[:, t], h), h)
        outs.append(torch.where(alive, h, torch.zeros_like(h)))
    return torch.stack(outs, dim=1), h


def padded_assumes_left_padding(step, xs, lengths, h0):
    # treats the *first* T - L positions as padding (left-padded rows) and reads the last L
    T = xs.shape[1]
    h, outs = h0, []
    for t in range(T):
        alive = (t >= T - lengths)[:, None]
        h = torch.where(alive, step(xs[:, t], h), h)
        outs.append(torch.where(alive, h, torch.zeros_like(h)))
    return torch.stack(outs, dim=1), h


def padded_returns_a_list_of_states(step, xs, lengths, h0):
    # never stacks: returns the list of per-step states where a (B, T, H) tensor is asked
    h, outs = h0, []
    for t in range(xs.shape[1]):
        alive = (t < lengths)[:, None]
        h = torch.where(alive, step(xs[:, t], h), h)
        outs.append(torch.where(alive, h, torch.zeros_like(h)))
    return outs, h


WRONG_ANSWERS = {
    "check_peephole_lstm_step": [peephole_reads_h_not_c, peephole_without_tanh_on_output,
                                 peephole_in_order_i_f_o_g, peephole_returns_c_then_h],
    "check_clip_by_global_norm": [clip_with_squared_norm, clip_with_sum_of_norms, clip_returns_the_norm],
    "check_run_padded": [padded_resets_state_to_zero, padded_keeps_rows_sorted_by_length,
                         padded_assumes_left_padding, padded_returns_a_list_of_states],
}


# ----------------------------------------------------------------------------- the real thing, other valid forms

def _solutions():
    return solution_namespace("04_recurrent_networks")


def test_the_peephole_solution_with_zero_peepholes_is_torchs_lstm_cell():
    step = _solutions()["peephole_lstm_step"]
    torch.manual_seed(0)
    cell = nn.LSTMCell(3, 5).double()
    x, h, c = torch.randn(2, 3).double(), torch.randn(2, 5).double(), torch.randn(2, 5).double()
    zero = torch.zeros(5, dtype=torch.double)
    with torch.no_grad():
        ours = step(x, h, c, cell.weight_ih, cell.weight_hh, cell.bias_ih + cell.bias_hh, zero, zero, zero)
        ref = cell(x, (h, c))
    assert torch.allclose(ours[0], ref[0]) and torch.allclose(ours[1], ref[1])


def test_clip_checker_accepts_torchs_clip_grad_norm_and_a_tuple():
    def via_torch(grads, max_norm):
        params = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        torch.nn.utils.clip_grad_norm_(params, max_norm)
        return [p.grad for p in params]
    assert ex.check_clip_by_global_norm(via_torch).passed
    assert ex.check_clip_by_global_norm(lambda gs, m: tuple(via_torch(gs, m))).passed


def test_the_padded_run_solution_equals_nn_gru_on_a_packed_sequence():
    run_padded = _solutions()["run_padded"]
    torch.manual_seed(0)
    gru, cell = nn.GRU(3, 4, batch_first=True), nn.GRUCell(3, 4)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in gru.state_dict().items()})
    xs, lengths, h0 = torch.randn(4, 6, 3), torch.tensor([6, 2, 4, 1]), torch.randn(1, 4, 4)
    packed = nn.utils.rnn.pack_padded_sequence(xs, lengths, batch_first=True, enforce_sorted=False)
    out, h_n = gru(packed, h0)
    out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=6)
    with torch.no_grad():
        ours, h_last = run_padded(cell, xs, lengths, h0[0])
    assert torch.allclose(ours, out, atol=1e-6) and torch.allclose(h_last, h_n[0], atol=1e-6)


def test_check_run_padded_accepts_a_list_pair_and_reading_h_last_from_the_outputs():
    run_padded = _solutions()["run_padded"]
    assert ex.check_run_padded(lambda *a: list(run_padded(*a))).passed

    def gather_last(step, xs, lengths, h0):
        out, _ = run_padded(step, xs, lengths, h0)
        return out, out[torch.arange(len(lengths)), lengths - 1]
    assert ex.check_run_padded(gather_last).passed
