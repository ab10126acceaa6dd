"""Attention: scaled dot-product attention, its masks, and multi-head attention.

Notebook 05 builds ``softmax(Q Kᵀ / √d_k) V`` step by step and shows that :func:`attention`
equals ``torch.nn.functional.scaled_dot_product_attention``; notebook 06 splits it into heads
and shows that :class:`MultiHeadAttention` equals ``nn.MultiheadAttention``.

**Mask convention** (the same as SDPA's boolean ``attn_mask``): a mask is a ``torch.bool``
tensor, ``True`` = *this query may attend to this key*, ``False`` = blocked. It must broadcast
to the scores, shape ``(..., T_q, T_k)``: a ``(T_q, T_k)`` causal mask, a ``(B, 1, 1, T_k)``
padding mask, or their combination with ``&``. A query whose keys are all blocked gets an
all-zero output (as SDPA does), never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._checks import ArgumentError, integer, number, tensor


def check_head_sizes(sizes: Mapping[str, int], *, width: str, dropout: float) -> None:
    """Refuse sizes a multi-head model cannot have, with an error naming the field.

    Every value of ``sizes`` must be a positive int, ``sizes[width]`` (the model width) must be
    divisible by ``sizes["n_head"]`` (each head gets ``width // n_head`` dimensions) and
    ``dropout`` must be in [0, 1). :class:`MultiHeadAttention`, ``GPTConfig`` and
    ``BertConfig`` all check their sizes with it.
    """
    for name, n in sizes.items():
        integer(name, n, min=1)
    if sizes[width] % sizes["n_head"]:
        raise ArgumentError(f"{width} must be divisible by n_head (each head gets {width} // n_head "
                            f"dimensions); got {width}={sizes[width]}, n_head={sizes['n_head']}")
    number("dropout", dropout, min=0, max=1, max_open=True)


def causal_mask(t_q: int, t_k: int | None = None, *, device=None) -> torch.Tensor:
    """The ``(t_q, t_k)`` boolean mask that lets each query see only keys at or before it.

    With ``t_k > t_q`` (queries are the last ``t_q`` positions, as when decoding with a
    cache) the mask is aligned bottom-right: the last query sees every key.
    """
    t_q = integer("t_q", t_q, min=1)
    t_k = t_q if t_k is None else integer("t_k", t_k, min=1)
    if t_k < t_q:
        raise ArgumentError(f"t_k must be >= t_q (queries are the last t_q of t_k positions); got t_q={t_q}, t_k={t_k}")
    return torch.ones(t_q, t_k, dtype=torch.bool, device=device).tril(diagonal=t_k - t_q)


def sliding_window_mask(t_q: int, t_k: int | None = None, *, window: int, device=None) -> torch.Tensor:
    """The ``(t_q, t_k)`` causal mask that lets each query see only its last ``window`` keys, itself included.

    Sliding-window attention (Mistral 7B, Jiang et al. 2023): query t attends to keys
    t − window + 1 … t, a band of width ``window`` under the diagonal, so each row keeps at
    most ``window`` scores however long the text. Aligned bottom-right like :func:`causal_mask`
    when ``t_k > t_q``; ``window >= t_k`` gives the plain causal mask. The same pattern as
    Hugging Face's ``sliding_window_causal_mask_function``.
    """
    window = integer("window", window, min=1)
    mask = causal_mask(t_q, t_k, device=device)                   # (t_q, t_k): keys at or before the query
    return mask & ~mask.tril(diagonal=mask.shape[1] - mask.shape[0] - window)   # minus keys window or more back


def attention_scores_bytes(t_q: int, t_k: int | None = None, *, batch: int = 1, n_head: int = 1,
                           dtype: torch.dtype = torch.float32) -> int:
    """Bytes of the ``(batch, n_head, t_q, t_k)`` score (or weight) table that written-out attention stores.

    ``batch · n_head · t_q · t_k · bytes per element``: what :func:`attention` allocates for its
    weights, and what :func:`tiled_attention` never holds at once. Quadratic in the length:
    GPT-2 small (12 heads) at 1024 tokens in float32 needs 48 MiB per layer and sequence.
    """
    t_q = integer("t_q", t_q, min=1)
    t_k = t_q if t_k is None else integer("t_k", t_k, min=1)
    integer("batch", batch, min=1)
    integer("n_head", n_head, min=1)
    if not isinstance(dtype, torch.dtype):
        raise ArgumentError(f"dtype must be a torch.dtype such as torch.float32; got {dtype!r}")
    return batch * n_head * t_q * t_k * torch.empty((), dtype=dtype).element_size()


def padding_mask(tokens: torch.Tensor, pad_id: int) -> torch.Tensor:
    """``(B, T)`` token ids -> ``(B, 1, 1, T)`` boolean mask, ``True`` where the key is a real token.

    The two singleton axes broadcast over heads and queries: every query may attend to
    every non-padding key.
    """
    tensor("tokens", tokens, shape=("B", "T"), dtype="int")
    integer("pad_id", pad_id, min=0)
    return (tokens != pad_id)[:, None, None, :]


def check_mask(mask: torch.Tensor, scores_shape: tuple[int, ...]) -> None:
    """Raise a clear error unless ``mask`` is boolean and broadcasts to ``scores_shape`` (…, T_q, T_k)."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a torch.bool tensor (True = may attend); got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a torch.bool tensor (True = may attend); got dtype {mask.dtype}. "
                        "Build it with a comparison, e.g. tokens != pad_id, or torch.ones(T, T).tril().bool()")
    target = tuple(scores_shape)
    fits = mask.ndim <= len(target) and all(m in (1, t) for m, t in zip(mask.shape[::-1], target[::-1]))
    if not fits:
        t_q, t_k = target[-2:]
        raise ValueError(f"mask must be ({t_q}, {t_k}) or broadcastable to {target} "
                         f"(e.g. (B, 1, 1, {t_k}) for padding); got {tuple(mask.shape)}")


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None, *,
              scale: float | None = None, dropout_p: float = 0.0,
              training: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention, written out: ``softmax(q kᵀ · scale, masked) v``.

    Shapes: ``q`` (…, T_q, d_k), ``k`` (…, T_k, d_k), ``v`` (…, T_k, d_v), any leading axes
    (batch, heads). ``scale`` defaults to ``1/√d_k``. Returns ``(output, weights)`` with
    output (…, T_q, d_v) and weights (…, T_q, T_k), each row of weights summing to 1 over
    the keys (0 for a query with every key masked). Dropout, if any, acts on the weights and
    only when ``training`` is True (pass ``training=self.training`` from a module, so that
    ``model.eval()`` turns it off; ``F.scaled_dot_product_attention`` has no such switch and
    drops whenever ``dropout_p > 0``).
    """
    sizes: dict[str, int] = {}
    for name, x, last in (("q", q, ("T_q", "d_k")), ("k", k, ("T_k", "d_k")), ("v", v, ("T_k", "d_v"))):
        tensor(name, x, dtype="float")
        if x.ndim < 2:
            raise ArgumentError(f"{name} must be a tensor of shape (..., {', '.join(last)}); "
                                f"got shape {tuple(x.shape)}")
        tensor(name, x, shape=(None,) * (x.ndim - 2) + last, sizes=sizes, dtype=q.dtype)
    try:
        torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ArgumentError(f"q, k and v must have leading axes (batch, heads) that broadcast together; got shapes "
                            f"{tuple(q.shape)}, {tuple(k.shape)} and {tuple(v.shape)}") from None
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else number("scale", scale, min=0, min_open=True)
    number("dropout_p", dropout_p, min=0, max=1, max_open=True)
    scores = q @ k.transpose(-2, -1) * scale                      # (…, T_q, d_k) @ (…, d_k, T_k) -> (…, T_q, T_k)
    if mask is not None:
        check_mask(mask, scores.shape)
        scores = scores.masked_fill(~mask, float("-inf"))          # blocked keys get weight exp(-inf) = 0
    weights = torch.softmax(scores, dim=-1)                        # over the keys: each row sums to 1
    if mask is not None:
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)  # all keys blocked: 0, not NaN
    if dropout_p > 0.0 and training:
        weights = F.dropout(weights, p=dropout_p, training=True)    # kept weights are scaled by 1/(1-p)
    return weights @ v, weights                                    # (…, T_q, T_k) @ (…, T_k, d_v) -> (…, T_q, d_v)


def tiled_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool = False,
                    block_size: int = 64) -> torch.Tensor:
    """``softmax(q kᵀ / √d_k) v`` computed a block at a time, never storing the (T_q, T_k) scores.

    The idea behind FlashAttention (Dao et al. 2022): for each block of queries, visit the keys
    and values a block at a time and keep, per query, the running maximum score ``m``, the running
    sum ``total`` of ``exp(score − m)`` and the running output; when a new block raises the maximum,
    the old sum and output are rescaled by ``exp(m_old − m_new)`` (the *online softmax*). Only
    (block_size, block_size) scores exist at any moment. ``causal=True`` uses the course's
    bottom-right aligned mask (:func:`causal_mask`; needs T_k ≥ T_q) and skips key blocks that lie
    wholly in the future. Shapes as in :func:`attention`: (…, T_q, d_k), (…, T_k, d_k),
    (…, T_k, d_v) -> (…, T_q, d_v); equal to ``F.scaled_dot_product_attention`` up to rounding.
    """
    sizes: dict[str, int] = {}
    for name, x, last in (("q", q, ("T_q", "d_k")), ("k", k, ("T_k", "d_k")), ("v", v, ("T_k", "d_v"))):
        tensor(name, x, shape=(None,) * (q.ndim - 2) + last, sizes=sizes, dtype=q.dtype)
    block_size = integer("block_size", block_size, min=1)
    T, T_k = q.shape[-2], k.shape[-2]
    if causal and T_k < T:
        raise ArgumentError(f"causal tiled attention needs at least as many keys as queries; got T_q={T}, T_k={T_k}")
    shift = T_k - T                                               # query t sees keys 0 … t + shift
    out = torch.empty(*q.shape[:-1], v.shape[-1], dtype=q.dtype, device=q.device)
    for i in range(0, T, block_size):
        qi = q[..., i:i + block_size, :] / math.sqrt(q.shape[-1])  # (…, bq, d_k)
        rows = torch.arange(i, i + qi.shape[-2], device=q.device)
        m = torch.full(qi.shape[:-1], float("-inf"), dtype=q.dtype, device=q.device)   # running max (…, bq)
        total = torch.zeros_like(m)                                                      # running sum of exp
        acc = torch.zeros(*qi.shape[:-1], v.shape[-1], dtype=q.dtype, device=q.device)  # running output
        last_key = i + qi.shape[-2] - 1 + shift if causal else T_k - 1
        for j in range(0, last_key + 1, block_size):
            s = qi @ k[..., j:j + block_size, :].transpose(-2, -1)   # (…, bq, bk): this tile's scores only
            if causal:
                cols = torch.arange(j, j + s.shape[-1], device=q.device)
                s = s.masked_fill(cols[None, :] > rows[:, None] + shift, float("-inf"))
            m_new = torch.maximum(m, s.amax(-1))
            p = torch.exp(s - m_new[..., None])                       # masked keys: exp(-inf) = 0
            rescale = torch.exp(m - m_new)                            # 0 on the first tile (m = -inf)
            total = total * rescale + p.sum(-1)
            acc = acc * rescale[..., None] + p @ v[..., j:j + block_size, :]
            m = m_new
        out[..., i:i + block_size, :] = acc / total[..., None]
    return out


class AdditiveAttention(nn.Module):
    """Bahdanau's additive attention (Bahdanau, Cho & Bengio 2015), the attention of RNN translators.

    A query ``s`` (the decoder's state) scores every key ``h_j`` (the encoder's states) with a small
    network, ``e_j = vᵀ tanh(W_q s + W_k h_j)``; the weights are ``softmax(e)`` over the keys and
    the result is the weighted sum of the values (usually the keys themselves).
    ``forward(query (B, D_q) or (B, T_q, D_q), keys (B, T_k, D_k), values (B, T_k, D_v) | None,
    mask (B, T_k) bool | None)`` returns ``(context, weights)``: context (B, D_v) or
    (B, T_q, D_v), weights (B, T_k) or (B, T_q, T_k). ``mask`` is True where a key may be read
    (real tokens, not padding); a query with every key masked gets zero weights, never NaN.
    ``W_k h_j`` does not depend on the query: a decoder that attends to the same keys at every step
    can compute it once and pass it as ``projected_keys`` (B, T_k, hidden_size).
    """

    def __init__(self, query_size: int, key_size: int, hidden_size: int):
        super().__init__()
        self.query_size = integer("query_size", query_size, min=1)
        self.key_size = integer("key_size", key_size, min=1)
        self.hidden_size = integer("hidden_size", hidden_size, min=1)
        self.W_q = nn.Linear(query_size, hidden_size, bias=False)
        self.W_k = nn.Linear(key_size, hidden_size, bias=False)
        self.v = nn.Linear(hidden_size, 1, bias=False)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, *,
                projected_keys: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        sizes = {"D_q": self.query_size, "D_k": self.key_size, "H": self.hidden_size}
        tensor("keys", keys, shape=("B", "T_k", "D_k"), sizes=sizes, dtype="float")
        if projected_keys is None:
            projected_keys = self.W_k(keys)                                   # (B, T_k, H)
        else:
            tensor("projected_keys", projected_keys, shape=("B", "T_k", "H"), sizes=sizes, dtype=keys.dtype)
        one_step = query.ndim == 2 if isinstance(query, torch.Tensor) else False
        tensor("query", query, shape=("B", "D_q") if one_step else ("B", "T_q", "D_q"), sizes=sizes,
               dtype=keys.dtype)
        values = keys if values is None else tensor("values", values, shape=("B", "T_k", None), sizes=sizes,
                                                    dtype=keys.dtype)
        q = query[:, None, :] if one_step else query                          # (B, T_q, D_q)
        scores = self.v(torch.tanh(self.W_q(q)[:, :, None, :] + projected_keys[:, None, :, :]))[..., 0]
        # (B, T_q, 1, H) + (B, 1, T_k, H) -> tanh -> v -> (B, T_q, T_k)
        if mask is not None:
            tensor("mask", mask, shape=("B", "T_k"), sizes=sizes, dtype="bool")
            scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if mask is not None:
            weights = weights.masked_fill(~mask[:, None, :].any(-1, keepdim=True), 0.0)  # no key at all: 0, not NaN
        context = weights @ values                                            # (B, T_q, T_k) @ (B, T_k, D_v)
        return (context[:, 0], weights[:, 0]) if one_step else (context, weights)


class MultiHeadAttention(nn.Module):
    """Multi-head attention: project to ``n_head`` heads, attend in each, concatenate, project.

    ``forward(x)`` is self-attention; ``forward(x, kv)`` is cross-attention (queries from
    ``x`` (B, T_q, d_model), keys and values from ``kv`` (B, T_k, d_model)). ``mask`` follows
    the module's convention (bool, True = may attend, broadcastable to (B, n_head, T_q, T_k));
    ``is_causal=True`` adds a causal mask. Uses ``F.scaled_dot_product_attention`` (the fast
    path) unless ``need_weights=True``, which runs :func:`attention` and returns
    ``(output, weights)`` with weights (B, n_head, T_q, T_k) for plotting.
    """

    def __init__(self, d_model: int, n_head: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        check_head_sizes({"d_model": d_model, "n_head": n_head}, width="d_model", dropout=dropout)
        self.d_model, self.n_head, self.head_dim, self.dropout = d_model, n_head, d_model // n_head, dropout
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.n_head, self.head_dim).transpose(1, 2)  # (B, T, C) -> (B, nh, T, hs)

    def forward(self, x: torch.Tensor, kv: torch.Tensor | None = None, mask: torch.Tensor | None = None, *,
                is_causal: bool = False, need_weights: bool = False):
        kv = x if kv is None else kv
        for name, t in (("x", x), ("kv", kv)):
            if not isinstance(t, torch.Tensor) or t.ndim != 3 or t.shape[-1] != self.d_model:
                shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                raise ArgumentError(f"{name} must be (B, T, d_model={self.d_model}); got {shape}")
            tensor(name, t, dtype="float")
        if kv.shape[0] != x.shape[0]:
            raise ArgumentError(f"kv must have the same batch size as x (B={x.shape[0]}); got shape {tuple(kv.shape)}")
        (b, t_q, c), t_k = x.shape, kv.shape[1]
        q, k, v = self._heads(self.q_proj(x)), self._heads(self.k_proj(kv)), self._heads(self.v_proj(kv))
        if mask is not None:
            check_mask(mask, (b, self.n_head, t_q, t_k))
        p = self.dropout if self.training else 0.0
        if is_causal and mask is None and t_q == t_k and not need_weights:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)   # lets SDPA pick flash kernels
        else:
            if is_causal:
                causal = causal_mask(t_q, t_k, device=x.device)
                mask = causal if mask is None else mask & causal
            if need_weights:
                y, weights = attention(q, k, v, mask, dropout_p=p, training=self.training)
            else:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        y = y.transpose(1, 2).contiguous().view(b, t_q, c)           # (B, nh, T_q, hs) -> (B, T_q, C)
        y = self.out_proj(y)
        return (y, weights) if need_weights else y


@torch.no_grad()
def load_torch_mha(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> MultiHeadAttention:
    """Copy the weights of a ``torch.nn.MultiheadAttention`` (``batch_first`` or not) into ``ours``.

    PyTorch keeps the three input projections stacked in ``in_proj_weight`` (3·d_model, d_model),
    in the order q, k, v; they are split here. Returns ``ours``.
    """
    if not isinstance(theirs, nn.MultiheadAttention):
        raise ArgumentError(f"theirs must be a torch.nn.MultiheadAttention; got {type(theirs).__name__}")
    if theirs.embed_dim != ours.d_model or theirs.num_heads != ours.n_head:
        raise ValueError(f"theirs must have embed_dim={ours.d_model} and num_heads={ours.n_head}; "
                         f"got {theirs.embed_dim} and {theirs.num_heads}")
    if theirs.in_proj_weight is None:
        raise ValueError("theirs must use one in_proj_weight (kdim == vdim == embed_dim)")
    for proj, w in zip((ours.q_proj, ours.k_proj, ours.v_proj), theirs.in_proj_weight.chunk(3)):
        proj.weight.copy_(w)
    ours.out_proj.weight.copy_(theirs.out_proj.weight)
    if theirs.in_proj_bias is not None and ours.q_proj.bias is not None:
        for proj, b in zip((ours.q_proj, ours.k_proj, ours.v_proj), theirs.in_proj_bias.chunk(3)):
            proj.bias.copy_(b)
        ours.out_proj.bias.copy_(theirs.out_proj.bias)
    return ours
