import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lmcourse.schedules import noam_lambda, noam_schedule, warmup_cosine_lambda, warmup_cosine_schedule


def test_noam_rises_linearly_then_decays_as_inverse_square_root():
    rate = noam_lambda(d_model=512, warmup=4000)
    assert rate(999) == pytest.approx(rate(0) * 1000)
    assert max(range(10_000), key=rate) == 3999                      # the peak is at step s = warmup
    assert rate(4 * 4000 - 1) == pytest.approx(rate(4000 - 1) / 2)   # 4x later, half the rate
    assert rate(3999) == pytest.approx(1 / math.sqrt(512 * 4000))


def test_noam_schedule_sets_the_optimizer_learning_rate():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = noam_schedule(opt, d_model=64, warmup=10, factor=2.0)
    rate = noam_lambda(64, 10, 2.0)
    for step in range(30):
        assert opt.param_groups[0]["lr"] == pytest.approx(rate(step))
        opt.step()
        sched.step()


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(d_model=0, warmup=10), "d_model must be an int >= 1; got 0"),
    (dict(d_model=8, warmup=1.5), "warmup must be an int >= 1; got 1.5"),
    (dict(d_model=8, warmup=10, factor=0), "factor must be a finite number > 0"),
    (dict(d_model=8, warmup=10, factor=float("nan")), "factor must be a finite number > 0; got nan"),
])
def test_noam_rejects_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        noam_lambda(**kwargs)


# --- warmup + cosine (notebook 10): nanoGPT's formula, PyTorch's schedulers, its shape -------------


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
    ((-1, 10), "warmup must be an int >= 0; got -1"),
    ((0, 0), "total must be an int >= 1; got 0"),
    ((0, 10.0), "total must be an int >= 1; got 10.0"),
    ((1, 10, 2.0), r"min_ratio must be a finite number in \[0, 1\]; got 2.0"),
    ((1, 10, float("nan")), "min_ratio must be a finite number in"),
])
def test_bad_schedule_arguments_raise(args, fragment):
    with pytest.raises(ValueError, match=fragment):
        warmup_cosine_lambda(*args)


def test_warmup_cosine_schedule_drives_the_optimizer_and_the_trainer_uses_it():
    from lmcourse.train import TrainConfig, make_scheduler

    expected = [0.1 * warmup_cosine_lambda(2, 10, 0.1)(s) for s in range(12)]
    for build in (lambda opt: warmup_cosine_schedule(opt, 2, 10, 0.1),
                  lambda opt: make_scheduler(opt, TrainConfig(steps=10, lr=0.1, min_lr=0.01, schedule="cosine",
                                                              warmup_steps=2))):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        sched = build(opt)
        lrs = []
        for _ in range(12):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        assert lrs == pytest.approx(expected, rel=1e-12)
