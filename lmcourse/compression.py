"""Making a trained model small and fast: measure, quantize, prune, distil, average.

Notebook 14 writes each idea out in plain view and then uses these versions:

* **measuring** — :func:`size_on_disk` (bytes of a safetensors
  file), :func:`latency_ms`, :func:`tokens_per_second`, :func:`profile_forward` (a
  ``torch.profiler`` table) and :func:`mean_loss` on a fixed list of batches;
* **quantization** — :func:`quantize_int8` / :func:`dequantize_int8` (symmetric int8,
  ``scale = max|w| / 127`` per output row or per tensor), :class:`Int8Linear`, a linear
  layer that stores int8 weights, :func:`quantize_linears` and PyTorch's own
  :func:`quantize_dynamic_int8` with the same weight arithmetic;
* **fewer bits** — :func:`quantize_groupwise` (4-bit weights, one scale per group of
  inputs), :func:`quantize_weights_groupwise` for a whole model, :func:`bits_per_weight`; and
  activations with outlier channels: :func:`int8_roundtrip`, :func:`int8_matmul`,
  LLM.int8's :func:`llm_int8_matmul` and SmoothQuant's :func:`smoothquant_matmul`, and
  :func:`quantize_activations` to run a whole model that way;
* **pruning** — :func:`magnitude_mask`, :func:`prune_magnitude` (``torch.nn.utils.prune``,
  the mask stays during fine-tuning), :func:`sparsity`, and structured
  :func:`prune_mlp_neurons`, which removes whole MLP neurons and so really shrinks the model;
* **distillation** — :func:`distillation_loss` (Hinton et al. 2015:
  ``α·T²·KL(p_T ‖ q_T) + (1 − α)·CE``) and :class:`Distiller`, which trains a student with it;
* **fusion** — :class:`ProbabilityEnsemble` (average the predicted probabilities of several
  models) and :func:`average_weights` (average the weights of models with one parent).
"""

from __future__ import annotations

import copy
import io
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from ._checks import ArgumentError, finite_tensor, integer, number, one_of, tensor

Batch = tuple[torch.Tensor, torch.Tensor]
PARTS = ("attn", "mlp")


# ---------------------------------------------------------------------------------------------
# measuring
# ---------------------------------------------------------------------------------------------

def _unique_tensors(state: dict) -> dict:
    """A state dict without repeated storage (tied weights appear once), contiguous, on the CPU."""
    seen, out = set(), {}
    for name, t in state.items():
        if not isinstance(t, torch.Tensor):
            continue
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape))
        if key in seen:
            continue
        seen.add(key)
        out[name] = t.detach().cpu().contiguous()
    return out


def size_on_disk(model_or_state: nn.Module | dict) -> int:
    """Bytes of a safetensors file holding ``model_or_state`` (a module or a state dict).

    The file is written to a temporary folder and removed again. Tied tensors are stored once.
    Modules whose state is not made of plain tensors (PyTorch's quantized modules keep
    packed weights) cannot be written to safetensors: use :func:`torch_save_size` for those.
    """
    from safetensors.torch import save_file

    state = model_or_state.state_dict() if isinstance(model_or_state, nn.Module) else model_or_state
    if not isinstance(state, dict):
        raise ValueError(f"model_or_state must be an nn.Module or a state dict; got {type(model_or_state).__name__}")
    bad = [k for k, v in state.items() if isinstance(v, torch.Tensor) and v.is_quantized]
    if bad or any(not isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("model_or_state holds quantized or non-tensor entries that safetensors cannot store "
                         f"(e.g. {(bad or [k for k, v in state.items() if not isinstance(v, torch.Tensor)])[0]!r});"
                         " use torch_save_size instead")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.safetensors")
        save_file(_unique_tensors(state), path)
        return os.path.getsize(path)


def torch_save_size(model: nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())`` (works for quantized modules too)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def latency_ms(fn: Callable[[], object], *, repeat: int = 10, warmup: int = 2) -> float:
    """Median wall-clock time of ``fn()`` in milliseconds, after ``warmup`` untimed calls.

    On a GPU the device is synchronised around each call, so queued kernels are counted.
    """
    integer("repeat", repeat, min=1)
    integer("warmup", warmup, min=0)
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


@torch.no_grad()
def tokens_per_second(model: nn.Module, prompt: torch.Tensor, new_tokens: int, *, repeat: int = 3) -> float:
    """Generation throughput: ``B · new_tokens`` tokens over the median time of ``model.generate`` (greedy)."""
    integer("new_tokens", new_tokens, min=1)
    ms = latency_ms(lambda: model.generate(prompt, new_tokens, greedy=True), repeat=repeat, warmup=1)
    return prompt.shape[0] * new_tokens / (ms / 1000)


@torch.no_grad()
def profile_forward(model: nn.Module, idx: torch.Tensor, *, row_limit: int = 12) -> str:
    """A ``torch.profiler`` table of one forward pass of ``model`` on ``idx`` (B, T), busiest operators first."""
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")                      # else kineto prints start/stop lines to stderr
    activities = [torch.profiler.ProfilerActivity.CPU]
    if idx.device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    model(idx)                                                             # warm up (allocations, kernels)
    with torch.profiler.profile(activities=activities) as prof:
        model(idx)
    sort = "cuda_time_total" if idx.device.type == "cuda" else "cpu_time_total"
    return prof.key_averages().table(sort_by=sort, row_limit=row_limit, max_name_column_width=36)


@torch.no_grad()
def mean_loss(model: nn.Module, batches: Sequence[Batch], *, autocast_dtype: torch.dtype | None = None) -> float:
    """Mean of ``model(x, y)[1]`` over a fixed list of batches, in eval mode (every model sees the same text)."""
    if not batches:
        raise ValueError("batches must hold at least one (x, y) pair; got none")
    was_training = model.training
    model.eval()
    total = 0.0
    for x, y in batches:
        with _autocast(x.device.type, autocast_dtype):
            total += model(x, y)[1].float().item()
    model.train(was_training)
    return total / len(batches)


def _autocast(device_type: str, dtype: torch.dtype | None):
    return torch.autocast(device_type, dtype=dtype) if dtype is not None else nullcontext()


def forward_ms(model: nn.Module, idx: torch.Tensor, *, autocast_dtype: torch.dtype | None = None,
               repeat: int = 10) -> float:
    """Median milliseconds of one no-grad forward pass, optionally under ``torch.autocast(autocast_dtype)``."""
    def run():
        with torch.no_grad(), _autocast(idx.device.type, autocast_dtype):
            model(idx)
    return latency_ms(run, repeat=repeat, warmup=2)


# ---------------------------------------------------------------------------------------------
# quantization
# ---------------------------------------------------------------------------------------------

def _check_bits(bits) -> None:
    if bits != 8 or isinstance(bits, bool):
        raise ArgumentError(f"bits must be 8 (symmetric int8, values -127..127); got {bits!r}")


def _float_matrix(name: str, x) -> torch.Tensor:
    """``x`` if it is a finite 2-D float tensor: a NaN or inf would make every scale of its row NaN."""
    tensor(name, x, shape=("out", "in"), dtype="float")
    return finite_tensor(name, x)


def quantize_int8(weight: torch.Tensor, *, per_channel: bool = True, bits: int = 8
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 quantization of a (out, in) weight: returns ``(q, scale)``.

    ``scale = max|w| / 127`` — per output row, shape (out, 1), when ``per_channel``, else
    one scalar for the whole tensor; ``q = clamp(round(w / scale), -127, 127)`` as int8, so
    ``q * scale`` is the nearest representable weight. A row of zeros gets scale 1.
    """
    _check_bits(bits)
    _float_matrix("weight", weight)
    w = weight.detach().float()
    amax = w.abs().amax(dim=1, keepdim=True) if per_channel else w.abs().amax()
    scale = torch.where(amax > 0, amax / 127, torch.ones_like(amax))
    q = torch.clamp(torch.round(w / scale), -127, 127).to(torch.int8)
    return q, scale


def dequantize_int8(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Back to float: ``q * scale`` (scale (out, 1) or a scalar)."""
    tensor("q", q, dtype=torch.int8)
    return q.float() * finite_tensor("scale", scale)


class Int8Linear(nn.Module):
    """A linear layer that stores its weight as int8 plus a float scale per output row (or one).

    ``forward`` dequantizes and multiplies in float (weight-only quantization): the model on
    disk and in memory is ~4× smaller, its outputs those of a float model with weights
    ``q * scale``. Build one with :meth:`from_linear`.
    """

    def __init__(self, q: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.register_buffer("weight_int8", q)
        self.per_channel = scale.ndim == 2                                  # (out, 1); a 0-d scale is per-tensor
        self.register_buffer("scale", scale.float().reshape(-1, 1))        # (out, 1) or (1, 1)
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)
        self.in_features, self.out_features = q.shape[1], q.shape[0]

    @classmethod
    def from_linear(cls, linear: nn.Linear, *, per_channel: bool = True) -> Int8Linear:
        q, scale = quantize_int8(linear.weight, per_channel=per_channel)
        return cls(q, scale, linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight_int8.to(x.dtype) * self.scale.to(x.dtype), self.bias)  # (…, in) -> (…, out)

    def extra_repr(self) -> str:
        scales = "per-channel" if self.per_channel else "per-tensor"
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 {scales}"


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, new)


def block_linears(model: nn.Module, parts: Sequence[str] = PARTS) -> list[tuple[str, nn.Linear]]:
    """The ``nn.Linear`` layers inside a GPT's blocks, as ``(name, module)``; ``parts`` picks "attn" and/or "mlp".

    The embeddings and the head tied to them are left out: they are one shared matrix.
    """
    unknown = set(parts) - set(PARTS)
    if not parts or unknown:
        raise ValueError(f"parts must be a non-empty subset of {PARTS}; got {tuple(parts)!r}")
    if not hasattr(model, "blocks"):
        raise ValueError(f"model must have .blocks (a GPT); got {type(model).__name__}")
    return [(f"blocks.{name}", m) for name, m in model.blocks.named_modules()
            if isinstance(m, nn.Linear) and name.split(".")[1] in parts]


def quantize_linears(model: nn.Module, *, per_channel: bool = True, bits: int = 8) -> nn.Module:
    """A copy of ``model`` whose block linear layers are :class:`Int8Linear` (weight-only int8)."""
    _check_bits(bits)
    model = copy.deepcopy(model)
    for name, linear in block_linears(model):
        _replace(model, name, Int8Linear.from_linear(linear, per_channel=per_channel))
    return model


def quantize_dynamic_int8(model: nn.Module) -> nn.Module:
    """PyTorch's post-training dynamic int8 quantization of the block linear layers (a copy).

    Uses ``torch.ao.quantization.quantize_dynamic`` with the weight arithmetic of
    :func:`quantize_int8` (per-channel symmetric, -127..127) so the two can be compared;
    activations are quantized on the fly, per batch, and the matrix products run in int8.
    ``torch.ao.quantization`` still works in torch 2.13 but is deprecated in favour of the
    separate ``torchao`` package; its deprecation warnings are silenced here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import (
            PerChannelMinMaxObserver,
            QConfig,
            default_dynamic_quant_observer,
            quantize_dynamic,
        )
        weight = PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric,
                                                    quant_min=-127, quant_max=127)
        qconfig = QConfig(activation=default_dynamic_quant_observer, weight=weight)
        spec = {name: qconfig for name, _ in block_linears(model)}
        return quantize_dynamic(copy.deepcopy(model).cpu().eval(), spec, dtype=torch.qint8)


# ---------------------------------------------------------------------------------------------
# fewer bits: 4-bit weights in groups, and activations with outlier channels
# ---------------------------------------------------------------------------------------------

def quantize_groupwise(weight: torch.Tensor, *, bits: int = 4, group_size: int | None = 32
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric ``bits``-bit quantization of a (out, in) weight with one scale per group of inputs.

    Each row is cut into ``in / group_size`` groups of ``group_size`` consecutive weights
    (``group_size=None``: one group per row, i.e. per channel). Per group
    ``scale = max|w| / qmax`` with ``qmax = 2**(bits-1) - 1`` (7 for 4 bits) and
    ``q = clamp(round(w / scale), -qmax, qmax)``. Returns ``q`` as int8 (out, in) and
    ``scale`` (out, n_groups, 1); a group of zeros gets scale 1. This is the layout of
    GPTQ/AWQ-style 4-bit checkpoints (which choose the rounding more cleverly).
    """
    integer("bits", bits, min=2, max=8)
    _float_matrix("weight", weight)
    out_f, in_f = weight.shape
    g = in_f if group_size is None else integer("group_size", group_size, min=1)
    if in_f % g:
        raise ArgumentError(f"group_size must divide in_features={in_f}; got {group_size}")
    qmax = 2 ** (bits - 1) - 1
    w = weight.detach().float().reshape(out_f, in_f // g, g)                # (out, groups, g)
    amax = w.abs().amax(dim=-1, keepdim=True)                               # (out, groups, 1)
    scale = torch.where(amax > 0, amax / qmax, torch.ones_like(amax))
    q = torch.clamp(torch.round(w / scale), -qmax, qmax).to(torch.int8)
    return q.reshape(out_f, in_f), scale


def dequantize_groupwise(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Back to float: each group of ``q`` (out, in) times its scale from ``scale`` (out, n_groups, 1)."""
    tensor("q", q, ndim=2, dtype=torch.int8)
    out_f, in_f = q.shape
    finite_tensor("scale", scale)
    if scale.ndim != 3 or scale.shape[0] != out_f or in_f % scale.shape[1]:
        raise ArgumentError(f"scale must be (out={out_f}, n_groups, 1) with n_groups dividing {in_f}; "
                            f"got {tuple(scale.shape)}")
    return (q.float().reshape(out_f, scale.shape[1], -1) * scale).reshape(out_f, in_f)


def bits_per_weight(bits: int, group_size: int, *, scale_bits: int = 16) -> float:
    """Storage per weight of group-wise quantization: ``bits + scale_bits / group_size``."""
    integer("bits", bits, min=2, max=8)
    integer("group_size", group_size, min=1)
    number("scale_bits", scale_bits, min=0)
    return bits + scale_bits / group_size


def quantize_weights_groupwise(model: nn.Module, *, bits: int = 4, group_size: int | None = 32) -> nn.Module:
    """A copy of ``model`` whose block linear weights are replaced by their group-wise quantized values.

    "Fake" (simulated) quantization: the weights stay float32 tensors but hold exactly the
    values ``dequantize_groupwise(*quantize_groupwise(w))``, so the model's loss is the loss a
    real ``bits``-bit model would have. A ``group_size`` larger than a layer's input is
    clipped to one group per row.
    """
    model = copy.deepcopy(model)
    with torch.no_grad():
        for _, linear in block_linears(model):
            g = None if group_size is None or group_size >= linear.in_features else group_size
            q, scale = quantize_groupwise(linear.weight, bits=bits, group_size=g)
            linear.weight.copy_(dequantize_groupwise(q, scale).to(linear.weight))
    return model


def int8_roundtrip(x: torch.Tensor, *, per: str = "tensor") -> torch.Tensor:
    """Quantize a (rows, cols) tensor to symmetric int8 and back: what the int8 kernel sees.

    ``per="tensor"``: one scale ``max|x| / 127``; ``per="row"``: one scale per row (per token
    for activations (tokens, channels), per output channel for a weight (out, in)).
    """
    tensor("x", x, ndim=2, dtype="float")
    one_of("per", per, ("tensor", "row"))
    amax = x.detach().abs().amax(dim=1, keepdim=True) if per == "row" else x.detach().abs().amax()
    scale = torch.where(amax > 0, amax / 127, torch.ones_like(amax))
    return torch.clamp(torch.round(x / scale), -127, 127) * scale


def int8_matmul(x: torch.Tensor, weight: torch.Tensor, *, x_per: str = "tensor") -> torch.Tensor:
    """``x @ weight.T`` (tokens, in) @ (in, out) with both sides rounded to int8 first.

    The weight gets one scale per output row; ``x`` one scale per tensor (as PyTorch's dynamic
    quantization does) or per token (``x_per="row"``, LLM.int8's "vector-wise" scheme).
    """
    tensor("weight", weight, ndim=2, dtype="float")
    return int8_roundtrip(x, per=x_per) @ int8_roundtrip(weight, per="row").T


def outlier_channels(x: torch.Tensor, threshold: float = 6.0) -> torch.Tensor:
    """Indices of the input channels (columns of ``x`` (tokens, in)) where some |x| reaches ``threshold``."""
    tensor("x", x, ndim=2, dtype="float")
    number("threshold", threshold, min=0, min_open=True)
    return torch.nonzero(x.detach().abs().amax(dim=0) >= threshold).flatten()


def llm_int8_matmul(x: torch.Tensor, weight: torch.Tensor, *, threshold: float = 6.0) -> torch.Tensor:
    """LLM.int8's mixed-precision decomposition (Dettmers et al. 2022) of ``x @ weight.T``.

    The few input channels that hold an outlier (:func:`outlier_channels`) are multiplied in
    float; all the others in int8 with per-token scales for ``x`` and per-row scales for the
    weight. The two partial products add up to (tokens, out).
    """
    _float_matrix("weight", weight)
    if x.ndim != 2 or x.shape[1] != weight.shape[1]:
        raise ArgumentError(f"x must be (tokens, {weight.shape[1]}) to multiply weight {tuple(weight.shape)}; "
                            f"got {tuple(x.shape)}")
    outliers = outlier_channels(x, threshold)
    regular = torch.ones(x.shape[1], dtype=torch.bool, device=x.device)
    regular[outliers] = False
    y = x[:, outliers] @ weight[:, outliers].T                              # float part: (tokens, out)
    if regular.any():
        y = y + int8_matmul(x[:, regular], weight[:, regular], x_per="row")
    return y


def smoothquant_scales(x: torch.Tensor, weight: torch.Tensor, *, alpha: float = 0.5) -> torch.Tensor:
    """SmoothQuant's per-input-channel factors (Xiao et al. 2023): ``s_j = max|x_j|^α / max|w_j|^(1−α)``.

    Dividing column j of the activations by s_j and multiplying column j of the weight by it
    leaves ``x @ weight.T`` unchanged but moves the difficulty of outlier channels from the
    activations, which are quantized per tensor, into the weights, which are quantized per row.
    """
    tensor("x", x, ndim=2, dtype="float")
    _float_matrix("weight", weight)
    number("alpha", alpha, min=0, max=1)
    if x.shape[1] != weight.shape[1]:
        raise ArgumentError(f"x must have {weight.shape[1]} columns (weight's in_features); got {x.shape[1]}")
    ax = x.detach().abs().amax(dim=0).clamp_min(1e-5)                       # (in,)
    aw = weight.detach().abs().amax(dim=0).clamp_min(1e-5)                  # (in,)
    return ax ** alpha / aw ** (1 - alpha)


def smoothquant_matmul(x: torch.Tensor, weight: torch.Tensor, *, alpha: float = 0.5) -> torch.Tensor:
    """``x @ weight.T`` in int8 after SmoothQuant: ``(x / s) @ (weight · s).T``, x per tensor, weight per row.

    In a real model ``1 / s`` is folded into the LayerNorm before the layer, so it costs nothing.
    """
    s = smoothquant_scales(x, weight, alpha=alpha)
    return int8_matmul(x / s, weight * s, x_per="tensor")


class Int8ActivationLinear(nn.Module):
    """A linear layer whose input *and* weight are rounded to int8 before they multiply (W8A8).

    ``scheme`` picks how the input (tokens, in) is quantized: ``"tensor"`` (one scale per
    batch, as PyTorch's dynamic quantization), ``"token"`` (one scale per token),
    ``"llm.int8"`` (:func:`llm_int8_matmul`: outlier channels in float, the rest per token) or
    ``"smoothquant"`` (:func:`smoothquant_matmul`, here with the factors computed from the
    batch itself; SmoothQuant computes them once on calibration data). The weight is always
    quantized per output row. Input (…, in) -> (…, out).
    """

    SCHEMES = ("tensor", "token", "llm.int8", "smoothquant")

    def __init__(self, linear: nn.Linear, scheme: str = "tensor", *, threshold: float = 6.0, alpha: float = 0.5):
        super().__init__()
        if not isinstance(linear, nn.Linear):
            raise ArgumentError(f"linear must be an nn.Linear; got {type(linear).__name__}")
        one_of("scheme", scheme, self.SCHEMES)
        self.linear, self.scheme = linear, scheme
        self.threshold = number("threshold", threshold, min=0, min_open=True)
        self.alpha = number("alpha", alpha, min=0, max=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x2, w = x.reshape(-1, x.shape[-1]), self.linear.weight                # (N, in), (out, in)
        if self.scheme == "llm.int8":
            y = llm_int8_matmul(x2, w, threshold=self.threshold)
        elif self.scheme == "smoothquant":
            y = smoothquant_matmul(x2, w, alpha=self.alpha)
        else:
            y = int8_matmul(x2, w, x_per="tensor" if self.scheme == "tensor" else "row")
        if self.linear.bias is not None:
            y = y + self.linear.bias
        return y.reshape(*x.shape[:-1], -1)                                  # (…, out)

    def extra_repr(self) -> str:
        return f"in_features={self.linear.in_features}, out_features={self.linear.out_features}, scheme={self.scheme}"


def quantize_activations(model: nn.Module, scheme: str = "tensor", *, threshold: float = 6.0,
                         alpha: float = 0.5) -> nn.Module:
    """A copy of ``model`` whose block linear layers are :class:`Int8ActivationLinear` with ``scheme``."""
    model = copy.deepcopy(model)
    for name, linear in block_linears(model):
        _replace(model, name, Int8ActivationLinear(linear, scheme, threshold=threshold, alpha=alpha))
    return model


# ---------------------------------------------------------------------------------------------
# pruning
# ---------------------------------------------------------------------------------------------

def magnitude_mask(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Bool mask of ``weight``'s shape, False on the ``round(sparsity · n)`` entries of smallest |w|.

    The same rule as ``torch.nn.utils.prune.l1_unstructured``: True = keep.
    """
    number("sparsity", sparsity, min=0, max=1, max_open=True)
    tensor("weight", weight)
    k = round(sparsity * weight.numel())
    mask = torch.ones(weight.numel(), dtype=torch.bool, device=weight.device)
    if k:
        mask[torch.topk(weight.detach().abs().flatten(), k, largest=False).indices] = False
    return mask.view_as(weight)


def prune_magnitude(model: nn.Module, sparsity: float, *, parts: Sequence[str] = PARTS) -> nn.Module:
    """Zero the smallest-|w| share ``sparsity`` of every block linear weight, in place; returns ``model``.

    Uses ``torch.nn.utils.prune.l1_unstructured``: each weight becomes ``weight_orig * weight_mask``,
    recomputed before every forward, so the pruned entries stay zero while the model is
    fine-tuned. :func:`remove_pruning` makes it permanent.
    """
    number("sparsity", sparsity, min=0, max=1, max_open=True)
    for _, linear in block_linears(model, parts):
        prune.l1_unstructured(linear, "weight", amount=float(sparsity))
    return model


def remove_pruning(model: nn.Module) -> nn.Module:
    """Fold every pruning mask into its weight (``weight = weight_orig * mask``), in place; returns ``model``."""
    for module in model.modules():
        if prune.is_pruned(module) and hasattr(module, "weight_mask"):
            prune.remove(module, "weight")
    return model


def sparsity(model: nn.Module, *, parts: Sequence[str] = PARTS) -> float:
    """Share of exact zeros among the weights of the block linear layers."""
    weights = [linear.weight for _, linear in block_linears(model, parts)]
    zeros = sum(int((w == 0).sum()) for w in weights)
    return zeros / sum(w.numel() for w in weights)


def neuron_scores(mlp: nn.Module) -> torch.Tensor:
    """How much each hidden neuron of a FeedForward can matter: ``‖W1[i, :]‖ · ‖W2[:, i]‖``, shape (d_ff,)."""
    return mlp.linear1.weight.detach().norm(dim=1) * mlp.linear2.weight.detach().norm(dim=0)


def prune_mlp_neurons(model: nn.Module, fraction: float) -> nn.Module:
    """A copy of a GPT with the weakest ``fraction`` of each block's MLP neurons removed (structured).

    Neurons are ranked by :func:`neuron_scores`; a removed neuron takes its row of
    ``linear1`` (and bias) and its column of ``linear2`` with it, so the matrices really
    shrink from (4C, C) and (C, 4C) to (k, C) and (C, k), unlike unstructured zeros.
    """
    number("fraction", fraction, min=0, max=1, max_open=True)
    model = copy.deepcopy(model)
    for block in model.blocks:
        mlp = block.mlp
        d_ff = mlp.linear1.out_features
        keep = d_ff - round(fraction * d_ff)
        if keep < 1:
            raise ArgumentError(f"fraction must leave at least one of each MLP's {d_ff} neurons; got {fraction}")
        idx = torch.topk(neuron_scores(mlp), keep).indices.sort().values
        lin1, lin2 = mlp.linear1, mlp.linear2
        new1 = nn.Linear(lin1.in_features, keep, bias=lin1.bias is not None).to(lin1.weight)
        new2 = nn.Linear(keep, lin2.out_features, bias=lin2.bias is not None).to(lin2.weight)
        with torch.no_grad():
            new1.weight.copy_(lin1.weight[idx])                            # (4C, C) -> (k, C)
            new2.weight.copy_(lin2.weight[:, idx])                         # (C, 4C) -> (C, k)
            if lin1.bias is not None:
                new1.bias.copy_(lin1.bias[idx])
            if lin2.bias is not None:
                new2.bias.copy_(lin2.bias)
        mlp.linear1, mlp.linear2 = new1, new2
    return model


# ---------------------------------------------------------------------------------------------
# distillation
# ---------------------------------------------------------------------------------------------

def _check_temperature_alpha(temperature, alpha) -> None:
    number("temperature", temperature, min=0, min_open=True)
    number("alpha", alpha, min=0, max=1)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                      targets: torch.Tensor | None = None, *, temperature: float = 2.0,
                      alpha: float = 0.5) -> torch.Tensor:
    """Knowledge-distillation loss (Hinton et al. 2015) for logits (…, V) and targets (…).

    ``α · T² · KL(softmax(teacher/T) ‖ softmax(student/T)) + (1 − α) · CE(student, targets)``,
    the KL averaged over positions. The T² keeps the soft part's gradients the same size
    whatever T is (they shrink as 1/T² otherwise). ``targets=None`` requires ``alpha=1``.
    """
    _check_temperature_alpha(temperature, alpha)
    if student_logits.shape != teacher_logits.shape:
        raise ArgumentError(f"teacher_logits must have the shape of student_logits {tuple(student_logits.shape)}; "
                            f"got {tuple(teacher_logits.shape)}")
    if targets is None and alpha != 1:
        raise ArgumentError(f"targets are needed for the hard part when alpha < 1; got alpha={alpha}")
    V, T = student_logits.shape[-1], temperature
    log_q = F.log_softmax(student_logits.reshape(-1, V).float() / T, dim=-1)
    log_p = F.log_softmax(teacher_logits.reshape(-1, V).float() / T, dim=-1)
    soft = F.kl_div(log_q, log_p, reduction="batchmean", log_target=True) * T * T
    if alpha == 1:
        return soft
    hard = F.cross_entropy(student_logits.reshape(-1, V).float(), targets.reshape(-1), ignore_index=-1)
    return alpha * soft + (1 - alpha) * hard


class Distiller(nn.Module):
    """Wraps a student and a frozen teacher so :func:`lmcourse.train.train` can distil.

    In training mode ``forward(x, targets)`` returns the student's logits and
    :func:`distillation_loss`; in eval mode the student's own cross-entropy, so the
    validation losses the trainer records are the student's. The teacher runs in eval mode
    without gradients; it is not a submodule, so it is neither trained nor saved.
    """

    def __init__(self, student: nn.Module, teacher: nn.Module, *, temperature: float = 2.0, alpha: float = 0.5):
        super().__init__()
        _check_temperature_alpha(temperature, alpha)
        self.student, self.temperature, self.alpha = student, temperature, alpha
        self.__dict__["teacher"] = teacher      # not a submodule: the optimizer and state_dict never see it

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None):
        if not self.training or targets is None:
            return self.student(x, targets)
        logits, _ = self.student(x)
        was_training = self.teacher.training
        self.teacher.eval()
        with torch.no_grad():
            teacher_logits, _ = self.teacher(x)
        self.teacher.train(was_training)
        return logits, distillation_loss(logits, teacher_logits, targets, temperature=self.temperature,
                                         alpha=self.alpha)


# ---------------------------------------------------------------------------------------------
# fusion: ensembles and weight averaging
# ---------------------------------------------------------------------------------------------

class ProbabilityEnsemble(nn.Module):
    """Several models as one: the mean of their predicted probabilities.

    ``forward(idx, targets)`` returns ``log(mean_m softmax(logits_m))`` (B, T, V) as logits
    and the cross-entropy of that mixture. It costs one forward pass per model.
    """

    def __init__(self, models: Sequence[nn.Module]):
        super().__init__()
        if len(models) < 2:
            raise ArgumentError(f"models must hold at least 2 models to ensemble; got {len(models)}")
        self.models = nn.ModuleList(models)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        log_probs = torch.stack([F.log_softmax(m(idx)[0].float(), dim=-1) for m in self.models])  # (M, B, T, V)
        logits = torch.logsumexp(log_probs, dim=0) - torch.log(torch.tensor(float(len(self.models))))
        if targets is None:
            return logits, None
        return logits, F.nll_loss(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)


def average_weights(models: Sequence[nn.Module], weights: Sequence[float] | None = None) -> nn.Module:
    """A copy of ``models[0]`` whose floating-point tensors are the (weighted) mean of all models'.

    Meaningful only for models fine-tuned from one parent (they stay in one basin of the
    loss; averaging unrelated models gives nonsense). ``weights`` default to equal.
    """
    if len(models) < 2:
        raise ArgumentError(f"models must hold at least 2 models to average; got {len(models)}")
    weights = ([1 / len(models)] * len(models) if weights is None
               else [number(f"weights[{i}]", w, min=0) for i, w in enumerate(weights)])
    if len(weights) != len(models) or abs(sum(weights) - 1) > 1e-6:
        raise ArgumentError(f"weights must be {len(models)} non-negative numbers summing to 1; got {weights}")
    states = [m.state_dict() for m in models]
    keys = list(states[0])
    for i, s in enumerate(states[1:], start=1):
        if set(s) != set(keys) or any(s[k].shape != states[0][k].shape for k in keys):
            raise ArgumentError(f"models must share one architecture; model {i} has different tensors")
    merged = {k: sum(w * s[k] for w, s in zip(weights, states)) if states[0][k].is_floating_point() else states[0][k]
              for k in keys}
    out = copy.deepcopy(models[0])
    out.load_state_dict(merged)
    return out

