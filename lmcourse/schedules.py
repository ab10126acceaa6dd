"""Learning-rate schedules, as factories for ``torch.optim.lr_scheduler.LambdaLR``.

Notebook 08 plots the warmup schedule of "Attention Is All You Need" (the "Noam" schedule,
after Noam Shazeer): the learning rate rises linearly for ``warmup`` steps, then decays
like 1/√step, ``lr = factor · d_model^-0.5 · min(step^-0.5, step · warmup^-1.5)``. Warmup
matters for Transformers because Adam's early updates, made from poor statistics of the
gradients, are large; starting small keeps them from wrecking the freshly initialised layers.
"""

from __future__ import annotations

import torch


def noam_lambda(d_model: int, warmup: int, factor: float = 1.0):
    """The multiplier of the base learning rate at each step (counted from 0), for ``LambdaLR``.

    Give the optimizer ``lr=1.0`` to get the paper's absolute rate
    ``factor · d_model^-0.5 · min(s^-0.5, s · warmup^-1.5)`` with ``s = step + 1``.
    The peak, at ``s = warmup``, is ``factor / √(d_model · warmup)``.
    """
    for name, n in (("d_model", d_model), ("warmup", warmup)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{name} must be a positive int; got {n!r}")
    if factor <= 0:
        raise ValueError(f"factor must be > 0; got {factor}")

    def rate(step: int) -> float:
        s = step + 1
        return factor * d_model ** -0.5 * min(s ** -0.5, s * warmup ** -1.5)

    return rate


def noam_schedule(optimizer: torch.optim.Optimizer, d_model: int, warmup: int,
                  factor: float = 1.0) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` that multiplies the optimizer's base ``lr`` by :func:`noam_lambda` (use ``lr=1.0``)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, noam_lambda(d_model, warmup, factor))


__all__ = ["noam_lambda", "noam_schedule"]
