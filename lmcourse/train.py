"""The course's training loop: AdamW, schedules, clipping, accumulation, checkpoints, several GPUs.

Any model that follows the course convention ``model(x, targets) -> (logits, loss)`` can be
trained with :func:`train`, given two functions that each return a batch ``(x, y)``
(for instance :func:`lmcourse.batches.get_batch` with the train and validation ids).
Notebook 10 grows it into what practitioners use, one switch of :class:`TrainConfig` at a time:

* AdamW with two parameter groups, as in nanoGPT: matrices (``dim >= 2``: linear weights,
  embeddings) are decayed, vectors (biases, LayerNorm gains) are not (:func:`param_groups`);
* a learning-rate schedule: constant, linear warmup + cosine decay
  (:func:`lmcourse.schedules.warmup_cosine_lambda`), or ``StepLR``;
* gradient clipping, gradient accumulation (``accum_steps`` micro-batches per update);
* mixed precision (``bf16`` / ``fp16`` autocast; ``fp16`` adds a ``GradScaler``);
* checkpoints every ``save_every`` steps and a bit-exact resume (:mod:`lmcourse.checkpoint`);
* evaluation every ``eval_every`` steps, a tqdm bar, a live plot, TensorBoard if installed;
* :class:`~torch.nn.parallel.DistributedDataParallel` models (see :mod:`lmcourse.train_ddp`).

The step itself stays lean: no ``.item()`` (which waits for the device) except when logging,
``zero_grad(set_to_none=True)``, a fused or multi-tensor ("foreach") AdamW.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .checkpoint import load_checkpoint, save_checkpoint
from .schedules import warmup_cosine_lambda

Batch = tuple[torch.Tensor, torch.Tensor]
SCHEDULES = ("constant", "cosine", "step")
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
_RESUME_IGNORES = ("progress", "save_every")  # fields that may change between a run and its resume


_FLUSH_EVERY = 50  # steps between reading the kept loss/norm tensors (one device sync each time)


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")


@dataclass
class TrainConfig:
    """How to train: steps, optimizer, learning-rate schedule, accumulation, precision, cadence.

    ``schedule="cosine"`` warms the learning rate up linearly over ``warmup_steps`` and then
    decays it along a half cosine to ``min_lr`` at ``steps`` (nanoGPT's schedule);
    ``"constant"`` keeps ``lr`` (after the optional warmup); ``"step"`` is PyTorch's
    ``StepLR``: multiply by ``gamma`` every ``step_size`` steps. One step is one optimizer
    update of ``accum_steps`` micro-batches.
    """

    steps: int
    lr: float = 3e-3
    weight_decay: float = 0.01
    eval_every: int = 100      # evaluate after every this many steps (and after the last)
    eval_batches: int = 10     # validation batches averaged per evaluation
    grad_clip: float | None = None  # clip the global gradient norm to this value
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: str = "constant"  # "constant", "cosine" (warmup + cosine) or "step" (StepLR)
    warmup_steps: int = 0      # linear warmup (constant and cosine schedules)
    min_lr: float = 0.0        # where the cosine ends
    step_size: int = 1000      # StepLR: decay every this many steps ...
    gamma: float = 0.1         # ... by this factor
    accum_steps: int = 1       # micro-batches whose gradients add up to one update
    precision: str = "fp32"    # "fp32", "bf16" or "fp16" (autocast; fp16 also scales the loss)
    save_every: int | None = None  # checkpoint every this many steps (and at the end) if a folder is given
    progress: bool = False     # show a tqdm progress bar

    def __post_init__(self):
        for name in ("steps", "eval_every", "eval_batches", "accum_steps", "step_size"):
            _check_int(name, getattr(self, name), 1)
        _check_int("warmup_steps", self.warmup_steps, 0)
        if self.save_every is not None:
            _check_int("save_every", self.save_every, 1)
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0; got {self.lr!r}")
        if not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"min_lr must be in [0, lr={self.lr}]; got {self.min_lr!r}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0; got {self.weight_decay!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be None or > 0; got {self.grad_clip!r}")
        self.betas = tuple(self.betas)
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1); got {self.betas!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}; got {self.schedule!r}")
        if self.warmup_steps >= self.steps:
            raise ValueError(f"warmup_steps must be < steps={self.steps} (warmup is the start of training, "
                             f"not all of it); got {self.warmup_steps}")
        if self.schedule == "step" and self.warmup_steps:
            raise ValueError("warmup_steps must be 0 with schedule='step' (StepLR has no warmup); "
                             f"got {self.warmup_steps}")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1]; got {self.gamma!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}")


@dataclass
class History:
    """What happened during :func:`train`: evaluation steps, losses, learning rates, gradient norms, times."""

    steps: list[int] = field(default_factory=list)
    # train_loss is the *running mean* of the training-batch losses since the previous evaluation
    # (or the start), not a fresh estimate like val_loss: early on, when the loss falls fast, it
    # lags behind and sits above val_loss. A live plot's "train" curve shows this running mean.
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)   # global gradient norm at every step, before clipping
    lr: list[float] = field(default_factory=list)          # learning rate used at every step
    step_ms: list[float] = field(default_factory=list)     # wall time of every step (batches, forward, backward, update)


def peak_memory_mib() -> float | None:
    """The most memory (resident set) this process has used so far, in MiB; None where unknown.

    Portable where the standard library is not: ``resource`` exists only on Unix, and its
    ``ru_maxrss`` is in KiB on Linux but in *bytes* on macOS. On Windows the peak working set
    comes from ``psutil`` (installed with Jupyter). Other systems, or Windows without psutil,
    give None rather than a wrong number. GPU memory is separate:
    ``torch.cuda.max_memory_allocated()``.
    """
    import sys

    if sys.platform == "win32":
        try:
            import psutil
        except ImportError:
            return None
        return psutil.Process().memory_info().peak_wset / 2**20
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW parameter groups, as in nanoGPT: decay every tensor with ``dim >= 2``, no others.

    Matrices (linear weights, embeddings) are what weight decay should pull towards zero;
    biases and LayerNorm gains are vectors whose size sets a scale, so decaying them only
    fights the model. Tied weights appear once. Returns ``[{"params": decay, "weight_decay":
    weight_decay}, {"params": no_decay, "weight_decay": 0.0}]``.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"model must have trainable parameters; {type(model).__name__} has none")
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]


def configure_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`, fused into one kernel per step where the device allows."""
    kind = {p.device.type for p in model.parameters()}
    fused = kind <= {"cuda", "cpu"}
    return torch.optim.AdamW(param_groups(model, config.weight_decay), lr=config.lr, betas=config.betas,
                             fused=fused, foreach=None if fused else True)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LRScheduler:
    """The learning-rate scheduler ``config.schedule`` names, stepped once per optimizer step."""
    if config.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)
    if config.schedule == "cosine":
        rate = warmup_cosine_lambda(config.warmup_steps, config.steps, config.min_lr / config.lr)
    else:
        warmup = config.warmup_steps
        rate = (lambda step: min(1.0, (step + 1) / warmup)) if warmup else (lambda step: 1.0)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, rate)


@torch.no_grad()
def estimate_loss(model: nn.Module, get_batch: Callable[[], Batch], n_batches: int) -> float:
    """Mean loss of ``model`` over ``n_batches`` batches from ``get_batch()``, in eval mode."""
    if isinstance(n_batches, bool) or not isinstance(n_batches, int) or n_batches < 1:
        raise ValueError(f"n_batches must be an integer >= 1; got {n_batches!r}")
    was_training = model.training
    model.eval()
    total = None
    for _ in range(n_batches):
        x, y = get_batch()
        _, loss = model(x, y)
        total = loss.float() if total is None else total + loss.float()
    model.train(was_training)
    return total.item() / n_batches    # one sync for all batches


def _summary_writer(log_dir):
    """A TensorBoard ``SummaryWriter`` for ``log_dir``, or None (with a warning) if tensorboard is missing."""
    if log_dir is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        warnings.warn("log_dir was given but the tensorboard package is not installed; "
                      "skipping TensorBoard logging (pip install tensorboard to enable it)", stacklevel=3)
        return None
    return SummaryWriter(str(log_dir))


def _train_state(config: TrainConfig) -> dict:
    return {k: v for k, v in dataclasses.asdict(config).items() if k not in _RESUME_IGNORES}


def _model_config(model: nn.Module):
    config = getattr(model, "config", None)
    return config if dataclasses.is_dataclass(config) else None


def train(model: nn.Module, train_batch: Callable[[], Batch], val_batch: Callable[[], Batch],
          config: TrainConfig, *, plot=None, generator: torch.Generator | None = None,
          checkpoint_dir=None, resume_from=None, stop_after: int | None = None, log_dir=None) -> History:
    """Train ``model`` for ``config.steps`` AdamW steps; returns a :class:`History`.

    Every ``config.eval_every`` steps (and at the end) the mean validation loss over
    ``config.eval_batches`` batches is recorded and, if given, sent to ``plot`` (anything
    with ``update(step, train=..., val=...)``, e.g. :class:`lmcourse.viz.LiveLossPlot`);
    ``train`` is the mean training-batch loss since the previous evaluation (see :class:`History`).
    ``generator`` is the generator ``train_batch`` draws from: checkpoints save it, so a
    resumed run sees the same batches. With ``checkpoint_dir`` a checkpoint is written every
    ``config.save_every`` steps and at the end; ``resume_from`` continues from one, bit for
    bit; ``stop_after`` ends this run early, as if interrupted (the schedule still spans
    ``config.steps``). ``log_dir`` writes TensorBoard scalars when tensorboard is installed.
    ``model`` may be wrapped in ``DistributedDataParallel``: only rank 0 logs and saves.
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig; got {type(config).__name__}")
    if stop_after is not None and (isinstance(stop_after, bool) or not isinstance(stop_after, int)
                                   or not 1 <= stop_after <= config.steps):
        raise ValueError(f"stop_after must be an integer in [1, steps={config.steps}]; got {stop_after!r}")
    ddp = isinstance(model, DistributedDataParallel)
    raw = model.module if ddp else model
    main_process = not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0
    optimizer = configure_optimizer(raw, config)
    scheduler = make_scheduler(optimizer, config)
    device_type = next(raw.parameters()).device.type
    dtype = PRECISIONS[config.precision]
    autocast = (lambda: torch.autocast(device_type, dtype=dtype)) if dtype is not None else nullcontext
    scaler = torch.amp.GradScaler(device_type, enabled=config.precision == "fp16")
    history, start, running, count = History(), 0, 0.0, 0
    if resume_from is not None:
        state = load_checkpoint(resume_from, raw, optimizer=optimizer, scheduler=scheduler,
                                config=_model_config(raw), generator=generator)
        saved = state["extra"].get("train_config")
        if saved is not None and saved != _train_state(config):
            diff = ", ".join(f"{k}={saved.get(k)!r}/{v!r}" for k, v in _train_state(config).items()
                             if saved.get(k) != v)
            raise ValueError(f"config must match the checkpoint's training config; differing fields "
                             f"(saved/given): {diff}")
        start = state["step"]
        history = History(**state["extra"].get("history", {}))
        running, count = state["extra"].get("running", (0.0, 0))
        if "scaler" in state["extra"]:
            scaler.load_state_dict(state["extra"]["scaler"])
    end = stop_after if stop_after is not None else config.steps
    writer = _summary_writer(log_dir) if main_process else None
    bar = None
    if config.progress and main_process:
        from tqdm.auto import tqdm
        bar = tqdm(total=config.steps, initial=start, desc="training", unit="step")
    clip, accum = config.grad_clip, config.accum_steps
    pending_loss, pending_norm, pending_lr, pending_ms = [], [], [], []

    def flush():
        """Turn the losses and norms kept as tensors into floats: one device sync per log."""
        nonlocal running, count
        if pending_loss:
            losses = torch.stack(pending_loss).float().tolist()
            running, count = running + sum(losses), count + len(losses)
            history.grad_norm.extend(torch.stack(pending_norm).tolist())
            history.lr.extend(pending_lr)
            history.step_ms.extend(pending_ms)
            pending_loss.clear(), pending_norm.clear(), pending_lr.clear(), pending_ms.clear()

    model.train()
    for step in range(start + 1, end + 1):
        t0 = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        loss_sum = None
        for micro in range(accum):
            x, y = train_batch()
            last = micro == accum - 1
            with model.no_sync() if ddp and not last else nullcontext():   # all-reduce on the last one only
                with autocast():
                    _, loss = model(x, y)
                scaler.scale(loss if accum == 1 else loss / accum).backward()
            loss_sum = loss.detach() if loss_sum is None else loss_sum + loss.detach()
        scaler.unscale_(optimizer)                                          # clip the true gradients
        grads = [p.grad for p in raw.parameters() if p.grad is not None]
        norm = nn.utils.get_total_norm(grads)
        if clip is not None:
            nn.utils.clip_grads_with_norm_(raw.parameters(), clip, norm)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
        pending_loss.append(loss_sum if accum == 1 else loss_sum / accum)
        pending_norm.append(norm)
        pending_lr.append(lr)
        pending_ms.append((time.perf_counter() - t0) * 1000)
        if len(pending_loss) >= _FLUSH_EVERY:     # bounded: thousands of live scalars fragment the CPU heap
            flush()
        if bar is not None:
            bar.update(1)
        if step % config.eval_every == 0 or step == config.steps:
            flush()
            with autocast():
                val = estimate_loss(model, val_batch, config.eval_batches)
            history.steps.append(step)
            history.train_loss.append(running / count)
            history.val_loss.append(val)
            running, count = 0.0, 0
            if plot is not None and main_process:
                plot.update(step, train=history.train_loss[-1], val=val)
            if bar is not None:
                bar.set_postfix(train=f"{history.train_loss[-1]:.3f}", val=f"{val:.3f}")
            if writer is not None:
                writer.add_scalar("loss/train", history.train_loss[-1], step)
                writer.add_scalar("loss/val", val, step)
                writer.add_scalar("lr", lr, step)
        saving = config.save_every is not None and step % config.save_every == 0
        if checkpoint_dir is not None and main_process and (saving or step == end):
            flush()
            save_checkpoint(checkpoint_dir, raw, optimizer=optimizer, scheduler=scheduler, step=step,
                            config=_model_config(raw), generator=generator,
                            extra={"train_config": _train_state(config), "history": dataclasses.asdict(history),
                                   "running": (running, count), "scaler": scaler.state_dict()})
    flush()
    if bar is not None:
        bar.close()
    if writer is not None:
        writer.close()
    return history
