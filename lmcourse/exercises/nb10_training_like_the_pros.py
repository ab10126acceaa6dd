"""Checkers for notebook 10: the warmup + cosine learning rate, and AdamW's decay / no-decay split."""

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
