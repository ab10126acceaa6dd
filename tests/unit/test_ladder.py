"""The ablation ladder: each rung is the one below with exactly one GPTConfig field changed."""

from dataclasses import asdict

import pytest

from lmcourse.gpt import GPTConfig
from lmcourse.ladder import MODERN_STEPS, climb


def _differing(a: GPTConfig, b: GPTConfig) -> list[str]:
    return [k for k, v in asdict(a).items() if asdict(b)[k] != v]


def test_modern_ladder_changes_one_field_per_rung_from_gpt2_to_llama_style():
    rungs = climb(GPTConfig(bias=True))
    assert [name for name, _ in rungs] == ["GPT-2 block"] + [name for name, _, _ in MODERN_STEPS]
    for (_, below), (_, above), (_, field, value) in zip(rungs, rungs[1:], MODERN_STEPS):
        assert _differing(below, above) == [field] and getattr(above, field) == value
    top = rungs[-1][1]
    assert (top.bias, top.position, top.norm, top.mlp, top.kv_heads) == (False, "rope", "rmsnorm", "swiglu", 2)


def test_base_is_the_first_rung_unchanged_and_custom_steps_are_applied_in_order():
    base = GPTConfig(n_head=4, bias=False)
    rungs = climb(base, [("multi-query", "n_kv_head", 1), ("wider MLP", "d_ff", 600)], base_name="start")
    assert rungs[0] == ("start", base)
    assert rungs[2][1].kv_heads == 1 and rungs[2][1].hidden == 600


def test_a_step_that_changes_nothing_is_refused():
    with pytest.raises(ValueError, match=r"steps\[0\] \('no biases'\) must change bias"):
        climb(GPTConfig(bias=False))


def test_unknown_field_malformed_step_and_non_config_base_are_refused():
    with pytest.raises(ValueError, match="field must be one of GPTConfig's fields"):
        climb(GPTConfig(), [("typo", "n_heads", 2)])
    with pytest.raises(TypeError, match=r"steps\[0\] must be a \(name, field, value\) tuple"):
        climb(GPTConfig(), [("bias", False)])
    with pytest.raises(TypeError, match="base must be a GPTConfig; got dict"):
        climb({"bias": True})


def test_an_invalid_rung_fails_with_gptconfigs_own_message():
    with pytest.raises(ValueError, match="n_kv_head must divide n_head=4"):
        climb(GPTConfig(n_head=4), [("odd kv", "n_kv_head", 3)])
