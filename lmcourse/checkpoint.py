"""Checkpoints that are safe to load and safe to interrupt.

A checkpoint is a folder with two files:

* ``model.safetensors`` — the weights, in the safetensors format (no pickle, so loading
  a checkpoint cannot run code; tied weights are stored once);
* ``state.pt`` — everything needed to *continue* training exactly: optimizer and
  scheduler state, the step, the model's config and every random generator's state,
  read back with ``torch.load(weights_only=True)``.

Each file is written to a temporary name and renamed into place, so a crash mid-save
leaves the previous checkpoint intact, never a half-written one.
"""

from __future__ import annotations

import dataclasses
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_model, save_model
from torch import nn

from ._files import atomic_write

MODEL_FILE, STATE_FILE = "model.safetensors", "state.pt"


def _config_dict(config: Any) -> dict | None:
    if config is None:
        return None
    if dataclasses.is_dataclass(config):
        return dataclasses.asdict(config)
    if isinstance(config, dict):
        return dict(config)
    raise ValueError(f"config must be a dataclass, a dict or None; got {type(config).__name__}")


def rng_state(generator: torch.Generator | None = None) -> dict:
    """The state of Python's, NumPy's and PyTorch's generators (and ``generator``, if given)."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (np_state[0], torch.from_numpy(np_state[1].copy()), *np_state[2:]),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def set_rng_state(state: dict, generator: torch.Generator | None = None) -> None:
    """Restore what :func:`rng_state` saved."""
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy(), *rest))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None:
        if "generator" not in state:
            raise ValueError("generator was given, but the checkpoint saved no generator state")
        generator.set_state(state["generator"])


def save_checkpoint(folder: str | os.PathLike, model: nn.Module, *, optimizer=None, scheduler=None,
                    step: int = 0, config: Any = None, generator: torch.Generator | None = None,
                    extra: dict | None = None) -> Path:
    """Save ``model`` (safetensors) and the training state (``state.pt``) into ``folder``.

    ``config`` (a dataclass or dict) is stored so that :func:`load_checkpoint` can refuse a
    model of another shape with a clear message; ``generator`` is the data-order generator,
    if training uses one. ``extra`` holds anything else (numbers, strings, tensors).
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be an integer >= 0; got {step!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        "step": step,
        "config": _config_dict(config),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": rng_state(generator),
        "extra": extra or {},
    }
    atomic_write(folder / MODEL_FILE, lambda tmp: save_model(model, tmp))
    atomic_write(folder / STATE_FILE, lambda tmp: torch.save(state, tmp))
    return folder


def load_checkpoint(folder: str | os.PathLike, model: nn.Module, *, optimizer=None, scheduler=None,
                    config: Any = None, generator: torch.Generator | None = None,
                    restore_rng: bool = True) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model`` (and optimizer, scheduler).

    If ``config`` is given it must equal the saved one: a checkpoint of another model shape
    is refused with the fields that differ. Returns ``{"step": ..., "extra": ...}``.
    """
    folder = Path(folder)
    missing = [name for name in (MODEL_FILE, STATE_FILE) if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"folder must hold a checkpoint ({MODEL_FILE} and {STATE_FILE}); "
                                f"{', '.join(missing)} missing in {folder}")
    state = torch.load(folder / STATE_FILE, weights_only=True)
    wanted, saved = _config_dict(config), state["config"]
    if wanted is not None and saved is not None and wanted != saved:
        diff = {k: (saved.get(k), wanted.get(k)) for k in sorted(set(saved) | set(wanted))
                if saved.get(k) != wanted.get(k)}
        raise ValueError("config must match the checkpoint's; differing fields (saved, given): "
                         + ", ".join(f"{k}={a!r}/{b!r}" for k, (a, b) in diff.items()))
    load_model(model, folder / MODEL_FILE, strict=True, device=str(next(model.parameters()).device))
    if optimizer is not None:
        if state["optimizer"] is None:
            raise ValueError("optimizer was given, but the checkpoint saved no optimizer state")
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        if state["scheduler"] is None:
            raise ValueError("scheduler was given, but the checkpoint saved no scheduler state")
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng:
        set_rng_state(state["rng"], generator)
    return {"step": state["step"], "extra": state["extra"]}
