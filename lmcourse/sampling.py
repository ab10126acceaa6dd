"""Sampling: how a language model turns next-token logits into one chosen token.

Every function here is a pure function of a logits tensor of shape (…, V) — one score per
vocabulary entry, any leading axes (usually (B, V)). Filters return logits of the same
shape with the tokens they rule out set to ``-inf``, so a softmax gives them probability 0:

- :func:`apply_temperature` divides by ``temperature``: below 1 sharpens, above 1 flattens;
- :func:`top_k_filter` keeps exactly the ``k`` highest-scoring tokens;
- :func:`top_p_filter` (nucleus sampling, Holtzman et al. 2019) keeps the smallest set of
  most likely tokens whose probabilities add up to at least ``p``.

:func:`sample_next` chains them (temperature, then top-k, then top-p, the usual order) and
draws one token per row; :func:`greedy` takes the arg-max. Notebook 09 writes these for its GPT
and checks them against this module; ``GPT.generate`` uses them.
"""

from __future__ import annotations

from numbers import Integral, Real

import torch

from ._checks import ArgumentError, number, tensor


def check_sampling_args(temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None) -> None:
    """Raise an ``ArgumentError`` naming the argument unless temperature is finite and > 0, top_k >= 1
    and 0 < top_p <= 1 (NaN and inf refused: they would turn every probability into NaN)."""
    if isinstance(temperature, bool) or not isinstance(temperature, Real) or not temperature > 0:
        raise ArgumentError(f"temperature must be a number > 0 (for the arg-max use greedy=True); got {temperature!r}")
    number("temperature", temperature)
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, Integral) or top_k < 1):
        raise ArgumentError(f"top_k must be None or an integer >= 1; got {top_k!r}")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, Real) or not 0 < top_p <= 1):
        raise ArgumentError(f"top_p must be None or a number in (0, 1]; got {top_p!r}")


def _check_logits(logits) -> None:
    tensor("logits", logits, dtype="float")
    if logits.ndim < 1:
        raise ArgumentError(f"logits must be a tensor of shape (..., V); got shape {tuple(logits.shape)}")
    bad = torch.isnan(logits) | (logits == float("inf"))
    if bool(bad.any()):
        n = int(bad.sum())
        raise ArgumentError(f"logits must hold no NaN or +inf (-inf marks a ruled-out token); "
                            f"got {n} such value{'s' if n != 1 else ''}")


def _top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    values, indices = torch.topk(logits, min(k, logits.shape[-1]), dim=-1)   # (…, k)
    return torch.full_like(logits, float("-inf")).scatter(-1, indices, values)


def _top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    probs, order = torch.softmax(logits, dim=-1).sort(dim=-1, descending=True)   # (…, V), most likely first
    mass_before = probs.cumsum(dim=-1) - probs                                  # mass of the tokens ranked above
    remove_sorted = mass_before >= p
    remove_sorted[..., 0] = False                                               # never remove the top token
    remove = remove_sorted.scatter(-1, order, remove_sorted)                    # back to vocabulary order
    return logits.masked_fill(remove, float("-inf"))


def _filter(logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None) -> torch.Tensor:
    logits = logits / temperature
    if top_k is not None:
        logits = _top_k(logits, top_k)
    if top_p is not None:
        logits = _top_p(logits, top_p)
    return logits


def greedy(logits: torch.Tensor) -> torch.Tensor:
    """The most likely token: (…, V) -> (…, 1) ids (ties go to the lowest id)."""
    _check_logits(logits)
    return logits.argmax(dim=-1, keepdim=True)


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``logits / temperature``: (…, V) -> (…, V). temperature < 1 sharpens the softmax, > 1 flattens it."""
    _check_logits(logits)
    check_sampling_args(temperature=temperature)
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep exactly the ``k`` largest logits of each row, set the rest to ``-inf``: (…, V) -> (…, V).

    ``k`` larger than V keeps everything. Ties at the k-th place are broken by
    ``torch.topk``, so exactly ``min(k, V)`` tokens survive.
    """
    _check_logits(logits)
    check_sampling_args(top_k=k)
    return _top_k(logits, k)


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filter: keep the smallest set of most likely tokens with total probability >= ``p``.

    Sort the probabilities in descending order and walk down the list: a token is kept if
    the mass of the tokens *before* it is still below ``p``. So the token that crosses
    ``p`` is kept, the most likely token is always kept, and ``p = 1`` keeps every token
    with non-zero probability. (…, V) -> (…, V), removed tokens set to ``-inf``.
    """
    _check_logits(logits)
    check_sampling_args(top_p=p)
    return _top_p(logits, p)


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None) -> torch.Tensor:
    """Temperature, then top-k, then top-p (each only if given): (…, V) -> (…, V) logits."""
    _check_logits(logits)
    check_sampling_args(temperature, top_k, top_p)
    return _filter(logits, temperature, top_k, top_p)


def next_token_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                     top_p: float | None = None) -> torch.Tensor:
    """The distribution :func:`sample_next` draws from: (…, V) logits -> (…, V) probabilities."""
    return torch.softmax(filter_logits(logits, temperature, top_k, top_p), dim=-1)


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, *, greedy: bool = False,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """One next token per row: (B, V) logits -> (B, 1) ids.

    ``greedy=True`` returns the arg-max (temperature, top-k and top-p cannot change it).
    Otherwise a token is drawn from :func:`next_token_probs`; pass a seeded ``generator``
    (on the logits' device) for repeatable draws.
    """
    _check_logits(logits)
    tensor("logits", logits, shape=("B", "V"))
    check_sampling_args(temperature, top_k, top_p)
    if greedy:
        return logits.argmax(dim=-1, keepdim=True)
    probs = torch.softmax(_filter(logits, temperature, top_k, top_p), dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator)

