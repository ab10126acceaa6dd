import random

import numpy as np
import pytest
import torch

import lmcourse
from lmcourse.device import ENV_VAR, environment_summary, pick_device, set_seed


def test_auto_device_is_one_this_machine_has(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    device = pick_device()
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert device.type == expected


def test_cpu_can_always_be_forced(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "cuda")
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv(ENV_VAR, "CPU")
    assert pick_device() == torch.device("cpu")


def test_unknown_device_is_an_error():
    with pytest.raises(ValueError, match=r"prefer must be one of cuda, mps, cpu .*got 'tpu'"):
        pick_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_missing_device_is_an_error_not_a_silent_fallback(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "cuda")
    with pytest.raises(RuntimeError, match="LMCOURSE_DEVICE asks for 'cuda', but this machine has no cuda"):
        pick_device()


def test_set_seed_makes_python_numpy_and_torch_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3).tolist()

    set_seed(123)
    first = draw()
    set_seed(123)
    assert draw() == first
    set_seed(124)
    assert draw() != first


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "0", True, None])
def test_set_seed_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match=r"seed must be an int in \[0, 4294967295\]; got"):
        set_seed(bad)


def test_set_seed_takes_a_numpy_integer_like_an_int():
    set_seed(np.int64(7))
    first = torch.rand(1)
    set_seed(7)
    assert torch.equal(torch.rand(1), first)


def test_environment_summary_is_one_line_with_the_essentials(monkeypatch):
    monkeypatch.setenv("LMCOURSE_PROFILE", "ci")
    line = environment_summary()
    assert "\n" not in line
    for part in (f"lmcourse {lmcourse.__version__}", "profile ci", f"torch {torch.__version__}", "device "):
        assert part in line
