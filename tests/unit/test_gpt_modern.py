"""lmcourse.gpt's modern options: grouped-query attention, RMSNorm, SwiGLU, GELU-tanh — each equal to
a reference, and the GPT-2 defaults unchanged."""

import pytest
import torch
import torch.nn.functional as F

from lmcourse import checkpoint
from lmcourse.attention import attention, causal_mask
from lmcourse.gpt import GPT, CausalSelfAttention, GPTConfig, kv_cache_bytes, parameter_count
from lmcourse.transformer import FeedForward, LayerNorm, RMSNorm, SwiGLU, swiglu_hidden

SMALL = dict(block_size=16, vocab_size=11, n_layer=2, n_head=4, n_embd=32)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _sharpen(model):
    with torch.no_grad():          # larger weights than the init, so tests see sharp, varied distributions
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return model.eval()


def _reference_gqa(layer: CausalSelfAttention, x: torch.Tensor) -> torch.Tensor:
    """Grouped-query attention written out: every k/v head copied to the query heads it serves."""
    B, T, C = x.shape
    nh, n_kv, hs = layer.n_head, layer.n_kv_head, C // layer.n_head
    q, k, v = layer.c_attn(x).split((C, n_kv * hs, n_kv * hs), dim=2)
    q = q.view(B, T, nh, hs).transpose(1, 2)
    k, v = (t.view(B, T, n_kv, hs).transpose(1, 2).repeat_interleave(nh // n_kv, dim=1) for t in (k, v))
    y, _ = attention(q, k, v, causal_mask(T, T))
    return layer.c_proj(y.transpose(1, 2).reshape(B, T, C))


@pytest.mark.parametrize("n_kv_head", [1, 2, 4])
def test_grouped_query_attention_equals_the_repeat_interleave_reference(n_kv_head):
    config = GPTConfig(**SMALL, n_kv_head=n_kv_head)
    layer = CausalSelfAttention(config).double()
    x = torch.randn(2, 9, 32, dtype=torch.float64)
    torch.testing.assert_close(layer(x), _reference_gqa(layer, x), rtol=0, atol=1e-12)
    y, w = layer(x, need_weights=True)
    torch.testing.assert_close(y, layer(x), rtol=0, atol=1e-12)
    assert w.shape == (2, 4, 9, 9)


@pytest.mark.parametrize("n_kv_head", [1, 2])
def test_the_layer_uses_sdpas_own_grouped_query_path(n_kv_head):
    layer = CausalSelfAttention(GPTConfig(**SMALL, n_kv_head=n_kv_head)).double()
    x = torch.randn(3, 7, 32, dtype=torch.float64)
    B, T, C = x.shape
    q, k, v = layer.c_attn(x).split((C, n_kv_head * 8, n_kv_head * 8), dim=2)
    q = q.view(B, T, 4, 8).transpose(1, 2)
    k, v = (t.view(B, T, n_kv_head, 8).transpose(1, 2) for t in (k, v))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    torch.testing.assert_close(layer(x), layer.c_proj(y.transpose(1, 2).reshape(B, T, C)), rtol=0, atol=1e-12)


def test_gqa_equals_multi_head_attention_whose_grouped_heads_share_their_keys_and_values():
    """MHA whose k/v heads are equal within each group computes exactly what GQA computes."""
    gqa = CausalSelfAttention(GPTConfig(**SMALL, n_kv_head=2)).double()
    mha = CausalSelfAttention(GPTConfig(**SMALL)).double()
    C, hs = 32, 8
    with torch.no_grad():
        wq, wk, wv = gqa.c_attn.weight.split((C, 2 * hs, 2 * hs))
        bq, bk, bv = gqa.c_attn.bias.split((C, 2 * hs, 2 * hs))
        grow = lambda t: t.view(2, hs, *t.shape[1:]).repeat_interleave(2, dim=0).reshape(C, *t.shape[1:])  # noqa: E731
        mha.c_attn.weight.copy_(torch.cat((wq, grow(wk), grow(wv))))
        mha.c_attn.bias.copy_(torch.cat((bq, grow(bk), grow(bv))))
        mha.c_proj.load_state_dict(gqa.c_proj.state_dict())
    x = torch.randn(2, 10, C, dtype=torch.float64)
    torch.testing.assert_close(gqa(x), mha(x), rtol=0, atol=1e-12)


def test_n_kv_head_equal_to_n_head_is_plain_multi_head_attention():
    torch.manual_seed(0)
    plain = GPT(GPTConfig(**SMALL))
    torch.manual_seed(0)
    same = GPT(GPTConfig(**SMALL, n_kv_head=4))
    idx = torch.randint(11, (2, 12))
    assert plain.state_dict().keys() == same.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), same.state_dict().values()))
    assert torch.equal(plain(idx)[0], same(idx)[0])


@pytest.mark.parametrize("n_kv_head", [1, 2])
@pytest.mark.parametrize("position", ["learned", "rope"])
def test_gqa_kv_cache_gives_the_same_tokens_and_logits(n_kv_head, position):
    model = _sharpen(GPT(GPTConfig(**SMALL, n_kv_head=n_kv_head, position=position)))
    prompt = torch.randint(11, (2, 3))
    cached, plain = (model.generate(prompt, 12, greedy=True, use_cache=c) for c in (True, False))
    assert torch.equal(cached, plain)
    idx = torch.randint(11, (2, 10))
    cache = model.new_cache(2)
    with torch.no_grad():
        chunked = [model.next_logits(idx[:, :4], cache)] + [model.next_logits(idx[:, t:t + 1], cache)
                                                            for t in range(4, 10)]
        full = model(idx)[0]
    torch.testing.assert_close(torch.stack(chunked[1:], 1), full[:, 4:], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n_kv_head", [1, 2, 4])
def test_the_cache_holds_only_the_kv_heads_and_its_bytes_are_the_formula(n_kv_head):
    config = GPTConfig(**SMALL, n_kv_head=n_kv_head)
    cache = GPT(config).new_cache(3)
    assert cache.k.shape == (2, 3, n_kv_head, 16, 8)
    got = cache.k.element_size() * (cache.k.numel() + cache.v.numel())
    assert got == kv_cache_bytes(2, 3, 16, n_kv_head, 8, bytes_per_value=4)
    assert kv_cache_bytes(2, 3, 16, 4, 8) == 4 * kv_cache_bytes(2, 3, 16, 1, 8)


def test_a_cache_of_another_kv_width_is_refused():
    model = GPT(GPTConfig(**SMALL, n_kv_head=2))
    wrong = GPT(GPTConfig(**SMALL)).new_cache(1)
    with pytest.raises(ValueError, match=r"n_kv_head.*\(2, 1, 2, 16, 8\)"):
        model.next_logits(torch.zeros(1, 1, dtype=torch.long), wrong)


def test_attention_weights_of_a_gqa_model_reproduce_its_logits():
    model = _sharpen(GPT(GPTConfig(**SMALL, n_kv_head=1)))
    idx = torch.randint(11, (2, 8))
    logits, weights = model.logits_and_attention(idx)
    torch.testing.assert_close(logits, model(idx)[0], rtol=1e-5, atol=1e-5)
    assert weights.shape == (2, 2, 4, 8, 8)


def test_modern_options_build_the_named_layers():
    model = GPT(GPTConfig(**SMALL, norm="rmsnorm", mlp="swiglu", bias=False))
    block = model.blocks[0]
    assert isinstance(block.ln_1, RMSNorm) and isinstance(block.ln_2, RMSNorm) and isinstance(model.ln_f, RMSNorm)
    assert isinstance(block.mlp, SwiGLU) and block.mlp.w1.out_features == swiglu_hidden(32)
    assert all(not name.endswith("bias") for name, _ in model.named_parameters())
    gpt2 = GPT(GPTConfig(**SMALL)).blocks[0]
    assert isinstance(gpt2.ln_1, LayerNorm) and isinstance(gpt2.mlp, FeedForward)
    assert gpt2.mlp.linear1.out_features == 4 * 32


def test_swiglu_residual_projection_gets_gpt2s_scaled_init():
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=16, vocab_size=11, n_layer=8, n_head=4, n_embd=256, mlp="swiglu"))
    std = torch.cat([b.mlp.w2.weight.flatten() for b in model.blocks]).std().item()
    assert std == pytest.approx(0.02 / 4, rel=0.05)          # 0.02 / sqrt(2 · 8)


def test_gelu_tanh_mlp_uses_the_tanh_approximation():
    model = GPT(GPTConfig(**SMALL, mlp="gelu_tanh"))
    x = torch.randn(5, 7)
    torch.testing.assert_close(model.blocks[0].mlp.act(x), F.gelu(x, approximate="tanh"), rtol=0, atol=0)
    assert not torch.allclose(F.gelu(x, approximate="tanh"), F.gelu(x), rtol=0, atol=1e-6)


CONFIGS = [dict(), dict(n_kv_head=1), dict(n_kv_head=2, bias=False), dict(norm="rmsnorm"),
           dict(norm="rmsnorm", bias=False), dict(mlp="swiglu"), dict(mlp="swiglu", bias=False, d_ff=40),
           dict(mlp="gelu_tanh", d_ff=50), dict(position="rope", norm="rmsnorm", mlp="swiglu", bias=False, n_kv_head=2)]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "gpt2")
def test_parameter_count_formula_matches_every_modern_option(kwargs):
    config = GPTConfig(**SMALL, **kwargs)
    assert parameter_count(config) == sum(p.numel() for p in GPT(config).parameters())


def test_swiglu_with_matched_width_is_within_one_percent_of_the_gelu_mlp():
    gelu, swiglu = GPTConfig(n_embd=128, bias=False), GPTConfig(n_embd=128, bias=False, mlp="swiglu")
    assert abs(parameter_count(swiglu) / parameter_count(gelu) - 1) < 0.01


def test_a_gpt2_config_prints_as_before_and_a_modern_one_shows_its_changes():
    assert repr(GPTConfig()) == ("GPTConfig(block_size=64, vocab_size=65, n_layer=4, n_head=4, n_embd=128, "
                                 "dropout=0.0, bias=True, position='learned')")
    modern = repr(GPTConfig(norm="rmsnorm", mlp="swiglu", n_kv_head=2))
    assert modern.endswith("position='learned', norm='rmsnorm', mlp='swiglu', n_kv_head=2)")


def test_a_checkpoint_saved_before_the_modern_fields_existed_still_matches(tmp_path):
    model = GPT(GPTConfig(**SMALL))
    old = {k: v for k, v in vars(GPTConfig(**SMALL)).items() if k not in ("norm", "mlp", "d_ff", "n_kv_head")}
    checkpoint.check_config({"config": old}, GPTConfig(**SMALL))              # defaults fill the missing fields
    with pytest.raises(ValueError, match=r"n_kv_head=None/2"):
        checkpoint.check_config({"config": old}, GPTConfig(**SMALL, n_kv_head=2))
    checkpoint.save_checkpoint(tmp_path / "ck", model, step=1, config=GPTConfig(**SMALL))
    with pytest.raises(ValueError, match=r"norm='layernorm'/'rmsnorm'"):
        checkpoint.load_checkpoint(tmp_path / "ck", model, config=GPTConfig(**SMALL, norm="rmsnorm"))


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(n_kv_head=3), "n_kv_head must divide n_head=4"),
    (dict(n_kv_head=0), "n_kv_head must be"),
    (dict(n_kv_head=2.0), "n_kv_head must be"),
    (dict(norm="batchnorm"), "norm must be one of"),
    (dict(mlp="relu"), "mlp must be one of"),
    (dict(d_ff=0), "d_ff must be"),
])
def test_bad_modern_settings_are_refused(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        GPTConfig(**SMALL, **kwargs)
