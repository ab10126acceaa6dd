"""Checkers for notebook 14: per-channel int8 quantization, a magnitude-pruning mask, the
distillation loss with its T², merging a LoRA adapter into its weight, and merging two partial
(online) softmax results the way tiled attention does."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..compression import distillation_loss, magnitude_mask, quantize_int8
from .checking import Case, Mistake, Result, check_function, same

# --- exercise 1: per-channel symmetric int8 ---------------------------------------------------

def _quantize(w):
    return quantize_int8(w, per_channel=True)


def _same_quant(got, expected) -> bool:
    try:
        (q, scale), (want_q, want_scale) = got, expected
    except (TypeError, ValueError):
        return False
    return (isinstance(q, torch.Tensor) and q.dtype == want_q.dtype and q.shape == want_q.shape
            and torch.equal(q, want_q) and same(scale, want_scale, rtol=1e-5, atol=1e-9))


def _per_tensor(w):
    scale = (w.abs().max() / 127).expand(w.shape[0], 1).clone()
    return torch.clamp(torch.round(w / scale), -127, 127).to(torch.int8), scale


def _per_column(w):
    scale = w.abs().amax(dim=0, keepdim=True) / 127                        # (1, in): one scale per input
    return torch.clamp(torch.round(w / scale), -127, 127).to(torch.int8), scale


def _truncated(w):
    scale = w.abs().amax(dim=1, keepdim=True) / 127
    return (w / scale).to(torch.int8), scale                               # .to(int8) cuts towards zero


def _by_128(w):
    scale = w.abs().amax(dim=1, keepdim=True) / 128
    return torch.clamp(torch.round(w / scale), -128, 127).to(torch.int8), scale


def _float_q(w):
    q, scale = _quantize(w)
    return q.float(), scale


def _flat_scale(w):
    q, scale = _quantize(w)
    return q, scale.flatten()


def _weights():
    g = torch.Generator().manual_seed(14)
    outlier = torch.randn(4, 8, generator=g) * 0.05
    outlier[2, 5] = 3.0                                                    # one row with a large outlier
    return [Case((torch.randn(3, 6, generator=g),), label="a random (3, 6) weight"),
            Case((outlier,), label="a (4, 8) weight whose row 2 holds an outlier of 3.0"),
            Case((torch.randn(16, 32, generator=g) * 0.02,), label="a (16, 32) weight with GPT-2-sized values")]


def check_quantize_per_channel(quantize) -> Result:
    """``quantize(w) -> (q, scale)``: int8 ``q`` (out, in) and ``scale`` (out, 1) = max|row| / 127."""
    return check_function(quantize, _quantize, _weights(), name="check_quantize_per_channel", compare=_same_quant,
                          mistakes=[
        Mistake(_per_tensor, "one scale for the whole tensor (per-tensor): take the max of |w| over each row, "
                             "w.abs().amax(dim=1, keepdim=True), so an outlier only coarsens its own row."),
        Mistake(_per_column, "the scales are per input column (dim=0); a channel here is an output row: "
                             "reduce over dim=1."),
        Mistake(_truncated, "w / scale was cut towards zero by .to(torch.int8); round it first "
                            "(torch.round), or most values land one step too small."),
        Mistake(_by_128, "the scale divides by 128: symmetric int8 uses -127..127, so scale = max|w| / 127 "
                         "(and the largest weight maps exactly to ±127)."),
        Mistake(_float_q, "q is still a float tensor: return it as integers with .to(torch.int8) — that is "
                          "where the 4× saving comes from."),
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


# --- exercise 3: the soft part of the distillation loss ----------------------------------------

def _soft(student, teacher, T):
    return distillation_loss(student, teacher, temperature=T, alpha=1.0)


def _kl(log_q, log_p):
    return F.kl_div(log_q, log_p, reduction="batchmean", log_target=True)


def _rows(x):
    return x.reshape(-1, x.shape[-1])


def _no_t2(student, teacher, T):
    return _soft(student, teacher, T) / (T * T)


def _reversed(student, teacher, T):
    return _kl(F.log_softmax(_rows(teacher) / T, -1), F.log_softmax(_rows(student) / T, -1)) * T * T


def _teacher_only_t(student, teacher, T):
    return _kl(F.log_softmax(_rows(student), -1), F.log_softmax(_rows(teacher) / T, -1)) * T * T


def _probs_not_logs(student, teacher, T):
    return F.kl_div(F.softmax(_rows(student) / T, -1), F.softmax(_rows(teacher) / T, -1),
                    reduction="batchmean") * T * T


def _mean_over_all(student, teacher, T):
    return _soft(student, teacher, T) / student.shape[-1]


def check_distillation_loss(soft_loss) -> Result:
    """``soft_loss(student_logits, teacher_logits, T)``: T² · KL(softmax(teacher/T) ‖ softmax(student/T)),
    averaged over positions, for logits (…, V)."""
    g = torch.Generator().manual_seed(7)
    cases = [Case((torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g), 2.0),
                  label="4 positions, 6 classes, T = 2"),
             Case((torch.randn(2, 3, 5, generator=g), torch.randn(2, 3, 5, generator=g) * 3, 4.0),
                  label="logits (B=2, T=3, V=5), T = 4"),
             Case((torch.randn(3, 7, generator=g), torch.randn(3, 7, generator=g), 1.0),
                  label="3 positions, 7 classes, T = 1")]
    return check_function(soft_loss, _soft, cases, name="check_distillation_loss", rtol=1e-4, atol=1e-6, mistakes=[
        Mistake(_no_t2, "no T²: dividing logits by T shrinks the soft gradients by 1/T², so multiply the "
                        "KL by T * T to keep them the size of the hard loss's."),
        Mistake(_reversed, "the KL's direction is reversed: the teacher's distribution p comes first, "
                           "KL(p ‖ q) = Σ p·(log p − log q); with F.kl_div the student's log-probs are the input."),
        Mistake(_teacher_only_t, "the temperature divides only the teacher's logits: soften both, student/T "
                                 "and teacher/T."),
        Mistake(_probs_not_logs, "F.kl_div expects log-probabilities as its input: pass "
                                 "F.log_softmax(student / T, -1), not softmax."),
        Mistake(_mean_over_all, "reduction='mean' also divides by the number of classes; average over "
                                "positions only (reduction='batchmean' on (N, V) rows)."),
    ])


# --- exercise 4: merge a LoRA adapter -----------------------------------------------------------

def _merge(W, A, B, alpha):
    return W + (alpha / A.shape[0]) * (B @ A)


def check_lora_merge(merge) -> Result:
    """``merge(W, A, B, alpha)``: the weight ``W + (alpha / r) · B @ A``, with r = A.shape[0]."""
    g = torch.Generator().manual_seed(3)
    cases = [Case((torch.randn(6, 5, generator=g), torch.randn(2, 5, generator=g), torch.randn(6, 2, generator=g),
                   8.0), label="W (6, 5), rank r = 2, alpha = 8"),
             Case((torch.randn(4, 4, generator=g), torch.randn(1, 4, generator=g), torch.randn(4, 1, generator=g),
                   3.0), label="W (4, 4), rank r = 1, alpha = 3"),
             Case((torch.randn(8, 3, generator=g), torch.randn(3, 3, generator=g), torch.zeros(8, 3), 16.0),
                  label="W (8, 3), r = 3, B = 0 (a fresh adapter: nothing may change)")]
    return check_function(merge, _merge, cases, name="check_lora_merge", mistakes=[
        Mistake(lambda W, A, B, alpha: W + B @ A, "the update is added without its scale: multiply B @ A by "
                                                  "alpha / r, as the adapter's forward pass does."),
        Mistake(lambda W, A, B, alpha: W + alpha * (B @ A), "the scale is alpha, not alpha / r: divide by the "
                                                            "rank r = A.shape[0]."),
        Mistake(lambda W, A, B, alpha: W + (A.shape[0] / alpha) * (B @ A), "the scale is upside down: it is "
                                                                            "alpha / r, not r / alpha."),
        Mistake(lambda W, A, B, alpha: (alpha / A.shape[0]) * (B @ A), "W itself is missing: the adapter adds "
                                                                       "to the frozen weight, W + ΔW."),
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
