"""lmcourse.gpt: a causal, weight-tied GPT whose cached decoding equals plain decoding."""

import math

import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from lmcourse.attention import MultiHeadAttention
from lmcourse.gpt import GPT, Block, CausalSelfAttention, GPTConfig, KVCache, parameter_count
from lmcourse.transformer import count_parameters

SMALL = GPTConfig(block_size=16, vocab_size=11, n_layer=2, n_head=2, n_embd=16)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = GPT(SMALL)
    with torch.no_grad():          # larger weights than the init, so tests see sharp, varied distributions
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return m.eval()


@settings(max_examples=25, deadline=None)
@given(t=st.integers(2, 16), changed=st.integers(0, 15), new_token=st.integers(0, 10), seed=st.integers(0, 999))
def test_changing_a_future_token_never_changes_earlier_logits(model, t, changed, new_token, seed):
    changed = changed % t
    idx = torch.randint(11, (2, t), generator=torch.Generator().manual_seed(seed))
    other = idx.clone()
    other[:, changed] = new_token
    with torch.no_grad():
        a, _ = model(idx)
        b, _ = model(other)
    assert torch.allclose(a[:, :changed], b[:, :changed], atol=1e-5)


def test_later_logits_do_depend_on_earlier_tokens(model):
    idx = torch.randint(11, (1, 8))
    other = idx.clone()
    other[0, 0] = (idx[0, 0] + 1) % 11
    with torch.no_grad():
        assert not torch.allclose(model(idx)[0][:, -1], model(other)[0][:, -1])


@pytest.mark.parametrize("prompt_len, new", [(1, 15), (5, 11), (3, 30)])   # the last one outgrows block_size
def test_kv_cache_gives_the_same_tokens_greedy(model, prompt_len, new):
    idx = torch.randint(11, (3, prompt_len))
    cached = model.generate(idx, new, greedy=True, use_cache=True)
    plain = model.generate(idx, new, greedy=True, use_cache=False)
    assert cached.shape == (3, prompt_len + new) and torch.equal(cached, plain)


@pytest.mark.parametrize("kwargs", [{}, {"temperature": 0.8, "top_k": 5}, {"temperature": 1.3, "top_p": 0.9}])
def test_kv_cache_gives_the_same_tokens_with_seeded_sampling(model, kwargs):
    idx = torch.randint(11, (4, 3))
    cached = model.generate(idx, 13, generator=torch.Generator().manual_seed(5), **kwargs)
    plain = model.generate(idx, 13, generator=torch.Generator().manual_seed(5), use_cache=False, **kwargs)
    assert torch.equal(cached, plain)


def test_cached_logits_match_a_full_forward_pass_step_by_step_and_in_chunks(model):
    idx = torch.randint(11, (2, 12))
    with torch.no_grad():
        full, _ = model(idx)
        cache = model.new_cache(2)
        steps = [model.next_logits(idx[:, i:i + 1], cache) for i in range(12)]
        chunked = model.new_cache(2)
        model.next_logits(idx[:, :5], chunked)
        last = model.next_logits(idx[:, 5:12], chunked)          # a 7-token chunk after a cached prefix
    assert torch.allclose(torch.stack(steps, 1), full, atol=1e-5)
    assert torch.allclose(last, full[:, -1], atol=1e-5) and cache.length == chunked.length == 12


def test_a_full_cache_refuses_one_more_token_naming_both_numbers(model):
    cache = model.new_cache(1)
    model.next_logits(torch.zeros(1, 16, dtype=torch.long), cache)
    with pytest.raises(ValueError, match=r"sequence length 17 \(16 cached \+ 1 new\) is longer than block_size=16"):
        model.next_logits(torch.zeros(1, 1, dtype=torch.long), cache)
    assert cache.length == 16


@pytest.mark.parametrize("cache, fragment", [
    (KVCache(SMALL, 3), "cache must be of shape (n_layer, B, n_kv_head, block_size, head_dim) = (2, 2, 2, 16, 8) "
                        "for idx (2, 4); got (2, 3, 2, 16, 8)"),
    (KVCache(GPTConfig(block_size=16, vocab_size=11, n_layer=2, n_head=4, n_embd=16), 2), "got (2, 2, 4, 16, 4)"),
    (KVCache(GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16), 2), "got (2, 2, 2, 8, 8)"),
    (KVCache(GPTConfig(block_size=16, vocab_size=11, n_layer=3, n_head=2, n_embd=16), 2), "got (3, 2, 2, 16, 8)"),
    ({"k": None}, "cache must be a KVCache"),
], ids=["batch size", "head count", "length", "layers", "not a cache"])
def test_a_cache_that_does_not_fit_the_model_or_batch_is_refused(model, cache, fragment):
    with pytest.raises(ValueError) as err:
        model.next_logits(torch.zeros(2, 4, dtype=torch.long), cache)
    assert fragment in str(err.value)


def test_a_cache_needs_a_positive_batch_size(model):
    with pytest.raises(ValueError, match="batch_size must be an int >= 1; got 0"):
        model.new_cache(0)


def test_output_head_is_tied_to_the_token_embedding(model):
    assert model.lm_head.weight is model.wte.weight
    m = GPT(SMALL)
    _, loss = m(torch.randint(11, (2, 8)), torch.randint(11, (2, 8)))
    loss.backward()
    assert m.wte.weight.grad is not None and m.lm_head.weight.grad is m.wte.weight.grad


@pytest.mark.parametrize("config", [
    SMALL, GPTConfig(block_size=64, vocab_size=65, n_layer=4, n_head=4, n_embd=128),
    GPTConfig(block_size=8, vocab_size=50, n_layer=3, n_head=3, n_embd=24, bias=False),
])
def test_parameter_count_formula_matches_the_model(config):
    assert parameter_count(config) == count_parameters(GPT(config))


def test_nanogpt_cpu_config_has_the_known_size():
    assert parameter_count(GPTConfig(block_size=64, vocab_size=65, n_layer=4, n_head=4, n_embd=128)) == 809_856


def test_gpt2_style_init():
    m = GPT(GPTConfig(block_size=32, vocab_size=100, n_layer=8, n_head=4, n_embd=256))
    assert abs(m.wte.weight.std().item() - 0.02) < 0.002
    assert abs(m.blocks[0].attn.c_attn.weight.std().item() - 0.02) < 0.002
    scaled = 0.02 / math.sqrt(2 * 8)
    for block in m.blocks:
        for proj in (block.attn.c_proj, block.mlp.linear2):
            assert abs(proj.weight.std().item() - scaled) < 0.15 * scaled
            assert torch.count_nonzero(proj.bias) == 0


def test_untrained_loss_is_close_to_uniform_guessing():
    m = GPT(GPTConfig(block_size=32, vocab_size=65, n_layer=2, n_head=2, n_embd=32))
    _, loss = m(torch.randint(65, (8, 32)), torch.randint(65, (8, 32)))
    assert abs(loss.item() - math.log(65)) < 0.1


def test_attention_weights_reproduce_the_fast_path(model):
    idx = torch.randint(11, (2, 9))
    weights = model.attention_weights(idx)
    assert weights.shape == (2, 2, 2, 9, 9)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 2, 2, 9), atol=1e-6)
    assert (weights.triu(diagonal=1) == 0).all()                       # nothing from the future
    slow, _ = model.logits_and_attention(idx)
    with torch.no_grad():
        fast, _ = model(idx)
    assert torch.allclose(slow, fast, atol=1e-5)


def test_attention_outputs_with_weights_equal_the_sdpa_outputs():
    attn = CausalSelfAttention(SMALL).eval()
    x = torch.randn(3, 10, 16)
    slow, weights = attn(x, need_weights=True)
    assert torch.allclose(slow, attn(x), atol=1e-6)
    # the weights are the ones the output is built from: recompute it from them and v
    v = attn.c_attn(x).split(16, dim=2)[2].view(3, 10, 2, 8).transpose(1, 2)
    rebuilt = attn.c_proj((weights @ v).transpose(1, 2).reshape(3, 10, 16))
    assert torch.allclose(rebuilt, slow, atol=1e-6)


def test_fused_attention_equals_lmcourse_multihead_attention_with_a_causal_mask():
    ours = CausalSelfAttention(SMALL).eval()
    mha = MultiHeadAttention(16, 2).eval()
    with torch.no_grad():
        projections = (mha.q_proj, mha.k_proj, mha.v_proj)
        for proj, w, b in zip(projections, ours.c_attn.weight.chunk(3), ours.c_attn.bias.chunk(3)):
            proj.weight.copy_(w)
            proj.bias.copy_(b)
        mha.out_proj.load_state_dict(ours.c_proj.state_dict())
    x = torch.randn(2, 7, 16)
    assert torch.allclose(ours(x), mha(x, is_causal=True), atol=1e-6)


def test_block_equals_torch_pre_norm_encoder_layer_with_causal_mask():
    block = Block(SMALL).eval()
    theirs = nn.TransformerEncoderLayer(16, 2, 64, dropout=0.0, activation="gelu", batch_first=True,
                                        norm_first=True).eval()
    with torch.no_grad():
        theirs.self_attn.in_proj_weight.copy_(block.attn.c_attn.weight)
        theirs.self_attn.in_proj_bias.copy_(block.attn.c_attn.bias)
        theirs.self_attn.out_proj.load_state_dict(block.attn.c_proj.state_dict())
        theirs.linear1.load_state_dict(block.mlp.linear1.state_dict())
        theirs.linear2.load_state_dict(block.mlp.linear2.state_dict())
        theirs.norm1.load_state_dict(block.ln_1.state_dict())
        theirs.norm2.load_state_dict(block.ln_2.state_dict())
    x = torch.randn(2, 7, 16)
    blocked = ~torch.ones(7, 7, dtype=torch.bool).tril()               # PyTorch: True = blocked
    with torch.no_grad():
        assert torch.allclose(block(x), theirs(x, src_mask=blocked), atol=1e-5)


def test_loss_is_cross_entropy_and_ignores_minus_one(model):
    idx, targets = torch.randint(11, (2, 6)), torch.randint(11, (2, 6))
    targets[0, :3] = -1
    with torch.no_grad():
        logits, loss = model(idx, targets)
    keep = targets != -1
    expected = nn.functional.cross_entropy(logits[keep], targets[keep])
    assert torch.allclose(loss, expected)


def test_a_tiny_gpt_learns_a_repeating_sequence_with_the_course_trainer():
    from lmcourse.batches import get_batch
    from lmcourse.train import TrainConfig, train
    data = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7] * 40)
    m = GPT(GPTConfig(block_size=8, vocab_size=8, n_layer=1, n_head=2, n_embd=16))
    g = torch.Generator().manual_seed(0)
    batch = lambda: get_batch(data, 8, 8, generator=g)                  # noqa: E731
    history = train(m, batch, batch, TrainConfig(steps=80, lr=1e-2, eval_every=40, eval_batches=2))
    assert history.val_loss[-1] < 0.2 < math.log(8)
    out = m.generate(torch.tensor([[3]]), 6, greedy=True)
    assert out.tolist() == [[3, 4, 5, 6, 7, 0, 1]]


def test_from_state_dict_round_trips(model):
    copy = GPT.from_state_dict(model.state_dict(), SMALL)
    idx = torch.randint(11, (1, 5))
    with torch.no_grad():
        assert torch.equal(copy.eval()(idx)[0], model(idx)[0])


@pytest.mark.parametrize("config, fragment", [
    (GPTConfig(block_size=16, vocab_size=12, n_layer=2, n_head=2, n_embd=16),
     "wte.weight: (11, 16) in the state dict, (12, 16) in the model"),
    (GPTConfig(block_size=16, vocab_size=11, n_layer=3, n_head=2, n_embd=16), "missing keys ['blocks.2."),
    (GPTConfig(block_size=16, vocab_size=11, n_layer=1, n_head=2, n_embd=16), "unexpected keys ['blocks.1."),
    (GPTConfig(block_size=16, vocab_size=11, n_layer=2, n_head=2, n_embd=16, bias=False), "unexpected keys"),
])
def test_state_dict_from_another_config_is_refused(model, config, fragment):
    with pytest.raises(ValueError, match="state_dict does not fit GPTConfig") as err:
        GPT.from_state_dict(model.state_dict(), config)
    assert fragment in str(err.value)


def test_sequence_longer_than_block_size_is_refused(model):
    with pytest.raises(ValueError, match="sequence length 17 is longer than block_size=16"):
        model(torch.zeros(1, 17, dtype=torch.long))


@pytest.mark.parametrize("idx, fragment", [
    (torch.zeros(5, dtype=torch.long), "idx must be a 2-d tensor; got shape (5,)"),
    (torch.zeros(1, 5), "idx must be an integer tensor; got dtype torch.float32"),
    (torch.tensor([[1, -1, 2]]), "idx must be token ids in [0, 11) (the vocabulary size); got ids from -1 to 2"),
    (torch.tensor([[1, 11]]), "idx must be token ids in [0, 11) (the vocabulary size); got ids from 1 to 11"),
    ([[1, 2]], "idx must be a torch.Tensor; got list"),
], ids=["wrong ndim", "float ids", "negative id", "id == vocab_size", "a list"])
@pytest.mark.parametrize("entry", ["forward", "next_logits", "attention_weights", "generate"])
def test_malformed_idx_is_refused_at_every_entry_point(model, idx, fragment, entry):
    call = {"forward": model, "next_logits": model.next_logits, "attention_weights": model.attention_weights,
            "generate": lambda i: model.generate(i, 2)}[entry]
    with pytest.raises(ValueError) as err:
        call(idx)
    assert fragment in str(err.value)


def test_int32_ids_give_the_same_logits_as_long_ids(model):
    idx = torch.randint(11, (2, 6))
    assert torch.equal(model(idx.int())[0], model(idx)[0])


@pytest.mark.parametrize("targets, fragment", [
    (torch.tensor([[0, 11]]), "targets must be token ids in [0, 11) or -1 (ignored); got ids from 0 to 11"),
    (torch.tensor([[-2, 3]]), "got ids from -2 to 3"),
    (torch.zeros(1, 2), "targets must be an integer tensor; got dtype torch.float32"),
])
def test_targets_outside_the_vocabulary_are_refused(model, targets, fragment):
    with pytest.raises(ValueError) as err:
        model(torch.zeros(1, 2, dtype=torch.long), targets)
    assert fragment in str(err.value)


def test_ignored_targets_give_the_mean_over_the_others(model):
    idx, targets = torch.randint(11, (1, 4)), torch.tensor([[3, -1, 5, -1]])
    logits, loss = model(idx, targets)
    keep = targets[0] >= 0
    assert torch.allclose(loss, torch.nn.functional.cross_entropy(logits[0][keep], targets[0][keep]))


def test_targets_of_another_shape_are_refused(model):
    with pytest.raises(ValueError, match="targets must have the shape of idx"):
        model(torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long))


@pytest.mark.parametrize("kwargs, fragment", [
    ({"temperature": 0}, "temperature must be a number > 0"),
    ({"temperature": -0.5}, "temperature must be a number > 0"),
    ({"top_k": 0}, "top_k must be None or an integer >= 1"),
    ({"top_p": 0.0}, "top_p must be None or a number in (0, 1]"),
    ({"top_p": 1.2}, "top_p must be None or a number in (0, 1]"),
    ({"max_new_tokens": -1}, "max_new_tokens must be an int >= 0; got -1"),
    ({"max_new_tokens": 2.0}, "max_new_tokens must be an int >= 0; got 2.0"),
])
def test_generate_refuses_bad_settings(model, kwargs, fragment):
    args = {"max_new_tokens": 3, **kwargs}
    with pytest.raises(ValueError) as err:
        model.generate(torch.zeros(1, 2, dtype=torch.long), **args)
    assert fragment in str(err.value)


def test_generate_needs_a_prompt(model):
    with pytest.raises(ValueError, match="at least one token"):
        model.generate(torch.zeros(1, 0, dtype=torch.long), 3)


def test_generate_restores_training_mode():
    m = GPT(SMALL).train()
    m.generate(torch.zeros(1, 1, dtype=torch.long), 2)
    assert m.training


@pytest.mark.parametrize("kwargs, fragment", [
    ({"n_embd": 15, "n_head": 2}, "n_embd must be divisible by n_head"),
    ({"n_layer": 0}, "n_layer must be"),
    ({"n_layer": True}, "n_layer must be"),
    ({"dropout": 1.0}, "dropout must be"),
    ({"dropout": float("nan")}, "dropout must be"),
    ({"dropout": float("inf")}, "dropout must be"),
    ({"dropout": -0.1}, "dropout must be"),
])
def test_bad_configs_are_refused(kwargs, fragment):
    with pytest.raises(ValueError) as err:
        GPTConfig(**kwargs)
    assert fragment in str(err.value)


def test_gpt_needs_a_gpt_config():
    with pytest.raises(ValueError, match="config must be a GPTConfig"):
        GPT({"n_layer": 2})


# ---- rotary positions (GPTConfig(position="rope")) ----------------------------------------------

ROPE = GPTConfig(block_size=16, vocab_size=11, n_layer=2, n_head=2, n_embd=16, position="rope")


@pytest.fixture(scope="module")
def rope_model():
    torch.manual_seed(1)
    m = GPT(ROPE)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return m.eval()


def test_rope_gpt_has_no_position_table_and_its_formula_counts_that(rope_model):
    assert rope_model.wpe is None and all(b.attn.rope is not None for b in rope_model.blocks)
    assert parameter_count(ROPE) == count_parameters(rope_model) == parameter_count(SMALL) - 16 * 16
    assert not any("rope" in k for k in rope_model.state_dict())          # cos/sin tables are not weights


def test_rope_gpt_is_causal_and_its_cache_and_attention_paths_agree(rope_model):
    idx = torch.randint(11, (2, 12))
    other = idx.clone()
    other[:, 7] = (other[:, 7] + 1) % 11
    with torch.no_grad():
        full, _ = rope_model(idx)
        changed, _ = rope_model(other)
        cache = rope_model.new_cache(2)
        steps = torch.stack([rope_model.next_logits(idx[:, i:i + 1], cache) for i in range(12)], 1)
    assert torch.equal(full[:, :7], changed[:, :7]) and not torch.allclose(full[:, 7:], changed[:, 7:])
    assert torch.allclose(steps, full, atol=1e-5)
    slow, _ = rope_model.logits_and_attention(idx)
    assert torch.allclose(slow, full, atol=1e-5)


@pytest.mark.parametrize("prompt_len, new", [(1, 15), (3, 30)])
def test_rope_kv_cache_gives_the_same_tokens(rope_model, prompt_len, new):
    idx = torch.randint(11, (3, prompt_len))
    assert torch.equal(rope_model.generate(idx, new, greedy=True),
                       rope_model.generate(idx, new, greedy=True, use_cache=False))


def test_rope_attention_scores_depend_on_distance_not_on_where_the_tokens_sit(rope_model):
    attn = rope_model.blocks[0].attn
    x = torch.randn(1, 1, 16).expand(1, 10, 16)                         # the same vector at every position
    B, T, C = x.shape
    q, k, _ = attn.c_attn(x).split(C, dim=2)
    q, k = (t.view(B, T, 2, 8).transpose(1, 2) for t in (q, k))
    scores = attn.rope(q) @ attn.rope(k).transpose(-2, -1)               # (1, nh, T, T)
    diagonals = [scores.diagonal(offset=d, dim1=-2, dim2=-1) for d in range(-9, 10)]
    assert all(torch.allclose(d, d[..., :1].expand_as(d), atol=1e-4) for d in diagonals)


def test_a_state_dict_of_another_dtype_is_refused(model):
    with pytest.raises(ValueError, match="wte.weight: torch.float64 in the state dict, torch.float32 in the model"):
        GPT.from_state_dict({k: v.double() for k, v in model.state_dict().items()}, SMALL)


def test_checkpoints_do_not_cross_between_position_kinds(model):
    with pytest.raises(ValueError, match="unexpected keys \\['wpe.embedding.weight'\\]"):
        GPT.from_state_dict(model.state_dict(), ROPE)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"position": "alibi"}, "position must be one of ('learned', 'rope'); got 'alibi'"),
    ({"position": "rope", "n_embd": 18, "n_head": 2}, "even head size"),
])
def test_bad_position_settings_are_refused(kwargs, fragment):
    with pytest.raises(ValueError) as err:
        GPTConfig(**kwargs)
    assert fragment in str(err.value)


def test_kv_cache_bytes_is_what_the_cache_allocates_and_the_known_sizes():
    from lmcourse.gpt import kv_cache_bytes
    config = GPTConfig(n_layer=3, n_head=4, n_embd=32, block_size=16)
    cache = GPT(config).new_cache(batch_size=2)
    allocated = cache.k.numel() * cache.k.element_size() + cache.v.numel() * cache.v.element_size()
    assert kv_cache_bytes(3, 2, 16, 4, 8) == allocated
    assert kv_cache_bytes(12, 1, 1024, 12, 64, bytes_per_value=2) == 36 * 2**20       # GPT-2 small, fp16
    assert kv_cache_bytes(32, 1, 4096, 32, 128, bytes_per_value=2) == 2 * 2**30       # LLaMA-7B, fp16
    assert kv_cache_bytes(32, 1, 4096, 8, 128, bytes_per_value=2) * 4 == 2 * 2**30    # 8 kv heads: a quarter
    with pytest.raises(ValueError, match="seq_len must be an int >= 1; got 0"):
        kv_cache_bytes(2, 1, 0, 4, 8)
