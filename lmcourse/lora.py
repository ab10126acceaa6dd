"""LoRA, low-rank adaptation (Hu et al. 2021), written from scratch.

Fine-tuning changes a pretrained weight W (out, in) by some ΔW. LoRA bets that a useful
ΔW has low rank and writes it as ``ΔW = (alpha / r) · B @ A`` with A (r, in) and B
(out, r), r ≪ min(in, out). W stays frozen; only A and B train, r·(in + out) numbers
instead of in·out. B starts at zero, so the adapted model starts exactly equal to the
base model; A starts small and random so the gradient of B is not zero.

* :class:`LoRALinear` wraps one ``nn.Linear``: ``y = W x + b + (alpha/r) · B A x``;
* :func:`apply_lora` freezes a model and wraps the linear layers whose names end in one of
  ``targets`` (default: every linear layer inside a GPT's blocks);
* :func:`merge_lora` folds each adapter into its weight, ``W ← W + (alpha/r) · B A``, and
  gives back plain ``nn.Linear`` layers: no extra cost at inference;
* :func:`trainable_parameters` counts what the optimizer will update.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ._checks import number
from .transformer import count_parameters

DEFAULT_TARGETS = ("attn.c_attn", "attn.c_proj", "mlp.linear1", "mlp.linear2")


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update: (…, in) -> (…, out).

    ``forward(x) = base(x) + scale · (x @ A.T) @ B.T`` with ``scale = alpha / r``,
    A (r, in) drawn like a linear layer's weight (Kaiming-uniform), B (out, r) zeros.
    """

    def __init__(self, base: nn.Linear, r: int = 4, alpha: float = 8.0):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise ValueError(f"base must be an nn.Linear; got {type(base).__name__}")
        limit = min(base.in_features, base.out_features)
        # worded by hand: the bound's name is the point, and notebook 14 shows this message
        if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= limit:
            raise ValueError(f"r must be an integer in [1, min(in_features, out_features)={limit}]; got {r!r}")
        alpha = number("alpha", alpha, min=0, min_open=True)
        self.base, self.r, self.alpha = base, r, alpha
        self.base.requires_grad_(False)
        w = base.weight
        self.A = nn.Parameter(torch.empty(r, base.in_features, device=w.device, dtype=w.dtype))
        self.B = nn.Parameter(torch.zeros(base.out_features, r, device=w.device, dtype=w.dtype))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))                    # as nn.Linear initialises a weight

    @property
    def scale(self) -> float:
        return self.alpha / self.r

    def delta_weight(self) -> torch.Tensor:
        """The update the adapter adds to the weight: ``(alpha / r) · B @ A``, shape (out, in)."""
        return self.scale * (self.B @ self.A)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * ((x @ self.A.T) @ self.B.T)     # (…, in) -> (…, r) -> (…, out)

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha:g}, scale={self.scale:g}"


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def apply_lora(model: nn.Module, *, r: int = 4, alpha: float = 8.0,
               targets: Sequence[str] = DEFAULT_TARGETS) -> list[str]:
    """Freeze ``model`` and wrap each ``nn.Linear`` whose name ends with one of ``targets`` in a
    :class:`LoRALinear`, in place. Returns the wrapped names; raises if none matched."""
    if isinstance(targets, str) or not targets:
        raise ValueError(f"targets must be a non-empty list of name endings; got {targets!r}")
    model.requires_grad_(False)
    names = [name for name, m in model.named_modules()
             if isinstance(m, nn.Linear) and any(name == t or name.endswith("." + t) for t in targets)]
    if not names:
        raise ValueError(f"targets {list(targets)} match no nn.Linear of {type(model).__name__}")
    for name in names:
        _set(model, name, LoRALinear(model.get_submodule(name), r=r, alpha=alpha))
    return names


@torch.no_grad()
def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every :class:`LoRALinear` by a plain ``nn.Linear`` with weight ``W + (alpha/r)·B@A``, in place.

    The merged model computes the same function (up to float rounding) at the cost of the
    base model. Returns ``model``.
    """
    names = [name for name, m in model.named_modules() if isinstance(m, LoRALinear)]
    if not names:
        raise ValueError(f"model has no LoRALinear layers to merge ({type(model).__name__})")
    for name in names:
        lora = model.get_submodule(name)
        merged = lora.base
        merged.weight += lora.delta_weight()
        _set(model, name, merged)
    return model


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts of ``model`` (tied weights count once)."""
    return count_parameters(model), count_parameters(model, trainable_only=False)

