"""Batches for next-token prediction: split a stream of token ids, then cut random blocks.

A language model learns from pairs ``(x, y)`` where ``y`` is ``x`` shifted by one token:
for every position ``t`` of a block, the model sees ``x[:t+1]`` and must predict ``y[t]``.
:func:`split_ids` keeps the first part of a corpus for training and the rest for
validation (no shuffling, so validation text is text the model has never seen);
:func:`get_batch` draws ``batch_size`` random blocks of ``block_size`` tokens from it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def split_ids(ids: Sequence[int] | torch.Tensor, val_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``ids`` into ``(train, val)`` 1-D long tensors: the last ``val_fraction`` is validation."""
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be a number in (0, 1); got {val_fraction!r}")
    data = torch.as_tensor(ids, dtype=torch.long)
    if data.dim() != 1:
        raise ValueError(f"ids must be a 1-D sequence of token ids; got shape {tuple(data.shape)}")
    n_val = int(len(data) * val_fraction)
    if n_val < 2 or len(data) - n_val < 2:
        raise ValueError(f"ids are too short to split with val_fraction={val_fraction}: {len(data)} ids "
                         "leave fewer than 2 on one side")
    return data[: len(data) - n_val], data[len(data) - n_val:]


def get_batch(data: torch.Tensor, batch_size: int, block_size: int, *,
              generator: torch.Generator | None = None, device: torch.device | str | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Random blocks for next-token prediction: ``x`` and ``y``, both ``(batch_size, block_size)``.

    Each row of ``x`` is ``block_size`` consecutive ids starting at a random offset of
    ``data`` (1-D); the same row of ``y`` is the block one position later, so ``y[b, t]``
    is the token that follows ``x[b, t]``. Pass a seeded ``generator`` for repeatable draws.
    """
    for name, value in (("batch_size", batch_size), ("block_size", block_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    if not isinstance(data, torch.Tensor) or data.dim() != 1:
        raise ValueError(f"data must be a 1-D tensor of token ids; got {type(data).__name__} "
                         f"of shape {tuple(getattr(data, 'shape', ()))}")
    if len(data) < block_size + 1:
        raise ValueError(f"data must hold at least block_size+1={block_size + 1} ids; got {len(data)}")
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    offsets = torch.arange(block_size)
    x = data[starts[:, None] + offsets]       # (B, T)
    y = data[starts[:, None] + offsets + 1]   # (B, T): the next token at every position
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y
