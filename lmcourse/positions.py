"""Positions: attention cannot tell word order by itself, so we tell it.

Notebook 06 shows that attention is permutation-equivariant and builds three fixes:
sinusoidal encodings added to the embeddings (Vaswani et al. 2017), learned position
embeddings (GPT-2), and rotary embeddings, RoPE (Su et al. 2021), which rotate queries and
keys so that their dot product depends only on the *distance* between two positions.
Every module here refuses a sequence longer than its table with a clear error.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ._checks import ArgumentError, integer, number, tensor


def _check_input(x, width_name: str, width: int, offset, max_len: int, *, any_lead: bool = False) -> None:
    """``x`` must be (B, T, width) — or (…, T, width) with ``any_lead`` — floating point, and rows
    ``offset … offset + T - 1`` must exist in a table of ``max_len`` positions."""
    layout = f"(..., T, {width_name}={width})" if any_lead else f"(B, T, {width_name}={width})"
    if not isinstance(x, torch.Tensor):
        raise ArgumentError(f"x must be a {layout} tensor; got {type(x).__name__}")
    if (x.ndim < 2 if any_lead else x.ndim != 3) or x.shape[-1] != width:
        raise ArgumentError(f"x must be {layout}; got {tuple(x.shape)}")
    tensor("x", x, dtype="float")
    offset = integer("offset", offset, min=0)
    t = x.shape[-2]
    if t + offset > max_len:
        where = f" starting at position {offset}" if offset else ""
        total = f"offset + length = {offset + t} > " if offset else ""
        raise ArgumentError(f"sequence length {t}{where} is longer than the positional table "
                            f"({total}max_len={max_len}); build the module with a larger max_len "
                            "or feed shorter sequences")


def sinusoidal_table(max_len: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The ``(max_len, d_model)`` sinusoidal table: ``PE[p, 2i] = sin(p / base^(2i/d))``, ``PE[p, 2i+1] = cos(…)``.

    Each pair of columns is a sine/cosine of one frequency; frequencies fall geometrically
    from 1 to 1/base across the pairs, so ``d_model`` must be even.
    """
    integer("max_len", max_len, min=1)
    integer("d_model", d_model, min=1)
    number("base", base, min=0, min_open=True)
    if d_model % 2:
        raise ArgumentError(f"d_model must be even (sine and cosine come in pairs); got {d_model}")
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]                        # (L, 1)
    inv_freq = torch.exp(-math.log(base) * torch.arange(0, d_model, 2).float() / d_model)  # (d/2,)
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(pos * inv_freq)
    table[:, 1::2] = torch.cos(pos * inv_freq)
    return table


class SinusoidalPositions(nn.Module):
    """Adds the fixed sinusoidal table to token embeddings: (B, T, d_model) -> (B, T, d_model)."""

    def __init__(self, d_model: int, max_len: int = 1024, base: float = 10000.0):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.register_buffer("table", sinusoidal_table(max_len, d_model, base), persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        _check_input(x, "d_model", self.d_model, offset, self.max_len)
        return x + self.table[offset:offset + x.shape[1]].to(x.dtype)


class LearnedPositions(nn.Module):
    """Adds a learned vector per position (GPT-2's ``wpe``): (B, T, d_model) -> (B, T, d_model)."""

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        self.d_model = integer("d_model", d_model, min=1)
        self.max_len = integer("max_len", max_len, min=1)
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        _check_input(x, "d_model", self.d_model, offset, self.max_len)
        pos = torch.arange(offset, offset + x.shape[1], device=x.device)
        return x + self.embedding(pos)                                    # (T, C) broadcasts over B


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``[x1, x2] -> [-x2, x1]`` on the last axis, split in two halves (the GPT-NeoX/LLaMA layout)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (RoPE) for queries or keys of shape (…, T, head_dim).

    Dimension ``i`` and ``i + head_dim/2`` form a 2-D pair that is rotated by the angle
    ``p · base^(-2i/head_dim)`` at position ``p``. Rotating both q and k makes
    ``rope(q, m) · rope(k, n)`` depend on ``m - n`` only. ``offset`` is the position of the
    first row (for decoding with a cache).
    """

    def __init__(self, head_dim: int, max_len: int = 1024, base: float = 10000.0):
        super().__init__()
        integer("head_dim", head_dim, min=1)
        integer("max_len", max_len, min=1)
        number("base", base, min=0, min_open=True)
        if head_dim % 2:
            raise ArgumentError(f"head_dim must be even (dimensions are rotated in pairs); got {head_dim}")
        self.head_dim, self.max_len = head_dim, max_len
        inv_freq = base ** (-torch.arange(0, head_dim, 2).float() / head_dim)          # (hs/2,)
        angles = torch.arange(max_len).float()[:, None] * inv_freq                     # (L, hs/2)
        angles = torch.cat((angles, angles), dim=-1)                                   # (L, hs)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        _check_input(x, "head_dim", self.head_dim, offset, self.max_len, any_lead=True)
        t = x.shape[-2]
        cos = self.cos[offset:offset + t].to(x.dtype)
        sin = self.sin[offset:offset + t].to(x.dtype)
        return x * cos + rotate_half(x) * sin
