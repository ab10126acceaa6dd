"""The run's setting: where tensors live (:func:`pick_device`), how a run repeats (:func:`set_seed`) and
what machine a notebook ran on (:func:`environment_summary`).

Notebooks import all three from the package itself (``from lmcourse import pick_device, set_seed``).
"""

from __future__ import annotations

import os
import platform
import random

import numpy as np
import torch

from . import __version__
from ._checks import integer
from .profiles import get_profile

ENV_VAR = "LMCOURSE_DEVICE"
_KNOWN = ("cuda", "mps", "cpu")


def _available(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    return kind == "cpu"


def pick_device(prefer: str | None = None) -> torch.device:
    """Choose where to run: ``prefer``, else ``$LMCOURSE_DEVICE``, else cuda → mps → cpu.

    Asking for a device this machine does not have is an error rather than a silent
    fallback, so a GPU run never turns into a CPU run without you noticing.
    """
    source = "prefer"
    if prefer is None:
        prefer, source = os.environ.get(ENV_VAR) or None, ENV_VAR
    if prefer is None:
        return torch.device(next(k for k in _KNOWN if _available(k)))
    kind = prefer.split(":")[0].strip().lower()
    if kind not in _KNOWN:
        raise ValueError(f"{source} must be one of {', '.join(_KNOWN)} (optionally 'cuda:N'); got {prefer!r}")
    if not _available(kind):
        raise RuntimeError(f"{source} asks for {prefer!r}, but this machine has no {kind} device; "
                           f"unset {ENV_VAR} to pick automatically")
    return torch.device(prefer.strip().lower())


def set_seed(seed: int = 0, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and PyTorch (every device) so that a run repeats exactly.

    ``deterministic=True`` also asks PyTorch for deterministic kernels, which matters on GPUs.
    """
    seed = integer("seed", seed, min=0, max=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


def environment_summary() -> str:
    """One line saying what a run used: versions, profile, device and threads."""
    device = pick_device()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
    return (f"lmcourse {__version__} | profile {get_profile().name} | device {device.type} ({name}) | "
            f"torch {torch.__version__} | python {platform.python_version()} | "
            f"{torch.get_num_threads()} CPU threads")
