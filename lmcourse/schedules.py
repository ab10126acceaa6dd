"""Learning-rate schedules, as factories for ``torch.optim.lr_scheduler.LambdaLR``.

Notebook 08 plots the warmup schedule of "Attention Is All You Need" (the "Noam" schedule,
after Noam Shazeer): the learning rate rises linearly for ``warmup`` steps, then decays
like 1/√step, ``lr = factor · d_model^-0.5 · min(step^-0.5, step · warmup^-1.5)``. Warmup
matters for Transformers because Adam's early updates, made from poor statistics of the
gradients, are large; starting small keeps them from wrecking the freshly initialised layers.

Notebook 10 adds the schedule of GPT-3 and nanoGPT, :func:`warmup_cosine_lambda`: a linear
warmup to the peak learning rate, then half a cosine down to a floor at the last step
(:func:`warmup_cosine_schedule` is what ``lmcourse.train`` uses for ``schedule="cosine"``).
"""

from __future__ import annotations

import math

import torch

from ._checks import ArgumentError, integer, number


def noam_lambda(d_model: int, warmup: int, factor: float = 1.0):
    """The multiplier of the base learning rate at each step (counted from 0), for ``LambdaLR``.

    Give the optimizer ``lr=1.0`` to get the paper's absolute rate
    ``factor · d_model^-0.5 · min(s^-0.5, s · warmup^-1.5)`` with ``s = step + 1``.
    The peak, at ``s = warmup``, is ``factor / √(d_model · warmup)``.
    """
    integer("d_model", d_model, min=1)
    integer("warmup", warmup, min=1)
    number("factor", factor, min=0, min_open=True)

    def rate(step: int) -> float:
        s = step + 1
        return factor * d_model ** -0.5 * min(s ** -0.5, s * warmup ** -1.5)

    return rate


def noam_schedule(optimizer: torch.optim.Optimizer, d_model: int, warmup: int,
                  factor: float = 1.0) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` that multiplies the optimizer's base ``lr`` by :func:`noam_lambda` (use ``lr=1.0``)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, noam_lambda(d_model, warmup, factor))


def warmup_cosine_lambda(warmup: int, total: int, min_ratio: float = 0.0):
    """The multiplier of the peak learning rate at each step (counted from 0), for ``LambdaLR``.

    Linear warmup ``(step + 1) / warmup`` for the first ``warmup`` steps, then a half cosine
    from 1 down to ``min_ratio`` at ``step = total`` (and ``min_ratio`` after it):
    ``min_ratio + (1 - min_ratio) · ½(1 + cos(π · (step - warmup) / (total - warmup)))``.
    This is nanoGPT's and GPT-3's schedule; notebook 10 checks it against PyTorch's
    ``LinearLR`` followed by ``CosineAnnealingLR``.
    """
    integer("warmup", warmup, min=0)
    integer("total", total, min=1)
    if warmup >= total:
        raise ArgumentError(f"warmup must be < total={total}; got {warmup}")
    number("min_ratio", min_ratio, min=0, max=1)

    def rate(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if step >= total:
            return min_ratio
        progress = (step - warmup) / (total - warmup)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return rate


def warmup_cosine_schedule(optimizer: torch.optim.Optimizer, warmup: int, total: int,
                           min_ratio: float = 0.0) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` that multiplies the optimizer's peak ``lr`` by :func:`warmup_cosine_lambda`."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine_lambda(warmup, total, min_ratio))
