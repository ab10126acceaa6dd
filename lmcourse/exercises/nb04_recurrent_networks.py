"""Checkers for notebook 04: a peephole LSTM step, clipping by global norm, and a recurrent step run over a
padded batch with lengths."""

from __future__ import annotations

import torch

from .checking import Case, Mistake, Result, check_function

# ----------------------------------------------------------------------------- exercise 1: a peephole LSTM step


def _peephole_cases() -> list[Case]:
    gen = torch.Generator().manual_seed(4)
    cases = []
    for B, D, H, zero in ((1, 3, 2, False), (4, 5, 3, False), (2, 2, 6, False), (3, 4, 3, True)):
        args = (torch.randn(B, D, generator=gen), torch.randn(B, H, generator=gen),
                torch.randn(B, H, generator=gen) * 2, torch.randn(4 * H, D, generator=gen),
                torch.randn(4 * H, H, generator=gen), torch.randn(4 * H, generator=gen),
                *(torch.zeros(H) if zero else torch.randn(H, generator=gen) for _ in range(3)))
        label = f"random x ({B}, {D}), h and c ({B}, {H}), hidden size {H}"
        cases.append(Case(args, label=label + (", all peepholes 0 (a plain LSTM)" if zero else ", random peepholes")))
    return cases


def _peephole(x, h, c, W_ih, W_hh, b, p_i, p_f, p_o, *, o_sees="new", peep=True, after_sigmoid=False):
    a_i, a_f, a_g, a_o = (x @ W_ih.T + h @ W_hh.T + b).chunk(4, dim=1)   # 4 x (B, H), order i, f, g, o
    if not peep:
        p_i, p_f, p_o = (torch.zeros_like(p_i),) * 3
    if after_sigmoid:
        i, f = torch.sigmoid(a_i) + p_i * c, torch.sigmoid(a_f) + p_f * c
    else:
        i, f = torch.sigmoid(a_i + p_i * c), torch.sigmoid(a_f + p_f * c)
    c_new = f * c + i * torch.tanh(a_g)
    seen = c_new if o_sees == "new" else c
    o = torch.sigmoid(a_o) + p_o * seen if after_sigmoid else torch.sigmoid(a_o + p_o * seen)
    return o * torch.tanh(c_new), c_new


def _peephole_swapped(x, h, c, W_ih, W_hh, b, p_i, p_f, p_o):
    return _peephole(x, h, c, W_ih, W_hh, b, p_f, p_i, p_o)


def check_peephole_lstm_step(peephole_lstm_step) -> Result:
    """``peephole_lstm_step(x, h, c, W_ih, W_hh, b, p_i, p_f, p_o) -> (h_new, c_new)``: gates i, f read the old
    cell state c, the output gate o reads the new one; PyTorch's gate order (i, f, g, o)."""
    return check_function(peephole_lstm_step, _peephole, _peephole_cases(), name="check_peephole_lstm_step",
                          mistakes=[
        Mistake(lambda *a: _peephole(*a, o_sees="old"),
                "the output gate peeked at the old cell state c. It is computed last, after the memory has been "
                "updated, so it reads the new one: o = sigmoid(W_o x + U_o h + b_o + p_o * c_new)."),
        Mistake(lambda *a: _peephole(*a, peep=False),
                "this is a plain LSTM step: the peepholes p_i, p_f, p_o are never used. Add p_i * c and p_f * c "
                "inside the input and forget gates' sigmoids, and p_o * c_new inside the output gate's."),
        Mistake(lambda *a: _peephole(*a, after_sigmoid=True),
                "the peephole term was added after the sigmoid, so a gate can leave (0, 1). It is one more input "
                "to the gate: sigmoid(W x + U h + b + p * c)."),
        Mistake(_peephole_swapped,
                "p_i and p_f are swapped: the input gate i gets p_i * c, the forget gate f gets p_f * c."),
    ])


# ----------------------------------------------------------------------------- exercise 2: clip by global norm

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
    """``clip_by_global_norm(grads, max_norm)``: a list with *all* gradients scaled by one factor so that their
    joint norm is at most max_norm."""
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


# ----------------------------------------------------------------------------- exercise 3: a padded batch

def _gru_stepper(D, H, gen):
    """A GRU step ``step(x, h) -> h_new`` with fixed random weights, biases included (so zeros still move h)."""
    W_ih, W_hh = torch.randn(3 * H, D, generator=gen) * 0.7, torch.randn(3 * H, H, generator=gen) * 0.7
    b_ih, b_hh = torch.randn(3 * H, generator=gen), torch.randn(3 * H, generator=gen)

    def gru_step(x, h):
        x_r, x_z, x_n = (x @ W_ih.T + b_ih).chunk(3, dim=1)
        h_r, h_z, h_n = (h @ W_hh.T + b_hh).chunk(3, dim=1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        return (1 - z) * torch.tanh(x_n + r * h_n) + z * h
    return gru_step


def _rnn_stepper(D, H, gen):
    """A tanh RNN step ``step(x, h) -> h_new`` with fixed random weights."""
    W_ih, W_hh = torch.randn(H, D, generator=gen), torch.randn(H, H, generator=gen) * 0.5
    b = torch.randn(H, generator=gen)
    return lambda x, h: torch.tanh(x @ W_ih.T + h @ W_hh.T + b)


def _padded_cases() -> list[Case]:
    gen = torch.Generator().manual_seed(12)
    cases = []
    for kind, B, T, D, H, lengths, h0_zero in (
            ("GRU", 3, 5, 2, 4, [5, 2, 3], True),
            ("GRU", 4, 6, 3, 3, [1, 6, 3, 6], False),
            ("tanh RNN", 1, 4, 2, 3, [4], False),
            ("tanh RNN", 2, 1, 2, 2, [1, 1], False),
            ("GRU", 2, 4, 2, 2, [2, 4], False)):
        step = (_gru_stepper if kind == "GRU" else _rnn_stepper)(D, H, gen)
        xs = torch.randn(B, T, D, generator=gen)   # the padded positions hold numbers too: they must be ignored
        h0 = torch.zeros(B, H) if h0_zero else torch.randn(B, H, generator=gen)
        start = "h0 all zeros" if h0_zero else "a random h0"
        label = f"a {kind} step, xs ({B}, {T}, {D}), lengths {lengths}, {start} ({B}, {H})"
        cases.append(Case((step, xs, torch.tensor(lengths), h0), label=label))
    return cases


def _run_padded(step, xs, lengths, h0, *, freeze=True, zero=True, late=0, last="frozen"):
    h, outputs = h0, []
    for t in range(xs.shape[1]):
        new = step(xs[:, t], h)                               # (B, H)
        alive = (t < lengths + late)[:, None]                 # (B, 1): rows whose sequence has not ended
        h = torch.where(alive, new, h) if freeze else new
        outputs.append(torch.where(alive, h, torch.zeros_like(h)) if zero else h)
    out = torch.stack(outputs, dim=1)                          # (B, T, H)
    if last == "end":
        return out, new
    if last == "column":
        return out, out[:, -1]
    return out, h


def check_run_padded(run_padded) -> Result:
    """``run_padded(step, xs, lengths, h0) -> (outputs, h_last)``: run ``step`` over a right-padded batch; each row's
    state stops at its length, its outputs past that are zeros, and h_last is its state after its last real step."""
    return check_function(run_padded, _run_padded, _padded_cases(), name="check_run_padded", atol=1e-5, mistakes=[
        Mistake(lambda *a: _run_padded(*a, freeze=False, zero=False),
                "nothing stops at the end of a row: the step ran on the padding too, so a short row's outputs and "
                "its h_last come from reading padding. At step t, keep the new state only where t < lengths: "
                "h = torch.where((t < lengths)[:, None], new_h, h)."),
        Mistake(lambda *a: _run_padded(*a, freeze=False),
                "the outputs are zeroed past each row's end, but the state kept running over the padding, so "
                "h_last of a short row is wrong. Freeze the state too: only rows with t < lengths take the new h."),
        Mistake(lambda *a: _run_padded(*a, zero=False),
                "h_last is right, but the outputs past a row's end repeat its frozen state. nn.GRU and "
                "pad_packed_sequence put zeros there; put zeros where t >= lengths."),
        Mistake(lambda *a: _run_padded(*a, late=1),
                "one step too many: a row of length L has real steps t = 0 … L-1, so the mask is t < lengths, "
                "not t <= lengths."),
        Mistake(lambda *a: _run_padded(*a, last="column"),
                "h_last is zeros for the rows shorter than T: it was read from a padded position of the outputs "
                "(the last column, say), or the state was zeroed past the end. Keep the state frozen and return it, "
                "or read outputs[b, lengths[b] - 1]."),
    ])
