"""A small training loop for next-token models: AdamW, periodic validation, optional clipping.

Any model that follows the course convention ``model(x, targets) -> (logits, loss)`` can be
trained with :func:`train`, given two functions that each return a batch ``(x, y)``
(for instance :func:`lmcourse.batches.get_batch` with the train and validation ids).
Notebook 10 grows this into a full trainer (schedules, checkpoints, several GPUs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class TrainConfig:
    """How long and how to train: steps, learning rate, evaluation cadence, gradient clipping."""

    steps: int
    lr: float = 3e-3
    weight_decay: float = 0.01
    eval_every: int = 100      # evaluate after every this many steps (and after the last)
    eval_batches: int = 10     # validation batches averaged per evaluation
    grad_clip: float | None = None  # clip the global gradient norm to this value

    def __post_init__(self):
        for name in ("steps", "eval_every", "eval_batches"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0; got {self.lr!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be None or > 0; got {self.grad_clip!r}")


@dataclass
class History:
    """What happened during :func:`train`: evaluation steps, losses and gradient norms."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # mean training loss since the last evaluation
    val_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)   # global gradient norm at every step, before clipping


@torch.no_grad()
def estimate_loss(model: nn.Module, get_batch: Callable[[], Batch], n_batches: int) -> float:
    """Mean loss of ``model`` over ``n_batches`` batches from ``get_batch()``, in eval mode."""
    if isinstance(n_batches, bool) or not isinstance(n_batches, int) or n_batches < 1:
        raise ValueError(f"n_batches must be an integer >= 1; got {n_batches!r}")
    was_training = model.training
    model.eval()
    total = 0.0
    for _ in range(n_batches):
        x, y = get_batch()
        _, loss = model(x, y)
        total += loss.item()
    model.train(was_training)
    return total / n_batches


def train(model: nn.Module, train_batch: Callable[[], Batch], val_batch: Callable[[], Batch],
          config: TrainConfig, *, plot=None) -> History:
    """Train ``model`` for ``config.steps`` AdamW steps; returns a :class:`History`.

    Every ``config.eval_every`` steps (and at the end) the mean validation loss over
    ``config.eval_batches`` batches is recorded and, if given, sent to ``plot`` (anything
    with ``update(step, train=..., val=...)``, e.g. :class:`lmcourse.viz.LiveLossPlot`).
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig; got {type(config).__name__}")
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history, running, count = History(), 0.0, 0
    model.train()
    for step in range(1, config.steps + 1):
        x, y = train_batch()
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        max_norm = config.grad_clip if config.grad_clip is not None else float("inf")
        history.grad_norm.append(nn.utils.clip_grad_norm_(model.parameters(), max_norm).item())
        optimizer.step()
        running, count = running + loss.item(), count + 1
        if step % config.eval_every == 0 or step == config.steps:
            val = estimate_loss(model, val_batch, config.eval_batches)
            history.steps.append(step)
            history.train_loss.append(running / count)
            history.val_loss.append(val)
            running, count = 0.0, 0
            if plot is not None:
                plot.update(step, train=history.train_loss[-1], val=val)
    return history
