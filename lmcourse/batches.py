"""Batches for next-token prediction: split a stream of token ids, then cut random blocks.

A language model learns from pairs ``(x, y)`` where ``y`` is ``x`` shifted by one token:
for every position ``t`` of a block, the model sees ``x[:t+1]`` and must predict ``y[t]``.
:func:`split_ids` keeps the first part of a corpus for training and the rest for
validation (no shuffling, so validation text is text the model has never seen);
:func:`get_batch` draws ``batch_size`` random blocks of ``block_size`` tokens from it.
Notebook 02 writes ``get_batch`` and checks it equals this one; every later notebook that
trains a model draws its batches here.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ._checks import ArgumentError, integer, number, tensor


def split_ids(ids: Sequence[int] | torch.Tensor, val_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``ids`` into ``(train, val)`` 1-D long tensors: the last ``val_fraction`` is validation."""
    number("val_fraction", val_fraction, min=0, max=1, min_open=True, max_open=True)
    data = torch.as_tensor(ids)
    tensor("ids", data, ndim=1, dtype="int" if data.numel() else None)   # floats are not ids: no silent truncation
    data = data.long()
    n_val = int(len(data) * val_fraction)
    if n_val < 2 or len(data) - n_val < 2:
        raise ArgumentError(f"ids are too short to split with val_fraction={val_fraction}: {len(data)} ids "
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
    integer("batch_size", batch_size, min=1)
    integer("block_size", block_size, min=1)
    tensor("data", data, ndim=1, dtype="int")
    if len(data) < block_size + 1:
        raise ArgumentError(f"data must hold at least block_size+1={block_size + 1} ids; got {len(data)}")
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    offsets = torch.arange(block_size)
    x = data[starts[:, None] + offsets]       # (B, T)
    y = data[starts[:, None] + offsets + 1]   # (B, T): the next token at every position
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y
