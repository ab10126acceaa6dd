"""LoRA: starts equal to the base model, trains only A and B, merges into the same function."""

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from lmcourse.gpt import GPT, GPTConfig
from lmcourse.lora import DEFAULT_TARGETS, LoRALinear, apply_lora, merge_lora, trainable_parameters

CONFIG = GPTConfig(block_size=8, vocab_size=13, n_layer=2, n_head=2, n_embd=16)


def _gpt():
    torch.manual_seed(0)
    return GPT(CONFIG).eval()


@settings(max_examples=25, deadline=None)
@given(inp=st.integers(1, 10), out=st.integers(1, 10), data=st.data())
def test_lora_forward_is_base_plus_scaled_low_rank_update(inp, out, data):
    r = data.draw(st.integers(1, min(inp, out)))
    alpha = data.draw(st.floats(0.5, 32.0))
    torch.manual_seed(inp * 100 + out)
    layer = LoRALinear(nn.Linear(inp, out), r=r, alpha=alpha)
    with torch.no_grad():
        layer.B.normal_()
    x = torch.randn(3, inp)
    expected = layer.base(x) + (alpha / r) * x @ (layer.B @ layer.A).T
    assert torch.allclose(layer(x), expected, atol=1e-5)
    assert torch.allclose(layer.delta_weight(), (alpha / r) * layer.B @ layer.A, atol=1e-5)


def test_fresh_adapter_equals_the_base_model_exactly():
    model, x = _gpt(), torch.randint(0, 13, (2, 8))
    adapted = copy.deepcopy(model)
    apply_lora(adapted, r=2)
    with torch.no_grad():
        assert torch.equal(adapted(x)[0], model(x)[0])


def test_apply_lora_freezes_the_base_and_trains_only_a_and_b():
    model = _gpt()
    names = apply_lora(model, r=2, alpha=4)
    assert len(names) == len(DEFAULT_TARGETS) * CONFIG.n_layer
    trainable, total = trainable_parameters(model)
    C = CONFIG.n_embd
    per_block = 2 * (C + 3 * C) + 2 * (C + C) + 2 * (C + 4 * C) + 2 * (4 * C + C)   # r · (in + out) per matrix
    assert trainable == CONFIG.n_layer * per_block
    assert {n.rsplit(".", 1)[-1] for n, p in model.named_parameters() if p.requires_grad} == {"A", "B"}
    assert total == sum(p.numel() for p in _gpt().parameters()) + trainable


def test_training_moves_only_the_adapters_and_merging_keeps_the_function():
    model, x = _gpt(), torch.randint(0, 13, (4, 8))
    frozen = copy.deepcopy(model.state_dict())
    apply_lora(model, r=2, alpha=4)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(3):
        model(x, x)[1].backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    for name, value in frozen.items():
        key = name.replace(".weight", ".base.weight").replace(".bias", ".base.bias")
        current = dict(model.state_dict()).get(key, dict(model.state_dict()).get(name))
        assert torch.equal(current, value), name
    with torch.no_grad():
        before = model(x)[0]
        merge_lora(model)
        assert torch.allclose(model(x)[0], before, atol=1e-5)
        assert not torch.equal(before, _gpt()(x)[0])
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert isinstance(model.blocks[0].attn.c_attn, nn.Linear)


@pytest.mark.parametrize("r", [0, -1, 9, 2.0, True])
def test_rank_outside_1_to_min_in_out_is_refused(r):
    with pytest.raises(ValueError, match=r"r must be an integer in \[1, min\(in_features, out_features\)=8\]"):
        LoRALinear(nn.Linear(8, 12), r=r)


@pytest.mark.parametrize("alpha", [0, -2.0, "8", float("nan"), float("inf"), True])
def test_alpha_must_be_a_positive_finite_number(alpha):
    with pytest.raises(ValueError, match="alpha must be a finite number > 0; got"):
        LoRALinear(nn.Linear(8, 12), r=2, alpha=alpha)


def test_bad_targets_base_and_merge_are_refused():
    with pytest.raises(ValueError, match="base must be an nn.Linear"):
        LoRALinear(nn.Conv1d(2, 2, 1))
    with pytest.raises(ValueError, match="targets .* match no nn.Linear"):
        apply_lora(_gpt(), targets=("nonexistent",))
    with pytest.raises(ValueError, match="targets must be a non-empty list"):
        apply_lora(_gpt(), targets="c_attn")
    with pytest.raises(ValueError, match="no LoRALinear layers to merge"):
        merge_lora(_gpt())
