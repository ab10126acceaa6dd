"""Neural language models before recurrence: a neural bigram and Bengio's NPLM.

:class:`BigramLM` is a table of logits learned by gradient descent: row ``a`` of an
embedding holds the logits of the token after ``a``, so after training ``softmax(row a)``
approaches the counted bigram probabilities. :class:`NPLM` is the neural probabilistic
language model of Bengio, Ducharme, Vincent and Jauvin (JMLR 3, 2003): look up an
embedding for each of the previous ``context`` tokens, concatenate them, pass them through
a ``tanh`` hidden layer, and score every token of the vocabulary with a softmax. Both
follow the course convention ``model(idx, targets) -> (logits, loss)``. Notebook 02 builds
both; notebook 04 trains an NPLM again to compare it with the LSTM.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import ArgumentError, integer, tensor, token_ids


def _check_idx(idx: torch.Tensor, targets: torch.Tensor | None, vocab_size: int, min_len: int = 1) -> None:
    """idx (B, T) token ids in [0, vocab_size) with T >= min_len; targets, if given, integers of the same shape."""
    sizes: dict[str, int] = {}
    tensor("idx", idx, shape=("B", "T"), sizes=sizes)
    token_ids("idx", idx, vocab_size)
    if idx.shape[1] < min_len:
        raise ArgumentError(f"idx must hold at least {min_len} tokens per row (the context); got {idx.shape[1]}")
    if targets is not None:
        tensor("targets", targets, shape=("B", "T"), sizes=sizes, dtype="int")


class BigramLM(nn.Module):
    """Next-token logits from the current token only: a learned ``(V, V)`` table.

    ``forward(idx (B, T), targets (B, T) | None) -> (logits (B, T, V), loss | None)``.
    """

    def __init__(self, vocab_size: int):
        super().__init__()
        self.vocab_size = integer("vocab_size", vocab_size, min=1)
        self.logits_table = nn.Embedding(vocab_size, vocab_size)  # row a: logits of the token after a
        nn.init.zeros_(self.logits_table.weight)                  # start from the uniform distribution

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        _check_idx(idx, targets, self.vocab_size)
        logits = self.logits_table(idx)  # (B, T) -> (B, T, V)
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss


@dataclass
class NPLMConfig:
    """Sizes of an :class:`NPLM`: vocabulary, context length (n-1), embedding and hidden widths."""

    vocab_size: int
    context: int = 3       # how many previous tokens the model sees (n-1 of an n-gram)
    n_embd: int = 16       # width of each token's embedding (Bengio's m)
    n_hidden: int = 128    # width of the tanh hidden layer (Bengio's h)
    direct: bool = False   # also connect the embeddings straight to the output (Bengio's W)

    def __post_init__(self):
        for name in ("vocab_size", "context", "n_embd", "n_hidden"):
            integer(name, getattr(self, name), min=1)


class NPLM(nn.Module):
    """Bengio et al.'s neural probabilistic language model (2003).

    For every position ``t >= context-1`` of ``idx (B, T)`` the previous ``context`` tokens
    ``idx[:, t-context+1 : t+1]`` predict the next one:
    ``y = b + W·x + U·tanh(d + H·x)`` with ``x`` the concatenated embeddings.
    ``forward`` returns logits ``(B, T-context+1, V)`` and, given ``targets (B, T)``, the
    mean cross-entropy against ``targets[:, context-1:]`` (the positions that have a full context).
    """

    def __init__(self, config: NPLMConfig):
        super().__init__()
        self.config = c = config
        self.embed = nn.Embedding(c.vocab_size, c.n_embd)             # Bengio's C
        self.hidden = nn.Linear(c.context * c.n_embd, c.n_hidden)     # H and d
        self.out = nn.Linear(c.n_hidden, c.vocab_size)                # U and b
        self.direct = nn.Linear(c.context * c.n_embd, c.vocab_size, bias=False) if c.direct else None

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        n = self.config.context
        _check_idx(idx, targets, self.config.vocab_size, min_len=n)
        windows = idx.unfold(1, n, 1)                  # (B, T) -> (B, T-n+1, n): each window's context
        x = self.embed(windows).flatten(2)             # (B, T-n+1, n, m) -> (B, T-n+1, n*m)
        logits = self.out(torch.tanh(self.hidden(x)))  # (B, T-n+1, V)
        if self.direct is not None:
            logits = logits + self.direct(x)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), targets[:, n - 1:].flatten())
        return logits, loss
