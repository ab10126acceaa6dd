"""Checkers for notebook 06: splitting a tensor into heads, and the sinusoidal position table."""

from __future__ import annotations

import torch

from .checking import Case, Mistake, Result, check_function


def _x(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


_SPLIT_CASES = [
    Case((_x(0, 1, 3, 4), 2), label="x of shape (1, 3, 4), n_head=2"),
    Case((_x(1, 2, 5, 12), 3), label="x of shape (2, 5, 12), n_head=3"),
    Case((_x(2, 2, 4, 8), 1), label="x of shape (2, 4, 8), n_head=1 (one head keeps all 8 dimensions)"),
]


def _split_heads(x, n_head):
    b, t, c = x.shape
    return x.view(b, t, n_head, c // n_head).transpose(1, 2)


def check_split_heads(split_heads) -> Result:
    """``split_heads(x, n_head)``: (B, T, C) -> (B, n_head, T, C // n_head), head h = channels h·hs … (h+1)·hs − 1."""
    return check_function(split_heads, _split_heads, _SPLIT_CASES, name="check_split_heads", mistakes=[
        Mistake(lambda x, n: x.reshape(x.shape[0], n, x.shape[1], x.shape[2] // n),
                "you reshaped straight to (B, n_head, T, hs). The shape is right but the numbers are scrambled: "
                "reshape never moves data, so each 'head' mixes several positions. View as (B, T, n_head, hs) "
                "first, then .transpose(1, 2)."),
        Mistake(lambda x, n: x.view(x.shape[0], x.shape[1], x.shape[2] // n, n).permute(0, 3, 1, 2),
                "your heads take every n_head-th channel (strided). Each head owns a contiguous block of "
                "hs = C // n_head channels: view(B, T, n_head, hs), not view(B, T, hs, n_head)."),
        Mistake(lambda x, n: x.view(x.shape[0], x.shape[1], n, x.shape[2] // n),
                "you forgot to move the head axis before the time axis: add .transpose(1, 2) so the result "
                "is (B, n_head, T, hs) and attention runs over T within each head."),
    ])


_PE_CASES = [
    Case((4, 6), label="max_len=4, d_model=6"),
    Case((10, 8), label="max_len=10, d_model=8"),
    Case((50, 16), label="max_len=50, d_model=16"),
]


def _table(max_len, d_model, *, exponent=lambda i, d: 2 * i / d, first=torch.sin, second=torch.cos,
           start=0, interleave=True):
    pos = torch.arange(start, start + max_len, dtype=torch.float32)[:, None]
    i = torch.arange(d_model // 2, dtype=torch.float32)
    angle = pos / 10000 ** exponent(i, d_model)
    if interleave:
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2], pe[:, 1::2] = first(angle), second(angle)
        return pe
    return torch.cat([first(angle), second(angle)], dim=-1)


def check_sinusoidal_table(sinusoidal_table) -> Result:
    """``sinusoidal_table(max_len, d_model)`` must give PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(…)."""
    return check_function(sinusoidal_table, _table, _PE_CASES, name="check_sinusoidal_table", atol=1e-5, mistakes=[
        Mistake(lambda n, d: _table(n, d, first=torch.cos, second=torch.sin),
                "sine and cosine are swapped: even columns (0, 2, 4, …) hold the sine, odd columns the cosine."),
        Mistake(lambda n, d: _table(n, d, exponent=lambda i, dd: i / dd),
                "the exponent is 2i/d_model, where i counts the *pairs* (0 … d/2 − 1); you used i/d_model."),
        Mistake(lambda n, d: _table(n, d, exponent=lambda i, dd: 2 * i / (dd - 2)),
                "the exponent divides by d_model, not d_model − 2: 10000^(2i/d_model)."),
        Mistake(lambda n, d: _table(n, d, interleave=False),
                "you put all sines in the first half and all cosines in the second. That layout also works in "
                "practice, but the paper (and this checker) interleaves them: column 2i = sin, column 2i+1 = cos."),
        Mistake(lambda n, d: _table(n, d, start=1),
                "positions start at 0: the first row is sin(0) = 0, cos(0) = 1."),
        Mistake(lambda n, d: _table(n, d, exponent=lambda i, dd: -2 * i / dd),
                "the sign of the exponent is flipped: divide the position by 10000^(2i/d), so the frequencies "
                "*fall* from 1 to 1/10000 across the columns."),
    ])


