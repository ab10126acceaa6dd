"""Checkers for notebook 10: a warmup + cosine schedule that resumes exactly, AdamW's decay / no-decay split,
and RMSNorm."""

from __future__ import annotations

import io
import math

import torch
from torch import nn

from ..gpt import GPT, GPTConfig
from ..schedules import warmup_cosine_lambda
from ..train import param_groups
from .checking import Case, Mistake, Result, _say, check_function, same


def _lr(step, max_lr, min_lr, warmup, total):
    return max_lr * warmup_cosine_lambda(warmup, total, min_lr / max_lr)(step)


class _Schedule:
    """The reference: warm-up then cosine, remembering one number, the step it is at."""

    def __init__(self, max_lr, min_lr, warmup, total):
        self.max_lr, self.min_lr, self.warmup, self.total, self.t = max_lr, min_lr, warmup, total, 0

    def rate(self, t):
        return _lr(t, self.max_lr, self.min_lr, self.warmup, self.total)

    def step(self):
        lr = self.rate(self.t)
        self.t += 1
        return lr

    def state_dict(self):
        return {"step": self.t}

    def load_state_dict(self, state):
        self.t = state["step"]


def _saved(state):
    """``state`` written and read back the way a checkpoint is: torch.save, then torch.load(weights_only=True)."""
    if not isinstance(state, dict):
        raise TypeError(f"state_dict() must return a dict; it returned {type(state).__name__}")
    buffer = io.BytesIO()
    try:
        torch.save(state, buffer)
        buffer.seek(0)
        return torch.load(buffer, weights_only=True)
    except Exception as err:  # noqa: BLE001 - what the learner put in the state
        kinds = sorted({type(v).__name__ for v in state.values()})
        raise TypeError("state_dict() must hold Python ints, floats, lists, dicts or tensors, which a checkpoint "
                        "read with torch.load(weights_only=True) can hold; the round trip failed "
                        f"({type(err).__name__}) on a state whose values are {', '.join(kinds)}"
                        + (" — convert NumPy numbers with int(...) or float(...)"
                           if any(type(v).__module__ == "numpy" for v in state.values()) else "")) from None


class _Run:
    """A schedule class driven the way the checker drives every answer: built with a case's sizes, stepped
    ``steps`` times, and at each step in ``stops`` saved, thrown away and resumed in a freshly built one.
    Calling it returns the learning rates of all the steps, as a list."""

    def __init__(self, cls):
        self.cls = cls

    def __call__(self, max_lr, min_lr, warmup, total, steps, stops=()):
        schedule, rates = self.cls(max_lr, min_lr, warmup, total), []
        for t in range(steps):
            if t in stops:
                state = _saved(schedule.state_dict())
                schedule = self.cls(max_lr, min_lr, warmup, total)          # a new process, after the crash
                schedule.load_state_dict(state)
            rates.append(schedule.step())
        return rates


class _FromZero(_Schedule):
    def rate(self, t):
        return self.max_lr * t / self.warmup if t < self.warmup else super().rate(t)


class _NoClamp(_Schedule):
    def rate(self, t):
        if t < self.warmup:
            return super().rate(t)
        progress = (t - self.warmup) / (self.total - self.warmup)
        return self.min_lr + (self.max_lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


class _OverTotal(_Schedule):
    def rate(self, t):
        if t < self.warmup:
            return super().rate(t)
        return self.min_lr + (self.max_lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * min(t / self.total, 1)))


class _Restarts(_Schedule):
    def load_state_dict(self, state):
        pass


class _SkipsOne(_Schedule):
    def load_state_dict(self, state):
        self.t = state["step"] + 1


def _cases() -> list[Case]:
    sizes = dict(max_lr=1e-3, min_lr=1e-4)
    return [Case(kwargs=dict(sizes, warmup=4, total=12, steps=16),
                 label="warmup=4, total=12, 16 steps without a stop (past the end)"),
            Case(kwargs=dict(max_lr=6e-4, min_lr=6e-5, warmup=0, total=6, steps=8),
                 label="no warmup (warmup=0), total=6, 8 steps without a stop"),
            Case(kwargs=dict(sizes, warmup=4, total=12, steps=14, stops=(2,)),
                 label="warmup=4, total=12: stopped and resumed at step 2, in the middle of the warmup"),
            Case(kwargs=dict(sizes, warmup=3, total=10, steps=12, stops=(6,)),
                 label="warmup=3, total=10: stopped and resumed at step 6, on the cosine"),
            Case(kwargs=dict(sizes, warmup=2, total=8, steps=12, stops=(3, 10)),
                 label="warmup=2, total=8: resumed at step 3, then again at step 10 (past the end)"),
            Case(kwargs=dict(max_lr=1e-3, min_lr=0.0, warmup=1, total=5, steps=6, stops=(0,)),
                 label="warmup=1, total=5, min_lr=0: saved before the first step and resumed")]


def check_warmup_cosine(schedule_class) -> Result:
    """``schedule_class(max_lr, min_lr, warmup, total)`` with ``step() -> float``, ``state_dict()`` and
    ``load_state_dict(state)``: the rates of warm-up + cosine, the same whether or not the run was stopped and
    resumed from its state (saved through torch.save / torch.load(weights_only=True) into a new instance)."""
    if not callable(schedule_class):
        result = Result(False, "✘ check_warmup_cosine: expected a function or class — the class itself, as in "
                               f"check_warmup_cosine(WarmupCosine) — got {type(schedule_class).__name__}, which cannot "
                               "be called. Pass the class without building one (no parentheses).")
        return _say(result)
    if isinstance(schedule_class, _Run):                # one of the known mistakes below, handed back to check
        schedule_class = schedule_class.cls
    return check_function(_Run(schedule_class), _Run(_Schedule), _cases(), name="check_warmup_cosine",
                          rtol=1e-6, atol=1e-12, mistakes=[
        Mistake(_Run(_FromZero), "the warmup starts at 0: step 0 gets lr = 0 and learns nothing. Count the steps "
                                 "from 1 during warmup: max_lr · (step + 1) / warmup."),
        Mistake(_Run(_NoClamp), "past total the cosine climbs back up: the progress p = (step - warmup) / "
                                "(total - warmup) must stop at 1, so the rate stays at min_lr after the end."),
        Mistake(_Run(_OverTotal), "the cosine starts at step 0 instead of where the warmup ends: its progress is "
                                  "p = (step - warmup) / (total - warmup)."),
        Mistake(_Run(_Restarts), "after load_state_dict the schedule starts again from step 0, warmup and all: "
                                 "state_dict must hold the step reached, and load_state_dict must restore it."),
        Mistake(_Run(_SkipsOne), "the resumed run skips a step: the saved step is the next one to run (the "
                                 "steps already taken), so load_state_dict restores it as it is, without adding 1."),
    ])


def _split(model: nn.Module):
    decay, no_decay = param_groups(model, 0.1)
    chosen, skipped = {id(p) for p in decay["params"]}, {id(p) for p in no_decay["params"]}
    named = list(model.named_parameters())                       # a tied weight once, under its first name
    return sorted(n for n, p in named if id(p) in chosen), sorted(n for n, p in named if id(p) in skipped)


def _with_frozen(model: nn.Module):
    named = list(model.named_parameters())
    return [n for n, p in named if p.dim() >= 2], [n for n, p in named if p.dim() < 2]


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


def _fine_tuned() -> nn.Module:
    """A GPT being fine-tuned: its embeddings and first block frozen, the rest trainable."""
    model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=8))
    for part in (model.wte, model.wpe, model.blocks[0]):
        part.requires_grad_(False)
    return model


def check_split_decay(split_decay) -> Result:
    """``split_decay(model) -> (decay_names, no_decay_names)``: of the parameters that train, decay those with
    dim >= 2, not the others; a frozen parameter (``requires_grad=False``) is in neither list."""
    torch.manual_seed(0)
    cases = [Case((_Tagger(),), label="a model with nn.Embedding, nn.LayerNorm and nn.Linear (with bias)"),
             Case((GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8)),),
                  label="a 1-layer GPT with biases (its head is tied to wte)"),
             Case((GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=8, bias=False)),),
                  label="a 2-layer GPT without biases"),
             Case((_fine_tuned(),), label="a 2-layer GPT being fine-tuned: wte (tied to the head), wpe and "
                                          "block 0 frozen")]
    return check_function(split_decay, _split, cases, name="check_split_decay", compare=_same_split, mistakes=[
        Mistake(_all, "everything is decayed: biases and LayerNorm gains are 1-D and belong in the no-decay "
                      "group (shrinking a gain towards 0 only fights the normalisation)."),
        Mistake(_by_name, "choosing by the name 'weight' also decays LayerNorm's weight, a 1-D gain; "
                          "choose by shape instead: p.dim() >= 2."),
        Mistake(_swapped, "the two groups are swapped: matrices (dim >= 2) are decayed, vectors are not."),
        Mistake(_no_embeddings, "only nn.Linear weights are decayed: embeddings are matrices too and nanoGPT "
                                "decays every parameter with dim >= 2."),
        Mistake(_with_frozen, "frozen parameters (requires_grad=False) are in your lists: they do not train, so "
                              "they belong in neither group — the optimizer should not hold them at all. Skip "
                              "them: `if not p.requires_grad: continue`."),
    ])


def _rms_norm(x, weight, eps=1e-6):
    """Gemma's RMSNorm: in float32, the gain stored as an offset from 1, the result cast back to x's dtype."""
    h = x.float()
    return (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps) * (1 + weight.float())).to(x.dtype)


def _gemma(core):
    """A wrong RMSNorm ``core(h, eps) -> normalised h``, with Gemma's float32, (1 + weight) and cast around it."""
    def wrong(x, weight, eps=1e-6):
        return (core(x.float(), eps) * (1 + weight.float())).to(x.dtype)
    return wrong


def _mean_removed(h, eps):
    """Wrong: subtracts the mean first — that is LayerNorm (without its shift), not RMSNorm."""
    centred = h - h.mean(-1, keepdim=True)
    return centred / torch.sqrt(centred.pow(2).mean(-1, keepdim=True) + eps)


def _by_std(h, eps):
    """Wrong: divides by the standard deviation, which measures the spread around the mean, not the size."""
    return h / torch.sqrt(h.var(-1, keepdim=True) + eps)


def _by_norm(h, eps):
    """Wrong: divides by the Euclidean norm ‖x‖ = √(sum of squares), √C times the RMS."""
    return h / torch.sqrt(h.pow(2).sum(-1, keepdim=True) + eps)


def _whole_tensor(h, eps):
    """Wrong: one mean square over the whole tensor instead of one per vector (the last axis)."""
    return h / torch.sqrt(h.pow(2).mean() + eps)


def _no_eps(h, eps):
    """Wrong: no eps, so a vector near zero is blown up (and an all-zero one gives NaN)."""
    return h / torch.sqrt(h.pow(2).mean(-1, keepdim=True))


def _eps_outside(h, eps):
    """Wrong: eps added after the square root instead of under it."""
    return h / (torch.sqrt(h.pow(2).mean(-1, keepdim=True)) + eps)


def _plain_gain(x, weight, eps=1e-6):
    """Wrong: LLaMA's gain, ``· weight``, where Gemma stores it as an offset, ``· (1 + weight)``."""
    h = x.float()
    return (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps) * weight.float()).to(x.dtype)


def _no_cast_back(x, weight, eps=1e-6):
    """Wrong: the float32 result is returned as it is, not in x's dtype."""
    h = x.float()
    return h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps) * (1 + weight.float())


def _same_in_dtype(got, expected) -> bool:
    return same(got, expected, rtol=8e-3, atol=1e-6) and got.dtype == expected.dtype


def check_rms_norm(rms_norm) -> Result:
    """``rms_norm(x, weight, eps=1e-6)``: Gemma's RMSNorm — x / √(mean(x²) over the last axis + eps) · (1 + weight),
    computed in float32 and returned in x's dtype, as ``transformers``' ``GemmaRMSNorm``."""
    g = torch.Generator().manual_seed(0)
    offset = torch.randn(4, 8, generator=g) + 2.0                      # rows with a mean far from 0
    gain = 0.3 * torch.randn(8, generator=g)                           # an offset from 1: gains 1 + gain
    batch = torch.randn(2, 3, 16, generator=g) * torch.tensor([[[0.5]], [[3.0]]])
    tiny = torch.randn(3, 8, generator=g) * 1e-4                        # mean square ~1e-8, below eps
    half = (torch.randn(2, 8, generator=g) * 4).to(torch.bfloat16)
    cases = [Case((offset, gain), label="x of shape (4, 8) whose rows have a mean near 2, a random weight"),
             Case((batch, torch.zeros(16)), label="x of shape (2, 3, 16), the two batches on different scales, "
                                                  "weight 0 (every gain 1)"),
             Case((tiny, gain), label="x of shape (3, 8) with values around 1e-4 (mean square far below eps=1e-6)"),
             Case((offset, gain), {"eps": 1.0}, label="the (4, 8) input again with eps=1.0"),
             Case((half, gain), label="x of shape (2, 8) in bfloat16, a float32 weight")]
    return check_function(rms_norm, _rms_norm, cases, name="check_rms_norm", compare=_same_in_dtype, mistakes=[
        Mistake(_plain_gain, "the gain is weight itself, as in LLaMA; Gemma stores it as an offset from 1, so "
                             "multiply by (1 + weight) — a weight of zeros leaves every vector's scale alone."),
        Mistake(_gemma(_mean_removed), "you subtract the mean first: that is LayerNorm. RMSNorm keeps the mean and "
                                       "only divides by the root mean square, √(mean(x²) + eps)."),
        Mistake(_gemma(_by_std), "you divide by the standard deviation, which is measured around the mean; RMSNorm "
                                 "divides by the root mean square of x itself, √(mean(x²) + eps)."),
        Mistake(_gemma(_by_norm), "you divide by the norm √(Σ x²), which is √C times too big: take the mean of the "
                                  "squares over the last axis, not their sum."),
        Mistake(_gemma(_whole_tensor), "one mean square for the whole tensor: each vector (the last axis) gets its "
                                       "own, x.pow(2).mean(-1, keepdim=True)."),
        Mistake(_gemma(_no_eps), "there is no eps: a vector near zero is divided by almost nothing. Add eps under "
                                 "the square root, √(mean(x²) + eps)."),
        Mistake(_gemma(_eps_outside), "eps is added after the square root; RMSNorm adds it inside: "
                                      "√(mean(x²) + eps)."),
        Mistake(_no_cast_back, "the result stays in float32: compute in float32, then return it in the input's "
                               "dtype, .to(x.dtype), as the last step."),
    ])
