"""Decoding: turning a model's next-token probabilities into a whole output sequence.

Notebook 08 writes greedy search and beam search for the translator; notebook 09's GPT
reuses them. Both search functions know nothing about the model: they call a
``next_log_probs(tokens, batch_index)`` function that maps the sequences so far, (N, t)
token ids, to log-probabilities of the next token, (N, V). ``batch_index`` (N,) says which
input row each sequence belongs to (beam search keeps ``beam_size`` sequences per input),
so an encoder–decoder can pick the right source sentence and a decoder-only GPT can ignore it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

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


def _check_args(prefix, max_new_tokens, eos_id) -> None:
    if not isinstance(prefix, torch.Tensor) or prefix.ndim != 2 or prefix.shape[1] < 1 or prefix.dtype != torch.long:
        shape = tuple(prefix.shape) if isinstance(prefix, torch.Tensor) else type(prefix).__name__
        raise ValueError(f"prefix must be a (B, T) long tensor with T >= 1 (e.g. the <bos> id per row); got {shape}")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive int; got {max_new_tokens!r}")
    if isinstance(eos_id, bool) or not isinstance(eos_id, int) or eos_id < 0:
        raise ValueError(f"eos_id must be a non-negative int token id; got {eos_id!r}")


def _log_probs(fn: LogProbFn, tokens: torch.Tensor, batch_index: torch.Tensor) -> torch.Tensor:
    out = fn(tokens, batch_index)
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != tokens.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"next_log_probs must return ({tokens.shape[0]}, vocab_size) log-probabilities; got {shape}")
    return out.float()


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
    """
    _check_args(prefix, max_new_tokens, eos_id)
    pad_id = eos_id if pad_id is None else pad_id
    b = prefix.shape[0]
    tokens, batch_index = prefix, torch.arange(b, device=prefix.device)
    total = torch.zeros(b, device=prefix.device)
    lengths = torch.zeros(b, dtype=torch.long, device=prefix.device)
    done = torch.zeros(b, dtype=torch.bool, device=prefix.device)
    for _ in range(max_new_tokens):
        logp = _log_probs(next_log_probs, tokens, batch_index)          # (B, V)
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
    _check_args(prefix, max_new_tokens, eos_id)
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size must be a positive int; got {beam_size!r}")
    if length_penalty < 0:
        raise ValueError(f"length_penalty must be >= 0 (0 = rank by total log-probability); got {length_penalty}")
    pad_id = eos_id if pad_id is None else pad_id
    (b, t0), k, dev = prefix.shape, beam_size, prefix.device
    tokens = prefix[:, None, :].expand(b, k, t0)                          # (B, K, t)
    scores = torch.full((b, k), float("-inf"), device=dev)
    scores[:, 0] = 0.0                                                   # start from one hypothesis, not K copies
    lengths = torch.zeros(b, k, dtype=torch.long, device=dev)
    finished = torch.zeros(b, k, dtype=torch.bool, device=dev)
    batch_index = torch.arange(b, device=dev).repeat_interleave(k)       # row r of the B·K belongs to input r // K
    for _ in range(max_new_tokens):
        logp = _log_probs(next_log_probs, tokens.reshape(b * k, -1), batch_index).view(b, k, -1)  # (B, K, V)
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


@torch.no_grad()
def sequence_log_prob(next_log_probs: LogProbFn, prefix: torch.Tensor, continuation: torch.Tensor, *,
                      eos_id: int) -> torch.Tensor:
    """The model's total log-probability of ``continuation`` (B, n) after ``prefix`` (B, T0), up to its first eos.

    Used to compare what different searches found, token by token, with the same function
    the searches call. Positions after the first ``eos_id`` do not count.
    """
    _check_args(prefix, 1, eos_id)
    if continuation.ndim != 2 or continuation.shape[0] != prefix.shape[0]:
        raise ValueError(f"continuation must be (B={prefix.shape[0]}, n); got {tuple(continuation.shape)}")
    b = prefix.shape[0]
    batch_index = torch.arange(b, device=prefix.device)
    total = torch.zeros(b, device=prefix.device)
    alive = torch.ones(b, dtype=torch.bool, device=prefix.device)
    tokens = prefix
    for j in range(continuation.shape[1]):
        logp = _log_probs(next_log_probs, tokens, batch_index)
        tok = continuation[:, j]
        total += torch.where(alive, logp.gather(1, tok[:, None]).squeeze(1), 0.0)
        alive = alive & (tok != eos_id)
        tokens = torch.cat([tokens, tok[:, None]], dim=1)
    return total


__all__ = ["LogProbFn", "SearchResult", "greedy_search", "beam_search", "length_penalty_factor", "sequence_log_prob"]
