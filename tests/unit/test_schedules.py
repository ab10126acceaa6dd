import math

import pytest
import torch

from lmcourse.schedules import noam_lambda, noam_schedule


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


@pytest.mark.parametrize("kwargs, fragment", [(dict(d_model=0, warmup=10), "d_model must be a positive int"),
                                              (dict(d_model=8, warmup=1.5), "warmup must be a positive int"),
                                              (dict(d_model=8, warmup=10, factor=0), "factor must be > 0")])
def test_noam_rejects_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        noam_lambda(**kwargs)
