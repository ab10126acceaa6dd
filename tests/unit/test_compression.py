"""Compression: int8 matches PyTorch's quantized tensors, masks match torch.nn.utils.prune, the
distillation loss matches its formula, fused models behave, and bad input is refused clearly."""

import copy
import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils import prune

from lmcourse import compression as C
from lmcourse.gpt import GPT, GPTConfig, parameter_count
from lmcourse.transformer import count_parameters

CONFIG = GPTConfig(block_size=8, vocab_size=13, n_layer=2, n_head=2, n_embd=16)


def _gpt(seed=0, config=CONFIG):
    torch.manual_seed(seed)
    return GPT(config).eval()


def _batches(n=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randint(0, 13, (4, 8), generator=g), torch.randint(0, 13, (4, 8), generator=g)) for _ in range(n)]


def _quantize_per_channel_torch(w, scale):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.quantize_per_channel(w, scale.flatten().double(), torch.zeros(len(w), dtype=torch.long), 0,
                                          torch.qint8)


# --- measuring --------------------------------------------------------------------------------

def test_count_parameters_matches_the_gpt_formula_and_can_include_frozen_weights():
    model = _gpt()
    assert count_parameters(model) == count_parameters(model, trainable_only=False) == parameter_count(CONFIG)
    model.wte.weight.requires_grad_(False)
    assert count_parameters(model, trainable_only=False) - count_parameters(model) == model.wte.weight.numel()


def test_size_on_disk_is_four_bytes_per_parameter_plus_a_header():
    model = _gpt()
    size = C.size_on_disk(model)
    assert 4 * count_parameters(model) < size < 4 * count_parameters(model) + 4096


def test_int8_model_is_smaller_on_disk():
    model = _gpt()
    assert C.size_on_disk(C.quantize_linears(model)) < 0.6 * C.size_on_disk(model)


def test_size_on_disk_refuses_quantized_modules_and_names_the_way_out():
    with pytest.raises(ValueError, match="use torch_save_size"):
        C.size_on_disk(C.quantize_dynamic_int8(_gpt()))
    assert C.torch_save_size(C.quantize_dynamic_int8(_gpt())) > 0


def test_size_on_disk_rejects_other_objects():
    with pytest.raises(ValueError, match="model_or_state must be an nn.Module or a state dict"):
        C.size_on_disk([1, 2])


def test_latency_and_throughput_are_positive_and_bad_counts_are_refused():
    model = _gpt()
    assert C.latency_ms(lambda: model(torch.zeros(1, 4, dtype=torch.long)), repeat=2, warmup=0) > 0
    assert C.tokens_per_second(model, torch.zeros(2, 1, dtype=torch.long), 3, repeat=1) > 0
    with pytest.raises(ValueError, match="repeat must be an int >= 1; got 0"):
        C.latency_ms(lambda: None, repeat=0)
    with pytest.raises(ValueError, match="new_tokens must be an int >= 1"):
        C.tokens_per_second(model, torch.zeros(1, 1, dtype=torch.long), 0)


def test_profile_table_lists_the_matrix_products():
    table = C.profile_forward(_gpt(), torch.zeros(2, 8, dtype=torch.long))
    assert "aten::linear" in table and "Self CPU" in table


def test_mean_loss_is_the_average_of_the_models_losses_and_restores_the_mode():
    model, batches = _gpt(), _batches()
    model.train()
    expected = sum(model(x, y)[1].item() for x, y in batches) / len(batches)
    assert C.mean_loss(model, batches) == pytest.approx(expected, rel=1e-6)
    assert model.training
    with pytest.raises(ValueError, match="batches must hold at least one"):
        C.mean_loss(model, [])


def test_forward_ms_runs_under_bf16_autocast_on_the_cpu():
    assert C.forward_ms(_gpt(), torch.zeros(2, 8, dtype=torch.long), autocast_dtype=torch.bfloat16, repeat=1) > 0


# --- quantization -----------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(out=st.integers(1, 12), inp=st.integers(1, 12), seed=st.integers(0, 10_000), spread=st.floats(1e-3, 10.0))
def test_per_channel_int8_equals_torch_quantize_per_channel(out, inp, seed, spread):
    w = torch.randn(out, inp, generator=torch.Generator().manual_seed(seed)) * spread
    q, scale = C.quantize_int8(w)
    assert q.dtype == torch.int8 and scale.shape == (out, 1)
    qt = _quantize_per_channel_torch(w, scale)
    assert torch.equal(qt.int_repr(), q)
    assert torch.allclose(qt.dequantize(), C.dequantize_int8(q, scale))
    assert (C.dequantize_int8(q, scale) - w).abs().le(scale / 2 + 1e-6).all()    # at most half a step away


def test_per_tensor_int8_equals_torch_quantize_per_tensor():
    w = torch.randn(6, 9)
    q, scale = C.quantize_int8(w, per_channel=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qt = torch.quantize_per_tensor(w, scale.item(), 0, torch.qint8)
    assert scale.numel() == 1 and torch.equal(qt.int_repr(), q)


def test_largest_weight_of_each_row_maps_to_127_and_zero_rows_survive():
    w = torch.randn(4, 5)
    w[2] = 0
    q, scale = C.quantize_int8(w)
    assert q.abs().amax(dim=1).tolist() == [127, 127, 0, 127]
    assert scale[2].item() == 1.0 and torch.equal(C.dequantize_int8(q, scale)[2], torch.zeros(5))


def test_pytorch_dynamic_quantization_picks_our_ints_and_scales():
    model = _gpt()
    qmodel = C.quantize_dynamic_int8(model)
    for name, linear in C.block_linears(model):
        qw = qmodel.get_submodule(name).weight()
        q, scale = C.quantize_int8(linear.weight)
        assert torch.equal(qw.int_repr(), q), name
        assert torch.allclose(qw.q_per_channel_scales().float(), scale.flatten()), name


def test_quantized_models_stay_close_to_the_float_model():
    model, x = _gpt(), torch.randint(0, 13, (2, 8))
    with torch.no_grad():
        ref = model(x)[0]
        for quantized in (C.quantize_linears(model), C.quantize_dynamic_int8(model)):
            assert (quantized(x)[0] - ref).abs().max() < 0.05


def test_int8_linear_equals_a_float_linear_with_dequantized_weights():
    linear = nn.Linear(7, 5)
    int8 = C.Int8Linear.from_linear(linear)
    q, scale = C.quantize_int8(linear.weight)
    x = torch.randn(3, 7)
    assert torch.allclose(int8(x), F.linear(x, q.float() * scale, linear.bias), atol=1e-6)
    assert int8.weight_int8.dtype == torch.int8 and "per-channel" in repr(int8)


def test_quantize_linears_leaves_the_original_and_the_embeddings_alone():
    model = _gpt()
    quantized = C.quantize_linears(model)
    assert isinstance(model.blocks[0].attn.c_attn, nn.Linear)
    assert isinstance(quantized.blocks[0].attn.c_attn, C.Int8Linear)
    assert quantized.lm_head.weight is quantized.wte.weight


@pytest.mark.parametrize("bits", [4, 16, True, "8"])
def test_bits_other_than_8_are_refused(bits):
    with pytest.raises(ValueError, match="bits must be 8"):
        C.quantize_int8(torch.randn(2, 2), bits=bits)
    with pytest.raises(ValueError, match="bits must be 8"):
        C.quantize_linears(_gpt(), bits=bits)


@pytest.mark.parametrize("weight", [torch.randn(3), torch.randn(2, 2, 2), torch.ones(2, 2, dtype=torch.long), [1.0]])
def test_quantize_refuses_weights_that_are_not_2d_float_tensors(weight):
    with pytest.raises(ValueError,
                       match=r"weight must be (a 2-d tensor \(out, in\)|a floating-point tensor|a torch.Tensor)"):
        C.quantize_int8(weight)


def test_dequantize_refuses_non_int8():
    with pytest.raises(ValueError, match="q must be a torch.int8 tensor"):
        C.dequantize_int8(torch.ones(2, 2), torch.ones(2, 1))


# --- pruning ----------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 60), sparsity=st.floats(0.0, 0.99), seed=st.integers(0, 10_000))
def test_magnitude_mask_equals_prune_l1_unstructured(n, sparsity, seed):
    linear = nn.Linear(n, 3)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(3, n, generator=torch.Generator().manual_seed(seed)))
    mask = C.magnitude_mask(linear.weight, sparsity)
    prune.l1_unstructured(linear, "weight", amount=sparsity)
    assert torch.equal(mask, linear.weight_mask.bool())


def test_prune_magnitude_reaches_the_sparsity_and_keeps_the_mask_through_training():
    model = C.prune_magnitude(_gpt(), 0.7)
    assert C.sparsity(model) == pytest.approx(0.7, abs=0.01)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for x, y in _batches():
        model(x, y)[1].backward()
        opt.step()
        opt.zero_grad()
    assert C.sparsity(model) == pytest.approx(0.7, abs=0.01)
    C.remove_pruning(model)
    assert not any(prune.is_pruned(m) for m in model.modules())
    assert C.sparsity(model) == pytest.approx(0.7, abs=0.01)


def test_prune_magnitude_only_touches_the_chosen_parts():
    model = C.prune_magnitude(_gpt(), 0.5, parts=("mlp",))
    assert C.sparsity(model, parts=("mlp",)) == pytest.approx(0.5, abs=0.01)
    assert C.sparsity(model, parts=("attn",)) == 0


def test_pruning_mlp_neurons_shrinks_the_matrices_and_keeps_the_strongest():
    model = _gpt()
    pruned = C.prune_mlp_neurons(model, 0.25)
    mlp, old = pruned.blocks[0].mlp, model.blocks[0].mlp
    keep = torch.topk(C.neuron_scores(old), 48).indices.sort().values
    assert mlp.linear1.weight.shape == (48, 16) and mlp.linear2.weight.shape == (16, 48)
    assert torch.equal(mlp.linear1.weight, old.linear1.weight[keep])
    assert count_parameters(pruned) == count_parameters(model) - 2 * (16 * 16 + 16 + 16 * 16)


def test_removing_neurons_equals_zeroing_their_rows_and_columns():
    model, x = _gpt(), torch.randint(0, 13, (2, 8))
    pruned = C.prune_mlp_neurons(model, 0.5)
    zeroed = copy.deepcopy(model)
    with torch.no_grad():
        for block in zeroed.blocks:
            drop = torch.topk(C.neuron_scores(block.mlp), 32, largest=False).indices
            block.mlp.linear1.weight[drop] = 0
            block.mlp.linear1.bias[drop] = 0
        assert torch.allclose(pruned(x)[0], zeroed(x)[0], atol=1e-5)


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, True, "half"])
def test_sparsity_outside_0_1_is_refused(bad):
    with pytest.raises(ValueError, match=r"sparsity must be a finite number in \[0, 1\)"):
        C.magnitude_mask(torch.randn(3, 3), bad)
    with pytest.raises(ValueError, match=r"sparsity must be a finite number in \[0, 1\)"):
        C.prune_magnitude(_gpt(), bad)
    with pytest.raises(ValueError, match=r"fraction must be a finite number in \[0, 1\)"):
        C.prune_mlp_neurons(_gpt(), bad)


def test_block_linears_refuses_unknown_parts_and_non_gpts():
    with pytest.raises(ValueError, match="parts must be a non-empty subset"):
        C.block_linears(_gpt(), parts=("ffn",))
    with pytest.raises(ValueError, match="model must have .blocks"):
        C.block_linears(nn.Linear(2, 2))


# --- distillation -----------------------------------------------------------------------------

def test_distillation_loss_matches_the_written_formula():
    torch.manual_seed(0)
    s, t, y = torch.randn(2, 3, 7), torch.randn(2, 3, 7), torch.randint(0, 7, (2, 3))
    T, alpha = 3.0, 0.3
    p = F.softmax(t / T, -1)
    kl = (p * (p.log() - F.log_softmax(s / T, -1))).sum(-1).mean()
    expected = alpha * T * T * kl + (1 - alpha) * F.cross_entropy(s.reshape(-1, 7), y.reshape(-1))
    assert torch.allclose(C.distillation_loss(s, t, y, temperature=T, alpha=alpha), expected, atol=1e-6)


def test_distillation_loss_is_zero_when_student_equals_teacher_and_alpha_is_1():
    logits = torch.randn(4, 9)
    assert C.distillation_loss(logits, logits.clone(), temperature=2.0, alpha=1.0).abs() < 1e-6


def test_t_squared_keeps_the_soft_gradient_the_same_size_at_high_temperature():
    t = torch.randn(64, 10, generator=torch.Generator().manual_seed(0))
    norms = []
    for T in (4.0, 8.0):
        s = torch.randn(64, 10, generator=torch.Generator().manual_seed(1)).requires_grad_()
        C.distillation_loss(s, t, temperature=T, alpha=1.0).backward()
        norms.append(s.grad.norm().item())
    assert norms[0] == pytest.approx(norms[1], rel=0.1)       # without T² the second would be 4× smaller


@pytest.mark.parametrize("kwargs, message", [
    ({"temperature": 0}, "temperature must be a finite number > 0"),
    ({"temperature": -1.0}, "temperature must be a finite number > 0"),
    ({"alpha": 1.5}, r"alpha must be a finite number in \[0, 1\]"),
])
def test_bad_temperature_and_alpha_are_refused(kwargs, message):
    s = torch.randn(2, 5)
    with pytest.raises(ValueError, match=message):
        C.distillation_loss(s, s, torch.zeros(2, dtype=torch.long), **kwargs)
    with pytest.raises(ValueError, match=message):
        C.Distiller(_gpt(), _gpt(), **kwargs)


def test_distillation_loss_refuses_mismatched_logits_and_missing_targets():
    with pytest.raises(ValueError, match="teacher_logits must have the shape of student_logits"):
        C.distillation_loss(torch.randn(2, 5), torch.randn(2, 6), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="targets are needed"):
        C.distillation_loss(torch.randn(2, 5), torch.randn(2, 5), alpha=0.5)


def test_distiller_trains_only_the_student_and_reports_its_plain_loss_in_eval():
    student, teacher = _gpt(0), _gpt(1)
    teacher_state = copy.deepcopy(teacher.state_dict())
    distiller = C.Distiller(student, teacher, temperature=2.0, alpha=0.5)
    assert set(distiller.state_dict()) == {f"student.{k}" for k in student.state_dict()}
    x, y = _batches(1)[0]
    distiller.train()
    logits, loss = distiller(x, y)
    with torch.no_grad():
        expected = C.distillation_loss(student(x)[0], teacher(x)[0], y, temperature=2.0, alpha=0.5)
    assert torch.allclose(loss, expected)
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    distiller.eval()
    assert torch.allclose(distiller(x, y)[1], student(x, y)[1])
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in teacher_state.items())


# --- fusion -----------------------------------------------------------------------------------

def test_ensemble_of_identical_models_equals_the_model():
    model, (x, y) = _gpt(), _batches(1)[0]
    ens = C.ProbabilityEnsemble([model, copy.deepcopy(model)])
    with torch.no_grad():
        logits, loss = ens(x, y)
        assert torch.allclose(loss, model(x, y)[1], atol=1e-5)
        assert torch.allclose(logits.exp().sum(-1), torch.ones(4, 8), atol=1e-5)


def test_ensemble_averages_probabilities():
    a, b, x = _gpt(0), _gpt(1), torch.randint(0, 13, (2, 8))
    with torch.no_grad():
        expected = (F.softmax(a(x)[0], -1) + F.softmax(b(x)[0], -1)) / 2
        assert torch.allclose(C.ProbabilityEnsemble([a, b])(x)[0].exp(), expected, atol=1e-6)


def test_average_weights_is_the_mean_of_the_parameters():
    a, b = _gpt(0), _gpt(1)
    avg = C.average_weights([a, b])
    assert torch.allclose(avg.blocks[0].attn.c_attn.weight,
                          (a.blocks[0].attn.c_attn.weight + b.blocks[0].attn.c_attn.weight) / 2)
    assert avg.lm_head.weight is avg.wte.weight
    same = C.average_weights([a, copy.deepcopy(a)], weights=[0.25, 0.75])
    x = torch.randint(0, 13, (1, 8))
    assert torch.allclose(same(x)[0], a(x)[0], atol=1e-6)


def test_fusion_refuses_bad_input():
    with pytest.raises(ValueError, match="at least 2 models to ensemble"):
        C.ProbabilityEnsemble([_gpt()])
    with pytest.raises(ValueError, match="at least 2 models to average"):
        C.average_weights([_gpt()])
    with pytest.raises(ValueError, match="weights must be 2 non-negative numbers summing to 1"):
        C.average_weights([_gpt(), _gpt()], weights=[0.5, 0.6])
    other = GPT(GPTConfig(block_size=8, vocab_size=13, n_layer=1, n_head=2, n_embd=16))
    with pytest.raises(ValueError, match="models must share one architecture"):
        C.average_weights([_gpt(), other])


# --- fewer bits: 4-bit groups and activation outliers --------------------------------------------

def test_groupwise_at_8_bits_and_one_group_per_row_is_per_channel_int8():
    w = torch.randn(12, 16, generator=torch.Generator().manual_seed(0))
    q, scale = C.quantize_groupwise(w, bits=8, group_size=None)
    q8, s8 = C.quantize_int8(w)
    assert torch.equal(q, q8) and torch.allclose(scale.reshape(-1, 1), s8)


@settings(max_examples=20, deadline=None)
@given(group=st.sampled_from([4, 8, 16]), bits=st.sampled_from([3, 4, 5]), seed=st.integers(0, 1000))
def test_groupwise_ints_equal_torch_quantize_per_channel_on_the_groups(group, bits, seed):
    w = torch.randn(6, 16, generator=torch.Generator().manual_seed(seed))
    q, scale = C.quantize_groupwise(w, bits=bits, group_size=group)
    groups = w.reshape(-1, group)                                           # one row per group
    qt = _quantize_per_channel_torch(groups, scale.reshape(-1, 1))
    assert torch.equal(qt.int_repr().reshape(6, 16), q)
    assert q.abs().max() <= 2 ** (bits - 1) - 1
    assert torch.allclose(C.dequantize_groupwise(q, scale), qt.dequantize().reshape(6, 16).float())


def test_smaller_groups_give_smaller_4_bit_errors_and_cost_more_bits():
    w = torch.randn(32, 64, generator=torch.Generator().manual_seed(1))
    errors = [(C.dequantize_groupwise(*C.quantize_groupwise(w, group_size=g)) - w).norm() for g in (None, 32, 8)]
    assert errors[0] > errors[1] > errors[2]
    assert C.bits_per_weight(4, 32) == 4.5 and C.bits_per_weight(4, 128) == 4.125


def test_quantize_weights_groupwise_leaves_the_original_and_stays_close_at_8_bits():
    model, batches = _gpt(), _batches()
    q8 = C.quantize_weights_groupwise(model, bits=8, group_size=8)
    assert torch.equal(model.blocks[0].mlp.linear1.weight, _gpt().blocks[0].mlp.linear1.weight)
    assert abs(C.mean_loss(q8, batches) - C.mean_loss(model, batches)) < 1e-3
    coarse = C.quantize_weights_groupwise(model, bits=2, group_size=None)
    assert C.mean_loss(coarse, batches) != C.mean_loss(model, batches)


def test_int8_roundtrip_per_tensor_equals_torch_quantize_per_tensor():
    x = torch.randn(10, 7, generator=torch.Generator().manual_seed(2))
    scale = x.abs().max().item() / 127
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = torch.quantize_per_tensor(x, scale, 0, torch.qint8).dequantize()
    assert torch.allclose(C.int8_roundtrip(x), expected, atol=1e-7)
    per_row = C.int8_roundtrip(x, per="row")
    assert torch.allclose(per_row.abs().amax(dim=1), x.abs().amax(dim=1))


def _with_outlier(seed=3):
    g = torch.Generator().manual_seed(seed)
    x, w = torch.randn(64, 32, generator=g), torch.randn(24, 32, generator=g) * 0.1
    x[:, 5] *= 50
    return x, w


def test_llm_int8_keeps_outlier_channels_in_float_and_beats_per_tensor_int8():
    x, w = _with_outlier()
    assert C.outlier_channels(x).tolist() == [5]
    y = x @ w.T
    err = {name: (yh - y).norm() / y.norm() for name, yh in (
        ("tensor", C.int8_matmul(x, w)), ("llm.int8", C.llm_int8_matmul(x, w)), ("smooth", C.smoothquant_matmul(x, w)))}
    assert err["llm.int8"] < err["tensor"] / 5 and err["smooth"] < err["tensor"]
    assert torch.allclose(C.llm_int8_matmul(x, w, threshold=1e-6), y, atol=1e-5)          # all channels in float
    clean = torch.randn(64, 32, generator=torch.Generator().manual_seed(4)).clamp(-5, 5)
    assert torch.equal(C.llm_int8_matmul(clean, w), C.int8_matmul(clean, w, x_per="row"))  # no outliers: all int8


def test_smoothing_alone_leaves_the_product_unchanged():
    x, w = _with_outlier()
    s = C.smoothquant_scales(x, w, alpha=0.5)
    assert s.shape == (32,) and s[5] == s.max()
    assert torch.allclose((x / s) @ (w * s).T, x @ w.T, rtol=1e-4, atol=1e-4)


def _plant_outlier(model, channel, factor):
    """Scale one LayerNorm channel up and the next layer's input column down: the same function."""
    model = copy.deepcopy(model)
    with torch.no_grad():
        for block in model.blocks:
            for ln, lin in ((block.ln_1, block.attn.c_attn), (block.ln_2, block.mlp.linear1)):
                ln.weight[channel] *= factor
                if getattr(ln, "bias", None) is not None:
                    ln.bias[channel] *= factor
                lin.weight[:, channel] /= factor
    return model


def test_activation_schemes_on_a_gpt_with_a_planted_outlier_channel():
    model, batches = _gpt(), _batches()
    planted = _plant_outlier(model, 3, 100.0)
    assert abs(C.mean_loss(planted, batches) - C.mean_loss(model, batches)) < 1e-4
    loss = {s: C.mean_loss(C.quantize_activations(planted, s), batches) for s in C.Int8ActivationLinear.SCHEMES}
    base = C.mean_loss(planted, batches)
    assert abs(loss["llm.int8"] - base) < abs(loss["tensor"] - base)
    assert abs(loss["smoothquant"] - base) < abs(loss["tensor"] - base)
    wrapped = C.quantize_activations(model, "token").blocks[0].mlp.linear1
    assert isinstance(wrapped, C.Int8ActivationLinear) and "scheme=token" in repr(wrapped)


@pytest.mark.parametrize("call, message", [
    (lambda: C.quantize_groupwise(torch.randn(4, 8), bits=1), "bits must be an int in \\[2, 8\\]"),
    (lambda: C.quantize_groupwise(torch.randn(4, 8), group_size=3), "group_size must divide in_features=8"),
    (lambda: C.quantize_groupwise(torch.randn(4, 8), group_size=0), "group_size must be an int >= 1"),
    (lambda: C.quantize_groupwise(torch.randn(8), group_size=4), r"weight must be a 2-d tensor \(out, in\)"),
    (lambda: C.dequantize_groupwise(torch.zeros(4, 8, dtype=torch.int8), torch.ones(4, 3, 1)), "scale must be"),
    (lambda: C.int8_roundtrip(torch.randn(3, 4), per="column"), r"per must be one of \('tensor', 'row'\)"),
    (lambda: C.outlier_channels(torch.randn(3, 4), threshold=0), "threshold must be a finite number > 0"),
    (lambda: C.smoothquant_scales(torch.randn(3, 4), torch.randn(2, 4), alpha=2), "alpha must be a finite number in"),
    (lambda: C.llm_int8_matmul(torch.randn(3, 5), torch.randn(2, 4)), "x must be \\(tokens, 4\\)"),
    (lambda: C.Int8ActivationLinear(nn.Linear(4, 2), "int4"), "scheme must be one of \\('tensor', 'token'"),
])
def test_low_bit_functions_refuse_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


_NAN = float("nan")


def _with(x, i, value):
    x = x.clone()
    x.view(-1)[i] = value
    return x


@pytest.mark.parametrize("call, message", [
    (lambda: C.quantize_int8(_with(torch.randn(3, 4), 5, _NAN)),
     "weight must be finite \\(no NaN or inf\\); got 1 non-finite value"),
    (lambda: C.quantize_int8(_with(torch.randn(3, 4), 0, float("inf"))), "weight must be finite"),
    (lambda: C.quantize_groupwise(_with(torch.randn(4, 8), 3, _NAN), group_size=4), "weight must be finite"),
    (lambda: C.dequantize_int8(torch.zeros(2, 2, dtype=torch.int8), torch.tensor([[_NAN], [1.0]])),
     "scale must be finite"),
    (lambda: C.dequantize_groupwise(torch.zeros(4, 8, dtype=torch.int8), torch.full((4, 2, 1), _NAN)),
     "scale must be finite"),
    (lambda: C.llm_int8_matmul(torch.randn(3, 4), _with(torch.randn(2, 4), 1, _NAN)), "weight must be finite"),
    (lambda: C.smoothquant_scales(torch.randn(3, 4), torch.randn(2, 4), alpha=_NAN),
     "alpha must be a finite number in"),
    (lambda: C.outlier_channels(torch.randn(3, 4), threshold=float("inf")),
     "threshold must be a finite number > 0; got inf"),
    (lambda: C.quantize_groupwise(torch.randn(4, 8), bits=4.0), "bits must be an int in \\[2, 8\\]; got 4.0"),
    (lambda: C.quantize_groupwise(torch.randn(4, 8), group_size=True), "group_size must be an int >= 1; got True"),
    (lambda: C.bits_per_weight(4, 32, scale_bits=_NAN), "scale_bits must be a finite number >= 0; got nan"),
    (lambda: C.Int8ActivationLinear(nn.Linear(4, 2), "llm.int8", threshold=_NAN),
     "threshold must be a finite number > 0"),
    (lambda: C.magnitude_mask(torch.randn(4), _NAN), r"sparsity must be a finite number in \[0, 1\); got nan"),
    (lambda: C.distillation_loss(torch.randn(2, 5), torch.randn(2, 5), torch.zeros(2, dtype=torch.long),
                                 temperature=float("inf")), "temperature must be a finite number > 0; got inf"),
])
def test_nan_and_inf_are_refused_before_they_reach_a_scale(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_model_with_a_nan_weight_cannot_be_quantized():
    model = _gpt()
    with torch.no_grad():
        model.blocks[0].mlp.linear1.weight[0, 0] = _NAN
    with pytest.raises(ValueError, match="weight must be finite"):
        C.quantize_linears(model)
    with pytest.raises(ValueError, match="weight must be finite"):
        C.quantize_weights_groupwise(model, group_size=8)


@pytest.mark.parametrize("weights, message", [
    ([_NAN, 1.0], r"weights\[0\] must be a finite number >= 0; got nan"),
    ([0.5, float("inf")], r"weights\[1\] must be a finite number >= 0; got inf"),
    ([1.5, -0.5], r"weights\[1\] must be a finite number >= 0; got -0.5"),
    ([True, 0.0], r"weights\[0\] must be a finite number >= 0; got True"),
])
def test_average_weights_refuses_nan_inf_and_negative_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        C.average_weights([_gpt(), _gpt()], weights)
