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


def _positive_int(name: str, n) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be a positive int; got {n!r}")


def _check_length(t: int, max_len: int, offset: int = 0) -> None:
    if t + offset > max_len:
        where = f" starting at position {offset}" if offset else ""
        raise ValueError(f"sequence length {t}{where} is longer than the positional table (max_len={max_len}); "
                         "build the module with a larger max_len or feed shorter sequences")


def sinusoidal_table(max_len: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The ``(max_len, d_model)`` sinusoidal table: ``PE[p, 2i] = sin(p / base^(2i/d))``, ``PE[p, 2i+1] = cos(…)``.

    Each pair of columns is a sine/cosine of one frequency; frequencies fall geometrically
    from 1 to 1/base across the pairs, so ``d_model`` must be even.
    """
    _positive_int("max_len", max_len)
    _positive_int("d_model", d_model)
    if d_model % 2:
        raise ValueError(f"d_model must be even (sine and cosine come in pairs); got {d_model}")
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
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must be (B, T, d_model={self.d_model}); got {tuple(x.shape)}")
        _check_length(x.shape[1], self.max_len, offset)
        return x + self.table[offset:offset + x.shape[1]].to(x.dtype)


class LearnedPositions(nn.Module):
    """Adds a learned vector per position (GPT-2's ``wpe``): (B, T, d_model) -> (B, T, d_model)."""

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        _positive_int("max_len", max_len)
        _positive_int("d_model", d_model)
        self.d_model, self.max_len = d_model, max_len
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must be (B, T, d_model={self.d_model}); got {tuple(x.shape)}")
        _check_length(x.shape[1], self.max_len, offset)
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
        _positive_int("head_dim", head_dim)
        _positive_int("max_len", max_len)
        if head_dim % 2:
            raise ValueError(f"head_dim must be even (dimensions are rotated in pairs); got {head_dim}")
        self.head_dim, self.max_len = head_dim, max_len
        inv_freq = base ** (-torch.arange(0, head_dim, 2).float() / head_dim)          # (hs/2,)
        angles = torch.arange(max_len).float()[:, None] * inv_freq                     # (L, hs/2)
        angles = torch.cat((angles, angles), dim=-1)                                   # (L, hs)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        if x.ndim < 2 or x.shape[-1] != self.head_dim:
            raise ValueError(f"x must be (..., T, head_dim={self.head_dim}); got {tuple(x.shape)}")
        t = x.shape[-2]
        _check_length(t, self.max_len, offset)
        cos = self.cos[offset:offset + t].to(x.dtype)
        sin = self.sin[offset:offset + t].to(x.dtype)
        return x * cos + rotate_half(x) * sin
