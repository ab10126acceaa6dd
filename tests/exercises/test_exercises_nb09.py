"""Notebook 09's checkers beyond their Mistakes: the package's answers, a learner's own formula, unknown mistakes."""

import torch

from lmcourse.attention import causal_mask
from lmcourse.exercises import nb09_gpt_from_scratch as ex
from lmcourse.gpt import parameter_count
from lmcourse.sampling import top_p_filter


def test_package_functions_pass_their_checkers():
    assert ex.check_causal_mask(causal_mask).passed
    assert ex.check_top_p(lambda probs, p: top_p_filter(probs.log(), p).isfinite()).passed
    assert ex.check_parameter_count(parameter_count).passed


def test_a_parameter_count_written_as_a_learners_formula_passes():
    def count(c):
        C = c.n_embd
        block = 4 * C * C + 8 * C * C + (4 * C + 4 * C + C + 4 * C)  # attention, MLP, their biases, two LayerNorms
        return c.vocab_size * C + c.block_size * C + c.n_layer * block + 2 * C
    assert ex.check_parameter_count(count).passed


def test_top_k_is_not_top_p():
    result = ex.check_top_p(lambda probs, p: torch.zeros_like(probs, dtype=torch.bool).scatter(
        -1, probs.topk(2).indices, True))
    assert not result.passed and result.failed_case is not None


def test_a_float_mask_is_rejected():
    result = ex.check_top_p(lambda probs, p: (probs.sort(-1, descending=True)[0].cumsum(-1) * 0 + 1.0))
    assert not result.passed and "✘ check_top_p" in result.message


def test_unwritten_exercises_say_so():
    def todo(*args):
        raise NotImplementedError
    for checker in (ex.check_causal_mask, ex.check_top_p, ex.check_parameter_count, ex.check_cache_size,
                    ex.check_expand_kv):
        result = checker(todo)
        assert not result.passed and "not written yet" in result.message


def test_the_package_cache_formula_passes_the_cache_size_checker():
    from lmcourse.gpt import kv_cache_bytes

    def size(c, batch, seq_len, nbytes):
        return kv_cache_bytes(c.n_layer, batch, seq_len, c.kv_heads, c.n_embd // c.n_head, nbytes)
    assert ex.check_cache_size(size).passed


def test_a_cache_size_as_a_float_is_not_accepted():
    result = ex.check_cache_size(lambda c, b, t, n: 2.0 * c.n_layer * b * t * c.kv_heads * (c.n_embd // c.n_head) * n)
    assert not result.passed and result.failed_case is not None


def test_a_cache_size_from_n_kv_head_fails_without_raising_on_a_multi_head_config():
    result = ex.check_cache_size(lambda c, b, t, n: 2 * c.n_layer * b * t * c.n_kv_head * (c.n_embd // c.n_head) * n)
    assert not result.passed and "TypeError" in result.message


def test_expanding_kv_heads_with_expand_and_reshape_passes():
    def expand_kv(k, n_head):
        B, n_kv, T, hs = k.shape
        return k[:, :, None].expand(B, n_kv, n_head // n_kv, T, hs).reshape(B, n_head, T, hs)
    assert ex.check_expand_kv(expand_kv).passed


def test_expanding_kv_heads_by_tiling_with_expand_is_the_repeat_mistake():
    def tiled(k, n_head):
        B, n_kv, T, hs = k.shape
        return k[:, None].expand(B, n_head // n_kv, n_kv, T, hs).reshape(B, n_head, T, hs)
    result = ex.check_expand_kv(tiled)
    assert not result.passed and "repeat tiles" in result.mistake


def test_the_reference_expansion_is_what_the_package_attention_does():
    from lmcourse.gpt import CausalSelfAttention, GPTConfig
    from solutions import solution_namespace

    expand_kv = solution_namespace("09_gpt_from_scratch")["expand_kv"]
    torch.manual_seed(0)
    attn = CausalSelfAttention(GPTConfig(block_size=8, n_layer=1, n_head=4, n_embd=16, n_kv_head=2)).eval()
    x = torch.randn(2, 5, 16)
    q, k, v = attn.c_attn(x).split((16, 8, 8), dim=2)
    q = q.view(2, 5, 4, 4).transpose(1, 2)
    k, v = (t.view(2, 5, 2, 4).transpose(1, 2) for t in (k, v))
    y = torch.nn.functional.scaled_dot_product_attention(q, expand_kv(k, 4), expand_kv(v, 4), is_causal=True)
    with torch.no_grad():
        assert torch.allclose(attn.c_proj(y.transpose(1, 2).reshape(2, 5, 16)), attn(x), atol=1e-6)
