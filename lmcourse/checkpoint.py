"""Checkpoints that are safe to load and safe to interrupt.

A checkpoint is a folder with two files:

* ``model.safetensors`` — the weights, in the safetensors format (no pickle, so loading
  a checkpoint cannot run code; tied weights are stored once);
* ``state.pt`` — everything needed to *continue* training exactly: optimizer and
  scheduler state, the step, the model's config and every random generator's state,
  read back with ``torch.load(weights_only=True)``.

The two are a pair: the weights are written last and name their state file (its SHA-256,
in the safetensors metadata). Saving writes both in full beside the old ones, keeps a copy of
the old state (``.state.pt.prev``), then renames the new state and then the new weights into
place; a crash at any moment leaves a folder that loads as the old pair or as the new pair,
never as a mix. Loading checks the whole file against the model (keys, shapes, dtypes) and
the optimizer before it copies anything, so a load that fails leaves everything unchanged.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_model
from torch import nn

from ._checks import integer
from ._files import atomic_write

MODEL_FILE, STATE_FILE, PREVIOUS_STATE = "model.safetensors", "state.pt", ".state.pt.prev"
_PAIR_KEY = "state_sha256"   # the safetensors metadata entry naming the state file that goes with the weights


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
    if generator is not None and "generator" not in state:
        raise ValueError("generator was given, but the checkpoint saved no generator state")
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy(), *rest))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None:
        generator.set_state(state["generator"])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _paired_state(folder: Path) -> Path:
    """The state file that belongs with ``model.safetensors``: ``state.pt``, or the kept previous one
    if a save stopped between its two renames. Files from before pairs were recorded pair as they are."""
    model_file = folder / MODEL_FILE
    try:
        with safe_open(model_file, framework="pt") as f:
            wanted = (f.metadata() or {}).get(_PAIR_KEY)
    except Exception as err:
        raise ValueError(f"{model_file} cannot be read as safetensors (truncated or not a checkpoint): {err}") from err
    if wanted is None:
        return folder / STATE_FILE
    for candidate in (folder / STATE_FILE, folder / PREVIOUS_STATE):
        if candidate.is_file() and _sha256(candidate) == wanted:
            return candidate
    raise ValueError(f"{folder} must hold a matching pair: {MODEL_FILE} names a state file that neither "
                     f"{STATE_FILE} nor {PREVIOUS_STATE} is (a {STATE_FILE} from another checkpoint?)")


def save_checkpoint(folder: str | os.PathLike, model: nn.Module, *, optimizer=None, scheduler=None,
                    step: int = 0, config: Any = None, generator: torch.Generator | None = None,
                    extra: dict | None = None) -> Path:
    """Save ``model`` (safetensors) and the training state (``state.pt``) into ``folder``, as one pair.

    ``config`` (a dataclass or dict) is stored so that :func:`load_checkpoint` can refuse a
    model of another shape with a clear message; ``generator`` is the data-order generator,
    if training uses one. ``extra`` holds anything else (numbers, strings, tensors).
    A crash during the save leaves the folder loading as the previous checkpoint.
    """
    step = integer("step", step, min=0)
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
    if (folder / MODEL_FILE).is_file() and (folder / STATE_FILE).is_file():
        try:
            current = _paired_state(folder)                   # keep the state the current weights name
        except ValueError:
            current = None                                    # no loadable pair to keep: overwrite it
        if current is not None and current.name != PREVIOUS_STATE:
            atomic_write(folder / PREVIOUS_STATE, lambda tmp: shutil.copyfile(current, tmp))
    parts = []
    try:
        for name in (STATE_FILE, MODEL_FILE):
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
            os.close(fd)
            parts.append(tmp)
        new_state, new_model = map(Path, parts)
        torch.save(state, new_state)
        save_model(model, str(new_model), metadata={_PAIR_KEY: _sha256(new_state)})
        os.replace(new_state, folder / STATE_FILE)            # now: old weights + new state (old state kept)
        os.replace(new_model, folder / MODEL_FILE)            # now: the new pair
    finally:
        for tmp in parts:
            Path(tmp).unlink(missing_ok=True)
    (folder / PREVIOUS_STATE).unlink(missing_ok=True)
    return folder


def _tied_groups(state_dict: dict) -> list[list[str]]:
    """Names of ``state_dict`` grouped by the tensor they share (safetensors stores one of each group)."""
    groups: dict = {}
    for name, t in state_dict.items():
        key = (t.data_ptr(), tuple(t.shape), t.dtype) if t.numel() else name
        groups.setdefault(key, []).append(name)
    return list(groups.values())


def _weight_problems(saved: dict, ours: dict) -> list[str]:
    problems = []
    missing = [group[0] for group in _tied_groups(ours) if not any(n in saved for n in group)]
    unexpected = sorted(set(saved) - set(ours))
    if missing:
        problems.append(f"missing keys {missing[:5]}" + (" …" if len(missing) > 5 else ""))
    if unexpected:
        problems.append(f"unexpected keys {unexpected[:5]}" + (" …" if len(unexpected) > 5 else ""))
    for name in saved:
        if name in ours and tuple(saved[name].shape) != tuple(ours[name].shape):
            problems.append(f"{name}: file {tuple(saved[name].shape)} vs model {tuple(ours[name].shape)}")
        elif name in ours and saved[name].dtype != ours[name].dtype:
            problems.append(f"{name}: file {saved[name].dtype} vs model {ours[name].dtype}")
    return problems


def _optimizer_problems(saved: dict, optimizer) -> list[str]:
    """Why ``optimizer`` cannot take the saved state: group sizes, or state tensors of another shape."""
    groups, ours = saved.get("param_groups", []), optimizer.param_groups
    sizes = [len(g["params"]) for g in groups], [len(g["params"]) for g in ours]
    if sizes[0] != sizes[1]:
        return [f"optimizer: parameters per group: file {sizes[0]} vs optimizer {sizes[1]}"]
    params = {i: p for g_saved, g in zip(groups, ours) for i, p in zip(g_saved["params"], g["params"])}
    problems = []
    for i, slots in saved.get("state", {}).items():
        for slot, value in slots.items():
            param = params.get(i)
            if param is not None and isinstance(value, torch.Tensor) and value.ndim and value.shape != param.shape:
                problems.append(f"optimizer state {i}.{slot}: file {tuple(value.shape)} vs parameter "
                                f"{tuple(param.shape)}")
    return problems


def read_state(folder: str | os.PathLike) -> dict:
    """The training state saved beside the weights (step, config, optimizer, scheduler, rng, extra),
    read with ``weights_only=True`` and changing nothing: for checks a caller wants to make before
    :func:`load_checkpoint` (e.g. that the training settings match)."""
    folder = Path(folder)
    missing = [name for name in (MODEL_FILE, STATE_FILE) if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"folder must hold a checkpoint ({MODEL_FILE} and {STATE_FILE}); "
                                f"{', '.join(missing)} missing in {folder}")
    state_file = _paired_state(folder)
    try:
        return torch.load(state_file, weights_only=True)
    except Exception as err:
        raise ValueError(f"{state_file} cannot be read (truncated or not a checkpoint's state): {err}") from err


def check_config(state: dict, config: Any) -> None:
    """Refuse ``config`` (a dataclass or dict; ``None`` skips the check) if it differs from the one saved
    in ``state`` (from :func:`read_state`), naming every differing field as saved/given. A field the
    saved config lacks (a checkpoint written before the field was added) counts as the dataclass's default."""
    wanted, saved = _config_dict(config), state["config"]
    if saved is not None and dataclasses.is_dataclass(config):
        defaults = {f.name: f.default for f in dataclasses.fields(config)
                    if f.default is not dataclasses.MISSING and f.name not in saved}
        saved = {**saved, **defaults}
    if wanted is not None and saved is not None and wanted != saved:
        diff = {k: (saved.get(k), wanted.get(k)) for k in sorted(set(saved) | set(wanted))
                if saved.get(k) != wanted.get(k)}
        raise ValueError("config must match the checkpoint's; differing fields (saved, given): "
                         + ", ".join(f"{k}={a!r}/{b!r}" for k, (a, b) in diff.items()))


def load_checkpoint(folder: str | os.PathLike, model: nn.Module, *, optimizer=None, scheduler=None,
                    config: Any = None, generator: torch.Generator | None = None,
                    restore_rng: bool = True) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model`` (and optimizer, scheduler).

    All or nothing: both files are read and checked first (the config, if given, must equal the
    saved one; every key, shape and dtype of the weights must match ``model``; the optimizer state
    must fit ``optimizer``), and a mismatch, truncated or corrupt file is refused with what
    differs, before anything is changed. Returns ``{"step": ..., "extra": ...}``.
    """
    folder = Path(folder)
    state = read_state(folder)
    check_config(state, config)
    ours = model.state_dict()
    device = next(iter(ours.values())).device if ours else "cpu"
    try:
        weights = load_file(folder / MODEL_FILE, device=str(device))
    except Exception as err:
        raise ValueError(f"{folder / MODEL_FILE} cannot be read as safetensors (truncated or corrupt): {err}") from err
    problems = _weight_problems(weights, ours)
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is not None and state[name] is None:
            raise ValueError(f"{name} was given, but the checkpoint saved no {name} state")
    if optimizer is not None:
        problems += _optimizer_problems(state["optimizer"], optimizer)
    if restore_rng and generator is not None and "generator" not in state["rng"]:
        raise ValueError("generator was given, but the checkpoint saved no generator state")
    if problems:
        raise ValueError(f"{folder / MODEL_FILE} does not fit {type(model).__name__}: " + "; ".join(problems[:8]))

    backup = ({k: v.clone() for k, v in ours.items()},
              copy.deepcopy(optimizer.state_dict()) if optimizer is not None else None,
              copy.deepcopy(scheduler.state_dict()) if scheduler is not None else None)
    try:
        with torch.no_grad():
            for name, tensor in weights.items():
                ours[name].copy_(tensor)
        if optimizer is not None:
            optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        if restore_rng:
            set_rng_state(state["rng"], generator)
    except Exception:
        with torch.no_grad():                                  # put everything back as it was
            for name, tensor in backup[0].items():
                ours[name].copy_(tensor)
        if optimizer is not None:
            optimizer.load_state_dict(backup[1])
        if scheduler is not None:
            scheduler.load_state_dict(backup[2])
        raise
    return {"step": state["step"], "extra": state["extra"]}
