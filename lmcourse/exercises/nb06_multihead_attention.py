"""Checkers for notebook 06: heads from a fused q|k|v projection, ALiBi biases, and RoPE on interleaved pairs."""

from __future__ import annotations

import math

import torch

from .checking import Case, Mistake, Result, check_function


def _x(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


_QKV_CASES = [
    Case((_x(0, 1, 3, 3 * 4), 2), label="qkv of shape (1, 3, 12): C = 4, n_head=2"),
    Case((_x(1, 2, 3, 3 * 6), 3), label="qkv of shape (2, 3, 18): C = 6, n_head=3"),
    Case((_x(2, 2, 4, 3 * 8), 1), label="qkv of shape (2, 4, 24): C = 8, n_head=1"),
    Case((_x(3, 2, 5, 3 * 12), 4), label="qkv of shape (2, 5, 36): C = 12, n_head=4"),
]


def _heads(t: torch.Tensor, n_head: int) -> torch.Tensor:
    b, n, c = t.shape
    return t.view(b, n, n_head, c // n_head).transpose(1, 2)


def _split_qkv(qkv, n_head):
    q, k, v = qkv.chunk(3, dim=-1)                          # each (B, T, C)
    return _heads(q, n_head), _heads(k, n_head), _heads(v, n_head)


def _interleaved_per_head(qkv, n):
    b, t, c3 = qkv.shape
    return tuple(p.transpose(1, 2) for p in qkv.view(b, t, n, c3 // n).chunk(3, dim=-1))


def check_split_qkv(split_qkv) -> Result:
    """``split_qkv(qkv, n_head)``: (B, T, 3C) = [q | k | v] -> (q, k, v), each (B, n_head, T, C // n_head)."""
    return check_function(split_qkv, _split_qkv, _QKV_CASES, name="check_split_qkv", mistakes=[
        Mistake(lambda qkv, n: _split_qkv(qkv, n)[0],
                "return all three: `return q, k, v`, each of shape (B, n_head, T, C // n_head)."),
        Mistake(_interleaved_per_head,
                "you split into heads first and then into q, k, v inside each head. That is another layout "
                "(Megatron's); here the projection is [q | k | v]: the first C columns are q, the next C are k, "
                "the last C are v. Chunk the last axis in three first, then split each part into heads."),
        Mistake(lambda qkv, n: tuple(p.reshape(p.shape[0], n, p.shape[1], p.shape[2] // n)
                                     for p in qkv.chunk(3, dim=-1)),
                "you reshaped each part straight to (B, n_head, T, hs): right shape, scrambled numbers. View as "
                "(B, T, n_head, hs) first, then .transpose(1, 2)."),
        Mistake(lambda qkv, n: tuple(p.view(*p.shape[:2], n, p.shape[2] // n) for p in qkv.chunk(3, dim=-1)),
                "the head axis must come before the time axis: add .transpose(1, 2) so each part is "
                "(B, n_head, T, hs)."),
        Mistake(lambda qkv, n: tuple(reversed(_split_qkv(qkv, n))),
                "the order is q, k, v: the first C columns are the queries."),
    ])


def _pow2_slopes(n: int) -> list[float]:
    return [2.0 ** (-8.0 * (i + 1) / n) for i in range(n)]


def _slopes(n_head: int, *, extra=lambda more: more[0::2]) -> list[float]:
    n = 2 ** math.floor(math.log2(n_head))                  # the largest power of two <= n_head
    if n == n_head:
        return _pow2_slopes(n)
    return _pow2_slopes(n) + extra(_pow2_slopes(2 * n))[: n_head - n]


def _alibi(n_head, T, *, slopes=None, distance=lambda i, j: (i - j).abs(), sign=-1.0):
    m = torch.tensor(_slopes(n_head) if slopes is None else slopes(n_head), dtype=torch.float32)
    pos = torch.arange(T)
    return sign * m[:, None, None] * distance(pos[:, None], pos[None, :]).float()


_ALIBI_CASES = [
    Case((4, 5), label="n_head=4, T=5 (a power of two)"),
    Case((8, 3), label="n_head=8, T=3"),
    Case((6, 4), label="n_head=6, T=4 (not a power of two)"),
    Case((12, 3), label="n_head=12, T=3 (not a power of two)"),
    Case((3, 4), label="n_head=3, T=4"),
    Case((1, 2), label="n_head=1, T=2 (one head)"),
    Case((2, 1), label="n_head=2, T=1 (one position: no distance at all)"),
]


def check_alibi_bias(alibi_bias) -> Result:
    """``alibi_bias(n_head, T)``: float (n_head, T, T) with ``bias[h, i, j] = -m_h·|i − j|``, ALiBi's slopes m_h."""
    return check_function(alibi_bias, _alibi, _ALIBI_CASES, name="check_alibi_bias", atol=1e-6, mistakes=[
        Mistake(lambda h, t: _alibi(h, t, sign=1.0),
                "the sign is flipped: ALiBi *subtracts* m·|i − j|, so that distant keys score lower."),
        Mistake(lambda h, t: _alibi(h, t, distance=lambda i, j: i - j),
                "use the distance |i − j|: with i − j the keys after the query get a bonus instead of a penalty."),
        Mistake(lambda h, t: _alibi(h, t, slopes=lambda n: _slopes(n)[::-1]),
                "the slopes are in reverse order: head 0 has the *largest* slope 2^(−8/n), the last head the "
                "smallest."),
        Mistake(lambda h, t: _alibi(h, t, slopes=lambda n: [2.0 ** (-8.0 * (i + 1) / n) for i in range(n)]),
                "2^(−8(h+1)/n_head) is the rule for a power of two only. Otherwise take the slopes of the largest "
                "power of two n below n_head, then the first n_head − n of the slopes of 2n heads at even "
                "positions (0, 2, 4, …): those are the ones the n-head sequence does not already contain."),
        Mistake(lambda h, t: _alibi(h, t, slopes=lambda n: _slopes(n, extra=lambda more: more)),
                "for n_head that is not a power of two, the extra slopes are every *other* slope of the 2n-head "
                "sequence (positions 0, 2, 4, …), not its first n_head − n: those repeat slopes you already have."),
        Mistake(lambda h, t: _alibi(h, t, slopes=lambda n: _slopes(n, extra=lambda more: more[1::2])),
                "positions 1, 3, 5, … of the 2n-head slopes are exactly the n-head slopes again (2^(−8(2i+2)/2n) "
                "= 2^(−8(i+1)/n)); take positions 0, 2, 4, …"),
    ])


def _rope_pairs(x, positions, base=10000.0, *, exponent=lambda i, d: 2 * i / d, direction=1.0, half=False):
    d = x.shape[-1]
    theta = base ** (-exponent(torch.arange(d // 2, dtype=torch.float32), d))        # (d/2,)
    angle = direction * positions.to(torch.float32)[:, None] * theta                 # (T, d/2)
    cos, sin = angle.cos(), angle.sin()
    if half:
        a, b = x[..., : d // 2], x[..., d // 2:]
    else:
        a, b = x[..., 0::2], x[..., 1::2]
    ra, rb = a * cos - b * sin, a * sin + b * cos
    if half:
        return torch.cat([ra, rb], dim=-1)
    return torch.stack([ra, rb], dim=-1).flatten(-2)          # back to (…, x0', x1', x2', x3', …)


def _rope_interleaved(x, positions, base=10000.0):
    return _rope_pairs(x, positions, base)


_ROPE_CASES = [
    Case((_x(10, 4, 8), torch.arange(4)), label="x (4, 8), positions 0 … 3"),
    Case((_x(11, 2, 3, 5, 6), torch.arange(5)), label="x (2, 3, 5, 6): batch and heads, positions 0 … 4"),
    Case((_x(12, 1, 4, 8), torch.arange(7, 11)), label="x (1, 4, 8), positions 7 … 10 (decoding after a cache)"),
    Case((_x(13, 3, 16), torch.tensor([0, 5, 2])), label="x (3, 16), positions [0, 5, 2] (not in order)"),
    Case((_x(14, 2, 4, 4), torch.arange(4)), {"base": 100.0}, label="x (2, 4, 4), positions 0 … 3, base=100"),
    Case((_x(15, 3, 2), torch.arange(3)), label="x (3, 2): one pair only"),
]


def check_rope_interleaved(rope_interleaved) -> Result:
    """``rope_interleaved(x, positions, base=10000.0)``: RoPE with pairs (2i, 2i+1), as in Meta's LLaMA code."""
    return check_function(rope_interleaved, _rope_interleaved, _ROPE_CASES, name="check_rope_interleaved",
                          atol=1e-5, mistakes=[
        Mistake(lambda x, p, base=10000.0: _rope_pairs(x, p, base, half=True),
                "that is the rotate-half layout of §6 (pair i = dimensions i and i + hs/2). Here pair i is "
                "dimensions 2i and 2i + 1: x[..., 0::2] and x[..., 1::2], and the result interleaves them back."),
        Mistake(lambda x, p, base=10000.0: _rope_pairs(x, p, base, direction=-1.0),
                "you rotate the wrong way: pair (a, b) at angle φ becomes (a cos φ − b sin φ, a sin φ + b cos φ), "
                "multiplication by e^{iφ} with a the real part."),
        Mistake(lambda x, p, base=10000.0: _rope_pairs(x, p, base, exponent=lambda i, d: i / d),
                "θ_i = base^(−2i/hs), where i counts the pairs (0 … hs/2 − 1); you used base^(−i/hs)."),
        Mistake(lambda x, p, base=10000.0: _rope_pairs(x, torch.arange(x.shape[-2]), base),
                "use the positions you are given, not 0 … T − 1: with a cache the first row may be position 7."),
        Mistake(lambda x, p, base=10000.0: _rope_pairs(x, p),
                "use the `base` argument: the case with base=100 rotates faster than base 10000."),
    ])
