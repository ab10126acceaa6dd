"""Induction heads: the smallest place where in-context learning can be watched as it forms.

The task: random tokens that end with a segment of h tokens written twice (h varies). Most
tokens cannot be predicted (loss ≈ ln V); the repeat can, *but only by copying from the
context*: at position t of the repeat, find the earlier occurrence of the current token and
predict the token that followed it. Olsson et al. (2022, "In-context learning and induction
heads") found that two-layer attention-only transformers learn exactly that with heads
working together across layers: a layer-1 head prepares the lookup — a *previous-token head*
(each position records its predecessor) or a *duplicate-token head* (each position finds the
earlier copy of its own token) — and an *induction head* in layer 2 attends to the token
after the earlier copy and copies it. The loss on the repeat drops suddenly when they form
(a phase change).

:class:`AttentionOnlyTransformer` is that model (no MLPs, no LayerNorm), and
:func:`induction_score`, :func:`previous_token_score` and :func:`duplicate_token_score` measure
how much of a head's attention lands where each role would put it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._checks import ArgumentError, integer, number, tensor, token_ids
from .attention import attention, causal_mask, check_head_sizes


def repeated_sequences(batch_size: int, seq_len: int, vocab_size: int, *, min_half: int = 4,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random token sequences that end with a repeat: ``(idx (B, seq_len), halves (B,))``.

    Each sequence draws a length h from ``min_half…seq_len // 2``, a random prefix of
    ``seq_len − 2h`` tokens, then h random tokens ``x`` and ``x`` again. Because h varies, the
    distance back to the earlier copy differs from sequence to sequence: position alone cannot
    solve the task, only looking up the earlier occurrence of the current token can.
    """
    for name, value in (("batch_size", batch_size), ("seq_len", seq_len), ("vocab_size", vocab_size)):
        integer(name, value, min=1)
    integer("min_half", min_half, min=2, max=seq_len // 2)
    idx = torch.randint(vocab_size, (batch_size, seq_len), generator=generator)
    halves = torch.randint(min_half, seq_len // 2 + 1, (batch_size,), generator=generator)
    for b, h in enumerate(halves.tolist()):
        idx[b, seq_len - h:] = idx[b, seq_len - 2 * h:seq_len - h]    # the last h tokens repeat the h before
    return idx, halves


def repeat_mask(halves: torch.Tensor, seq_len: int) -> torch.Tensor:
    """(B, seq_len − 1) bool: True at the positions t whose next token is predictable by copying
    (t inside the repeat, t + 1 too: ``seq_len − h <= t <= seq_len − 2``)."""
    t = torch.arange(seq_len - 1)
    return t[None, :] >= (seq_len - halves)[:, None]


@dataclass
class InductionConfig:
    """Sizes of the attention-only model and of the repeated-sequence task."""

    vocab_size: int = 64
    seq_len: int = 32        # every sequence is this long
    min_half: int = 4        # shortest repeated segment
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64

    def __post_init__(self):
        sizes = ("vocab_size", "seq_len", "n_layer", "n_head", "n_embd")
        check_head_sizes({name: getattr(self, name) for name in sizes}, width="n_embd", dropout=0.0)
        integer("min_half", self.min_half, min=2, max=self.seq_len // 2)


class _AttentionLayer(nn.Module):
    def __init__(self, c: InductionConfig):
        super().__init__()
        self.n_head = c.n_head
        self.qkv = nn.Linear(c.n_embd, 3 * c.n_embd, bias=False)
        self.proj = nn.Linear(c.n_embd, c.n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)                                      # (B, T, C) each
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y, w = attention(q, k, v, causal_mask(T, device=x.device))                 # (B, nh, T, hs), (B, nh, T, T)
        return self.proj(y.transpose(1, 2).reshape(B, T, C)), w


class AttentionOnlyTransformer(nn.Module):
    """Token + learned position embeddings, ``n_layer`` residual causal attention layers, unembedding.

    ``forward(idx)`` (B, T) -> ``(logits (B, T, V), attention (n_layer, B, n_head, T, T))``.
    """

    def __init__(self, config: InductionConfig):
        super().__init__()
        if not isinstance(config, InductionConfig):
            raise ValueError(f"config must be an InductionConfig; got {type(config).__name__}")
        self.config = c = config
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = nn.Embedding(c.seq_len, c.n_embd)
        self.layers = nn.ModuleList(_AttentionLayer(c) for _ in range(c.n_layer))
        self.unembed = nn.Linear(c.n_embd, c.vocab_size, bias=False)

    def forward(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        token_ids("idx", idx, self.config.vocab_size, ndim=2)
        if idx.shape[1] > self.config.seq_len:
            raise ArgumentError(f"idx has {idx.shape[1]} positions "
                                f"but this model has only seq_len={self.config.seq_len}")
        x = self.wte(idx.long()) + self.wpe(torch.arange(idx.shape[1], device=idx.device))  # (B, T, C)
        weights = []
        for layer in self.layers:
            a, w = layer(x)
            x = x + a                                                              # the residual stream
            weights.append(w)
        return self.unembed(x), torch.stack(weights)


def split_losses(logits: torch.Tensor, idx: torch.Tensor, halves: torch.Tensor) -> tuple[float, float]:
    """Mean next-token loss where copying cannot help (prefix and first copy) and inside the repeat."""
    losses = F.cross_entropy(logits[:, :-1].transpose(1, 2), idx[:, 1:], reduction="none")  # (B, T-1)
    inside = repeat_mask(halves, idx.shape[1])
    return losses[~inside].mean().item(), losses[inside].mean().item()


def _check_scores_args(weights: torch.Tensor, halves: torch.Tensor) -> None:
    sizes = {}
    tensor("weights", weights, shape=("B", "H", "T", "T"), sizes=sizes)
    tensor("halves", halves, shape=("B",), dtype="int", sizes=sizes)


def induction_score(weights: torch.Tensor, halves: torch.Tensor) -> torch.Tensor:
    """Share of attention each head puts on the induction target, averaged over the repeats.

    ``weights`` (B, H, T, T), ``halves`` (B,) from :func:`repeated_sequences`. For a query at
    t inside sequence b's repeat (``T − h <= t <= T − 2``) the target key is t − h + 1: the
    token after the earlier copy of the current token. Returns (H,).
    """
    _check_scores_args(weights, halves)
    T = weights.shape[-1]
    b, t = repeat_mask(halves, T).nonzero(as_tuple=True)                 # every (sequence, query) in a repeat
    return weights[b, :, t, t - halves[b] + 1].mean(0)                   # (n, H) -> (H,)


def duplicate_token_score(weights: torch.Tensor, halves: torch.Tensor) -> torch.Tensor:
    """Share of attention each head puts on the *earlier copy of the current token* (key t − h),
    averaged over the repeats: ``weights`` (B, H, T, T), ``halves`` (B,) -> (H,)."""
    _check_scores_args(weights, halves)
    T = weights.shape[-1]
    b, t = (torch.arange(T)[None, :] >= (T - halves)[:, None]).nonzero(as_tuple=True)
    return weights[b, :, t, t - halves[b]].mean(0)


def previous_token_score(weights: torch.Tensor) -> torch.Tensor:
    """Share of attention each query puts on the position just before it, averaged over queries 1…T−1."""
    T = weights.shape[-1]
    q = torch.arange(1, T)
    return weights[..., q, q - 1].mean(-1)


@dataclass
class InductionHistory:
    """What :func:`train_induction` recorded every ``eval_every`` steps, and (with ``drop_below``) the
    step of the first evaluation past the drop."""

    steps: list[int] = field(default_factory=list)
    other_loss: list[float] = field(default_factory=list)
    repeat_loss: list[float] = field(default_factory=list)
    best_induction_score: list[float] = field(default_factory=list)
    drop_step: int | None = None


def train_induction(model: AttentionOnlyTransformer, steps: int, *, batch_size: int = 32, lr: float = 1e-2,
                    eval_every: int = 50, seed: int = 0, plot=None, drop_below: float | None = None,
                    settle_steps: int = 0) -> InductionHistory:
    """Train on fresh sequences from :func:`repeated_sequences` with AdamW (next-token loss on every
    position); every ``eval_every`` steps record, on a fixed batch of 256, the loss where copying
    cannot help, the loss on the repeat, and the best last-layer induction score. ``plot``
    (e.g. :class:`lmcourse.viz.LiveLossPlot`) receives the two losses.

    ``steps`` is the most steps trained. With ``drop_below``, training stops ``settle_steps`` after
    the first evaluation whose repeat loss is below ``drop_below`` (the phase change has happened);
    :attr:`InductionHistory.drop_step` records that evaluation's step, or stays ``None`` if the loss
    never got there within ``steps``."""
    steps, eval_every = integer("steps", steps, min=1), integer("eval_every", eval_every, min=1)
    settle_steps, lr = integer("settle_steps", settle_steps, min=0), number("lr", lr, min=0, min_open=True)
    if drop_below is not None:
        drop_below = number("drop_below", drop_below, min=0, min_open=True)
    c, gen = model.config, torch.Generator().manual_seed(seed)
    eval_idx, eval_halves = repeated_sequences(256, c.seq_len, c.vocab_size, min_half=c.min_half,
                                               generator=torch.Generator().manual_seed(seed + 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    history = InductionHistory()
    stop_at = steps
    for step in range(1, steps + 1):
        if step > stop_at:
            break
        idx, _ = repeated_sequences(batch_size, c.seq_len, c.vocab_size, min_half=c.min_half, generator=gen)
        logits, _ = model(idx)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, c.vocab_size), idx[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % eval_every == 0 or step == stop_at:
            with torch.no_grad():
                logits, weights = model(eval_idx)
            first, repeat = split_losses(logits, eval_idx, eval_halves)
            history.steps.append(step)
            history.other_loss.append(first)
            history.repeat_loss.append(repeat)
            history.best_induction_score.append(induction_score(weights[-1], eval_halves).max().item())
            if plot is not None:
                plot.update(step, not_copyable=first, repeat=repeat)
            if drop_below is not None and history.drop_step is None and repeat < drop_below:
                history.drop_step = step
                stop_at = min(steps, step + settle_steps)
    return history
