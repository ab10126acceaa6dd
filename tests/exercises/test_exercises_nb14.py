"""Notebook 14's checkers: the package's answers pass, right answers in another valid form pass, and wrong
answers written here — apart from the checkers' own Mistake lists — are refused without raising."""

import copy

import torch
import torch.nn.functional as F
from torch import nn

from lmcourse import compression as C
from lmcourse.exercises import nb14_small_and_fast as ex
from lmcourse.lora import LoRALinear, merge_lora
from solutions import solution_namespace

# --- exercise 1: quantize(w, bits) ------------------------------------------------------------------

def quantize_with_the_unsigned_range(w, bits):
    # takes qmax = 2**bits - 1 (255 for 8 bits), the range of unsigned integers, then wraps around in int8
    qmax = 2 ** bits - 1
    amax = w.abs().amax(dim=1, keepdim=True)
    scale = torch.where(amax > 0, amax / qmax, torch.ones_like(amax))
    return torch.clamp(torch.round(w / scale), -qmax, qmax).to(torch.int8), scale


def quantize_by_the_signed_max(w, bits):
    # scale from w.amax (the largest signed value), so large negative weights are clipped
    qmax = 2 ** (bits - 1) - 1
    amax = w.amax(dim=1, keepdim=True).clamp(min=1e-12)
    return torch.clamp(torch.round(w / (amax / qmax)), -qmax, qmax).to(torch.int8), amax / qmax


def quantize_as_int32(w, bits):
    # the right integers, kept as int32 (.int()) instead of int8: four times the memory
    qmax = 2 ** (bits - 1) - 1
    amax = w.abs().amax(dim=1, keepdim=True)
    scale = torch.where(amax > 0, amax / qmax, torch.ones_like(amax))
    return torch.clamp(torch.round(w / scale), -qmax, qmax).int(), scale


def quantize_zero_row_nan_to_num(w, bits):
    # hides the 0 / 0 of a row of zeros with nan_to_num, but leaves that row's scale at 0
    qmax = 2 ** (bits - 1) - 1
    scale = w.abs().amax(dim=1, keepdim=True) / qmax
    return torch.nan_to_num(torch.clamp(torch.round(w / scale), -qmax, qmax)).to(torch.int8), scale


# --- exercise 2: make_mask(w, sparsity) -----------------------------------------------------------

def mask_as_floats(w, sparsity):
    # the right entries, as 1.0 / 0.0 floats instead of a bool mask
    return C.magnitude_mask(w, sparsity).float()


def mask_per_row(w, sparsity):
    # prunes the smallest share of each row, not of the whole matrix
    k = round(sparsity * w.shape[1])
    mask = torch.ones_like(w, dtype=torch.bool)
    if k:
        mask.scatter_(1, w.abs().topk(k, dim=1, largest=False).indices, False)
    return mask


def mask_returns_the_pruned_weight(w, sparsity):
    # applies the mask and returns the pruned weight instead of the mask
    return w * C.magnitude_mask(w, sparsity)


# --- exercise 3: soft_loss(student_logits, teacher_logits, T, mask) -------------------------------

def soft_loss_summed_over_positions(student, teacher, T, mask):
    # reduction="sum": the loss grows with the number of real positions
    return F.kl_div(F.log_softmax(student[mask] / T, -1), F.log_softmax(teacher[mask] / T, -1),
                    reduction="sum", log_target=True) * T * T


def soft_loss_times_t(student, teacher, T, mask):
    # multiplies by T instead of T²
    return C.distillation_loss(student[mask], teacher[mask], temperature=T, alpha=1.0) / T


def soft_loss_as_cross_entropy(student, teacher, T, mask):
    # cross-entropy with the soft targets: KL plus the teacher's entropy, which the gradient ignores but the value not
    p = F.softmax(teacher[mask] / T, -1)
    return F.cross_entropy(student[mask] / T, p) * T * T


def soft_loss_as_python_float(student, teacher, T, mask):
    # .item() at the end: a number that cannot be back-propagated
    return C.distillation_loss(student[mask], teacher[mask], temperature=T, alpha=1.0).item()


def soft_loss_weighted_by_the_mask_per_sequence(student, teacher, T, mask):
    # averages each sequence over its real positions, then the sequences: short sequences weigh more
    kl = (F.softmax(teacher / T, -1) * (F.log_softmax(teacher / T, -1) - F.log_softmax(student / T, -1))).sum(-1)
    if kl.dim() == 1:
        return (kl * mask).sum() / mask.sum() * T * T
    return ((kl * mask).sum(-1) / mask.sum(-1)).mean() * T * T


# --- exercise 4a: MyLoRALinear -----------------------------------------------------------------------

class LoRAWithoutTransposes(nn.Module):
    # multiplies x by B @ A (out, in) without transposing: shapes only fit when in == out
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base, self.scale = base.requires_grad_(False), alpha / r
        self.A = nn.Parameter(torch.randn(r, base.in_features) * 0.01)
        self.B = nn.Parameter(torch.zeros(base.out_features, r))

    def forward(self, x):
        return self.base(x) + self.scale * x @ (self.B @ self.A)

    def merge(self):
        return nn.Linear(self.base.in_features, self.base.out_features)


class LoRAWithATrainableWeightCopy(nn.Module):
    # copies W into a new Parameter for its own forward: the copy trains, so it is full fine-tuning again
    def __init__(self, base, r, alpha):
        super().__init__()
        self.W = nn.Parameter(base.weight.detach().clone())
        self.b = None if base.bias is None else nn.Parameter(base.bias.detach().clone())
        self.scale = alpha / r
        self.A = nn.Parameter(torch.randn(r, base.in_features) * 0.01)
        self.B = nn.Parameter(torch.zeros(base.out_features, r))

    def forward(self, x):
        return F.linear(x, self.W, self.b) + self.scale * (x @ self.A.T) @ self.B.T

    @torch.no_grad()
    def merge(self):
        merged = nn.Linear(self.W.shape[1], self.W.shape[0], bias=self.b is not None)
        merged.weight.copy_(self.W + self.scale * self.B @ self.A)
        if self.b is not None:
            merged.bias.copy_(self.b)
        return merged


class LoRAThatMergesIntoItself(LoRALinear):
    # merge() returns the LoRA layer itself instead of a plain nn.Linear
    def merge(self):
        return self


class LoRAWithPlainTensors(nn.Module):
    # A and B as plain tensors with requires_grad, not nn.Parameter: the module has nothing to train or save
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base, self.scale = base.requires_grad_(False), alpha / r
        self.A = (torch.randn(r, base.in_features) * 0.01).requires_grad_()
        self.B = torch.zeros(base.out_features, r, requires_grad=True)

    def forward(self, x):
        return self.base(x) + self.scale * (x @ self.A.T) @ self.B.T

    @torch.no_grad()
    def merge(self):
        merged = copy.deepcopy(self.base)
        merged.weight += self.scale * self.B @ self.A
        return merged


# --- exercise 4b: apply_lora(model, targets, wrap) ------------------------------------------------

def apply_to_every_linear(model, targets, wrap):
    # ignores targets: wraps every linear layer, the output head included
    model.requires_grad_(False)
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    for n in names:
        parent, _, child = n.rpartition(".")
        setattr(model.get_submodule(parent), child, wrap(model.get_submodule(n)))
    return names


def apply_returning_nothing(model, targets, wrap):
    # does the surgery right but forgets to return the names
    ex._apply(model, targets, wrap)


def apply_matching_the_last_part_only(model, targets, wrap):
    # compares only the last name part with the target, so a target "mlp.2" never matches
    model.requires_grad_(False)
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and n.split(".")[-1] in targets]
    for n in names:
        parent, _, child = n.rpartition(".")
        setattr(model.get_submodule(parent), child, wrap(model.get_submodule(n)))
    return names


# --- exercise 5: merge(m1, l1, acc1, m2, l2, acc2) -------------------------------------------------

def merge_relative_to_the_other_part(m1, l1, acc1, m2, l2, acc2):
    # rescales part 1 by exp(m1 - m2), towards the other part's maximum instead of the common one
    a1 = torch.exp(m1 - m2)
    return torch.maximum(m1, m2), l1 * a1 + l2, acc1 * a1[:, None] + acc2


def merge_weighted_by_the_sums(m1, l1, acc1, m2, l2, acc2):
    # averages the two parts weighted by their sums l, ignoring the maxima
    total = l1 + l2
    return torch.maximum(m1, m2), total, (l1[:, None] * acc1 + l2[:, None] * acc2) / total[:, None]


def merge_without_broadcasting(m1, l1, acc1, m2, l2, acc2):
    # multiplies acc (N, d) by a factor of shape (N,) without [:, None]: broadcasts wrongly or raises
    m = torch.maximum(m1, m2)
    a1, a2 = torch.exp(m1 - m), torch.exp(m2 - m)
    return m, l1 * a1 + l2 * a2, acc1 * a1 + acc2 * a2


WRONG_ANSWERS = {
    "check_quantize_per_channel": [quantize_with_the_unsigned_range, quantize_by_the_signed_max, quantize_as_int32,
                                   quantize_zero_row_nan_to_num],
    "check_magnitude_mask": [mask_as_floats, mask_per_row, mask_returns_the_pruned_weight],
    "check_distillation_loss": [soft_loss_summed_over_positions, soft_loss_times_t, soft_loss_as_cross_entropy,
                                soft_loss_as_python_float, soft_loss_weighted_by_the_mask_per_sequence],
    "check_lora_layer": [LoRAWithoutTransposes, LoRAWithATrainableWeightCopy, LoRAThatMergesIntoItself,
                         LoRAWithPlainTensors],
    "check_apply_lora": [apply_to_every_linear, apply_returning_nothing, apply_matching_the_last_part_only],
    "check_softmax_merge": [merge_relative_to_the_other_part, merge_weighted_by_the_sums, merge_without_broadcasting],
}


def test_the_notebooks_reference_solutions_pass_their_checkers():
    ns = solution_namespace("14_small_and_fast")
    assert ex.check_quantize_per_channel(ns["quantize"]).passed
    assert ex.check_lora_layer(ns["MyLoRALinear"]).passed
    assert ex.check_apply_lora(ns["apply_lora"]).passed


def test_the_package_functions_pass_their_checkers():
    assert ex.check_quantize_per_channel(
        lambda w, bits: (C.quantize_groupwise(w, bits=bits, group_size=None)[0],
                         C.quantize_groupwise(w, bits=bits, group_size=None)[1][:, :, 0])).passed
    assert ex.check_magnitude_mask(C.magnitude_mask).passed
    assert ex.check_distillation_loss(lambda s, t, T, mask: C.distillation_loss(s[mask], t[mask], temperature=T,
                                                                             alpha=1.0)).passed


class PackageLoRAWithMerge(LoRALinear):
    """lmcourse.lora's layer (Kaiming-uniform A) with a merge() through the package's merge_lora."""

    def merge(self):
        holder = nn.Module()
        holder.layer = copy.deepcopy(self)                      # merge_lora works in place: merge a copy
        return merge_lora(holder).layer


def test_answers_in_another_valid_form_pass():
    def quantize_as_a_list_in_float64(w, bits):                 # a list instead of a tuple, a float64 scale
        q, scale = ex._quantize(w, bits)
        return [q, scale.double()]

    def mask_by_argsort(w, sparsity):                           # ranks with argsort instead of topk
        order = w.abs().flatten().argsort()
        mask = torch.ones(w.numel(), dtype=torch.bool)
        mask[order[:round(sparsity * w.numel())]] = False
        return mask.reshape(w.shape)

    def soft_loss_float64(student, teacher, T, mask):           # float64, zeroed padding divided by the real count
        log_q = F.log_softmax(student.double() / T, -1)
        log_p = F.log_softmax(teacher.double() / T, -1)
        return T * T * ((log_p.exp() * (log_p - log_q)).sum(-1) * mask).sum() / mask.sum()

    def apply_returning_a_tuple(model, targets, wrap):          # a tuple of names: order is all that matters
        return tuple(ex._apply(model, targets, wrap))

    def merge_as_a_list(m1, l1, acc1, m2, l2, acc2):
        return list(ex._merge_softmax(m1, l1, acc1, m2, l2, acc2))

    assert ex.check_quantize_per_channel(quantize_as_a_list_in_float64).passed
    assert ex.check_magnitude_mask(mask_by_argsort).passed
    assert ex.check_distillation_loss(soft_loss_float64).passed
    assert ex.check_lora_layer(PackageLoRAWithMerge).passed     # the package's LoRALinear is what the checker asks
    assert ex.check_apply_lora(apply_returning_a_tuple).passed
    assert ex.check_softmax_merge(merge_as_a_list).passed


def test_a_lora_class_that_crashes_is_reported_with_its_error():
    result = ex.check_lora_layer(LoRAWithoutTransposes)
    assert not result.passed and "raised RuntimeError" in result.message


def test_the_checkers_leave_torch_s_random_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    ex.check_lora_layer(ex._LoRA)
    ex.check_apply_lora(ex._apply)
    assert torch.equal(torch.rand(3), expected)


def test_merged_partial_softmax_results_give_attention_over_all_the_keys():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(5, 9, generator=g, dtype=torch.float64) * 4                 # 5 queries, 9 keys
    v = torch.randn(9, 3, generator=g, dtype=torch.float64)
    scores[2, :4] = float("-inf")                                    # one query sees nothing in the first part
    parts = ex._partial_softmax(scores[:, :4], v[:4]) + ex._partial_softmax(scores[:, 4:], v[4:])
    m, total, acc = ex._merge_softmax(*parts)
    assert torch.equal(m, scores.amax(-1))
    assert torch.allclose(acc / total[:, None], torch.softmax(scores, -1) @ v, atol=1e-12)


def test_a_merge_that_returns_too_few_results_is_rejected_without_crashing():
    result = ex.check_softmax_merge(lambda m1, l1, acc1, m2, l2, acc2: (torch.maximum(m1, m2), l1 + l2))
    assert not result.passed and "wrong answer on case 1" in result.message
