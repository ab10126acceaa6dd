"""Checkers for notebook 10: the warmup + cosine learning rate, AdamW's decay / no-decay split, and RMSNorm."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..gpt import GPT, GPTConfig
from ..schedules import warmup_cosine_lambda
from ..train import param_groups
from .checking import Case, Mistake, Result, check_function


def _lr(step, max_lr, min_lr, warmup, total):
    return max_lr * warmup_cosine_lambda(warmup, total, min_lr / max_lr)(step)


def _cosine(step, max_lr, min_lr, warmup, total, progress):
    return min_lr + (max_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def _from_zero(step, max_lr, min_lr, warmup, total):
    """Wrong: the warmup starts at 0, so the first step does not learn at all."""
    if step < warmup:
        return max_lr * step / warmup
    return _lr(step, max_lr, min_lr, warmup, total)


def _no_floor(step, max_lr, min_lr, warmup, total):
    """Wrong: decays to 0 instead of min_lr."""
    return _lr(step, max_lr, 0.0, warmup, total) if step < total else 0.0


def _over_total(step, max_lr, min_lr, warmup, total):
    """Wrong: the cosine's progress is step / total, so it starts below max_lr right after the warmup."""
    if step < warmup:
        return max_lr * (step + 1) / warmup
    return _cosine(step, max_lr, min_lr, warmup, total, min(step / total, 1.0))


def _linear(step, max_lr, min_lr, warmup, total):
    """Wrong: a straight line down instead of a cosine."""
    if step < warmup:
        return max_lr * (step + 1) / warmup
    progress = min((step - warmup) / (total - warmup), 1.0)
    return max_lr - (max_lr - min_lr) * progress


def _no_half(step, max_lr, min_lr, warmup, total):
    """Wrong: cos alone (not ½(1 + cos)), which goes negative halfway."""
    if step < warmup:
        return max_lr * (step + 1) / warmup
    progress = min((step - warmup) / (total - warmup), 1.0)
    return min_lr + (max_lr - min_lr) * math.cos(math.pi * progress)


def check_lr_at(lr_at) -> Result:
    """``lr_at(step, max_lr, min_lr, warmup, total)``: linear warmup, then cosine to ``min_lr`` at ``total``."""
    cases = [Case((s, 1e-3, 1e-4, 10, 100), label=f"step {s} (max_lr=1e-3, min_lr=1e-4, warmup=10, total=100){note}")
             for s, note in [(0, ", the very first step"), (4, ""), (9, ", the last warmup step"),
                             (10, ", the first cosine step"), (40, ""), (55, ", halfway through the cosine"),
                             (99, ", the last step"), (100, ", the end"), (150, ", after the end")]]
    cases.append(Case((300, 6e-4, 6e-5, 0, 600),
                      label="step 300 of 600 with no warmup (max_lr=6e-4, min_lr=6e-5)"))
    return check_function(lr_at, _lr, cases, name="check_lr_at", rtol=1e-6, atol=1e-12, mistakes=[
        Mistake(_from_zero, "the warmup starts at 0: step 0 gets lr = 0 and learns nothing. Count the steps "
                            "from 1 during warmup: max_lr · (step + 1) / warmup."),
        Mistake(_no_floor, "the cosine ends at 0, not at min_lr: use min_lr + (max_lr - min_lr) · ½(1 + cos(π·p))."),
        Mistake(_over_total, "the cosine starts at step 0 instead of where the warmup ends: its progress is "
                             "p = (step - warmup) / (total - warmup)."),
        Mistake(_linear, "a straight line: the decay should follow half a cosine, ½(1 + cos(π·p)), which stays "
                         "near max_lr at first and flattens out near min_lr."),
        Mistake(_no_half, "cos(π·p) alone goes from 1 to -1, so the rate turns negative halfway; "
                          "use ½(1 + cos(π·p)), which goes from 1 to 0."),
    ])


def _split(model: nn.Module):
    decay, _ = param_groups(model, 0.1)
    chosen = {id(p) for p in decay["params"]}
    names = [n for n, p in model.named_parameters()]
    params = dict(model.named_parameters())
    return sorted(n for n in names if id(params[n]) in chosen), sorted(n for n in names if id(params[n]) not in chosen)


def _same_split(got, expected) -> bool:
    try:
        (decay, no_decay), (want_decay, want_no_decay) = got, expected
        return sorted(decay) == sorted(want_decay) and sorted(no_decay) == sorted(want_no_decay)
    except (TypeError, ValueError):
        return False


def _all(model):
    return [n for n, _ in model.named_parameters()], []


def _by_name(model):
    names = [n for n, _ in model.named_parameters()]
    return [n for n in names if n.endswith("weight")], [n for n in names if not n.endswith("weight")]


def _swapped(model):
    decay, no_decay = _split(model)
    return no_decay, decay


def _no_embeddings(model):
    modules = dict(model.named_modules())
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        owner = modules[n.rsplit(".", 1)[0]] if "." in n else model
        (decay if p.dim() >= 2 and isinstance(owner, nn.Linear) else no_decay).append(n)
    return decay, no_decay


class _Tagger(nn.Module):
    """A small model with every kind of parameter: embedding, linear with bias, LayerNorm."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 8)
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, 3)


def check_split_decay(split_decay) -> Result:
    """``split_decay(model) -> (decay_names, no_decay_names)``: decay parameters with dim >= 2, not the others."""
    torch.manual_seed(0)
    cases = [Case((_Tagger(),), label="a model with nn.Embedding, nn.LayerNorm and nn.Linear (with bias)"),
             Case((GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8)),),
                  label="a 1-layer GPT with biases (its head is tied to wte)"),
             Case((GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=8, bias=False)),),
                  label="a 2-layer GPT without biases")]
    return check_function(split_decay, _split, cases, name="check_split_decay", compare=_same_split, mistakes=[
        Mistake(_all, "everything is decayed: biases and LayerNorm gains are 1-D and belong in the no-decay "
                      "group (shrinking a gain towards 0 only fights the normalisation)."),
        Mistake(_by_name, "choosing by the name 'weight' also decays LayerNorm's weight, a 1-D gain; "
                          "choose by shape instead: p.dim() >= 2."),
        Mistake(_swapped, "the two groups are swapped: matrices (dim >= 2) are decayed, vectors are not."),
        Mistake(_no_embeddings, "only nn.Linear weights are decayed: embeddings are matrices too and nanoGPT "
                                "decays every parameter with dim >= 2."),
    ])


def _rms_norm(x, weight, eps=1e-6):
    return torch.nn.functional.rms_norm(x, (x.shape[-1],), weight, eps)


def _mean_removed(x, weight, eps=1e-6):
    """Wrong: subtracts the mean first — that is LayerNorm (without its shift), not RMSNorm."""
    centred = x - x.mean(-1, keepdim=True)
    return centred / torch.sqrt(centred.pow(2).mean(-1, keepdim=True) + eps) * weight


def _no_eps(x, weight, eps=1e-6):
    """Wrong: no eps, so a vector near zero is blown up (and an all-zero one gives NaN)."""
    return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True)) * weight


def _eps_outside(x, weight, eps=1e-6):
    """Wrong: eps added after the square root instead of under it."""
    return x / (torch.sqrt(x.pow(2).mean(-1, keepdim=True)) + eps) * weight


def _by_std(x, weight, eps=1e-6):
    """Wrong: divides by the standard deviation, which measures the spread around the mean, not the size."""
    return x / torch.sqrt(x.var(-1, keepdim=True) + eps) * weight


def _by_norm(x, weight, eps=1e-6):
    """Wrong: divides by the Euclidean norm ‖x‖ = √(sum of squares), √C times the RMS."""
    return x / torch.sqrt(x.pow(2).sum(-1, keepdim=True) + eps) * weight


def _whole_tensor(x, weight, eps=1e-6):
    """Wrong: one mean square over the whole tensor instead of one per vector (the last axis)."""
    return x / torch.sqrt(x.pow(2).mean() + eps) * weight


def _no_weight(x, weight, eps=1e-6):
    """Wrong: the learned gain is never applied."""
    return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def check_rms_norm(rms_norm) -> Result:
    """``rms_norm(x, weight, eps=1e-6)``: x / √(mean(x²) over the last axis + eps) · weight, as ``torch.nn.RMSNorm``."""
    g = torch.Generator().manual_seed(0)
    offset = torch.randn(4, 8, generator=g) + 2.0                      # rows with a mean far from 0
    gain = torch.rand(8, generator=g) + 0.5
    batch = torch.randn(2, 3, 16, generator=g) * torch.tensor([[[0.5]], [[3.0]]])
    tiny = torch.randn(3, 8, generator=g) * 1e-4                        # mean square ~1e-8, below eps
    cases = [Case((offset, gain), label="x of shape (4, 8) whose rows have a mean near 2, a random gain"),
             Case((batch, torch.ones(16)), label="x of shape (2, 3, 16), the two batches on different scales, gain 1"),
             Case((tiny, gain), label="x of shape (3, 8) with values around 1e-4 (mean square far below eps=1e-6)"),
             Case((offset, gain), {"eps": 1.0}, label="the (4, 8) input again with eps=1.0")]
    return check_function(rms_norm, _rms_norm, cases, name="check_rms_norm", rtol=1e-5, atol=1e-6, mistakes=[
        Mistake(_mean_removed, "you subtract the mean first: that is LayerNorm. RMSNorm keeps the mean and only "
                               "divides by the root mean square, √(mean(x²) + eps)."),
        Mistake(_by_std, "you divide by the standard deviation, which is measured around the mean; RMSNorm divides "
                         "by the root mean square of x itself, √(mean(x²) + eps)."),
        Mistake(_by_norm, "you divide by the norm √(Σ x²), which is √C times too big: take the mean of the squares "
                          "over the last axis, not their sum."),
        Mistake(_whole_tensor, "one mean square for the whole tensor: each vector (the last axis) gets its own, "
                               "x.pow(2).mean(-1, keepdim=True)."),
        Mistake(_no_weight, "the output is never multiplied by weight, the learned gain (one value per feature)."),
        Mistake(_no_eps, "there is no eps: a vector near zero is divided by almost nothing. Add eps under the square "
                         "root, √(mean(x²) + eps), as torch.nn.RMSNorm does."),
        Mistake(_eps_outside, "eps is added after the square root; torch.nn.RMSNorm adds it inside: "
                              "√(mean(x²) + eps)."),
    ])
