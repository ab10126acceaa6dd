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

from ._checks import ArgumentError, integer, tensor


def input_x_gradient(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``x * ∂f(x)/∂x`` for a function ``f`` whose output is a scalar: same shape as ``x``."""
    tensor("x", x, dtype="float")
    x = x.detach().requires_grad_(True)
    out = f(x)
    if not isinstance(out, torch.Tensor) or out.numel() != 1:
        raise ArgumentError(f"f(x) must be a scalar tensor; got shape {tuple(getattr(out, 'shape', ()))}")
    (grad,) = torch.autograd.grad(out.reshape(()), x)
    return (x * grad).detach()


def token_attribution(model: nn.Module, idx: torch.Tensor, position: int, target: int, *,
                      embedding: nn.Module | None = None) -> torch.Tensor:
    """Input × gradient of the logit of ``target`` at ``position`` with respect to each token's embedding: (T,).

    ``idx`` is one sequence (1, T); ``model(idx)`` must return ``(logits, ...)`` with logits
    (1, T, V). The token embedding layer (``embedding``, by default ``model.wte`` as in
    :class:`lmcourse.gpt.GPT`) is hooked so that its output is the input :func:`input_x_gradient`
    differentiates; the score of token t is ``Σ_c e[t, c] · ∂logit/∂e[t, c]``.
    """
    tensor("idx", idx, shape=(1, "T"))
    T = idx.shape[1]
    integer("position", position, min=-T, max=T - 1)
    integer("target", target, min=0)
    embedding = embedding if embedding is not None else model.wte

    def logit(e: torch.Tensor) -> torch.Tensor:                   # the model's logit, with e as the token embeddings
        handle = embedding.register_forward_hook(lambda module, inputs, output: e)
        try:
            logits = model(idx)[0]                                    # (1, T, V)
        finally:
            handle.remove()
        if target >= logits.shape[-1]:
            raise ArgumentError(f"target must be a token id in [0, {logits.shape[-1]}); got {target}")
        return logits[0, position, target]

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            e = embedding(idx)                                        # (1, T, C)
        return input_x_gradient(logit, e).sum(-1)[0]                  # (1, T, C) -> (T,)
    finally:
        model.train(was_training)
