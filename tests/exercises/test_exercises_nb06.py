"""Notebook 06's checkers beyond their Mistakes: wrong answers written here, the real layouts, other valid forms."""

import math

import torch

from lmcourse.exercises import nb06_multihead_attention as ex


# --- check_split_qkv --------------------------------------------------------------------------------------------
def split_qkv_chunking_the_time_axis(qkv, n_head):
    return tuple(p.unflatten(-1, (n_head, -1)).transpose(1, 2) for p in qkv.chunk(3, dim=1))   # chunks T, not C


def split_qkv_taking_every_third_column(qkv, n_head):
    parts = (qkv[..., 0::3], qkv[..., 1::3], qkv[..., 2::3])          # reads q, k, v as interleaved columns
    return tuple(p.unflatten(-1, (n_head, -1)).transpose(1, 2) for p in parts)


def split_qkv_with_strided_heads(qkv, n_head):
    parts = qkv.chunk(3, dim=-1)                                         # head h takes every n_head-th channel
    return tuple(p.unflatten(-1, (-1, n_head)).permute(0, 3, 1, 2) for p in parts)


def split_qkv_returning_one_stacked_tensor(qkv, n_head):
    return torch.stack([p.unflatten(-1, (n_head, -1)).transpose(1, 2) for p in qkv.chunk(3, dim=-1)])


# --- check_alibi_bias -------------------------------------------------------------------------------------------
def _bias(slopes, T):
    pos = torch.arange(T)
    return -torch.tensor(slopes, dtype=torch.float32)[:, None, None] * (pos[:, None] - pos[None, :]).abs()


def alibi_with_linear_slopes(n_head, T):
    return _bias([(h + 1) / n_head for h in range(n_head)], T)           # evenly spaced, not geometric


def alibi_with_the_eight_head_slopes_for_every_n(n_head, T):
    return _bias([2.0 ** -(h + 1) for h in range(n_head)], T)            # 1/2, 1/4, …: the paper's 8-head example


def alibi_rounding_the_power_of_two_up(n_head, T):
    n = 2 ** math.ceil(math.log2(n_head))                                 # the first n_head slopes of 2^⌈log2 H⌉
    return _bias([2.0 ** (-8 * (h + 1) / n) for h in range(n_head)], T)


def alibi_as_nested_lists(n_head, T):
    return ex._alibi(n_head, T).tolist()                                  # right numbers, not a tensor


# --- check_rope_interleaved -------------------------------------------------------------------------------------
def _pairs(x, positions, base):
    d = x.shape[-1]
    angle = positions.float()[:, None] * base ** (-torch.arange(0, d, 2).float() / d)
    a, b = x[..., 0::2], x[..., 1::2]
    return a, b, angle.cos(), angle.sin()


def rope_returning_the_halves_concatenated(x, positions, base=10000.0):
    a, b, c, s = _pairs(x, positions, base)
    return torch.cat([a * c - b * s, a * s + b * c], dim=-1)             # pairs rotated, written back half-split


def rope_with_sine_and_cosine_swapped(x, positions, base=10000.0):
    a, b, c, s = _pairs(x, positions, base)
    return torch.stack([a * s - b * c, a * c + b * s], dim=-1).flatten(-2)


def rope_left_as_pairs(x, positions, base=10000.0):
    a, b, c, s = _pairs(x, positions, base)
    return torch.stack([a * c - b * s, a * s + b * c], dim=-1)           # shape (…, hs/2, 2): not flattened back


def rope_returning_complex_numbers(x, positions, base=10000.0):
    a, b, c, s = _pairs(x, positions, base)
    return torch.complex(a, b) * torch.complex(c, s)                    # the rotation, but as complex numbers


WRONG_ANSWERS = {
    "check_split_qkv": [split_qkv_chunking_the_time_axis, split_qkv_taking_every_third_column,
                        split_qkv_with_strided_heads, split_qkv_returning_one_stacked_tensor],
    "check_alibi_bias": [alibi_with_linear_slopes, alibi_with_the_eight_head_slopes_for_every_n,
                         alibi_rounding_the_power_of_two_up, alibi_as_nested_lists],
    "check_rope_interleaved": [rope_returning_the_halves_concatenated, rope_with_sine_and_cosine_swapped,
                               rope_left_as_pairs, rope_returning_complex_numbers],
}


def test_split_qkv_accepts_a_list_and_heads_split_before_chunking_the_head_axis():
    assert ex.check_split_qkv(lambda qkv, n: list(ex._split_qkv(qkv, n))).passed
    assert ex.check_split_qkv(lambda qkv, n: qkv.unflatten(-1, (3 * n, -1)).transpose(1, 2).chunk(3, dim=1)).passed


def test_split_qkv_reference_reads_nn_multihead_attentions_in_proj_layout():
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(12, 3, batch_first=True)
    x = torch.randn(2, 5, 12)
    q, k, v = ex._split_qkv(torch.nn.functional.linear(x, mha.in_proj_weight, mha.in_proj_bias), 3)
    w_q, w_k, w_v = mha.in_proj_weight.chunk(3)
    b_q, b_k, b_v = mha.in_proj_bias.chunk(3)
    for got, w, b in ((q, w_q, b_q), (k, w_k, b_k), (v, w_v, b_v)):
        assert torch.allclose(got, ex._heads(x @ w.T + b, 3), atol=1e-6)


def test_alibi_slopes_equal_bloom_s_for_one_to_sixteen_heads():
    from transformers.models.bloom.modeling_bloom import build_alibi_tensor
    for n_head in range(1, 17):
        bloom = build_alibi_tensor(torch.ones(1, 2, dtype=torch.long), n_head, torch.float32)[:, 0, 1]  # slope · 1
        assert torch.allclose(-ex._alibi(n_head, 2)[:, 1, 0], bloom), n_head


def test_alibi_accepts_a_float64_table_and_the_slopes_written_out_for_six_heads():
    assert ex.check_alibi_bias(lambda h, t: ex._alibi(h, t).double()).passed
    six = [2 ** -2, 2 ** -4, 2 ** -6, 2 ** -8, 2 ** -1, 2 ** -3]   # 4 heads' slopes, then 8 heads' 0th and 2nd
    assert torch.allclose(-ex._alibi(6, 2)[:, 1, 0], torch.tensor(six))


def test_rope_interleaved_equals_the_rotate_half_rope_on_permuted_dimensions():
    from lmcourse.positions import RotaryEmbedding
    x = torch.randn(2, 3, 10, 8)
    to_half = torch.cat([torch.arange(0, 8, 2), torch.arange(1, 8, 2)])   # (0, 2, 4, 6, 1, 3, 5, 7)
    half = RotaryEmbedding(8, 32)(x[..., to_half], offset=4)[..., to_half.argsort()]
    assert torch.allclose(ex._rope_interleaved(x, torch.arange(4, 14)), half, atol=1e-5)


def test_rope_interleaved_accepts_metas_complex_number_version():
    def meta_style(x, positions, base=10000.0):
        d = x.shape[-1]
        angle = positions.float()[:, None] * base ** (-torch.arange(0, d, 2).float() / d)
        z = torch.view_as_complex(x.reshape(*x.shape[:-1], d // 2, 2).contiguous())
        return torch.view_as_real(z * torch.polar(torch.ones_like(angle), angle)).flatten(-2)
    assert ex.check_rope_interleaved(meta_style).passed


def test_rope_interleaved_refuses_complex_output_with_a_sentence_on_the_dtype():
    result = ex.check_rope_interleaved(rope_returning_complex_numbers)
    assert not result.passed and "complex" in result.message
