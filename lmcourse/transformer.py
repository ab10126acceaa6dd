"""The Transformer block and the encoder–decoder Transformer (Vaswani et al. 2017).

Notebook 07 builds layer normalization, the position-wise feed-forward network and the
residual "Add & Norm" wiring, then shows that :class:`EncoderLayer` and
:class:`DecoderLayer` equal ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer``
(both ``norm_first`` settings) once weights are copied with :func:`load_torch_layer`.

Masks follow :mod:`lmcourse.attention`: bool, ``True`` = may attend. (PyTorch's
``*_key_padding_mask`` and boolean ``*_mask`` arguments mean the opposite: True = blocked.)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import attention as _attn
from ._checks import ArgumentError, integer, number, one_of, tensor, token_ids
from .attention import MultiHeadAttention, check_head_sizes, padding_mask
from .positions import SinusoidalPositions

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu,
                "gelu_tanh": functools.partial(F.gelu, approximate="tanh")}  # GPT-2's "gelu_new"


class LayerNorm(nn.Module):
    """Normalize each vector over its last axis to mean 0, variance 1, then scale and shift.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the biased variance, for x of
    shape (…, d_model). Parameter names match ``nn.LayerNorm``; ``bias=False`` drops the shift.
    """

    def __init__(self, d_model: int, eps: float = 1e-5, bias: bool = True):
        super().__init__()
        self.d_model, self.eps = d_model, number("eps", eps, min=0, min_open=True)
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.d_model:
            raise ValueError(f"x must have last dimension d_model={self.d_model}; got {tuple(x.shape)}")
        return F.layer_norm(x, (self.d_model,), self.weight, self.bias, self.eps)


class FeedForward(nn.Module):
    """The position-wise feed-forward network: ``linear2(dropout(act(linear1(x))))``, (…, d_model) -> (…, d_model).

    The same two-layer MLP is applied to every position on its own; ``d_ff`` (usually
    4·d_model) is the width of the hidden layer.
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu", bias: bool = True):
        super().__init__()
        one_of("activation", activation, _ACTIVATIONS)
        self.linear1 = nn.Linear(d_model, d_ff, bias=bias)
        self.linear2 = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.act = _ACTIVATIONS[activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(self.act(self.linear1(x))))   # (…, C) -> (…, d_ff) -> (…, C)


class RMSNorm(nn.Module):
    """Root-mean-square normalization (Zhang & Sennrich 2019), the norm of LLaMA-style models.

    ``y = x / sqrt(mean(x²) + eps) * weight`` over the last axis of x (…, d_model): unlike
    :class:`LayerNorm` it subtracts no mean and adds no shift, one reduction fewer. Parameter
    name and formula match ``torch.nn.RMSNorm(d_model, eps=eps)``.
    """

    def __init__(self, d_model: int, eps: float = 1e-6):
        super().__init__()
        self.d_model = integer("d_model", d_model, min=1)
        self.eps = number("eps", eps, min=0, min_open=True)
        self.weight = nn.Parameter(torch.ones(d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tensor("x", x, dtype="float")
        if x.ndim < 1 or x.shape[-1] != self.d_model:
            raise ArgumentError(f"x must have last dimension d_model={self.d_model}; got {tuple(x.shape)}")
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def swiglu_hidden(d_model: int, multiple_of: int = 1) -> int:
    """LLaMA's hidden width for :class:`SwiGLU`: two thirds of 4·d_model (three matrices instead of
    two, for about the parameters of the 4·d_model MLP), rounded up to a multiple of ``multiple_of``."""
    d_model, multiple_of = integer("d_model", d_model, min=1), integer("multiple_of", multiple_of, min=1)
    hidden = int(2 * (4 * d_model) / 3)
    return multiple_of * -(-hidden // multiple_of)


class SwiGLU(nn.Module):
    """The gated feed-forward network of LLaMA-style models (Shazeer 2020): (…, d_model) -> (…, d_model).

    ``w2(silu(w1 x) * w3 x)``: ``w1`` (the gate, ``gate_proj`` in Hugging Face's LLaMA), ``w3``
    (``up_proj``) and ``w2`` (``down_proj``); no biases by default, as in LLaMA. With
    ``d_ff = swiglu_hidden(d_model)`` it has about the parameters of ``FeedForward(d_model, 4 * d_model)``.
    """

    def __init__(self, d_model: int, d_ff: int, bias: bool = False):
        super().__init__()
        d_model, d_ff = integer("d_model", d_model, min=1), integer("d_ff", d_ff, min=1)
        self.w1 = nn.Linear(d_model, d_ff, bias=bias)
        self.w3 = nn.Linear(d_model, d_ff, bias=bias)
        self.w2 = nn.Linear(d_ff, d_model, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))              # (…, C) -> 2 × (…, d_ff) -> (…, C)


class EncoderLayer(nn.Module):
    """One encoder layer: self-attention and a feed-forward network, each inside a residual.

    ``norm_first=False`` is the paper's post-norm ``x = norm(x + sublayer(x))``;
    ``norm_first=True`` is GPT-2's pre-norm ``x = x + sublayer(norm(x))``. ``forward(x, mask)``
    maps (B, T, d_model) -> (B, T, d_model); ``mask`` is bool, True = may attend (e.g. a
    (B, 1, 1, T) padding mask).
    """

    def __init__(self, d_model: int, n_head: int, d_ff: int, dropout: float = 0.0, activation: str = "relu",
                 norm_first: bool = False, bias: bool = True, eps: float = 1e-5):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_head, dropout, bias)
        self.ff = FeedForward(d_model, d_ff, dropout, activation, bias)
        self.norm1, self.norm2 = LayerNorm(d_model, eps, bias), LayerNorm(d_model, eps, bias)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def _sa(self, x, mask, need_weights=False):
        if need_weights:
            y, weights = self.self_attn(x, mask=mask, need_weights=True)
            return self.dropout1(y), weights
        return self.dropout1(self.self_attn(x, mask=mask)), None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, *, need_weights: bool = False):
        """(B, T, d_model) -> (B, T, d_model); with ``need_weights=True`` also the attention
        weights (B, n_head, T, T), returned as ``(x, weights)``."""
        if self.norm_first:
            a, weights = self._sa(self.norm1(x), mask, need_weights)
            x = x + a
            x = x + self.dropout2(self.ff(self.norm2(x)))
        else:
            a, weights = self._sa(x, mask, need_weights)
            x = self.norm1(x + a)
            x = self.norm2(x + self.dropout2(self.ff(x)))
        return (x, weights) if need_weights else x


class DecoderLayer(nn.Module):
    """One decoder layer: masked self-attention, cross-attention to the encoder, feed-forward.

    ``forward(x, memory, self_mask, memory_mask)``: x (B, T_tgt, d_model), memory
    (B, T_src, d_model) -> (B, T_tgt, d_model). Self-attention is causal unless
    ``is_causal=False``; ``self_mask`` (e.g. target padding) is combined with it.
    ``memory_mask`` (e.g. the source padding mask, (B, 1, 1, T_src)) limits cross-attention.
    """

    def __init__(self, d_model: int, n_head: int, d_ff: int, dropout: float = 0.0, activation: str = "relu",
                 norm_first: bool = False, bias: bool = True, eps: float = 1e-5):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_head, dropout, bias)
        self.cross_attn = MultiHeadAttention(d_model, n_head, dropout, bias)
        self.ff = FeedForward(d_model, d_ff, dropout, activation, bias)
        self.norm1, self.norm2, self.norm3 = (LayerNorm(d_model, eps, bias) for _ in range(3))
        self.dropout1, self.dropout2, self.dropout3 = (nn.Dropout(dropout) for _ in range(3))

    def _sa(self, x, mask, is_causal):
        return self.dropout1(self.self_attn(x, mask=mask, is_causal=is_causal))

    def _ca(self, x, memory, mask):
        return self.dropout2(self.cross_attn(x, memory, mask=mask))

    def forward(self, x: torch.Tensor, memory: torch.Tensor, self_mask: torch.Tensor | None = None,
                memory_mask: torch.Tensor | None = None, *, is_causal: bool = True) -> torch.Tensor:
        if self.norm_first:
            x = x + self._sa(self.norm1(x), self_mask, is_causal)
            x = x + self._ca(self.norm2(x), memory, memory_mask)
            x = x + self.dropout3(self.ff(self.norm3(x)))
        else:
            x = self.norm1(x + self._sa(x, self_mask, is_causal))
            x = self.norm2(x + self._ca(x, memory, memory_mask))
            x = self.norm3(x + self.dropout3(self.ff(x)))
        return x


@dataclass
class TransformerConfig:
    """Sizes of an encoder–decoder Transformer; the defaults are the paper's base model."""

    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 512
    n_head: int = 8
    n_layer: int = 6          # encoder layers and decoder layers (each)
    d_ff: int = 2048
    dropout: float = 0.1
    max_len: int = 512        # longest source or target sequence
    pad_id: int = 0
    norm_first: bool = False
    tie_weights: bool = True  # the output projection shares the target embedding matrix

    def __post_init__(self):
        sizes = ("src_vocab_size", "tgt_vocab_size", "d_model", "n_head", "n_layer", "d_ff", "max_len")
        check_head_sizes({name: getattr(self, name) for name in sizes}, width="d_model", dropout=self.dropout)
        integer("pad_id", self.pad_id, min=0, max=min(self.src_vocab_size, self.tgt_vocab_size) - 1)


class Transformer(nn.Module):
    """The encoder–decoder Transformer: source ids (B, S) and target ids (B, T) -> logits (B, T, tgt_vocab).

    Embeddings are scaled by √d_model and added to sinusoidal positions. Padding
    (``pad_id``) is masked in every attention that reads it, and the decoder is causal.
    ``encode(src)`` returns the memory (B, S, d_model); ``decode(tgt, memory, src)`` the logits.
    A pre-norm model (``norm_first=True``) ends both stacks with a LayerNorm.

    The model initialises itself with :func:`xavier_init_`, so that the loss of an untrained
    model is close to log(V), the loss of a uniform guess, at any ``d_model``. PyTorch's default
    N(0, 1) embeddings, scaled by √d_model and tied to the output layer, would start far above it.
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        c = self.config = config
        self.src_embed = nn.Embedding(c.src_vocab_size, c.d_model)
        self.tgt_embed = nn.Embedding(c.tgt_vocab_size, c.d_model)
        self.positions = SinusoidalPositions(c.d_model, c.max_len)
        self.dropout = nn.Dropout(c.dropout)
        layer_args = (c.d_model, c.n_head, c.d_ff, c.dropout, "relu", c.norm_first)
        self.encoder = nn.ModuleList(EncoderLayer(*layer_args) for _ in range(c.n_layer))
        self.decoder = nn.ModuleList(DecoderLayer(*layer_args) for _ in range(c.n_layer))
        self.enc_norm = LayerNorm(c.d_model) if c.norm_first else nn.Identity()
        self.dec_norm = LayerNorm(c.d_model) if c.norm_first else nn.Identity()
        self.lm_head = nn.Linear(c.d_model, c.tgt_vocab_size, bias=False)
        if c.tie_weights:
            self.lm_head.weight = self.tgt_embed.weight
        xavier_init_(self)

    def _embed(self, embed: nn.Embedding, ids: torch.Tensor, name: str) -> torch.Tensor:
        token_ids(name, ids, embed.num_embeddings, ndim=2)
        if ids.shape[1] > self.config.max_len:
            raise ArgumentError(f"{name} has {ids.shape[1]} positions but this Transformer has only "
                                f"max_len={self.config.max_len}; split or truncate the sentence")
        return self.dropout(self.positions(embed(ids.long()) * self.config.d_model ** 0.5))

    def encode(self, src: torch.Tensor) -> torch.Tensor:
        """Source ids (B, S) -> the encoder's output, the memory (B, S, d_model)."""
        x = self._embed(self.src_embed, src, "src")                       # (B, S) -> (B, S, C)
        mask = padding_mask(src, self.config.pad_id)                      # (B, 1, 1, S)
        for layer in self.encoder:
            x = layer(x, mask)
        return self.enc_norm(x)

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
        """Target ids (B, T), the memory (B, S, d_model) of ``src`` (B, S) -> logits (B, T, tgt_vocab_size)."""
        sizes = {}
        tensor("memory", memory, shape=("B", "S", self.config.d_model), sizes=sizes)
        tensor("src", src, shape=("B", "S"), sizes=sizes)
        tensor("tgt", tgt, shape=("B", None), sizes=sizes)
        y = self._embed(self.tgt_embed, tgt, "tgt")                       # (B, T) -> (B, T, C)
        self_mask = padding_mask(tgt, self.config.pad_id)                 # causal part is added by each layer
        memory_mask = padding_mask(src, self.config.pad_id)
        for layer in self.decoder:
            y = layer(y, memory, self_mask, memory_mask)
        return self.lm_head(self.dec_norm(y))                             # (B, T, C) -> (B, T, V_tgt)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        if tensor("src", src, ndim=2).shape[0] != tensor("tgt", tgt, ndim=2).shape[0]:
            raise ArgumentError(f"src and tgt must have the same batch size; got {src.shape[0]} and {tgt.shape[0]}")
        return self.decode(tgt, self.encode(src), src)


@torch.no_grad()
def xavier_init_(model: nn.Module) -> nn.Module:
    """Xavier-uniform initialise every weight matrix of ``model`` in place (as the Annotated Transformer
    does); returns it.

    ``nn.Embedding`` starts at N(0, 1): multiplied by √d_model and tied to the output layer,
    that gives logits of size ~√d_model and a first loss far above log(V) (hundreds of nats at
    d_model = 512). Xavier's ±√(6 / (fan_in + fan_out)) keeps the embeddings small and the first
    logits near unit scale. Vectors (biases, LayerNorm γ and β) keep their defaults.
    """
    for p in model.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
    return model


def count_parameters(module: nn.Module, *, trainable_only: bool = True) -> int:
    """The number of distinct numbers in ``module`` (tied weights count once): the trainable
    ones, or with ``trainable_only=False`` all of them, frozen ones included."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def layer_parameter_count(d_model: int, d_ff: int, *, decoder: bool = False, bias: bool = True) -> int:
    """Parameters of one encoder (or decoder) layer, from the formula.

    Attention: 4 projections of d×d (+ d biases each). FFN: d×d_ff + d_ff×d (+ d_ff + d).
    LayerNorm: 2d each. An encoder layer has 1 attention and 2 norms, a decoder layer 2 and 3.
    """
    d = d_model
    attn = 4 * d * d + (4 * d if bias else 0)
    ffn = 2 * d * d_ff + ((d_ff + d) if bias else 0)
    norm = 2 * d if bias else d
    return (2 * attn + ffn + 3 * norm) if decoder else (attn + ffn + 2 * norm)


@torch.no_grad()
def load_torch_layer(ours: EncoderLayer | DecoderLayer, theirs: nn.Module) -> EncoderLayer | DecoderLayer:
    """Copy the weights of ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer`` into ``ours``.

    The layers must agree on kind, sizes and ``norm_first``; returns ``ours``.
    """
    pairs = {EncoderLayer: nn.TransformerEncoderLayer, DecoderLayer: nn.TransformerDecoderLayer}
    if not isinstance(theirs, pairs[type(ours)]):
        raise TypeError(f"theirs must be a {pairs[type(ours)].__name__} to load into {type(ours).__name__}; "
                        f"got {type(theirs).__name__}")
    if theirs.norm_first != ours.norm_first:
        raise ValueError(f"theirs must have norm_first={ours.norm_first}; got {theirs.norm_first}")
    _attn.load_torch_mha(ours.self_attn, theirs.self_attn)
    if isinstance(ours, DecoderLayer):
        _attn.load_torch_mha(ours.cross_attn, theirs.multihead_attn)
    ours.ff.linear1.load_state_dict(theirs.linear1.state_dict())
    ours.ff.linear2.load_state_dict(theirs.linear2.state_dict())
    norms = ("norm1", "norm2", "norm3") if isinstance(ours, DecoderLayer) else ("norm1", "norm2")
    for name in norms:
        getattr(ours, name).load_state_dict(getattr(theirs, name).state_dict())
    return ours

