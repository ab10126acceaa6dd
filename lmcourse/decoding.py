"""Decoding: turning a model's next-token probabilities into a whole output sequence.

Notebook 08 writes greedy search and beam search for its translator, then uses these (the
model side is :func:`lmcourse.translation.next_token_fn`). Both search functions know
nothing about the model: they call a ``next_log_probs(tokens, batch_index)`` function that
maps the sequences so far, (N, t) token ids, to log-probabilities of the next token, (N, V).
``batch_index`` (N,) says which input row each sequence belongs to (beam search keeps
``beam_size`` sequences per input), so an encoder–decoder can pick the right source
sentence and a decoder-only model can ignore it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ._checks import ArgumentError, integer, number, tensor, token_ids

LogProbFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class SearchResult:
    """What a search returns.

    ``tokens`` (B, T): the chosen sequence per input, the prefix included, padded with
    ``pad_id`` after end-of-sequence. ``log_probs`` (B,): the model's total log-probability of
    the generated part (up to and including eos). ``lengths`` (B,): generated tokens, eos
    included. Beam search also fills ``beams`` (B, K, T) and ``beam_log_probs`` (B, K), every
    final hypothesis, best first by the length-penalised score.
    """

    tokens: torch.Tensor
    log_probs: torch.Tensor
    lengths: torch.Tensor
    beams: torch.Tensor | None = None
    beam_log_probs: torch.Tensor | None = None


def _check_args(prefix, max_new_tokens, eos_id, pad_id) -> int:
    """Check what a search is given; returns ``pad_id`` (default ``eos_id``)."""
    tensor("prefix", prefix, ndim=2, dtype="int")
    if prefix.shape[1] < 1:
        raise ArgumentError(f"prefix must hold at least one token per row (e.g. the <bos> id); "
                            f"got shape {tuple(prefix.shape)}")
    if int(prefix.min()) < 0:
        raise ArgumentError(f"prefix must be token ids >= 0; got ids from {int(prefix.min())} to {int(prefix.max())}")
    integer("max_new_tokens", max_new_tokens, min=1)
    integer("eos_id", eos_id, min=0)
    return eos_id if pad_id is None else integer("pad_id", pad_id, min=0)


def _check_vocab(logp: torch.Tensor, prefix: torch.Tensor, eos_id: int, pad_id: int) -> None:
    """Once the first log-probabilities show the vocabulary size V: the prefix and special ids must lie in [0, V).

    (A model that embeds the prefix has checked it already; a bad ``eos_id`` or ``pad_id`` would
    otherwise never match, or index the wrong column.)"""
    v = logp.shape[-1]
    token_ids("prefix", prefix, v)
    integer("eos_id", eos_id, min=0, max=v - 1)
    integer("pad_id", pad_id, min=0, max=v - 1)


def _log_probs(fn: LogProbFn, tokens: torch.Tensor, batch_index: torch.Tensor) -> torch.Tensor:
    out = fn(tokens, batch_index)
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != tokens.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"next_log_probs must return ({tokens.shape[0]}, vocab_size) log-probabilities; got {shape}")
    out = out.float()
    bad = torch.isnan(out) | (out == float("inf"))
    if bool(bad.any()):
        raise ArgumentError(f"next_log_probs must return log-probabilities without NaN or +inf "
                            f"(-inf is a token of probability 0); got {int(bad.sum())} such values")
    return out


def length_penalty_factor(lengths: torch.Tensor, alpha: float) -> torch.Tensor:
    """GNMT's length penalty ``((5 + length) / 6) ** alpha`` (Wu et al. 2016); a score is log_prob / this.

    ``alpha = 0`` gives 1 (rank by total log-probability, which favours short outputs);
    larger ``alpha`` divides long hypotheses' (more negative) totals by more.
    """
    return ((5.0 + lengths.float()) / 6.0) ** alpha


@torch.no_grad()
def greedy_search(next_log_probs: LogProbFn, prefix: torch.Tensor, *, max_new_tokens: int, eos_id: int,
                  pad_id: int | None = None) -> SearchResult:
    """Pick the most probable next token at every step, for every row of ``prefix`` (B, T0) at once.

    A row stops growing once it has produced ``eos_id`` (later positions are ``pad_id``,
    default ``eos_id``); the search ends when every row has, or after ``max_new_tokens``.
    The prefix, ``eos_id`` and ``pad_id`` must be ids of the vocabulary the model scores.
    """
    pad_id = _check_args(prefix, max_new_tokens, eos_id, pad_id)
    b = prefix.shape[0]
    tokens, batch_index = prefix, torch.arange(b, device=prefix.device)
    total = torch.zeros(b, device=prefix.device)
    lengths = torch.zeros(b, dtype=torch.long, device=prefix.device)
    done = torch.zeros(b, dtype=torch.bool, device=prefix.device)
    for step in range(max_new_tokens):
        logp = _log_probs(next_log_probs, tokens, batch_index)          # (B, V)
        if step == 0:
            _check_vocab(logp, prefix, eos_id, pad_id)
        best_logp, best = logp.max(dim=-1)                               # (B,), (B,)
        total += torch.where(done, 0.0, best_logp)
        lengths += (~done).long()
        nxt = torch.where(done, pad_id, best)
        tokens = torch.cat([tokens, nxt[:, None]], dim=1)                # (B, t) -> (B, t+1)
        done = done | (best == eos_id)
        if done.all():
            break
    return SearchResult(tokens, total, lengths)


@torch.no_grad()
def beam_search(next_log_probs: LogProbFn, prefix: torch.Tensor, *, beam_size: int, max_new_tokens: int,
                eos_id: int, pad_id: int | None = None, length_penalty: float = 0.0) -> SearchResult:
    """Keep the ``beam_size`` most probable partial sequences per row of ``prefix`` (B, T0).

    Each step extends all B·K hypotheses by every token and keeps, per row, the K best
    extensions by total log-probability. A hypothesis that produced ``eos_id`` is finished:
    it stays in the beam with its score frozen (extended by ``pad_id`` at no cost) and competes
    with the live ones. The search stops when every beam is finished or after
    ``max_new_tokens``; the answer per row is the final hypothesis with the best
    ``log_prob / length_penalty_factor(length, length_penalty)``.
    """
    pad_id = _check_args(prefix, max_new_tokens, eos_id, pad_id)
    integer("beam_size", beam_size, min=1)
    number("length_penalty", length_penalty, min=0)   # 0 = rank by total log-probability
    (b, t0), k, dev = prefix.shape, beam_size, prefix.device
    tokens = prefix[:, None, :].expand(b, k, t0)                          # (B, K, t)
    scores = torch.full((b, k), float("-inf"), device=dev)
    scores[:, 0] = 0.0                                                   # start from one hypothesis, not K copies
    lengths = torch.zeros(b, k, dtype=torch.long, device=dev)
    finished = torch.zeros(b, k, dtype=torch.bool, device=dev)
    batch_index = torch.arange(b, device=dev).repeat_interleave(k)       # row r of the B·K belongs to input r // K
    for step in range(max_new_tokens):
        logp = _log_probs(next_log_probs, tokens.reshape(b * k, -1), batch_index).view(b, k, -1)  # (B, K, V)
        if step == 0:
            _check_vocab(logp, prefix, eos_id, pad_id)
        v = logp.shape[-1]
        frozen = torch.full_like(logp, float("-inf"))
        frozen[..., pad_id] = 0.0                                        # a finished hypothesis can only pad, for free
        logp = torch.where(finished[..., None], frozen, logp)
        candidates = (scores[..., None] + logp).view(b, k * v)           # (B, K·V): every extension of every beam
        scores, flat = candidates.topk(k, dim=-1)                        # (B, K) best extensions per row
        parent, token = flat // v, flat % v
        tokens = torch.cat([tokens.gather(1, parent[..., None].expand(b, k, tokens.shape[-1])),
                            token[..., None]], dim=-1)                   # (B, K, t) -> (B, K, t+1)
        was_finished = finished.gather(1, parent)
        lengths = lengths.gather(1, parent) + (~was_finished).long()
        finished = was_finished | (token == eos_id)
        if finished.all():
            break
    ranked = scores / length_penalty_factor(lengths, length_penalty)
    order = ranked.argsort(dim=-1, descending=True)                      # (B, K), best first
    beams = tokens.gather(1, order[..., None].expand_as(tokens))
    beam_scores, lengths = scores.gather(1, order), lengths.gather(1, order)
    return SearchResult(beams[:, 0], beam_scores[:, 0], lengths[:, 0], beams, beam_scores)
