"""Evaluating language models: scores that survive a change of tokenizer, and leaks between splits.

Notebook 13 builds each piece in view and then uses these copies:

* A per-token perplexity depends on what a token is: a character model predicts ~4 times as
  many, easier, tokens as a BPE model on the same text. Divide the **total** negative
  log-likelihood of a text by the number of characters (or UTF-8 bytes) instead, and every
  tokenizer is measured on the same unit::

      bits per character = total nats / (ln 2 · characters)

* :func:`sequence_losses` gives one loss per validation window, so two models evaluated on
  the same windows can be compared item by item (:func:`lmcourse.evaluation.paired_bootstrap`).
* :func:`ngram_contamination` measures, for each test document, the share of its word n-grams
  that also occur in the training text — the overlap check GPT-3's paper ran (with n = 13)
  before trusting its benchmark scores.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._checks import integer, number, tensor


def _total_nats(total_nats) -> float:
    return number("total_nats", float(total_nats), min=0)     # float(): a 0-d tensor is welcome too


def bits_per_character(total_nats: float, n_characters: int) -> float:
    """``total_nats / (ln 2 · n_characters)``: the summed negative log-likelihood of a text (in nats,
    over however many tokens the model's tokenizer cut it into) spread over its characters."""
    return _total_nats(total_nats) / (math.log(2) * integer("n_characters", n_characters, min=1))


def bits_per_byte(total_nats: float, n_bytes: int) -> float:
    """``total_nats / (ln 2 · n_bytes)``, with ``n_bytes = len(text.encode("utf-8"))``: the same as
    bits per character for ASCII text; for Chinese (3 bytes a character) a third of it."""
    return _total_nats(total_nats) / (math.log(2) * integer("n_bytes", n_bytes, min=1))


def ngram_total_nats(lm, tokens: Sequence[Hashable]) -> tuple[float, int]:
    """``(total nats, tokens scored)`` of an :class:`lmcourse.ngram.NGramLM` on ``tokens``: the sum of
    ``-ln p(token | previous order-1 tokens)`` over every token after the first ``order - 1``
    (the positions :meth:`NGramLM.perplexity` scores, so ``exp(total / scored)`` is its perplexity)."""
    start = lm.order - 1
    if len(tokens) <= start:
        raise ValueError(f"tokens must hold more than order-1={start} items; got {len(tokens)}")
    total = 0.0
    for t in range(start, len(tokens)):
        p = lm.prob(tokens[t - start:t], tokens[t])
        if p <= 0.0:
            return math.inf, len(tokens) - start
        total -= math.log(p)
    return total, len(tokens) - start


def validation_windows(ids: torch.Tensor, block_size: int,
                       n_windows: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-overlapping windows ``(x, y)`` of ``block_size`` tokens from a 1-D id tensor, ``y`` shifted by
    one: the same fixed windows for every model, so their losses can be paired item by item."""
    tensor("ids", ids, ndim=1, dtype="int")
    integer("block_size", block_size, min=1)
    available = (len(ids) - 1) // block_size
    if available < 1:
        raise ValueError(f"ids must hold at least block_size+1={block_size + 1} ids; got {len(ids)}")
    n = available if n_windows is None else min(integer("n_windows", n_windows, min=1), available)
    x = ids[: n * block_size].view(n, block_size)
    y = ids[1: n * block_size + 1].view(n, block_size)
    return x, y


@torch.no_grad()
def sequence_losses(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 64) -> torch.Tensor:
    """(N,) mean cross-entropy (nats per token) of ``model`` on each row of ``x`` (N, T) against ``y`` (N, T).

    ``model(x)`` must return logits (N, T, V) or ``(logits, loss)`` as :class:`lmcourse.gpt.GPT` does.
    The model is put in eval mode for the measurement and restored afterwards.
    """
    sizes = {}
    tensor("x", x, shape=("N", "T"), sizes=sizes)
    tensor("y", y, shape=("N", "T"), sizes=sizes)
    integer("batch_size", batch_size, min=1)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    try:
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size].to(device), y[start:start + batch_size].to(device)
            logits = model(xb)
            logits = logits[0] if isinstance(logits, tuple) else logits          # (B, T, V)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), yb.flatten(), reduction="none")
            out.append(loss.view(yb.shape).mean(dim=1).cpu())                    # (B,)
    finally:
        model.train(was_training)
    return torch.cat(out)


def word_ngrams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """The set of ``n`` consecutive words of ``words``."""
    integer("n", n, min=1)
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def ngram_contamination(train_words: Sequence[str], test_documents: Sequence[Sequence[str]], n: int = 13,
                        *, train_ngrams: set | None = None) -> list[float]:
    """For each test document (a list of words), the share of its word ``n``-grams that also occur
    in ``train_words``; a document shorter than ``n`` words gets 0.0.

    Pass ``train_ngrams`` (from :func:`word_ngrams`) to reuse the training set's n-grams across calls.
    A share near 1 means the document is (nearly) a copy of training text; a few shared n-grams
    are common phrases. GPT-3's paper flagged a benchmark item if any 13-gram was shared.
    """
    if isinstance(test_documents, str) or any(isinstance(d, str) for d in test_documents):
        raise TypeError("test_documents must be a list of word lists (split each document first, e.g. text.split())")
    seen = word_ngrams(train_words, n) if train_ngrams is None else train_ngrams
    shares = []
    for doc in test_documents:
        grams = [tuple(doc[i:i + n]) for i in range(len(doc) - n + 1)]
        shares.append(sum(g in seen for g in grams) / len(grams) if grams else 0.0)
    return shares
