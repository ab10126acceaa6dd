"""Notebook 10's checkers beyond their Mistakes: the schedule class in other valid forms (PyTorch's ``LambdaLR``
inside, NumPy floats), states a checkpoint cannot hold, transformers' GemmaRMSNorm and PyTorch's RMSNorm, and the
wrong answers a learner writes first, each rejected without the checker raising."""

import math

import numpy as np
import torch
from torch import nn

from lmcourse.exercises import nb10_training_like_the_pros as ex
from lmcourse.schedules import warmup_cosine_lambda


class _Counting:
    """A right schedule, written independently of the checker's reference: it keeps the step it is at."""

    def __init__(self, max_lr, min_lr, warmup, total):
        self.args, self.t = (max_lr, min_lr, warmup, total), 0

    def rate(self, t):
        max_lr, min_lr, warmup, total = self.args
        if t < warmup:
            return max_lr * (t + 1) / warmup
        p = min((t - warmup) / (total - warmup), 1.0)
        return min_lr + (max_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * p))

    def step(self):
        self.t += 1
        return self.rate(self.t - 1)

    def state_dict(self):
        return {"t": self.t}

    def load_state_dict(self, state):
        self.t = state["t"]


# --- wrong schedules -----------------------------------------------------------------------------------------

class AdvancesBeforeReading(_Counting):
    # moves on first, then reads the rate: every rate is the next step's, the first one is never used
    def step(self):
        self.t += 1
        return self.rate(self.t)


class CosineOneStepEarly(_Counting):
    # the cosine's progress counts the first cosine step as already done: (t - warmup + 1) / (total - warmup)
    def rate(self, t):
        return super().rate(t + 1) if t >= self.args[2] else super().rate(t)


class RatesAsTensors(_Counting):
    # returns each rate as a 0-d tensor, where a float is asked for
    def step(self):
        return torch.tensor(super().step())


class StateWithItsFormula(_Counting):
    # state_dict hands back its whole __dict__, which holds a function that no checkpoint can store safely
    def __init__(self, *args):
        super().__init__(*args)
        self.formula = lambda t: self.rate(t)

    def state_dict(self):
        return self.__dict__


class ForgetsTheStepOnSave(_Counting):
    # saves the rate it last gave, and resumes by restarting the count: the warmup runs again
    def state_dict(self):
        return {"last_lr": self.rate(max(self.t - 1, 0))}

    def load_state_dict(self, state):
        self.t = 0


# --- wrong decay splits --------------------------------------------------------------------------------------

def split_from_state_dict(model):
    # walks model.state_dict(), which lists a tied matrix under both of its names (and buffers too)
    keys = [k for k, v in model.state_dict().items() if v.is_floating_point()]
    return [k for k in keys if model.state_dict()[k].dim() >= 2], [k for k in keys if model.state_dict()[k].dim() < 2]


def split_only_above_two_dims(model):
    # dim > 2 instead of dim >= 2: no 2-D matrix is decayed at all
    names = dict(model.named_parameters())
    return [n for n, p in names.items() if p.dim() > 2], [n for n, p in names.items() if p.dim() <= 2]


def split_returns_the_parameters(model):
    # the right rule, but the tensors themselves instead of their names
    params = list(model.parameters())
    return [p for p in params if p.dim() >= 2], [p for p in params if p.dim() < 2]


# --- wrong RMSNorms (Gemma's: float32, gain 1 + weight, back to x's dtype) ----------------------------------

def rms_norm_mean_absolute_value(x, weight, eps=1e-6):
    # divides by the mean absolute value, not the root mean square
    h = x.float()
    return (h / (h.abs().mean(-1, keepdim=True) + eps) * (1 + weight)).to(x.dtype)


def rms_norm_over_the_first_axis(x, weight, eps=1e-6):
    # averages the squares over dim 0 (the batch) instead of the features
    h = x.float()
    return (h / torch.sqrt(h.pow(2).mean(0, keepdim=True) + eps) * (1 + weight)).to(x.dtype)


def rms_norm_adds_the_gain(x, weight, eps=1e-6):
    # adds 1 + weight like a bias instead of multiplying by it
    h = x.float()
    return (h / torch.sqrt(h.pow(2).mean(-1, keepdim=True) + eps) + 1 + weight).to(x.dtype)


def rms_norm_offset_on_the_input(x, weight, eps=1e-6):
    # puts the 1 on the wrong side: normalises x + 1 instead of scaling by 1 + weight
    h = x.float() + 1
    return (h / torch.sqrt(h.pow(2).mean(-1, keepdim=True) + eps) * weight).to(x.dtype)


def split_frozen_into_no_decay(model):
    # a frozen matrix is not decayed, so it is put with the vectors, where it still does not belong
    named = list(model.named_parameters())
    return ([n for n, p in named if p.dim() >= 2 and p.requires_grad],
            [n for n, p in named if p.dim() < 2 or not p.requires_grad])


WRONG_ANSWERS = {
    "check_warmup_cosine": [AdvancesBeforeReading, CosineOneStepEarly, RatesAsTensors, StateWithItsFormula,
                            ForgetsTheStepOnSave],
    "check_split_decay": [split_from_state_dict, split_only_above_two_dims, split_returns_the_parameters,
                          split_frozen_into_no_decay],
    "check_rms_norm": [rms_norm_mean_absolute_value, rms_norm_over_the_first_axis, rms_norm_adds_the_gain,
                       rms_norm_offset_on_the_input],
}


def test_an_independent_schedule_and_one_around_pytorchs_lambda_lr_pass():
    class WithLambdaLR:
        def __init__(self, max_lr, min_lr, warmup, total):
            self.opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=max_lr)
            self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, warmup_cosine_lambda(warmup, total,
                                                                                          min_lr / max_lr))

        def step(self):
            lr = self.sched.get_last_lr()[0]
            self.opt.step()
            self.sched.step()
            return lr

        def state_dict(self):
            return self.sched.state_dict()

        def load_state_dict(self, state):
            self.sched.load_state_dict(state)

    assert ex.check_warmup_cosine(_Counting).passed
    assert ex.check_warmup_cosine(WithLambdaLR).passed


def test_numpy_floats_for_rates_and_a_tensor_step_in_the_state_pass():
    class NumPyRates(_Counting):
        def step(self):
            return np.float64(super().step())

        def state_dict(self):
            return {"t": torch.tensor(self.t)}

        def load_state_dict(self, state):
            self.t = int(state["t"])

    assert ex.check_warmup_cosine(NumPyRates).passed


def test_a_state_no_checkpoint_can_hold_or_that_is_not_a_dict_is_named_in_the_message():
    formula = ex.check_warmup_cosine(StateWithItsFormula)
    assert not formula.passed and "torch.load(weights_only=True)" in formula.message
    numpy_step = type("NumPyStep", (_Counting,), {"state_dict": lambda self: {"t": np.int64(self.t)}})
    numpy = ex.check_warmup_cosine(numpy_step)
    assert not numpy.passed and "convert NumPy numbers with int(...)" in numpy.message
    as_list = type("AsList", (_Counting,), {"state_dict": lambda self: [self.t]})
    listed = ex.check_warmup_cosine(as_list)
    assert not listed.passed and "must return a dict; it returned list" in listed.message


def test_a_float_where_a_rate_is_asked_for_is_refused_as_a_tensor():
    result = ex.check_warmup_cosine(RatesAsTensors)
    assert not result.passed and "expected a number, got a tensor" in result.message


def test_an_instance_instead_of_the_class_is_refused_with_how_to_pass_it():
    result = ex.check_warmup_cosine(_Counting(1e-3, 1e-4, 2, 10))
    assert not result.passed and "check_warmup_cosine(WarmupCosine)" in result.message


def test_split_decay_accepts_tuples_and_refuses_parameters_for_names():
    def as_tuples(model):
        named = list(model.named_parameters())
        named = [(n, p) for n, p in named if p.requires_grad]
        return tuple(n for n, p in named if p.dim() >= 2), tuple(n for n, p in named if p.dim() < 2)

    assert ex.check_split_decay(as_tuples).passed
    assert not ex.check_split_decay(split_returns_the_parameters).passed


def test_transformers_gemma_rms_norm_and_pytorchs_rms_norm_with_gain_1_plus_weight_pass():
    from transformers.models.gemma.modeling_gemma import GemmaRMSNorm

    def with_gemma(x, weight, eps=1e-6):
        norm = GemmaRMSNorm(x.shape[-1], eps=eps)
        with torch.no_grad():
            norm.weight.copy_(weight)
        return norm(x).detach()

    def with_pytorch(x, weight, eps=1e-6):
        norm = torch.nn.RMSNorm(x.shape[-1], eps=eps)
        with torch.no_grad():
            norm.weight.copy_(1 + weight)
        return norm(x.float()).detach().to(x.dtype)

    assert ex.check_rms_norm(with_gemma).passed
    assert ex.check_rms_norm(with_pytorch).passed


def test_check_rms_norm_rejects_layer_norm_llamas_gain_a_missing_eps_and_float32_output_with_their_hints():
    def layer_norm(x, weight, eps=1e-6):
        return torch.nn.functional.layer_norm(x.float(), x.shape[-1:], 1 + weight, None, eps).to(x.dtype)

    def llama_gain(x, weight, eps=1e-6):
        return torch.nn.functional.rms_norm(x.float(), x.shape[-1:], weight, eps).to(x.dtype)

    def no_eps(x, weight, eps=1e-6):
        h = x.float()
        return (h / h.pow(2).mean(-1, keepdim=True).sqrt() * (1 + weight)).to(x.dtype)

    def float32_out(x, weight, eps=1e-6):
        return torch.nn.functional.rms_norm(x.float(), x.shape[-1:], 1 + weight, eps)

    for wrong, hint in [(layer_norm, "that is LayerNorm"), (llama_gain, "offset from 1"), (no_eps, "there is no eps"),
                        (float32_out, "stays in float32")]:
        result = ex.check_rms_norm(wrong)
        assert not result.passed and hint in (result.mistake or ""), (wrong.__name__, result.message)


def test_check_rms_norm_refuses_a_hard_coded_eps_and_a_numpy_answer():
    def fixed_eps(x, weight, eps=1e-6):
        return torch.nn.functional.rms_norm(x.float(), x.shape[-1:], 1 + weight, 1e-6).to(x.dtype)

    def as_numpy(x, weight, eps=1e-6):
        return torch.nn.functional.rms_norm(x.float(), x.shape[-1:], 1 + weight, eps).numpy()

    fixed = ex.check_rms_norm(fixed_eps)
    assert not fixed.passed and "eps=1.0" in fixed.message
    numpy_answer = ex.check_rms_norm(as_numpy)
    assert not numpy_answer.passed and "expected a tensor" in numpy_answer.message
