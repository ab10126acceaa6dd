"""A GPT: a decoder-only Transformer that predicts the next token (Radford et al. 2018, 2019).

Notebook 09 builds it from the attention, heads and blocks of :mod:`lmcourse.attention` and
:mod:`lmcourse.transformer`, and trains it on Shakespeare:

    idx (B, T) -> token embedding + learned position -> n_layer pre-norm blocks -> LayerNorm
               -> linear head tied to the token embedding -> logits (B, T, vocab_size)

Each :class:`Block` is GPT-2's pre-norm block, ``x = x + attn(ln_1(x))``,
``x = x + mlp(ln_2(x))``, composed from :class:`lmcourse.transformer.LayerNorm` and
:class:`lmcourse.transformer.FeedForward`. :class:`CausalSelfAttention` projects q, k and v
with one fused matrix, uses ``F.scaled_dot_product_attention`` (``is_causal``) for speed,
can return its weights through :func:`lmcourse.attention.attention` for plotting, and reuses
past keys and values from a :class:`KVCache` when generating one token at a time.
The config names are nanoGPT's, so the code reads side by side with it.
The defaults are GPT-2's block; each change that separates it from a LLaMA-style block is one config field,
so notebook 10 can switch them on one at a time: ``position="rope"`` (rotary positions,
:mod:`lmcourse.positions`), ``norm="rmsnorm"`` (:class:`lmcourse.transformer.RMSNorm`), ``mlp="swiglu"``
(:class:`lmcourse.transformer.SwiGLU`, hidden width matched for equal parameters), ``bias=False`` and
``n_kv_head`` < ``n_head`` (grouped-query attention: several query heads share one key/value head, which
shrinks the KV cache; 1 is multi-query attention). ``mlp="gelu_tanh"`` is the tanh approximation of GELU
that GPT-2's released weights were trained with. Every entry point checks its token ids
(integers in ``[0, vocab_size)``), the sequence length against ``block_size`` and a cache
against the model and the batch, so a wrong call fails with a sentence, not inside PyTorch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import sampling
from ._checks import ArgumentError, integer, one_of, tensor, token_ids
from .attention import attention, causal_mask, check_head_sizes
from .positions import LearnedPositions, RotaryEmbedding
from .transformer import FeedForward, LayerNorm, RMSNorm, SwiGLU, swiglu_hidden

POSITIONS = ("learned", "rope")
NORMS = ("layernorm", "rmsnorm")
MLPS = ("gelu", "gelu_tanh", "swiglu")


@dataclass
class GPTConfig:
    """Sizes of a GPT. The defaults are a small character-level model (nanoGPT's CPU sizes)."""

    block_size: int = 64      # longest context, in tokens
    vocab_size: int = 65      # tinyshakespeare has 65 distinct characters
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128         # the model width C; each head gets n_embd // n_head
    dropout: float = 0.0
    bias: bool = True         # biases in the linear layers and LayerNorms (GPT-2: True)
    position: str = "learned"  # "learned" (GPT-2's wpe) or "rope" (rotary, as in LLaMA)
    # the modern changes (notebook 10); the defaults keep GPT-2's block
    norm: str = "layernorm"   # "layernorm" (GPT-2) or "rmsnorm" (LLaMA)
    mlp: str = "gelu"         # "gelu" (4C MLP), "gelu_tanh" (GPT-2's released weights) or "swiglu" (LLaMA)
    d_ff: int | None = None   # MLP hidden width; None: 4·n_embd, or swiglu_hidden(n_embd) for "swiglu"
    n_kv_head: int | None = None  # key/value heads; None: n_head (multi-head), 1: multi-query, else grouped-query

    def __post_init__(self):
        sizes = ("block_size", "vocab_size", "n_layer", "n_head", "n_embd")
        check_head_sizes({name: getattr(self, name) for name in sizes}, width="n_embd", dropout=self.dropout)
        one_of("position", self.position, POSITIONS)
        one_of("norm", self.norm, NORMS)
        one_of("mlp", self.mlp, MLPS)
        if self.d_ff is not None:
            integer("d_ff", self.d_ff, min=1)
        if self.n_kv_head is not None:
            integer("n_kv_head", self.n_kv_head, min=1)
            if self.n_head % self.n_kv_head:
                raise ArgumentError(f"n_kv_head must divide n_head={self.n_head} (each key/value head serves "
                                    f"n_head // n_kv_head query heads); got {self.n_kv_head}")
        if self.position == "rope" and (self.n_embd // self.n_head) % 2:
            raise ValueError("position='rope' needs an even head size n_embd // n_head; "
                             f"got {self.n_embd // self.n_head}")

    @property
    def kv_heads(self) -> int:
        """The number of key/value heads: ``n_kv_head``, or ``n_head`` when it is None."""
        return self.n_head if self.n_kv_head is None else self.n_kv_head

    @property
    def hidden(self) -> int:
        """The MLP's hidden width: ``d_ff``, or 4·n_embd (GELU) / ``swiglu_hidden(n_embd)`` (SwiGLU)."""
        if self.d_ff is not None:
            return self.d_ff
        return swiglu_hidden(self.n_embd) if self.mlp == "swiglu" else 4 * self.n_embd

    def __repr__(self) -> str:
        """GPT-2's fields always; a modern field only when it is set (so a GPT-2 config prints as before)."""
        shown = [f.name for f in fields(self) if f.name not in _MODERN or getattr(self, f.name) != f.default]
        return f"GPTConfig({', '.join(f'{name}={getattr(self, name)!r}' for name in shown)})"


_MODERN = ("norm", "mlp", "d_ff", "n_kv_head")


class KVCache:
    """The keys and values every layer has computed so far, so a new token need not recompute them.

    Buffers of shape (n_layer, B, n_kv_head, block_size, head_dim) are allocated once (n_kv_head =
    n_head unless the model shares key/value heads, see :class:`GPTConfig`);
    :meth:`update` writes a layer's new keys/values at positions ``length…`` and returns all
    of them up to the end of the new ones; :meth:`advance` moves ``length`` on after the last
    layer. ``length`` is also the position of the next token (its offset for the position
    embedding).
    """

    def __init__(self, config: GPTConfig, batch_size: int, *, device=None, dtype=torch.float32):
        batch_size = integer("batch_size", batch_size, min=1)
        hs = config.n_embd // config.n_head
        shape = (config.n_layer, batch_size, config.kv_heads, config.block_size, hs)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.block_size, self.length = config.block_size, 0

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``k``, ``v`` (B, n_kv, T, hs) of ``layer``; return its keys and values (B, n_kv, length + T, hs).

        The caller (:meth:`GPT.next_logits`) has checked that ``length + T`` fits ``block_size``."""
        start, end = self.length, self.length + k.shape[2]
        self.k[layer, :, :, start:end] = k
        self.v[layer, :, :, start:end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]

    def advance(self, t: int) -> None:
        self.length += t


class CausalSelfAttention(nn.Module):
    """Masked multi-head self-attention with one fused q/k/v projection: (B, T, C) -> (B, T, C).

    ``c_attn`` (C -> 3C) holds W_q, W_k, W_v stacked, ``c_proj`` (C -> C) mixes the heads.
    The fast path is ``F.scaled_dot_product_attention``; ``need_weights=True`` runs the
    written-out :func:`lmcourse.attention.attention` instead and also returns the weights
    (B, nh, T, T_k). With a ``cache`` the queries are the last T of ``cache.length + T``
    positions and the mask is aligned bottom-right (each new token sees everything before it).
    With ``config.position == "rope"`` q and k are rotated by their positions
    (:class:`lmcourse.positions.RotaryEmbedding`) before the scores, so the scores depend on
    how far apart two tokens are, not on where they sit.

    With ``n_kv_head`` < ``n_head`` (grouped-query attention, Ainslie et al. 2023; multi-query for 1,
    Shazeer 2019) ``c_attn`` makes n_head query heads but only n_kv_head key and value heads
    (C -> C + 2·n_kv_head·hs), the cache stores only those, and query head h reads key/value
    head ``h // (n_head // n_kv_head)`` — what ``repeat_interleave`` on the head axis gives.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.n_kv_head, self.n_embd = config.n_head, config.kv_heads, config.n_embd
        self.dropout = config.dropout
        kv = self.n_kv_head * (config.n_embd // config.n_head)           # width of all key (or value) heads
        self.c_attn = nn.Linear(config.n_embd, config.n_embd + 2 * kv, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        rope = config.position == "rope"
        self.rope = RotaryEmbedding(config.n_embd // config.n_head, config.block_size) if rope else None

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0, *, need_weights: bool = False):
        B, T, C = x.shape
        hs, n_kv = C // self.n_head, self.n_kv_head
        q, k, v = self.c_attn(x).split((C, n_kv * hs, n_kv * hs), dim=2)  # (B, T, C + 2·n_kv·hs) -> q, k, v
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)                 # (B, T, C) -> (B, nh, T, hs)
        k, v = (t.view(B, T, n_kv, hs).transpose(1, 2) for t in (k, v))   # -> (B, n_kv, T, hs)
        if self.rope is not None:                                         # rotate q and k by their positions
            offset = cache.length if cache is not None else 0
            q, k = self.rope(q, offset), self.rope(k, offset)
        if cache is not None:
            k, v = cache.update(layer, k, v)                              # (B, n_kv, T_k, hs), T_k = past + T
        T_k = k.shape[2]
        p = self.dropout if self.training else 0.0
        weights, gqa = None, n_kv != self.n_head
        if need_weights:
            if gqa:                                                       # give every query head its k/v head
                k, v = (t.repeat_interleave(self.n_head // n_kv, dim=1) for t in (k, v))  # -> (B, nh, T_k, hs)
            y, weights = attention(q, k, v, causal_mask(T, T_k, device=x.device), dropout_p=p)
        elif T == T_k:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True, enable_gqa=gqa)
        elif T == 1:                                                      # one new token sees every cached key
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, enable_gqa=gqa)
        else:                                                             # a chunk after a cached prefix
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(T, T_k, device=x.device), dropout_p=p,
                                               enable_gqa=gqa)
        y = y.transpose(1, 2).reshape(B, T, C)                            # (B, nh, T, hs) -> (B, T, C)
        y = self.c_proj(y)
        return (y, weights) if need_weights else y


def _norm(config: GPTConfig) -> nn.Module:
    """The block's normalization: LayerNorm (GPT-2) or RMSNorm (LLaMA), over n_embd."""
    if config.norm == "rmsnorm":
        return RMSNorm(config.n_embd)
    return LayerNorm(config.n_embd, bias=config.bias)


def _mlp(config: GPTConfig) -> nn.Module:
    """The block's MLP: GPT-2's 4C GELU MLP (exact or tanh GELU) or LLaMA's SwiGLU."""
    if config.mlp == "swiglu":
        return SwiGLU(config.n_embd, config.hidden, bias=config.bias)
    return FeedForward(config.n_embd, config.hidden, dropout=0.0, activation=config.mlp, bias=config.bias)


class Block(nn.Module):
    """GPT-2's pre-norm block: ``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``; (B, T, C) -> (B, T, C).

    ``config.norm`` and ``config.mlp`` choose the norm and the MLP (LayerNorm and GELU for GPT-2)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = _norm(config)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = _norm(config)
        self.mlp = _mlp(config)
        self.drop = nn.Dropout(config.dropout)                            # on each residual branch

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0, *, need_weights: bool = False):
        a = self.attn(self.ln_1(x), cache, layer, need_weights=need_weights)
        a, weights = a if need_weights else (a, None)
        x = x + self.drop(a)
        x = x + self.drop(self.mlp(self.ln_2(x)))
        return (x, weights) if need_weights else x


class GPT(nn.Module):
    """A decoder-only Transformer language model: ``forward(idx, targets=None) -> (logits, loss)``.

    ``idx`` (B, T) token ids with T <= block_size; ``logits`` (B, T, vocab_size) score the
    next token at every position; ``loss`` is the mean cross-entropy against ``targets``
    (B, T) (``-1`` = ignore), or ``None``. The output head shares its weight matrix with the
    token embedding (weight tying). Weights start as in GPT-2: N(0, 0.02), biases 0, and
    the two residual projections of every block scaled by 1/√(2·n_layer).
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise ValueError(f"config must be a GPTConfig; got {type(config).__name__}")
        self.config = c = config
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)                   # token embedding
        # learned position embedding (GPT-2); with RoPE the attention layers rotate q and k instead
        self.wpe = LearnedPositions(c.block_size, c.n_embd) if c.position == "learned" else None
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln_f = _norm(c)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight                              # weight tying: one (V, C) matrix
        self.apply(self._init_weights)
        for block in self.blocks:                                          # GPT-2: scale the residual projections
            out = block.mlp.w2 if c.mlp == "swiglu" else block.mlp.linear2
            for proj in (block.attn.c_proj, out):
                nn.init.normal_(proj.weight, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def _check_input(self, idx: torch.Tensor, cache: KVCache | None) -> None:
        """Token ids (B, T) in the vocabulary, a cache that fits the model and the batch, T within block_size."""
        c = self.config
        token_ids("idx", idx, c.vocab_size, ndim=2)
        offset, cached = 0, ""
        if cache is not None:
            if not isinstance(cache, KVCache):
                raise ArgumentError("cache must be a KVCache (model.new_cache(batch_size)); "
                                    f"got {type(cache).__name__}")
            want = (c.n_layer, idx.shape[0], c.kv_heads, c.block_size, c.n_embd // c.n_head)
            if tuple(cache.k.shape) != want:
                raise ArgumentError(f"cache must be of shape (n_layer, B, n_kv_head, block_size, head_dim) = {want} "
                                    f"for idx {tuple(idx.shape)}; got {tuple(cache.k.shape)}")
            offset, cached = cache.length, f" ({cache.length} cached + {idx.shape[1]} new)"
        if offset + idx.shape[1] > c.block_size:
            raise ArgumentError(f"sequence length {offset + idx.shape[1]}{cached} is longer than block_size="
                                f"{c.block_size}; crop the input to its last block_size tokens "
                                "(generate() does this for you)")

    def _hidden(self, idx: torch.Tensor, cache: KVCache | None = None, need_weights: bool = False):
        self._check_input(idx, cache)
        offset = cache.length if cache is not None else 0
        x = self.wte(idx.long())                                           # (B, T) -> (B, T, C)
        if self.wpe is not None:
            x = self.wpe(x, offset=offset)
        x = self.drop(x)
        weights = []
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer, need_weights=need_weights)
            if need_weights:
                x, w = x
                weights.append(w)
        if cache is not None:
            cache.advance(idx.shape[1])
        return self.ln_f(x), weights

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        x, _ = self._hidden(idx)
        logits = self.lm_head(x)                                           # (B, T, C) -> (B, T, V)
        if targets is None:
            return logits, None
        if not isinstance(targets, torch.Tensor) or targets.shape != idx.shape:
            got = tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets).__name__
            raise ArgumentError(f"targets must have the shape of idx {tuple(idx.shape)}; got {got}")
        tensor("targets", targets, dtype="int")
        V = self.config.vocab_size
        low, high = (int(targets.min()), int(targets.max())) if targets.numel() else (0, 0)
        if low < -1 or high >= V:
            raise ArgumentError(f"targets must be token ids in [0, {V}) or -1 (ignored); got ids from {low} to {high}")
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1).long(), ignore_index=-1)
        return logits, loss

    @torch.no_grad()
    def logits_and_attention(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, T, V) and every layer's attention weights (n_layer, B, n_head, T, T), in eval mode.

        Runs the written-out attention (not the fast path) so the weights exist; the
        logits are the same as ``forward``'s, which makes the weights the ones the model uses.
        """
        was_training = self.training
        self.eval()
        x, weights = self._hidden(idx, need_weights=True)
        self.train(was_training)
        return self.lm_head(x), torch.stack(weights)

    def attention_weights(self, idx: torch.Tensor) -> torch.Tensor:
        """Every layer's attention weights for ``idx`` (B, T): (n_layer, B, n_head, T, T), for plotting."""
        return self.logits_and_attention(idx)[1]

    def new_cache(self, batch_size: int) -> KVCache:
        """An empty :class:`KVCache` for this model, on its device and dtype."""
        w = self.wte.weight
        return KVCache(self.config, batch_size, device=w.device, dtype=w.dtype)

    def next_logits(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits for the token after ``idx``: (B, T) -> (B, V). With a ``cache``, ``idx`` is only the new tokens."""
        x, _ = self._hidden(idx, cache)
        return self.lm_head(x[:, -1])                                      # only the last position is needed

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, *, greedy: bool = False, use_cache: bool = True,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Continue ``idx`` (B, T) by ``max_new_tokens`` tokens: returns (B, T + max_new_tokens).

        Each step takes the logits of the last position and picks a token with
        :func:`lmcourse.sampling.sample_next` (``greedy=True`` for the arg-max). With
        ``use_cache`` the keys and values of earlier tokens are kept in a :class:`KVCache`,
        so each step feeds one token instead of the whole context; the tokens are the same
        as without it. Once the context outgrows ``block_size`` both paths recompute the
        last ``block_size`` tokens (the learned positions shift, so cached keys go stale).
        Runs in eval mode (no dropout) and restores the previous mode.
        """
        sampling.check_sampling_args(temperature, top_k, top_p)
        max_new_tokens = integer("max_new_tokens", max_new_tokens, min=0)
        token_ids("idx", idx, self.config.vocab_size, ndim=2)
        if idx.shape[1] < 1:
            raise ArgumentError("idx must be a (B, T) tensor with at least one token (the prompt); "
                                f"got {tuple(idx.shape)}")
        was_training = self.training
        self.eval()
        block, cache = self.config.block_size, None
        for _ in range(max_new_tokens):
            if use_cache and idx.shape[1] <= block:
                if cache is None:
                    cache = self.new_cache(idx.shape[0])
                    logits = self.next_logits(idx, cache)                  # prefill: the whole prompt once
                else:
                    logits = self.next_logits(idx[:, -1:], cache)          # then one token per step
            else:
                logits = self.next_logits(idx[:, -block:])                 # recompute the whole (cropped) context
            nxt = sampling.sample_next(logits, temperature, top_k, top_p, greedy=greedy, generator=generator)
            idx = torch.cat((idx, nxt), dim=1)
        self.train(was_training)
        return idx

    @classmethod
    def from_state_dict(cls, state_dict: dict, config: GPTConfig) -> GPT:
        """A new GPT with ``config``, loaded from ``state_dict``; a clear error if they do not match.

        Every missing or unexpected key and every tensor whose shape or dtype differs is named,
        with the config that was asked for (so a checkpoint of another size cannot load silently
        or fail with a wall of text). Nothing is copied unless everything fits.
        """
        model = cls(config)
        ours = model.state_dict()
        missing = sorted(set(ours) - set(state_dict))
        extra = sorted(set(state_dict) - set(ours))
        shapes = [f"{k}: {tuple(state_dict[k].shape)} in the state dict, {tuple(ours[k].shape)} in the model"
                  if tuple(state_dict[k].shape) != tuple(ours[k].shape) else
                  f"{k}: {state_dict[k].dtype} in the state dict, {ours[k].dtype} in the model"
                  for k in ours if k in state_dict and (tuple(state_dict[k].shape) != tuple(ours[k].shape)
                                                        or state_dict[k].dtype != ours[k].dtype)]
        if missing or extra or shapes:
            parts = ([f"missing keys {missing[:5]}"] if missing else []) + \
                    ([f"unexpected keys {extra[:5]}"] if extra else []) + shapes[:5]
            sizes = ", ".join(f"{k}={v}" for k, v in asdict(config).items())
            raise ValueError(f"state_dict does not fit GPTConfig({sizes}): " + "; ".join(parts))
        model.load_state_dict(state_dict)
        return model


def kv_cache_bytes(n_layer: int, batch_size: int, seq_len: int, n_kv_head: int, head_dim: int,
                   bytes_per_value: int = 4) -> int:
    """Memory of a full KV cache: ``2 · n_layer · batch_size · seq_len · n_kv_head · head_dim · bytes_per_value``.

    Keys and values (the 2) for every layer, sequence, position and key/value head. It grows with
    the context like the weights never do: GPT-2 small (12 layers, 12 heads of 64) at 1024 tokens
    in fp16 holds 36 MiB per sequence, a 7B LLaMA (32 layers, 32 heads of 128) at 4096 tokens 2 GiB.
    Sharing key/value heads between query heads (multi-query / grouped-query attention) divides it
    by ``n_head / n_kv_head``. :class:`KVCache` allocates exactly this for ``n_kv_head = n_head``.
    """
    sizes = dict(n_layer=n_layer, batch_size=batch_size, seq_len=seq_len, n_kv_head=n_kv_head, head_dim=head_dim,
                 bytes_per_value=bytes_per_value)
    for name, value in sizes.items():
        integer(name, value, min=1)
    return 2 * n_layer * batch_size * seq_len * n_kv_head * head_dim * bytes_per_value


def parameter_count(config: GPTConfig) -> int:
    """Parameters of ``GPT(config)`` from the formula (the tied head counts once).

    Embeddings V·C, plus block_size·C for learned positions (RoPE has no parameters); per
    block, for GPT-2's sizes, 12·C² + 13·C with biases (attention 4C² + 4C, MLP 8C² + 5C, two
    LayerNorms 4C) or 12·C² + 2·C without; the final LayerNorm 2C (or C). In general attention
    has C·(C + 2·K) + C² weights (K = n_kv_head·head_dim), a GELU MLP 2·C·F and a SwiGLU 3·C·F
    (F = the hidden width), and an RMSNorm C.
    """
    C, L, F_ = config.n_embd, config.n_layer, config.hidden
    K = config.kv_heads * (C // config.n_head)
    attn = C * (C + 2 * K) + C * C + (C + 2 * K + C if config.bias else 0)
    if config.mlp == "swiglu":
        mlp = 3 * C * F_ + (2 * F_ + C if config.bias else 0)
    else:
        mlp = 2 * C * F_ + (F_ + C if config.bias else 0)
    norm = C if config.norm == "rmsnorm" else (2 * C if config.bias else C)
    positions = config.block_size * C if config.position == "learned" else 0
    return config.vocab_size * C + positions + L * (attn + mlp + 2 * norm) + norm

