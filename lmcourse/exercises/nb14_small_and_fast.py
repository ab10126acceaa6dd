"""Checkers for notebook 14: per-channel quantization to any number of bits, a magnitude-pruning mask,
the distillation loss with its T², a LoRA layer (forward, freezing, merge) and the surgery that puts it
into a model, and merging two partial (online) softmax results the way tiled attention does."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..compression import distillation_loss, magnitude_mask, quantize_groupwise
from .checking import Case, Mistake, Result, check_function, probed, same

# --- exercise 1: per-channel symmetric quantization to any number of bits ---------------------

def _quantize(w, bits):
    q, scale = quantize_groupwise(w, bits=bits, group_size=None)           # one group per row = per channel
    return q, scale.reshape(-1, 1)                                         # (out, 1, 1) -> (out, 1)


def _same_quant(got, expected) -> bool:
    try:
        (q, scale), (want_q, want_scale) = got, expected
    except (TypeError, ValueError):
        return False
    return (isinstance(q, torch.Tensor) and q.dtype == want_q.dtype and q.shape == want_q.shape
            and torch.equal(q, want_q) and same(scale, want_scale, rtol=1e-5, atol=1e-9))


def _qmax(bits):
    return 2 ** (bits - 1) - 1


def _rounded(w, scale, bits, low=None):
    low = -_qmax(bits) if low is None else low
    return torch.clamp(torch.round(w / scale), low, _qmax(bits)).to(torch.int8), scale


def _row_scale(w, bits, divisor=None):
    amax = w.abs().amax(dim=1, keepdim=True)
    return torch.where(amax > 0, amax / (divisor or _qmax(bits)), torch.ones_like(amax))


def _per_tensor(w, bits):
    return _rounded(w, _row_scale(w, bits).max().expand(w.shape[0], 1).clone(), bits)


def _per_column(w, bits):
    amax = w.abs().amax(dim=0, keepdim=True)                               # (1, in): one scale per input
    return _rounded(w, torch.where(amax > 0, amax / _qmax(bits), torch.ones_like(amax)), bits)


def _truncated(w, bits):
    scale = _row_scale(w, bits)
    return torch.clamp(w / scale, -_qmax(bits), _qmax(bits)).to(torch.int8), scale   # .to(int8) cuts to zero


def _by_power_of_two(w, bits):
    return _rounded(w, _row_scale(w, bits, divisor=2 ** (bits - 1)), bits, low=-2 ** (bits - 1))


def _eight_bits_always(w, bits):
    return _quantize(w, 8)


def _zero_row_unguarded(w, bits):
    scale = w.abs().amax(dim=1, keepdim=True) / _qmax(bits)                # 0 for a row of zeros: 0 / 0 = nan
    return torch.clamp(torch.round(w / scale), -_qmax(bits), _qmax(bits)).to(torch.int8), scale


def _float_q(w, bits):
    q, scale = _quantize(w, bits)
    return q.float(), scale


def _wider_ints(dtype):
    def quantize(w, bits):
        q, scale = _quantize(w, bits)
        return q.to(dtype), scale
    return quantize


def _flat_scale(w, bits):
    q, scale = _quantize(w, bits)
    return q, scale.flatten()


def _weights():
    g = torch.Generator().manual_seed(14)
    outlier = torch.randn(4, 8, generator=g) * 0.05
    outlier[2, 5] = 3.0                                                    # one row with a large outlier
    zero_row = torch.randn(3, 5, generator=g)
    zero_row[1] = 0.0                                                      # a neuron pruned away entirely
    return [Case((torch.randn(3, 6, generator=g), 8), label="a random (3, 6) weight, bits=8"),
            Case((outlier, 8), label="a (4, 8) weight whose row 2 holds an outlier of 3.0, bits=8"),
            Case((torch.randn(16, 32, generator=g) * 0.02, 4), label="a (16, 32) weight, bits=4 (ints -7..7)"),
            Case((zero_row, 3), label="a (3, 5) weight whose row 1 is all zeros, bits=3"),
            Case((torch.randn(2, 7, generator=g), 2), label="a random (2, 7) weight, bits=2 (ints -1..1)")]


def check_quantize_per_channel(quantize) -> Result:
    """``quantize(w, bits) -> (q, scale)``: int8 ``q`` (out, in) in ``±(2**(bits-1) - 1)`` and ``scale`` (out, 1)
    = max|row| / (2**(bits-1) - 1), or 1 for a row of zeros."""
    return check_function(quantize, _quantize, _weights(), name="check_quantize_per_channel", compare=_same_quant,
                          mistakes=[
        Mistake(_per_tensor, "one scale for the whole tensor (per-tensor): take the max of |w| over each row, "
                             "w.abs().amax(dim=1, keepdim=True), so an outlier only coarsens its own row."),
        Mistake(_per_column, "the scales are per input column (dim=0); a channel here is an output row: "
                             "reduce over dim=1."),
        Mistake(_truncated, "w / scale was cut towards zero by .to(torch.int8); round it first "
                            "(torch.round), or most values land one step too small."),
        Mistake(_by_power_of_two, "the scale divides by 2**(bits-1) (128 for 8 bits): symmetric quantization uses "
                                  "-qmax..qmax with qmax = 2**(bits-1) - 1, so the largest weight maps exactly "
                                  "to ±qmax."),
        Mistake(_eight_bits_always, "bits was ignored: with b bits the integers run from -(2**(b-1) - 1) to "
                                    "2**(b-1) - 1 (±7 for 4 bits, ±1 for 2 bits), and the scale divides by that."),
        Mistake(_zero_row_unguarded, "a row of zeros gives scale 0 and 0 / 0 = nan: where the row's max is 0, "
                                     "use scale 1 (torch.where(amax > 0, amax / qmax, 1)); its ints are then 0."),
        Mistake(_float_q, "q is still a float tensor: return it as integers with .to(torch.int8) — that is "
                          "where the saving comes from."),
        Mistake(_wider_ints(torch.int32), "q holds the right integers as int32 (what .int() gives), 4 bytes each: "
                                          "store them as torch.int8, one byte, with .to(torch.int8)."),
        Mistake(_wider_ints(torch.int64), "q holds the right integers as int64 (what .long() or torch.round(...)"
                                          ".long() gives), 8 bytes each: store them as torch.int8 with "
                                          ".to(torch.int8)."),
        Mistake(_flat_scale, "scale has shape (out,); keep it (out, 1) with keepdim=True so that q * scale "
                             "broadcasts over each row."),
    ])


# --- exercise 2: magnitude-pruning mask -------------------------------------------------------

def _mask(w, sparsity):
    return magnitude_mask(w, sparsity)


def _inverted(w, sparsity):
    return ~magnitude_mask(w, sparsity)


def _signed(w, sparsity):
    k = round(sparsity * w.numel())
    mask = torch.ones(w.numel(), dtype=torch.bool)
    mask[torch.topk(w.flatten(), k, largest=False).indices] = False
    return mask.view_as(w)


def _keep_share(w, sparsity):
    return magnitude_mask(w, 1 - sparsity) if sparsity > 0 else torch.zeros_like(w, dtype=torch.bool)


def _floor(w, sparsity):
    k = int(sparsity * w.numel())
    mask = torch.ones(w.numel(), dtype=torch.bool)
    if k:
        mask[torch.topk(w.abs().flatten(), k, largest=False).indices] = False
    return mask.view_as(w)


def check_magnitude_mask(make_mask) -> Result:
    """``make_mask(w, sparsity)``: bool mask, False on the ``round(sparsity·n)`` entries of smallest |w|."""
    g = torch.Generator().manual_seed(41)
    cases = [Case((torch.randn(4, 5, generator=g), 0.25), label="a (4, 5) weight, sparsity 0.25"),
             Case((torch.randn(3, 4, generator=g), 0.3), label="a (3, 4) weight, sparsity 0.3 (0.3·12 = 3.6)"),
             Case((torch.randn(6, 8, generator=g), 0.75), label="a (6, 8) weight, sparsity 0.75"),
             Case((torch.randn(2, 3, generator=g), 0.0), label="a (2, 3) weight, sparsity 0 (keep everything)")]
    return check_function(make_mask, _mask, cases, name="check_magnitude_mask", mistakes=[
        Mistake(_inverted, "the mask is inverted: True should mean keep, so the large weights are True and "
                           "the small ones False."),
        Mistake(_signed, "ranked by the signed value, so large negative weights were pruned: rank by the "
                         "absolute value |w|."),
        Mistake(_keep_share, "sparsity is the share to remove, not the share to keep: prune "
                             "round(sparsity · n) weights."),
        Mistake(_floor, "int() rounds 3.6 down to 3; prune round(sparsity · n) weights, as "
                        "torch.nn.utils.prune does."),
    ])


# --- exercise 3: the soft part of the distillation loss, over the real (unpadded) positions ---------

def _soft(student, teacher, T, mask):
    return distillation_loss(student[mask], teacher[mask], temperature=T, alpha=1.0)   # (N, V): the real rows


def _kl(log_q, log_p):
    return F.kl_div(log_q, log_p, reduction="batchmean", log_target=True)


def _kl_rows(student, teacher, T):                                        # (…, V) -> KL per position (…)
    log_q, log_p = F.log_softmax(student / T, -1), F.log_softmax(teacher / T, -1)
    return (log_p.exp() * (log_p - log_q)).sum(-1)


def _masked(wrong):
    """A mistake of the formula, made on the real positions only (the mask itself handled right)."""
    return lambda student, teacher, T, mask: wrong(student[mask], teacher[mask], T)


def _no_t2(student, teacher, T):
    return _kl(F.log_softmax(student / T, -1), F.log_softmax(teacher / T, -1))


def _reversed(student, teacher, T):
    return _kl(F.log_softmax(teacher / T, -1), F.log_softmax(student / T, -1)) * T * T


def _teacher_only_t(student, teacher, T):
    return _kl(F.log_softmax(student, -1), F.log_softmax(teacher / T, -1)) * T * T


def _probs_not_logs(student, teacher, T):
    return F.kl_div(F.softmax(student / T, -1), F.softmax(teacher / T, -1), reduction="batchmean") * T * T


def _mean_over_all(student, teacher, T):
    return distillation_loss(student, teacher, temperature=T, alpha=1.0) / student.shape[-1]


def _mask_ignored(student, teacher, T, mask):
    return _kl_rows(student, teacher, T).mean() * T * T


def _zeroed_but_counted(student, teacher, T, mask):
    return (_kl_rows(student, teacher, T) * mask).mean() * T * T


def _mask_inverted(student, teacher, T, mask):
    return _kl_rows(student, teacher, T)[~mask].mean() * T * T


def _distillation_cases():
    g = torch.Generator().manual_seed(7)
    padded = torch.tensor([[True, True, True], [True, False, False]])     # the second sequence is 1 token long
    every = torch.ones(4, dtype=torch.bool)
    return [Case((torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g), 2.0, every),
                  label="4 positions, 6 classes, T = 2, every position real"),
             Case((torch.randn(2, 3, 5, generator=g), torch.randn(2, 3, 5, generator=g) * 3, 4.0, padded),
                  label="logits (B=2, T=3, V=5), T = 4, mask [[1, 1, 1], [1, 0, 0]] (the second sequence padded)"),
             Case((torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g), 1.0,
                   torch.tensor([False, True, True, False, True])),
                  label="5 positions, 7 classes, T = 1, mask [0, 1, 1, 0, 1]")]


def check_distillation_loss(soft_loss) -> Result:
    """``soft_loss(student_logits, teacher_logits, T, mask)``: logits (…, V), mask (…) bool, True at the real
    positions -> T² · KL(softmax(teacher/T) ‖ softmax(student/T)) averaged over the real positions, a 0-d tensor."""
    return check_function(soft_loss, _soft, _distillation_cases(), name="check_distillation_loss", rtol=1e-4,
                          atol=1e-6, mistakes=[
        Mistake(_mask_ignored, "the padded positions were averaged in: keep only the rows where mask is True "
                               "(student_logits[mask] is (N, V)), then average over those N."),
        Mistake(_zeroed_but_counted, "the padded positions got loss 0 but still count in the mean: divide by the "
                                     "number of real positions, mask.sum(), or select them before averaging."),
        Mistake(_mask_inverted, "the mask is read the wrong way round: True marks a real position, the ones "
                                "to keep (padding is False)."),
        Mistake(_masked(_no_t2), "no T²: dividing logits by T shrinks the soft gradients by 1/T², so multiply the "
                                 "KL by T * T to keep them the size of the hard loss's."),
        Mistake(_masked(_reversed), "the KL's direction is reversed: the teacher's distribution p comes first, "
                                    "KL(p ‖ q) = Σ p·(log p − log q); with F.kl_div the student's log-probs are the "
                                    "input."),
        Mistake(_masked(_teacher_only_t), "the temperature divides only the teacher's logits: soften both, "
                                          "student/T and teacher/T."),
        Mistake(_masked(_probs_not_logs), "F.kl_div expects log-probabilities as its input: pass "
                                          "F.log_softmax(student / T, -1), not softmax."),
        Mistake(_masked(_mean_over_all), "reduction='mean' also divides by the number of classes; average over "
                                         "positions only (reduction='batchmean' on (N, V) rows)."),
    ])


# --- exercise 4: a LoRA layer, and apply_lora ----------------------------------------------------
#
# The learner writes a class; the checker builds instances itself. A "probe" runs one scenario on a
# class and returns plain facts (tensors, bools, names), so check_function can compare the learner's
# facts with the reference's and a Mistake is a wrong class run through the same probe. A and B are
# set to fixed values after construction, so outputs do not depend on the random init.

def _lora_class(*, scale=lambda alpha, r: alpha / r, freeze=True, a_zero=False, b_random=False,
                merge_bias=True, merge_in_place=False, merge_self=False, delta=lambda B, A: B @ A):
    """The reference LoRA layer, or one that makes a chosen mistake."""
    class LoRA(nn.Module):
        def __init__(self, base, r, alpha):
            super().__init__()
            self.base, self.r, self.alpha = base, r, alpha
            if freeze:
                base.requires_grad_(False)
            a = torch.zeros(r, base.in_features) if a_zero else torch.randn(r, base.in_features) * 0.1
            self.A = nn.Parameter(a)
            self.B = nn.Parameter(torch.randn(base.out_features, r) if b_random else torch.zeros(base.out_features, r))

        def forward(self, x):
            return self.base(x) + scale(self.alpha, self.r) * ((x @ self.A.T) @ self.B.T)

        @torch.no_grad()
        def merge(self):
            if merge_self:
                return self
            weight = self.base.weight + scale(self.alpha, self.r) * delta(self.B, self.A)
            if merge_in_place:
                self.base.weight += scale(self.alpha, self.r) * delta(self.B, self.A)
                return self.base
            merged = nn.Linear(self.base.in_features, self.base.out_features,
                               bias=self.base.bias is not None and merge_bias)
            merged.weight.copy_(weight)
            if merged.bias is not None:
                merged.bias.copy_(self.base.bias)
            return merged
    return LoRA


_LoRA = _lora_class()


def _linear(seed, n_in, n_out, bias=True):
    torch.manual_seed(seed)
    return nn.Linear(n_in, n_out, bias=bias)


def _inputs(seed, shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _trainable(module):
    return sorted(name for name, p in module.named_parameters() if p.requires_grad)


def _set_adapter(layer, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.A.copy_(torch.randn(layer.A.shape, generator=g) * 0.5)
        layer.B.copy_(torch.randn(layer.B.shape, generator=g) * 0.5)


def _probe_lora(cls, scenario, n_in, n_out, r, alpha, bias, x_shape):
    """Run one scenario on a LoRA class; return what it shows as a dict of plain values."""
    base = _linear(0, n_in, n_out, bias)
    before = _linear(0, n_in, n_out, bias)                                 # an untouched copy of the base
    layer = cls(base, r, alpha)
    x = _inputs(1, x_shape)
    if scenario == "fresh":
        with torch.no_grad():
            return {"output at init minus the base's": layer(x) - before(x),
                    "A is not all zeros": bool(layer.A.detach().abs().sum() > 0),
                    "shapes of A and B": [tuple(layer.A.shape), tuple(layer.B.shape)],
                    "trainable parameters": _trainable(layer)}
    _set_adapter(layer, 2)
    if scenario == "step":                                                 # one SGD step on what requires grad
        (layer(x) ** 2).mean().backward()
        with torch.no_grad():
            for p in layer.parameters():
                if p.requires_grad and p.grad is not None:
                    p -= 0.1 * p.grad
    with torch.no_grad():
        out = layer(x)
        merged = layer.merge()
        facts = {"output": out, "merged is a plain nn.Linear": type(merged) is nn.Linear}
        if type(merged) is nn.Linear:
            facts["merged output"] = merged(x)
            facts["merged has a bias"] = merged.bias is not None
        facts["output after merge()"] = layer(x)
        facts["base weight unchanged"] = bool(torch.equal(base.weight, before.weight))
    return facts


def _lora_probe(cls):
    return probed(_probe_lora, cls)


_LORA_CASES = [
    Case(("fresh", 6, 4, 2, 4.0, True, (5, 6)),
         label="a fresh LoRALinear(nn.Linear(6, 4), r=2, alpha=4) on x (5, 6)"),
    Case(("set", 6, 4, 2, 4.0, True, (5, 6)),
         label="nn.Linear(6, 4), r=2, alpha=4, with A and B set to random values, x (5, 6)"),
    Case(("set", 5, 3, 3, 2.0, True, (2, 4, 5)),
         label="nn.Linear(5, 3), r=3, alpha=2 (scale 2/3), batched x (2, 4, 5)"),
    Case(("set", 4, 6, 1, 8.0, False, (3, 4)),
         label="nn.Linear(4, 6, bias=False), r=1, alpha=8, x (3, 4)"),
    Case(("step", 6, 4, 2, 4.0, True, (5, 6)),
         label="nn.Linear(6, 4), r=2, alpha=4, after one SGD step on every parameter that requires grad"),
]


def check_lora_layer(lora_class) -> Result:
    """``lora_class(base, r, alpha)``: an ``nn.Module`` wrapping ``base`` (an ``nn.Linear``, frozen) with
    trainable ``A`` (r, in, random) and ``B`` (out, r, zeros); ``forward(x)`` = base(x) + (alpha / r)·(x Aᵀ) Bᵀ
    for x (…, in); ``merge()`` returns a new plain ``nn.Linear`` computing the same function."""
    learner = _lora_probe(lora_class)
    with torch.random.fork_rng(devices=[]):                    # the probes seed torch; the notebook's RNG stays
        return _check_lora_layer(learner)


def _check_lora_layer(learner) -> Result:
    return check_function(learner, _lora_probe(_LoRA), _LORA_CASES, name="check_lora_layer", mistakes=[
        Mistake(_lora_probe(_lora_class(freeze=False)),
                "the base layer still requires grad: freeze it (base.requires_grad_(False)) so that only A and B "
                "train — that is the whole saving."),
        Mistake(_lora_probe(_lora_class(b_random=True)),
                "B starts random, so the adapted layer differs from the base before any training: start B at "
                "zeros (out, r) and A small and random."),
        Mistake(_lora_probe(_lora_class(a_zero=True)),
                "A starts at zero as well: with A = B = 0 both gradients are zero and the adapter never learns. "
                "Only B starts at zero; A is small and random (torch.randn(r, in) * 0.01, say)."),
        Mistake(_lora_probe(_lora_class(scale=lambda alpha, r: 1.0)),
                "the update has no scale: multiply (x Aᵀ) Bᵀ by alpha / r, in forward and in merge."),
        Mistake(_lora_probe(_lora_class(scale=lambda alpha, r: alpha)),
                "the scale is alpha, not alpha / r: divide by the rank r."),
        Mistake(_lora_probe(_lora_class(scale=lambda alpha, r: r / alpha)),
                "the scale is upside down: it is alpha / r, not r / alpha."),
        Mistake(_lora_probe(_lora_class(scale=lambda alpha, r: alpha // r)),
                "alpha // r is integer division (2 // 3 = 0): the scale is alpha / r, a float."),
        Mistake(_lora_probe(_lora_class(merge_self=True)),
                "merge() must return a plain nn.Linear — a layer with no adapter left, and no extra cost per token: "
                "build nn.Linear(in, out, bias=...) and copy the merged weight (and the bias) into it."),
        Mistake(_lora_probe(_lora_class(merge_bias=False)),
                "the merged layer lost the base's bias: copy base.bias into the new nn.Linear (and build it "
                "with bias=False only when the base has none)."),
        Mistake(_lora_probe(_lora_class(merge_in_place=True)),
                "merge() changed the base weight in place, so the LoRA layer now adds its update twice: build a "
                "new nn.Linear and copy W + (alpha / r)·B A into it, leaving base untouched."),
        Mistake(_lora_probe(_lora_class(delta=lambda B, A: torch.zeros(B.shape[0], A.shape[1]))),
                "merge() left the update out: the merged weight is W + (alpha / r)·B @ A, (out, r) @ (r, in)."),
    ])


# --- exercise 4b: apply_lora, the model surgery ---------------------------------------------------

class _Tiny(nn.Module):
    """A block-shaped model with nested, similarly named linear layers: (B, T, 8) -> (B, T, 5)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(4)
        self.norm = nn.LayerNorm(8)
        self.attn = nn.Module()
        self.attn.proj, self.attn.out_proj = nn.Linear(8, 8), nn.Linear(8, 8)
        self.mlp = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8))
        self.head = nn.Linear(8, 5)

    def forward(self, x):
        h = self.norm(x)
        h = h + self.attn.out_proj(torch.tanh(self.attn.proj(h)))
        return self.head(h + self.mlp(h))


def _wrap(linear):
    return _LoRA(linear, 2, 4.0)


def _probe_apply(apply, targets):
    model, reference = _Tiny(), _Tiny()
    linears = [name for name, m in reference.named_modules() if isinstance(m, nn.Linear)]
    x = _inputs(5, (2, 3, 8))
    names = apply(model, targets, _wrap)
    facts = {"returned names": names,
             "wrapped layers": [n for n in linears if isinstance(_submodule(model, n), _LoRA)],
             "trainable parameters": _trainable(model)}
    with torch.no_grad():
        facts["output at init minus the original's"] = model(x) - reference(x)
        for i, m in enumerate(m for m in model.modules() if isinstance(m, _LoRA)):
            _set_adapter(m, 10 + i)
        facts["output with the adapters set"] = model(x)
    return facts


def _submodule(model, name):
    try:
        return model.get_submodule(name)
    except AttributeError:
        return None


def _apply(model, targets, wrap):
    model.requires_grad_(False)
    names = [n for n, m in model.named_modules()
             if isinstance(m, nn.Linear) and any(n == t or n.endswith("." + t) for t in targets)]
    for n in names:
        parent, _, child = n.rpartition(".")
        setattr(model.get_submodule(parent), child, wrap(model.get_submodule(n)))
    return names


def _apply_with(*, match=lambda n, t: n == t or n.endswith("." + t), freeze=True, dotted=False):
    def apply(model, targets, wrap):
        if freeze:
            model.requires_grad_(False)
        names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and any(match(n, t) for t in targets)]
        for n in names:
            parent, _, child = n.rpartition(".")
            layer = wrap(model.get_submodule(n))
            if dotted:
                setattr(model, n, layer)                                   # a new attribute named "attn.proj"
            else:
                setattr(model.get_submodule(parent), child, layer)
        return names
    return apply


def _apply_probe(fn):
    return probed(_probe_apply, fn)


_APPLY_CASES = [
    Case((("proj",),), label="targets ('proj',): attn.proj, but not attn.out_proj"),
    Case((("out_proj", "mlp.2"),), label="targets ('out_proj', 'mlp.2'): two nested layers"),
    Case((("head",),), label="targets ('head',): a top-level layer"),
]


def check_apply_lora(apply_lora) -> Result:
    """``apply_lora(model, targets, wrap)``: freeze ``model``, replace (in place) every ``nn.Linear`` whose
    dotted name equals a target or ends with ``"." + target`` by ``wrap(linear)``; return the names, in
    ``named_modules()`` order."""
    learner = _apply_probe(apply_lora)
    with torch.random.fork_rng(devices=[]):
        return _check_apply_lora(learner)


def _check_apply_lora(learner) -> Result:
    return check_function(learner, _apply_probe(_apply), _APPLY_CASES, name="check_apply_lora", mistakes=[
        Mistake(_apply_probe(_apply_with(match=lambda n, t: n.endswith(t))),
                "'attn.out_proj'.endswith('proj') is True too: match a whole name part — the name equals the "
                "target or ends with '.' + target."),
        Mistake(_apply_probe(_apply_with(match=lambda n, t: n == t)),
                "names are dotted paths ('attn.proj', 'mlp.2'), from named_modules() (named_children() sees only "
                "the top level): a target matches the whole path or its last parts, name == t or "
                "name.endswith('.' + t)."),
        Mistake(_apply_probe(_apply_with(dotted=True)),
                "setattr(model, 'attn.proj', …) adds a new attribute with a dot in its name and leaves the real "
                "layer in place: set the child on its parent, setattr(model.get_submodule(parent), child, …)."),
        Mistake(_apply_probe(_apply_with(freeze=False)),
                "the rest of the model still trains: freeze it first with model.requires_grad_(False), so that only "
                "the adapters' A and B require grad."),
    ])


# --- exercise 5: merge two partial softmax results (the online-softmax update) ----------------

def _partial_softmax(scores: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One part of the keys processed alone: scores (N, T) and values (T, d) -> m (N,), l (N,), acc (N, d).

    ``m`` is each row's largest score, ``l = Σ exp(s − m)`` and ``acc = Σ exp(s − m) · v``; a row whose
    scores are all −inf (no visible key) gets m = −inf, l = 0 and acc = 0.
    """
    m = scores.amax(-1)                                                    # (N,)
    p = torch.exp(scores - torch.where(torch.isinf(m), 0.0, m)[:, None])  # exp(-inf) = 0 for hidden keys
    return m, p.sum(-1), p @ v


def _merge_softmax(m1, l1, acc1, m2, l2, acc2):
    m = torch.maximum(m1, m2)
    a1, a2 = torch.exp(m1 - m), torch.exp(m2 - m)
    return m, l1 * a1 + l2 * a2, acc1 * a1[:, None] + acc2 * a2[:, None]


def _no_rescaling(m1, l1, acc1, m2, l2, acc2):
    return torch.maximum(m1, m2), l1 + l2, acc1 + acc2


def _sum_not_rescaled(m1, l1, acc1, m2, l2, acc2):
    m, _, acc = _merge_softmax(m1, l1, acc1, m2, l2, acc2)
    return m, l1 + l2, acc


def _old_part_not_rescaled(m1, l1, acc1, m2, l2, acc2):
    m = torch.maximum(m1, m2)
    a2 = torch.exp(m2 - m)
    return m, l1 + l2 * a2, acc1 + acc2 * a2[:, None]


def _upside_down(m1, l1, acc1, m2, l2, acc2):
    m = torch.maximum(m1, m2)
    a1, a2 = torch.exp(m - m1), torch.exp(m - m2)
    return m, l1 * a1 + l2 * a2, acc1 * a1[:, None] + acc2 * a2[:, None]


def _without_the_max(m1, l1, acc1, m2, l2, acc2):
    m = torch.maximum(m1, m2)
    e1, e2 = torch.exp(m1), torch.exp(m2)                                  # exp of raw scores: overflows
    total, out = l1 * e1 + l2 * e2, acc1 * e1[:, None] + acc2 * e2[:, None]
    return m, total / torch.exp(m), out / torch.exp(m)[:, None]


def _normalised(m1, l1, acc1, m2, l2, acc2):
    m, total, acc = _merge_softmax(m1, l1, acc1, m2, l2, acc2)
    return m, total, acc / total[:, None]


def _merge_cases() -> list[Case]:
    g = torch.Generator().manual_seed(5)
    cases = []
    for n, t1, t2, d, shift, label in [(3, 5, 7, 4, 0.0, "3 queries, keys split 5 + 7, ordinary scores"),
                                       (4, 6, 6, 3, 100.0, "4 queries, scores near 100 in float32")]:
        s, v = torch.randn(n, t1 + t2, generator=g) * 3 + shift, torch.randn(t1 + t2, d, generator=g)
        s[0, t1:] += 5                                                     # part B holds query 0's maximum
        cases.append(Case(_partial_softmax(s[:, :t1], v[:t1]) + _partial_softmax(s[:, t1:], v[t1:]), label=label))
    s, v = torch.randn(3, 8, generator=g), torch.randn(8, 2, generator=g)
    s[1, :4] = float("-inf")                                               # query 1 sees no key of part A
    cases.append(Case(_partial_softmax(s[:, :4], v[:4]) + _partial_softmax(s[:, 4:], v[4:]),
                      label="3 queries, part A empty for query 1 (m1 = -inf, l1 = 0, acc1 = 0)"))
    return cases


def check_softmax_merge(merge) -> Result:
    """``merge(m1, l1, acc1, m2, l2, acc2) -> (m, l, acc)``: two partial softmax results (N,), (N,), (N, d)
    combined, with m = max(m1, m2) and each part rescaled by exp(m_part − m)."""
    return check_function(merge, _merge_softmax, _merge_cases(), name="check_softmax_merge", rtol=1e-5, atol=1e-6,
                          mistakes=[
        Mistake(_no_rescaling, "the two parts were added as they are, but each was computed against its own "
                               "maximum: multiply part 1 by exp(m1 − m) and part 2 by exp(m2 − m) before adding."),
        Mistake(_sum_not_rescaled, "acc is right but l = l1 + l2 was not rescaled: the sums need the same "
                                   "factors exp(m1 − m) and exp(m2 − m) as the outputs, or acc / l is off."),
        Mistake(_old_part_not_rescaled, "only part 2 was rescaled: when part 2 raises the maximum, part 1's sum "
                                        "and output were computed against the old m1 and must shrink by "
                                        "exp(m1 − m) too."),
        Mistake(_upside_down, "the factors are upside down: exp(m − m1) is ≥ 1 and grows the old terms; "
                              "moving a part to a larger maximum multiplies it by exp(m1 − m) ≤ 1."),
        Mistake(_without_the_max, "exp of the raw scores overflows (float32 is inf beyond about 88): never "
                                  "form exp(m1) or exp(m2) alone, only the differences exp(m1 − m), exp(m2 − m)."),
        Mistake(_normalised, "acc was divided by l: keep acc unnormalised (Σ exp(s − m) · v) so that more "
                             "parts can still be merged; the division by l happens once, at the very end."),
    ])
