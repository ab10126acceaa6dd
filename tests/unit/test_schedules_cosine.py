"""The warmup + cosine learning-rate schedule: nanoGPT's formula, PyTorch's schedulers, its shape."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lmcourse.schedules import warmup_cosine_lambda, warmup_cosine_schedule


def _nanogpt_lr(it, learning_rate, min_lr, warmup_iters, lr_decay_iters):
    """nanoGPT's get_lr, with the warmup counted from step 0 as (it + 1) / warmup."""
    if it < warmup_iters:
        return learning_rate * (it + 1) / warmup_iters
    if it > lr_decay_iters:
        return min_lr
    ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (learning_rate - min_lr)


def test_warmup_cosine_matches_nanogpts_schedule():
    rate = warmup_cosine_lambda(100, 2000, 0.1)
    for step in [0, 1, 50, 99, 100, 101, 500, 1000, 1999, 2000, 2500]:
        assert 1e-3 * rate(step) == pytest.approx(_nanogpt_lr(step, 1e-3, 1e-4, 100, 2000), rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(warmup=st.integers(0, 50), extra=st.integers(1, 200), min_ratio=st.floats(0, 1))
def test_warmup_cosine_rises_then_never_increases_and_stays_in_range(warmup, extra, min_ratio):
    total = warmup + extra
    rates = [warmup_cosine_lambda(warmup, total, min_ratio)(s) for s in range(total + 5)]
    assert all(0 < r <= 1 for r in rates[:warmup]) and rates[:warmup] == sorted(rates[:warmup])
    assert all(min_ratio - 1e-12 <= r <= 1 + 1e-12 for r in rates[warmup:])
    after = rates[warmup:]
    assert after[0] == pytest.approx(1.0) and all(b <= a + 1e-12 for a, b in zip(after, after[1:]))
    assert rates[-1] == pytest.approx(min_ratio)


def test_warmup_cosine_equals_pytorchs_linear_then_cosine_annealing():
    warmup, total, peak, floor = 10, 60, 1e-3, 1e-4
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=peak)
    sched = torch.optim.lr_scheduler.SequentialLR(opt, [
        torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / warmup, total_iters=warmup - 1),
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup, eta_min=floor)], milestones=[warmup])
    rate = warmup_cosine_lambda(warmup, total, floor / peak)
    for step in range(total):
        assert opt.param_groups[0]["lr"] == pytest.approx(peak * rate(step), rel=1e-9, abs=1e-15)
        opt.step()
        sched.step()


@pytest.mark.parametrize("args, fragment", [
    ((10, 10), "warmup must be < total=10"),
    ((-1, 10), "warmup must be an integer >= 0"),
    ((0, 0), "total must be an integer >= 1"),
    ((1, 10, 2.0), "min_ratio must be in"),
])
def test_bad_schedule_arguments_raise(args, fragment):
    with pytest.raises(ValueError, match=fragment):
        warmup_cosine_lambda(*args)


def test_warmup_cosine_schedule_drives_the_optimizer_and_the_trainer_uses_the_same_rule():
    from lmcourse.train import warmup_cosine_lambda as used_by_train
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = warmup_cosine_schedule(opt, 2, 10, 0.1)
    lrs = []
    for _ in range(12):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.1 * warmup_cosine_lambda(2, 10, 0.1)(s) for s in range(12)])
    assert used_by_train is warmup_cosine_lambda
