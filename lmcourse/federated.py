"""Federated averaging: train one model on data that never leaves its owners.

In federated learning (McMahan et al. 2017, "Communication-Efficient Learning of Deep
Networks from Decentralized Data", the FedAvg algorithm) each *client* keeps its own data.
A round: the server sends the current weights to every client, each client trains a copy on
its own data for a few steps (:func:`local_update`), and the server replaces its weights by
the average of the clients' weights, each weighted by how many examples the client holds
(:func:`average_weights`). Only weights travel, never text.

With one local step of plain SGD, averaging the clients' weights is the same as averaging
their gradients and taking one step — what data-parallel training (DDP, :mod:`lmcourse.train_ddp`) does on
every step. More local steps save communication, but clients with different data drift apart
between averages, so FedAvg needs more compute than central training to reach the same loss.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn as nn

from ._checks import ArgumentError, integer, number

Batch = tuple[torch.Tensor, torch.Tensor]


def _check_weights(weights, n: int) -> list[float]:
    if weights is None:
        return [1.0 / n] * n
    weights = list(weights)
    if len(weights) != n:
        raise ArgumentError(f"weights must give one number per client ({n}); got {len(weights)}")
    weights = [number(f"weights[{i}]", w, min=0) for i, w in enumerate(weights)]
    total = math.fsum(weights)
    if total <= 0:
        raise ArgumentError(f"weights must not all be 0; got {weights}")
    return [w / total for w in weights]


def average_weights(states: Sequence[Mapping[str, torch.Tensor]],
                    weights: Sequence[float] | None = None) -> dict[str, torch.Tensor]:
    """The server step of FedAvg: ``Σ_k w_k · state_k`` with ``w_k = weights[k] / Σ weights``.

    ``states`` are the clients' ``state_dict()`` s (same keys, same shapes); ``weights`` are
    usually the clients' numbers of training examples (default: all equal). Floating-point
    tensors are averaged; integer buffers (counters) must agree and are copied from the first.
    """
    if isinstance(states, Mapping) or not isinstance(states, Sequence) or len(states) == 0:
        raise ArgumentError(f"states must be a non-empty list of state dicts; got {type(states).__name__}")
    keys = list(states[0])
    for k, s in enumerate(states):
        if not isinstance(s, Mapping) or list(s) != keys:
            raise ArgumentError(f"states must all have the same keys as states[0]; states[{k}] differs")
    w = _check_weights(weights, len(states))
    out = {}
    for key in keys:
        tensors = [s[key] for s in states]
        if any(t.shape != tensors[0].shape for t in tensors):
            raise ArgumentError(f"states must have the same shapes; {key!r} has {[tuple(t.shape) for t in tensors]}")
        if tensors[0].is_floating_point():
            out[key] = sum(wk * t.detach().to(torch.float64) for wk, t in zip(w, tensors)).to(tensors[0].dtype)
        else:
            if any(not torch.equal(t, tensors[0]) for t in tensors):
                raise ArgumentError(f"states must agree on integer buffers; {key!r} differs between clients")
            out[key] = tensors[0].clone()
    return out


def local_update(model: nn.Module, batch_fn: Callable[[], Batch], steps: int, lr: float,
                 grad_clip: float | None = None) -> dict[str, torch.Tensor]:
    """Train a *copy* of ``model`` for ``steps`` steps of plain SGD on ``batch_fn()`` batches; return its state dict.

    ``model(x, y)`` must return ``(logits, loss)`` as every course model does. ``model``
    itself is not changed: this is what one client does in one round. ``grad_clip`` clips
    each step's gradient norm (as :class:`lmcourse.train.TrainConfig` does); None = no clipping.
    """
    _check_local(steps, lr, grad_clip)
    return _local_update(model, batch_fn, steps, lr, grad_clip)


def _check_local(steps, lr, grad_clip) -> None:
    integer("steps", steps, min=1)
    number("lr", lr, min=0, min_open=True)
    if grad_clip is not None:
        number("grad_clip", grad_clip, min=0, min_open=True)


def _local_update(model: nn.Module, batch_fn: Callable[[], Batch], steps: int, lr: float,
                  grad_clip: float | None) -> dict[str, torch.Tensor]:
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
                 weights: Sequence[float] | None = None,
                 grad_clip: float | None = None) -> list[dict[str, torch.Tensor]]:
    """One FedAvg round, in place: every client runs :func:`local_update`, ``model`` gets their average.

    ``clients`` holds one batch function per client; ``weights`` (default equal) are their
    shares in the average, usually their numbers of examples; ``grad_clip`` is passed to
    :func:`local_update`. Returns the clients' state
    dicts — what the server received, and what an honest-but-curious server could inspect.
    """
    if isinstance(clients, (str, bytes)) or not isinstance(clients, Sequence) or len(clients) == 0:
        raise ArgumentError(f"clients must be a non-empty list of batch functions; got {type(clients).__name__}")
    if not all(callable(c) for c in clients):
        raise ArgumentError("clients must be callables returning (x, y) batches")
    _check_local(steps, lr, grad_clip)
    _check_weights(weights, len(clients))                   # before any client trains
    states = [_local_update(model, c, steps, lr, grad_clip) for c in clients]
    model.load_state_dict(average_weights(states, weights))
    return states
