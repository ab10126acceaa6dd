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
* evaluation every ``eval_every`` steps, told to :class:`Callback` objects: a live plot
  (:class:`LivePlot`), a tqdm bar (:class:`ProgressBar`), TensorBoard (:class:`TensorBoard`), or your own;
* :class:`~torch.nn.parallel.DistributedDataParallel` models (see :mod:`lmcourse.train_ddp`).

The step itself stays lean: no ``.item()`` (which waits for the device) except when logging,
``zero_grad(set_to_none=True)``, a fused or multi-tensor ("foreach") AdamW.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ._checks import ArgumentError, integer, number, one_of
from .checkpoint import check_config, load_checkpoint, read_state, save_checkpoint
from .schedules import warmup_cosine_schedule

Batch = tuple[torch.Tensor, torch.Tensor]
SCHEDULES = ("constant", "cosine", "step")
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
_RESUME_IGNORES = ("progress", "save_every")  # fields that may change between a run and its resume


_FLUSH_EVERY = 50  # steps between reading the kept loss/norm tensors (one device sync each time)


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
            integer(name, getattr(self, name), min=1)
        integer("warmup_steps", self.warmup_steps, min=0)
        if self.save_every is not None:
            integer("save_every", self.save_every, min=1)
        number("lr", self.lr, min=0, min_open=True)
        number("min_lr", self.min_lr, min=0, max=self.lr)
        number("weight_decay", self.weight_decay, min=0)
        if self.grad_clip is not None:
            number("grad_clip", self.grad_clip, min=0, min_open=True)
        self.betas = tuple(self.betas)
        if len(self.betas) != 2:
            raise ArgumentError(f"betas must be two numbers in [0, 1); got {self.betas!r}")
        for i, beta in enumerate(self.betas):
            number(f"betas[{i}]", beta, min=0, max=1, max_open=True)
        one_of("schedule", self.schedule, SCHEDULES)
        if self.warmup_steps >= self.steps:
            raise ArgumentError(f"warmup_steps must be < steps={self.steps} (warmup is the start of training, "
                                f"not all of it); got {self.warmup_steps}")
        if self.schedule == "step" and self.warmup_steps:
            raise ArgumentError("warmup_steps must be 0 with schedule='step' (StepLR has no warmup); "
                                f"got {self.warmup_steps}")
        number("gamma", self.gamma, min=0, max=1, min_open=True)
        one_of("precision", self.precision, PRECISIONS)


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
    # wall time of every step (batches, forward, backward, update)
    step_ms: list[float] = field(default_factory=list)


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
        return warmup_cosine_schedule(optimizer, config.warmup_steps, config.steps, config.min_lr / config.lr)
    warmup = config.warmup_steps
    rate = (lambda step: min(1.0, (step + 1) / warmup)) if warmup else (lambda step: 1.0)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, rate)


@torch.no_grad()
def estimate_loss(model: nn.Module, get_batch: Callable[[], Batch], n_batches: int) -> float:
    """Mean loss of ``model`` over ``n_batches`` batches from ``get_batch()``, in eval mode."""
    integer("n_batches", n_batches, min=1)
    was_training = model.training
    model.eval()
    total = None
    for _ in range(n_batches):
        x, y = get_batch()
        _, loss = model(x, y)
        total = loss.float() if total is None else total + loss.float()
    model.train(was_training)
    return total.item() / n_batches    # one sync for all batches


class Callback:
    """What :func:`train` tells about its progress, in the spirit of minGPT's ``Trainer.add_callback``.

    Override the methods you need: ``on_step(step, history)`` after every optimizer step,
    ``on_eval(step, history)`` after every evaluation (``history.train_loss[-1]``,
    ``history.val_loss[-1]`` and ``history.lr[-1]`` are then this evaluation's), ``on_end(history)``
    once when the run ends. A plain function ``f(step, history)`` in ``train(callbacks=[...])`` is
    an ``on_eval``. Only the main process (rank 0 under DDP) calls them.
    """

    def on_step(self, step: int, history: History) -> None:
        pass

    def on_eval(self, step: int, history: History) -> None:
        pass

    def on_end(self, history: History) -> None:
        pass


class _OnEval(Callback):
    def __init__(self, fn: Callable[[int, History], None]):
        self.on_eval = fn


class LivePlot(Callback):
    """Sends each evaluation to ``plot.update(step, train=..., val=...)``, e.g. a :class:`lmcourse.viz.LiveLossPlot`."""

    def __init__(self, plot):
        self.plot = plot

    def on_eval(self, step, history):
        self.plot.update(step, train=history.train_loss[-1], val=history.val_loss[-1])


class ProgressBar(Callback):
    """A tqdm bar over all ``total`` steps (a resumed run starts at ``initial``), showing the last losses."""

    def __init__(self, total: int, initial: int = 0):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, initial=initial, desc="training", unit="step")

    def on_step(self, step, history):
        self.bar.update(1)

    def on_eval(self, step, history):
        self.bar.set_postfix(train=f"{history.train_loss[-1]:.3f}", val=f"{history.val_loss[-1]:.3f}")

    def on_end(self, history):
        self.bar.close()


class TensorBoard(Callback):
    """Writes ``loss/train``, ``loss/val`` and ``lr`` at each evaluation to a TensorBoard ``SummaryWriter``."""

    def __init__(self, writer):
        self.writer = writer

    @classmethod
    def at(cls, log_dir) -> TensorBoard | None:
        """A writer for ``log_dir``, or None (with a warning) if the tensorboard package is missing."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            warnings.warn("log_dir was given but the tensorboard package is not installed; "
                          "skipping TensorBoard logging (pip install tensorboard to enable it)", stacklevel=4)
            return None
        return cls(SummaryWriter(str(log_dir)))

    def on_eval(self, step, history):
        self.writer.add_scalar("loss/train", history.train_loss[-1], step)
        self.writer.add_scalar("loss/val", history.val_loss[-1], step)
        self.writer.add_scalar("lr", history.lr[-1], step)

    def on_end(self, history):
        self.writer.close()


def _callbacks(callbacks, plot, log_dir, progress: bool, total: int, start: int) -> list[Callback]:
    """The keyword conveniences (``plot``, ``log_dir``, ``config.progress``) as callbacks, then ``callbacks``."""
    built = [LivePlot(plot)] if plot is not None else []
    if progress:
        built.append(ProgressBar(total, start))
    if log_dir is not None and (board := TensorBoard.at(log_dir)) is not None:
        built.append(board)
    if isinstance(callbacks, Callback) or callable(callbacks):
        raise ArgumentError("callbacks must be a list of callbacks (callbacks=[...]); "
                            f"got one {type(callbacks).__name__}")
    for i, c in enumerate(callbacks):
        if isinstance(c, Callback):
            built.append(c)
        elif callable(c):
            built.append(_OnEval(c))
        else:
            raise ArgumentError(f"callbacks[{i}] must be a Callback or a function (step, history); "
                                f"got {type(c).__name__}")
    return built


def _train_state(config: TrainConfig) -> dict:
    return {k: v for k, v in dataclasses.asdict(config).items() if k not in _RESUME_IGNORES}


def _model_config(model: nn.Module):
    config = getattr(model, "config", None)
    return config if dataclasses.is_dataclass(config) else None


def train(model: nn.Module, train_batch: Callable[[], Batch], val_batch: Callable[[], Batch],
          config: TrainConfig, *, plot=None, generator: torch.Generator | None = None,
          checkpoint_dir=None, resume_from=None, stop_after: int | None = None, log_dir=None,
          callbacks: Sequence[Callback | Callable[[int, History], None]] = ()) -> History:
    """Train ``model`` for ``config.steps`` AdamW steps; returns a :class:`History`.

    Every ``config.eval_every`` steps (and at the end) the mean validation loss over
    ``config.eval_batches`` batches is recorded with the mean training-batch loss since the
    previous evaluation (see :class:`History`), and each of ``callbacks`` is told
    (:class:`Callback`: ``on_step``, ``on_eval``, ``on_end``; a plain function is an ``on_eval``).
    Three keywords are short for a callback: ``plot`` (anything with ``update(step, train=...,
    val=...)``, e.g. :class:`lmcourse.viz.LiveLossPlot`) adds :class:`LivePlot`, ``log_dir``
    adds :class:`TensorBoard` when tensorboard is installed, ``config.progress`` adds
    :class:`ProgressBar`.
    ``generator`` is the generator ``train_batch`` draws from: checkpoints save it, so a
    resumed run sees the same batches. With ``checkpoint_dir`` a checkpoint is written every
    ``config.save_every`` steps and at the end; ``resume_from`` continues from one, bit for
    bit; ``stop_after`` ends this run early, as if interrupted (the schedule still spans
    ``config.steps``). ``model`` may be wrapped in ``DistributedDataParallel``: only rank 0 logs and saves.
    """
    if not isinstance(config, TrainConfig):
        raise ArgumentError(f"config must be a TrainConfig; got {type(config).__name__}")
    if stop_after is not None:
        integer("stop_after", stop_after, min=1, max=config.steps)
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
        # compare the model's and the training settings before loading, so a mismatch leaves the model as it was
        saved_state = read_state(resume_from)
        check_config(saved_state, _model_config(raw))
        saved = saved_state.get("extra", {}).get("train_config")
        if saved is not None and saved != _train_state(config):
            diff = ", ".join(f"{k}={saved.get(k)!r}/{v!r}" for k, v in _train_state(config).items()
                             if saved.get(k) != v)
            raise ValueError(f"config must match the checkpoint's training config; differing fields "
                             f"(saved/given): {diff}")
        state = load_checkpoint(resume_from, raw, optimizer=optimizer, scheduler=scheduler,
                                config=_model_config(raw), generator=generator)
        start = state["step"]
        history = History(**state["extra"].get("history", {}))
        running, count = state["extra"].get("running", (0.0, 0))
        if "scaler" in state["extra"]:
            scaler.load_state_dict(state["extra"]["scaler"])
    end = stop_after if stop_after is not None else config.steps
    callbacks = _callbacks(callbacks, plot, log_dir, config.progress, config.steps, start) if main_process else []
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
        for c in callbacks:
            c.on_step(step, history)
        if step % config.eval_every == 0 or step == config.steps:
            flush()
            with autocast():
                val = estimate_loss(model, val_batch, config.eval_batches)
            history.steps.append(step)
            history.train_loss.append(running / count)
            history.val_loss.append(val)
            running, count = 0.0, 0
            for c in callbacks:
                c.on_eval(step, history)
        saving = config.save_every is not None and step % config.save_every == 0
        if checkpoint_dir is not None and main_process and (saving or step == end):
            flush()
            save_checkpoint(checkpoint_dir, raw, optimizer=optimizer, scheduler=scheduler, step=step,
                            config=_model_config(raw), generator=generator,
                            extra={"train_config": _train_state(config), "history": dataclasses.asdict(history),
                                   "running": (running, count), "scaler": scaler.state_dict()})
    flush()
    for c in callbacks:
        c.on_end(history)
    return history
