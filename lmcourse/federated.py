"""Federated averaging: train one model on data that never leaves its owners.

In federated learning (McMahan et al. 2017, "Communication-Efficient Learning of Deep
Networks from Decentralized Data", the FedAvg algorithm) each *client* keeps its own data.
A round: the server sends the current weights to every client, each client trains a copy on
its own data for a few steps (:func:`local_update`), and the server replaces its weights by
the average of the clients' weights, each weighted by how many examples the client holds
(:func:`average_weights`). Only weights travel, never text.

With one local step of plain SGD, averaging the clients' weights is the same as averaging
their gradients and taking one step — what data-parallel training (DDP, notebook 10) does on
every step. More local steps save communication, but clients with different data drift apart
between averages, so FedAvg needs more compute than central training to reach the same loss.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn as nn

Batch = tuple[torch.Tensor, torch.Tensor]

__all__ = ["average_weights", "local_update", "fedavg_round"]


def _check_weights(weights, n: int) -> list[float]:
    if weights is None:
        return [1.0 / n] * n
    weights = list(weights)
    if len(weights) != n:
        raise ValueError(f"weights must give one number per client ({n}); got {len(weights)}")
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, numbers.Real) or not math.isfinite(w) or w < 0:
            raise ValueError(f"weights must be finite numbers >= 0 (e.g. each client's number of examples); got {w!r}")
    total = math.fsum(weights)
    if total <= 0:
        raise ValueError(f"weights must not all be 0; got {weights}")
    return [w / total for w in weights]


def average_weights(states: Sequence[Mapping[str, torch.Tensor]],
                    weights: Sequence[float] | None = None) -> dict[str, torch.Tensor]:
    """The server step of FedAvg: ``Σ_k w_k · state_k`` with ``w_k = weights[k] / Σ weights``.

    ``states`` are the clients' ``state_dict()`` s (same keys, same shapes); ``weights`` are
    usually the clients' numbers of training examples (default: all equal). Floating-point
    tensors are averaged; integer buffers (counters) must agree and are copied from the first.
    """
    if isinstance(states, Mapping) or not isinstance(states, Sequence) or len(states) == 0:
        raise ValueError(f"states must be a non-empty list of state dicts; got {type(states).__name__}")
    keys = list(states[0])
    for k, s in enumerate(states):
        if not isinstance(s, Mapping) or list(s) != keys:
            raise ValueError(f"states must all have the same keys as states[0]; states[{k}] differs")
    w = _check_weights(weights, len(states))
    out = {}
    for key in keys:
        tensors = [s[key] for s in states]
        if any(t.shape != tensors[0].shape for t in tensors):
            raise ValueError(f"states must have the same shapes; {key!r} has {[tuple(t.shape) for t in tensors]}")
        if tensors[0].is_floating_point():
            out[key] = sum(wk * t.detach().to(torch.float64) for wk, t in zip(w, tensors)).to(tensors[0].dtype)
        else:
            if any(not torch.equal(t, tensors[0]) for t in tensors):
                raise ValueError(f"states must agree on integer buffers; {key!r} differs between clients")
            out[key] = tensors[0].clone()
    return out


def local_update(model: nn.Module, batch_fn: Callable[[], Batch], steps: int, lr: float,
                 grad_clip: float | None = None) -> dict[str, torch.Tensor]:
    """Train a *copy* of ``model`` for ``steps`` steps of plain SGD on ``batch_fn()`` batches; return its state dict.

    ``model(x, y)`` must return ``(logits, loss)`` as every course model does. ``model``
    itself is not changed: this is what one client does in one round. ``grad_clip`` clips
    each step's gradient norm (as :class:`lmcourse.train.TrainConfig` does); None = no clipping.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1 (local SGD steps per round); got {steps!r}")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
        raise ValueError(f"lr must be a number > 0; got {lr!r}")
    if grad_clip is not None and (isinstance(grad_clip, bool) or not isinstance(grad_clip, numbers.Real)
                                  or not grad_clip > 0):
        raise ValueError(f"grad_clip must be a number > 0 or None; got {grad_clip!r}")
    local = copy.deepcopy(model)
    local.train()
    optimizer = torch.optim.SGD(local.parameters(), lr=lr)
    for _ in range(steps):
        x, y = batch_fn()
        _, loss = local(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(local.parameters(), grad_clip)
        optimizer.step()
    return {k: v.detach() for k, v in local.state_dict().items()}


def fedavg_round(model: nn.Module, clients: Sequence[Callable[[], Batch]], steps: int, lr: float,
                 weights: Sequence[float] | None = None, grad_clip: float | None = None) -> list[dict[str, torch.Tensor]]:
    """One FedAvg round, in place: every client runs :func:`local_update`, ``model`` gets their average.

    ``clients`` holds one batch function per client; ``weights`` (default equal) are their
    shares in the average, usually their numbers of examples; ``grad_clip`` is passed to
    :func:`local_update`. Returns the clients' state
    dicts — what the server received, and what an honest-but-curious server could inspect.
    """
    if isinstance(clients, (str, bytes)) or not isinstance(clients, Sequence) or len(clients) == 0:
        raise ValueError(f"clients must be a non-empty list of batch functions; got {type(clients).__name__}")
    if not all(callable(c) for c in clients):
        raise ValueError("clients must be callables returning (x, y) batches")
    _check_weights(weights, len(clients))
    states = [local_update(model, c, steps, lr, grad_clip) for c in clients]
    model.load_state_dict(average_weights(states, weights))
    return states
