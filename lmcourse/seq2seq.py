"""An RNN encoder–decoder (Sutskever et al. 2014; Cho et al. 2014), with or without Bahdanau attention.

The encoder, a GRU, reads the source; the decoder, a GRU cell, writes the target one token at a time.
Without attention (Cho et al.'s form) the decoder sees the source only through one vector, the
encoder's last state ``c``, fed at every step: the **fixed-length bottleneck**. With attention
(Bahdanau, Cho & Bengio 2015) the context is recomputed at every step,
``c_t = Σ_j α_tj h_j`` with ``α_t = softmax_j(vᵀ tanh(W_q s_{t-1} + W_k h_j))``
(:class:`lmcourse.attention.AdditiveAttention`), so the decoder can read any source position directly.
Both variants share everything else, so the attention's few weights are the only difference.
The toy task is copying (or reversing) strings of random symbols (:func:`copy_batch`): the answer
needs the whole input, and the input's length is ours to choose. Notebook 04 trains both and
measures the accuracy per length (:func:`answer_accuracy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import ArgumentError, integer, tensor, token_ids
from .attention import AdditiveAttention

PAD, BOS, EOS = 0, 1, 2   # ids 0-2 are special; the symbols to reverse are 3, 4, …
N_SPECIAL = 3


def copy_batch(batch_size: int, n_symbols: int = 10, min_len: int = 1, max_len: int = 10, *,
               reverse: bool = False, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of the copy task: ``(src (B, S), tgt (B, S + 1))``, ``S`` the longest length drawn.

    Each row draws a length uniformly from ``min_len … max_len`` and that many symbols uniformly from
    ids ``N_SPECIAL … N_SPECIAL + n_symbols − 1``; ``src`` holds them followed by ``PAD``, ``tgt`` holds
    them again (reversed if ``reverse``), then ``EOS``, then ``PAD``. ``min_len == max_len`` gives every
    row one length.
    """
    integer("batch_size", batch_size, min=1)
    integer("n_symbols", n_symbols, min=1)
    integer("min_len", min_len, min=1)
    integer("max_len", max_len, min=1)
    if min_len > max_len:
        raise ArgumentError(f"min_len must be <= max_len={max_len}; got {min_len}")
    if not isinstance(reverse, bool):
        raise ArgumentError(f"reverse must be True or False; got {reverse!r}")
    lengths = torch.randint(min_len, max_len + 1, (batch_size,), generator=generator)           # (B,)
    S = int(lengths.max())
    symbols = torch.randint(N_SPECIAL, N_SPECIAL + n_symbols, (batch_size, S), generator=generator)
    real = torch.arange(S)[None, :] < lengths[:, None]                                            # (B, S)
    src = symbols.masked_fill(~real, PAD)
    answer = src
    if reverse:   # position t of the answer is source position L - 1 - t
        answer = torch.gather(symbols, 1, (lengths[:, None] - 1 - torch.arange(S)[None, :]).clamp(min=0))
    tgt = torch.full((batch_size, S + 1), PAD, dtype=torch.long)
    tgt[:, :S] = answer.masked_fill(~real, PAD)
    tgt[torch.arange(batch_size), lengths] = EOS
    return src.to(device), tgt.to(device)


def answer_accuracy(predicted: torch.Tensor, tgt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row scores of a predicted answer: ``(token accuracy (B,), exact match (B,) bool)``.

    ``tgt`` (B, S + 1) is as :func:`copy_batch` makes it; ``predicted`` (B, T) with ``T >= S + 1``
    (e.g. :meth:`Seq2Seq.greedy` run for ``S + 1`` steps). Only the first ``L + 1`` positions of a row
    of length ``L`` count — its ``L`` symbols and the ``EOS`` — so stopping at the right place matters.
    """
    tensor("tgt", tgt, ndim=2, dtype="int")
    tensor("predicted", predicted, ndim=2, dtype="int")
    if predicted.shape[0] != tgt.shape[0] or predicted.shape[1] < tgt.shape[1]:
        raise ArgumentError(f"predicted must be (B={tgt.shape[0]}, T >= {tgt.shape[1]}); "
                            f"got shape {tuple(predicted.shape)}")
    counted = tgt != PAD                                                    # the L symbols and the EOS
    right = (predicted[:, :tgt.shape[1]] == tgt) & counted
    return right.sum(1) / counted.sum(1), right.sum(1) == counted.sum(1)


class Memory(NamedTuple):
    """What the encoder hands the decoder: ``states`` (B, S, H), ``summary`` (B, H) — the last real
    state, the fixed-length context — ``mask`` (B, S), True on real tokens, and ``keys`` (B, S, A),
    the attention's ``W_k h_j`` (``None`` without attention)."""

    states: torch.Tensor
    summary: torch.Tensor
    mask: torch.Tensor
    keys: torch.Tensor | None


@dataclass
class Seq2SeqConfig:
    """Sizes of a :class:`Seq2Seq`; ``attention=False`` is the fixed-vector model."""

    vocab_size: int = N_SPECIAL + 10
    n_embd: int = 32
    n_hidden: int = 64
    attention: bool = False
    n_attn: int = 64   # width of the additive attention's hidden layer (unused without attention)

    def __post_init__(self):
        integer("vocab_size", self.vocab_size, min=N_SPECIAL + 1)
        for name in ("n_embd", "n_hidden", "n_attn"):
            integer(name, getattr(self, name), min=1)
        if not isinstance(self.attention, bool):
            raise ArgumentError(f"attention must be True or False; got {self.attention!r}")


class Seq2Seq(nn.Module):
    """GRU encoder, GRU-cell decoder, and (if ``config.attention``) additive attention between them.

    ``forward(src (B, S), tgt (B, T)) -> (logits (B, T, V), loss)``: teacher forcing — the decoder
    reads ``BOS`` and then the true ``tgt[:, :-1]`` (shifted right inside, never ``tgt`` itself) and is
    scored on every ``tgt`` token that is not ``PAD``. ``src`` is padded with ``PAD`` at the end; the
    encoder is a forward GRU, so each row's last real state is its summary ``c`` and padding is never
    attended to. :meth:`greedy` decodes without the answer, feeding back its own argmax.
    """

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        if not isinstance(config, Seq2SeqConfig):
            raise ArgumentError(f"config must be a Seq2SeqConfig; got {type(config).__name__}")
        self.config = c = config
        self.src_embed = nn.Embedding(c.vocab_size, c.n_embd, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(c.vocab_size, c.n_embd, padding_idx=PAD)
        self.encoder = nn.GRU(c.n_embd, c.n_hidden, batch_first=True)
        self.decoder = nn.GRUCell(c.n_embd + c.n_hidden, c.n_hidden)          # input: [embedding; context]
        self.attention = AdditiveAttention(c.n_hidden, c.n_hidden, c.n_attn) if c.attention else None
        self.head = nn.Linear(2 * c.n_hidden, c.vocab_size)                    # reads [state; context]

    def encode(self, src: torch.Tensor) -> Memory:
        """Run the encoder over ``src (B, S)``: a :class:`Memory` with the states, the summary and the mask."""
        token_ids("src", src, self.config.vocab_size, ndim=2)
        mask = src != PAD
        lengths = mask.sum(1)
        if not bool((lengths > 0).all()) or bool((mask[:, 1:] & ~mask[:, :-1]).any()):
            raise ArgumentError("src must hold at least one token per row, with PAD only at the end; got "
                                f"{int((lengths == 0).sum())} empty row(s) or PAD before a token")
        states, _ = self.encoder(self.src_embed(src))                           # (B, S, H)
        summary = states[torch.arange(src.shape[0]), lengths - 1]               # (B, H): last real state
        keys = None if self.attention is None else self.attention.W_k(states)   # (B, S, A), once per source
        return Memory(states, summary, mask, keys)

    def step(self, prev: torch.Tensor, s: torch.Tensor,
             memory: Memory) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One decoder step: ``prev (B,)`` token, ``s (B, H)`` state -> ``(logits (B, V), s' (B, H), weights)``.

        ``weights`` (B, S) are the attention over the source, ``self.attention(s, memory.states,
        mask=memory.mask)`` with ``W_k h_j`` taken from the memory instead of recomputed at every step
        (they sum to 1 over real tokens); ``None`` without attention, where the context is always
        ``memory.summary``.
        """
        if self.attention is None:
            context, weights = memory.summary, None
        else:                                                                   # (B, H), (B, S)
            context, weights = self.attention(s, memory.states, mask=memory.mask, projected_keys=memory.keys)
        s = self.decoder(torch.cat([self.tgt_embed(prev), context], dim=-1), s)
        return self.head(torch.cat([s, context], dim=-1)), s, weights

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        token_ids("tgt", tgt, self.config.vocab_size, ndim=2)
        if tgt.shape[0] != src.shape[0]:
            raise ArgumentError(f"tgt must have the same batch size as src (B={src.shape[0]}); "
                                f"got shape {tuple(tgt.shape)}")
        memory = self.encode(src)
        prev = torch.cat([torch.full_like(tgt[:, :1], BOS), tgt[:, :-1]], dim=1)  # (B, T): shifted right
        s, logits = memory.summary, []                                          # the decoder starts from c
        for t in range(tgt.shape[1]):
            step_logits, s, _ = self.step(prev[:, t], s, memory)
            logits.append(step_logits)
        logits = torch.stack(logits, dim=1)                                     # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=PAD)
        return logits, loss

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Decode ``steps`` tokens, each the argmax given the previous ones: ``(tokens (B, steps), weights)``.

        ``weights`` (B, steps, S) hold the attention of every step, or ``None`` without attention.
        """
        integer("steps", steps, min=1)
        memory = self.encode(src)
        prev, s, tokens, weights = torch.full_like(src[:, 0], BOS), memory.summary, [], []
        for _ in range(steps):
            logits, s, w = self.step(prev, s, memory)
            prev = logits.argmax(-1)
            tokens.append(prev)
            weights.append(w)
        return torch.stack(tokens, 1), (None if self.attention is None else torch.stack(weights, 1))
