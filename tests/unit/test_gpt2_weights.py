"""lmcourse.gpt2_weights: a transformers GPT2LMHeadModel's weights in our GPT give the same logits, hidden
states and greedy tokens (offline: a randomly initialised model built from a small GPT2Config)."""

import pytest
import torch

transformers = pytest.importorskip("transformers")
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from lmcourse._checks import ArgumentError  # noqa: E402
from lmcourse.gpt import GPT, GPTConfig  # noqa: E402
from lmcourse.gpt2_weights import config_from_hf, hf_to_ours, load_gpt2, state_dict_from_hf  # noqa: E402

SIZES = dict(n_layer=2, n_head=4, n_embd=32, n_positions=16, vocab_size=50,
             bos_token_id=0, eos_token_id=None, pad_token_id=0)   # no eos: generate() runs every step


@pytest.fixture(autouse=True)
def _quiet_and_seeded():
    hf_logging.set_verbosity_error()
    torch.manual_seed(0)


def _hf(attn="eager", **overrides):
    """A random GPT2LMHeadModel, its weights made larger than the init so the outputs are sharp and varied."""
    config = GPT2Config(**{**SIZES, **overrides})
    config._attn_implementation = attn
    model = GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return model


def _logits(model, idx):
    with torch.no_grad():
        out = model(idx)
    return out.logits if hasattr(out, "logits") else out[0]


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_loaded_gpt_gives_the_logits_of_the_transformers_model(attn):
    hf = _hf(attn)
    ours = load_gpt2(hf)
    idx = torch.randint(0, 50, (3, 16))
    assert not ours.training
    torch.testing.assert_close(_logits(ours, idx), _logits(hf, idx), atol=1e-5, rtol=1e-5)


def test_loaded_gpt_equals_the_transformers_model_in_float64():
    hf = _hf()
    ours = load_gpt2(hf).double()
    idx = torch.randint(0, 50, (2, 16))
    diff = (_logits(ours, idx) - _logits(hf.double(), idx)).abs().max()
    assert diff < 1e-12


def test_hidden_state_after_every_block_equals_the_transformers_model():
    hf = _hf()
    ours = load_gpt2(hf)
    idx = torch.randint(0, 50, (2, 12))
    seen = []
    hooks = [b.register_forward_hook(lambda m, i, o: seen.append(o)) for b in ours.blocks]
    hooks.append(ours.ln_f.register_forward_hook(lambda m, i, o: seen.append(o)))
    with torch.no_grad():
        ours(idx)
        theirs = hf(idx, output_hidden_states=True).hidden_states      # embeddings, blocks 1…L-1, ln_f(block L)
    for h in hooks:
        h.remove()
    # ours: block 0 … block L-1, then ln_f; theirs[1:L] are blocks 0…L-2, theirs[L] is ln_f of the last block
    for got, want in zip(seen[:-2] + seen[-1:], theirs[1:]):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert len(theirs) == len(ours.blocks) + 1


def test_greedy_generation_with_our_cache_equals_transformers_generate():
    hf = _hf()
    ours = load_gpt2(hf)
    prompt = torch.randint(0, 50, (2, 4))
    with torch.no_grad():
        theirs = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=12, do_sample=False)
    cached = ours.generate(prompt, 12, greedy=True)
    uncached = ours.generate(prompt, 12, greedy=True, use_cache=False)
    assert torch.equal(cached, theirs) and torch.equal(uncached, theirs)
    assert len(set(cached[0, 4:].tolist())) > 2                       # not one token repeated: a real test


def test_head_is_tied_to_the_token_embedding_and_equals_transformers_head():
    hf = _hf()
    ours = load_gpt2(hf)
    assert ours.lm_head.weight is ours.wte.weight
    assert torch.equal(ours.lm_head.weight, hf.lm_head.weight)


def test_a_gpt2model_checkpoint_without_prefix_with_old_mask_buffers_loads_the_same():
    hf = _hf()
    body = GPT2Model(hf.config)
    body.load_state_dict(hf.transformer.state_dict())
    sd = dict(body.state_dict())                                      # keys wte.weight, h.0.…, no lm_head
    assert "wte.weight" in sd and not any(k.startswith("transformer.") for k in sd)
    for i in range(hf.config.n_layer):                                # what transformers < 4.30 saved
        sd[f"h.{i}.attn.bias"] = torch.tril(torch.ones(1, 1, 16, 16, dtype=torch.bool))
        sd[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    ours, from_module = load_gpt2(sd, hf.config), load_gpt2(body)
    idx = torch.randint(0, 50, (2, 10))
    torch.testing.assert_close(_logits(ours, idx), _logits(hf, idx), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(_logits(from_module, idx), _logits(hf, idx), atol=1e-5, rtol=1e-5)


def test_float16_checkpoint_loads_exactly_into_float32():
    hf = _hf()
    half = {k: v.half() for k, v in hf.state_dict().items()}
    ours = load_gpt2(half, hf.config)
    assert ours.wte.weight.dtype == torch.float32
    assert torch.equal(ours.blocks[0].mlp.linear1.weight, half["transformer.h.0.mlp.c_fc.weight"].T.float())


def test_the_tanh_gelu_matters_exact_gelu_gives_other_logits():
    hf = _hf()
    idx = torch.randint(0, 50, (2, 16))
    right = load_gpt2(hf)
    wrong = load_gpt2(hf.state_dict(), GPTConfig(**{**vars(right.config), "mlp": "gelu"}))
    assert right.config.mlp == "gelu_tanh"
    assert (_logits(wrong, idx) - _logits(hf, idx)).abs().max() > 1e-4
    torch.testing.assert_close(_logits(right, idx), _logits(hf, idx), atol=1e-5, rtol=1e-5)


def test_the_conv1d_transpose_matters_a_square_matrix_would_load_silently_wrong():
    hf = _hf()
    config = config_from_hf(hf.config)
    mapped = state_dict_from_hf(hf.state_dict(), config)
    mapped["blocks.0.attn.c_proj.weight"] = mapped["blocks.0.attn.c_proj.weight"].T   # C×C: the transpose undone
    silently_wrong = GPT.from_state_dict({k: v.contiguous() for k, v in mapped.items()}, config).eval()
    idx = torch.randint(0, 50, (2, 16))
    assert (_logits(silently_wrong, idx) - _logits(hf, idx)).abs().max() > 1e-3


def test_a_linear_layout_weight_for_a_conv1d_layer_is_named_with_its_shape():
    hf = _hf()
    sd = dict(hf.state_dict())
    sd["transformer.h.1.mlp.c_fc.weight"] = sd["transformer.h.1.mlp.c_fc.weight"].T   # (4C, C): already transposed
    with pytest.raises(ValueError, match=r"h\.1\.mlp\.c_fc\.weight: shape \(128, 32\) as Conv1D \(in, out\), "
                                         r"but our blocks\.1\.mlp\.linear1\.weight needs \(128, 32\) transposed"):
        load_gpt2(sd, hf.config)


def test_config_from_hf_maps_sizes_activation_and_hidden_width():
    c = config_from_hf(GPT2Config(**{**SIZES, "n_inner": 64, "activation_function": "gelu"}))
    assert (c.block_size, c.vocab_size, c.n_layer, c.n_head, c.n_embd) == (16, 50, 2, 4, 32)
    assert (c.mlp, c.d_ff, c.hidden, c.bias, c.position, c.dropout) == ("gelu", 64, 64, True, "learned", 0.0)
    assert config_from_hf({**SIZES, "n_inner": 128}).d_ff is None     # 4·n_embd is the default width
    assert config_from_hf(GPT2Config(**SIZES)).mlp == "gelu_tanh"
    assert config_from_hf(GPT2Config()) == GPTConfig(block_size=1024, vocab_size=50257, n_layer=12, n_head=12,
                                                     n_embd=768, mlp="gelu_tanh")   # GPT-2 small


def test_a_gpt2_with_a_wider_mlp_loads_through_d_ff():
    hf = _hf(n_inner=48)
    ours = load_gpt2(hf)
    idx = torch.randint(0, 50, (1, 16))
    assert ours.config.d_ff == 48
    torch.testing.assert_close(_logits(ours, idx), _logits(hf, idx), atol=1e-5, rtol=1e-5)


def test_hf_to_ours_maps_names_with_or_without_the_prefix():
    assert hf_to_ours("transformer.h.3.mlp.c_fc.weight") == "blocks.3.mlp.linear1.weight"
    assert hf_to_ours("h.3.mlp.c_proj.bias") == "blocks.3.mlp.linear2.bias"
    assert hf_to_ours("transformer.h.0.attn.c_attn.weight") == "blocks.0.attn.c_attn.weight"
    assert hf_to_ours("wpe.weight") == "wpe.embedding.weight"
    assert hf_to_ours("transformer.ln_f.bias") == "ln_f.bias"
    with pytest.raises(KeyError, match="no place in our GPT for the GPT-2 parameter 'h.0.crossattention"):
        hf_to_ours("h.0.crossattention.c_attn.weight")


@pytest.mark.parametrize("overrides, fragment", [
    ({"activation_function": "relu"}, "hf_config.activation_function must be one of"),
    ({"tie_word_embeddings": False}, "hf_config.tie_word_embeddings must be True"),
    ({"layer_norm_epsilon": 1e-6}, "hf_config.layer_norm_epsilon must be 1e-05"),
    ({"scale_attn_weights": False}, "hf_config.scale_attn_weights must be True"),
    ({"scale_attn_by_inverse_layer_idx": True}, "hf_config.scale_attn_by_inverse_layer_idx must be False"),
    ({"reorder_and_upcast_attn": True}, "hf_config.reorder_and_upcast_attn must be False"),
    ({"add_cross_attention": True}, "hf_config.add_cross_attention must be False"),
])
def test_config_from_hf_refuses_what_our_gpt_cannot_compute(overrides, fragment):
    with pytest.raises(ArgumentError, match=fragment):
        config_from_hf(GPT2Config(**{**SIZES, **overrides}))


def test_config_from_hf_refuses_other_models_and_non_configs():
    with pytest.raises(ArgumentError, match="hf_config must be a GPT-2 config .model_type 'gpt2'.; got 'bert'"):
        config_from_hf({**SIZES, "model_type": "bert"})
    with pytest.raises(ArgumentError, match="hf_config must be a transformers GPT2Config .* got int"):
        config_from_hf(3)
    with pytest.raises(ArgumentError, match="hf_config must have GPT-2's sizes; got no n_positions"):
        config_from_hf({"vocab_size": 5, "n_layer": 1, "n_head": 1, "n_embd": 4})


def test_load_gpt2_refuses_what_is_not_a_model_or_a_state_dict():
    with pytest.raises(ArgumentError, match="source must be a transformers GPT2LMHeadModel or a GPT-2 state dict"
                                            ".* got str"):
        load_gpt2("gpt2")
    with pytest.raises(ArgumentError, match="source must be a transformers GPT2LMHeadModel; got Linear"):
        load_gpt2(torch.nn.Linear(2, 2))
    with pytest.raises(ArgumentError, match="config must be given with a state dict"):
        load_gpt2(_hf().state_dict())


def test_untied_head_in_the_state_dict_is_refused():
    hf = _hf()
    sd = dict(hf.state_dict())
    sd["lm_head.weight"] = sd["lm_head.weight"] + 1.0
    with pytest.raises(ValueError, match="lm_head.weight must equal the token embedding transformer.wte.weight"):
        load_gpt2(sd, hf.config)


def test_missing_unknown_and_wrong_shaped_keys_are_all_named_in_one_error():
    hf = _hf()
    sd = dict(hf.state_dict())
    del sd["transformer.h.1.ln_2.bias"]
    sd["transformer.h.0.attn.c_proj.bias"] = torch.zeros(31)
    sd["transformer.h.0.adapter.weight"] = torch.zeros(3)
    with pytest.raises(ValueError) as err:
        load_gpt2(sd, hf.config)
    msg = str(err.value)
    assert msg.startswith("hf_state_dict does not fit GPT-2 with n_layer=2, n_head=4, n_embd=32")
    assert "missing weights for our ['blocks.1.ln_2.bias']" in msg
    assert "transformer.h.0.attn.c_proj.bias: shape (31,), but our blocks.0.attn.c_proj.bias needs (32,)" in msg
    assert "no place in our GPT for the GPT-2 parameter 'transformer.h.0.adapter.weight'" in msg
    assert msg.count("blocks.0.attn.c_proj.bias") == 1                 # a wrong shape is not also 'missing'


def test_a_checkpoint_of_another_size_is_refused():
    sd = _hf().state_dict()
    with pytest.raises(ValueError, match=r"missing weights for our \['blocks\.2\.ln_1\.weight'"):
        load_gpt2(sd, GPT2Config(**{**SIZES, "n_layer": 3}))
    with pytest.raises(ValueError, match=r"transformer\.wte\.weight: shape \(50, 32\), but our wte\.weight needs "
                                         r"\(60, 32\)"):
        load_gpt2(sd, GPT2Config(**{**SIZES, "vocab_size": 60}))


def test_a_key_given_twice_non_tensors_and_integer_weights_are_refused():
    sd = dict(_hf().state_dict())
    config = config_from_hf(GPT2Config(**SIZES))
    with pytest.raises(ValueError, match=r"h\.0\.ln_1\.weight: given twice \(also as transformer\.h\.0\.ln_1"):
        state_dict_from_hf({**sd, "h.0.ln_1.weight": sd["transformer.h.0.ln_1.weight"]}, config)
    with pytest.raises(ValueError, match="transformer.ln_f.bias: a list, not a tensor"):
        state_dict_from_hf({**sd, "transformer.ln_f.bias": [0.0] * 32}, config)
    ints = {k: v.long() for k, v in sd.items()}
    with pytest.raises(ArgumentError, match="hf_state_dict must hold floating-point weights; got torch.int64"):
        load_gpt2(ints, config)


def test_state_dict_from_hf_refuses_a_config_that_is_not_gpt2s_block():
    sd = _hf().state_dict()
    with pytest.raises(ArgumentError, match="config must be a GPTConfig .* got GPT2Config"):
        state_dict_from_hf(sd, GPT2Config(**SIZES))
    rope = GPTConfig(block_size=16, vocab_size=50, n_layer=2, n_head=4, n_embd=32, position="rope")
    with pytest.raises(ArgumentError, match="config must be GPT-2's block .* got {'position': 'rope'}"):
        state_dict_from_hf(sd, rope)
    with pytest.raises(ArgumentError, match="hf_state_dict must be a dict of tensors .* got list"):
        state_dict_from_hf([], config_from_hf(GPT2Config(**SIZES)))
