"""lmcourse.seeds: repeat an experiment over seeds, mean ± sd, and paired differences."""

import math
import random

import numpy as np
import pytest
import torch

from lmcourse.seeds import Difference, Spread, paired, repeat


def test_repeat_reports_mean_and_sample_sd():
    s = repeat(lambda seed: [1.0, 2.0, 4.0][seed], seeds=(0, 1, 2))
    assert s.seeds == (0, 1, 2) and s.values == (1.0, 2.0, 4.0)
    assert s.mean == pytest.approx(np.mean([1, 2, 4]))
    assert s.sd == pytest.approx(np.std([1, 2, 4], ddof=1))
    assert str(s) == f"{np.mean([1, 2, 4]):.3f} ± {np.std([1, 2, 4], ddof=1):.3f} (n=3)"


def test_repeat_reseeds_every_generator_before_each_call():
    draws = repeat(lambda seed: torch.rand(()).item() + random.random() + np.random.rand(), seeds=(5, 6))
    again = repeat(lambda seed: torch.rand(()).item() + random.random() + np.random.rand(), seeds=(5, 6))
    assert draws.values == again.values
    assert draws.values[0] != draws.values[1]


def test_repeat_with_a_dict_gives_one_spread_per_key():
    out = repeat(lambda seed: {"loss": 2.0 + seed, "acc": torch.tensor(0.5)}, seeds=(0, 1))
    assert set(out) == {"loss", "acc"}
    assert out["loss"].values == (2.0, 3.0) and out["acc"].values == (0.5, 0.5)


def test_paired_difference_is_far_tighter_than_the_two_spreads():
    # seed-to-seed noise is shared; the setting's effect is a steady -0.05
    a = repeat(lambda seed: 2.0 + 0.3 * math.sin(seed), seeds=(0, 1, 2, 3))
    b = repeat(lambda seed: 1.95 + 0.3 * math.sin(seed), seeds=(0, 1, 2, 3))
    d = paired(a, b, labels=("old", "new"))
    assert isinstance(d, Difference)
    assert d.mean == pytest.approx(-0.05) and d.sd == pytest.approx(0.0, abs=1e-12)
    assert a.sd > 0.1 and b.sd > 0.1
    assert d.n_negative == 4 and d.n_positive == 0
    assert str(d) == "new − old = -0.050 ± 0.000 (n=4; new < old on 4 of 4 seeds)"


def test_interval_uses_student_t():
    s = Spread((0, 1, 2), (1.0, 2.0, 3.0))
    lo, hi = s.interval(0.95)
    assert (lo + hi) / 2 == pytest.approx(2.0)
    assert hi - lo == pytest.approx(2 * 4.302653 * 1.0 / math.sqrt(3), rel=1e-5)


def test_one_run_says_its_spread_is_unknown():
    s = repeat(lambda seed: 1.5, seeds=(7,))
    assert math.isnan(s.sd)
    assert "one run" in str(s)


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        (dict(fn=lambda s: 1.0, seeds=()), ValueError, "seeds must name at least one seed"),
        (dict(fn=lambda s: 1.0, seeds=(1, 1)), ValueError, "seeds must be distinct"),
        (dict(fn=lambda s: 1.0, seeds=(0.5,)), TypeError, "seeds must be integers"),
        (dict(fn=lambda s: "2.0", seeds=(0,)), TypeError, "fn(0) must be a real number; got str"),
        (dict(fn=lambda s: torch.ones(2), seeds=(0,)), TypeError, "must be a real number; got Tensor"),
        (dict(fn=lambda s: {"a": 1.0} if s == 0 else {"b": 1.0}, seeds=(0, 1)), ValueError, "same keys for every seed"),
        (dict(fn=3, seeds=(0,)), TypeError, "fn must be callable"),
    ],
)
def test_repeat_refuses_bad_input(kwargs, error, fragment):
    with pytest.raises(error) as info:
        repeat(**kwargs)
    assert fragment in str(info.value)


def test_paired_refuses_different_seeds_and_non_spreads():
    a = Spread((0, 1), (1.0, 2.0))
    with pytest.raises(ValueError, match="same seeds"):
        paired(a, Spread((0, 2), (1.0, 2.0)))
    with pytest.raises(TypeError, match="b must be a Spread"):
        paired(a, [1.0, 2.0])
