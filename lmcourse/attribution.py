"""Gradient-based attribution: which input tokens does one prediction depend on?

*Input × gradient* multiplies each input embedding by the gradient of the chosen output
(here one logit) with respect to it and sums over the embedding dimensions, giving one
signed score per token. For a linear model it is exact, each term is that input's share
of the output; for a deep network it is a first-order (Taylor) estimate. Unlike an
attention map, which shows where one layer *looked*, it measures how the output would
*change* with the input, through every layer and the residual stream.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def input_x_gradient(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``x * ∂f(x)/∂x`` for a function ``f`` whose output is a scalar: same shape as ``x``."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor; got {getattr(x, 'dtype', type(x).__name__)}")
    x = x.detach().requires_grad_(True)
    out = f(x)
    if not isinstance(out, torch.Tensor) or out.numel() != 1:
        raise ValueError(f"f(x) must be a scalar tensor; got shape {tuple(getattr(out, 'shape', ()))}")
    (grad,) = torch.autograd.grad(out.reshape(()), x)
    return (x * grad).detach()


def token_attribution(model: nn.Module, idx: torch.Tensor, position: int, target: int, *,
                      embedding: nn.Module | None = None) -> torch.Tensor:
    """Input × gradient of the logit of ``target`` at ``position`` with respect to each token's embedding: (T,).

    ``idx`` is one sequence (1, T); ``model(idx)`` must return ``(logits, ...)`` with logits
    (1, T, V). The token embedding layer (``embedding``, by default ``model.wte`` as in
    :class:`lmcourse.gpt.GPT`) is hooked so that its output becomes the input we
    differentiate; the score of token t is ``Σ_c e[t, c] · ∂logit/∂e[t, c]``.
    """
    if not isinstance(idx, torch.Tensor) or idx.ndim != 2 or idx.shape[0] != 1:
        raise ValueError(f"idx must be one sequence of shape (1, T); got {getattr(idx, 'shape', type(idx).__name__)}")
    T = idx.shape[1]
    if isinstance(position, bool) or not isinstance(position, int) or not -T <= position < T:
        raise ValueError(f"position must be an int in [-{T}, {T}); got {position!r}")
    embedding = embedding if embedding is not None else model.wte
    captured = {}

    def use_as_input(module, inputs, output):                      # swap in a leaf tensor we can differentiate
        leaf = output.detach().requires_grad_(True)
        captured["e"] = leaf
        return leaf

    handle = embedding.register_forward_hook(use_as_input)
    was_training = model.training
    model.eval()
    try:
        logits = model(idx)[0]                                        # (1, T, V)
    finally:
        handle.remove()
        model.train(was_training)
    V = logits.shape[-1]
    if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < V:
        raise ValueError(f"target must be a token id in [0, {V}); got {target!r}")
    e = captured["e"]
    (grad,) = torch.autograd.grad(logits[0, position, target], e)
    return (e * grad).sum(-1)[0].detach()                             # (1, T, C) -> (T,)
