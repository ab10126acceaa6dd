"""lmcourse.attention agrees with PyTorch's attention and refuses malformed input clearly."""

import re

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from lmcourse._checks import ArgumentError
from lmcourse.attention import MultiHeadAttention, attention, causal_mask, check_mask, load_torch_mha, padding_mask

pytestmark = pytest.mark.usefixtures("seeded", "no_mha_fastpath")


def _masks(b=2, t=6):
    tokens = torch.randint(1, 9, (b, t))
    tokens[1, -2:] = 0
    pad = padding_mask(tokens, 0)
    return {"none": None, "causal": causal_mask(t), "padding": pad, "causal&padding": causal_mask(t) & pad}


@pytest.mark.parametrize("mask_name", ["none", "causal", "padding", "causal&padding"])
def test_attention_matches_sdpa_forward_and_backward(mask_name):
    mask = _masks()[mask_name]
    q, k, v = (torch.randn(2, 3, 6, 8, requires_grad=True) for _ in range(3))
    ours, weights = attention(q, k, v, mask)
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(ours, theirs)
    g = torch.randn_like(ours)
    for a, b in zip(torch.autograd.grad(ours, (q, k, v), g), torch.autograd.grad(theirs, (q, k, v), g)):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 6))


def test_attention_with_different_query_and_key_lengths_and_value_width_matches_sdpa():
    q, k, v = torch.randn(2, 4, 8), torch.randn(2, 7, 8), torch.randn(2, 7, 3)
    torch.testing.assert_close(attention(q, k, v)[0], F.scaled_dot_product_attention(q, k, v))


def test_attention_scale_argument_matches_sdpa_scale():
    q, k, v = (torch.randn(1, 5, 4) for _ in range(3))
    torch.testing.assert_close(attention(q, k, v, scale=0.3)[0], F.scaled_dot_product_attention(q, k, v, scale=0.3))


def test_fully_masked_query_gets_zero_output_and_finite_gradients_like_sdpa():
    q, k, v = (torch.randn(1, 3, 4, requires_grad=True) for _ in range(3))
    mask = torch.ones(3, 3, dtype=torch.bool)
    mask[1] = False
    out, weights = attention(q, k, v, mask)
    assert torch.equal(out[0, 1], torch.zeros(4)) and torch.equal(weights[0, 1], torch.zeros(3))
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    grads = torch.autograd.grad(out.sum(), (q, k, v))
    assert all(torch.isfinite(g).all() for g in grads)


@settings(max_examples=25, deadline=None)
@given(t=st.integers(1, 8), extra=st.integers(0, 4))
def test_causal_mask_lets_each_query_see_exactly_the_keys_up_to_its_position(t, extra):
    mask = causal_mask(t, t + extra)
    for i in range(t):
        allowed = mask[i].nonzero().flatten().tolist()
        assert allowed == list(range(i + extra + 1))


@settings(max_examples=20, deadline=None)
@given(t=st.integers(2, 8), changed=st.integers(0, 7))
def test_causal_attention_output_does_not_depend_on_later_positions(t, changed):
    changed = changed % t
    q, k, v = (torch.randn(1, t, 4) for _ in range(3))
    k2, v2 = k.clone(), v.clone()
    k2[:, changed] += 1.0
    v2[:, changed] -= 1.0
    a, _ = attention(q, k, v, causal_mask(t))
    b, _ = attention(q, k2, v2, causal_mask(t))
    torch.testing.assert_close(a[:, :changed], b[:, :changed])


def test_padding_mask_marks_real_tokens_true_and_broadcasts_over_heads_and_queries():
    mask = padding_mask(torch.tensor([[3, 4, 0], [0, 5, 6]]), pad_id=0)
    assert mask.shape == (2, 1, 1, 3) and mask.dtype == torch.bool
    assert mask.flatten().tolist() == [True, True, False, False, True, True]


@pytest.mark.parametrize("bad, error, fragment", [
    (torch.ones(5, 5), TypeError, "torch.bool"),
    (torch.ones(5, 5, dtype=torch.int64), TypeError, "torch.bool"),
    (torch.ones(3, 5, dtype=torch.bool), ValueError, "got (3, 5)"),
    (torch.ones(4, 1, 5, 5, dtype=torch.bool), ValueError, "broadcastable"),
    ([[True]], TypeError, "got list"),
])
def test_attention_rejects_masks_of_wrong_dtype_or_shape(bad, error, fragment):
    q = torch.randn(2, 3, 5, 8)
    with pytest.raises(error, match=None) as info:
        attention(q, q, q, bad)
    assert fragment in str(info.value)


@pytest.mark.parametrize("q, k, v, message", [
    (torch.randn(3, 4), torch.randn(3, 5), torch.randn(3, 5),
     "k must be of shape (T_k, d_k) with T_k=3, d_k=4; got shape (3, 5)"),
    (torch.randn(3, 4), torch.randn(3, 4), torch.randn(2, 4),
     "v must be of shape (T_k, d_v) with T_k=3; got shape (2, 4)"),
    (torch.randn(2, 2, 3, 4), torch.randn(2, 2, 6, 5), torch.randn(2, 2, 6, 4),
     "k must be of shape (?, ?, T_k, d_k) with T_k=6, d_k=4; got shape (2, 2, 6, 5)"),
    (torch.randn(4), torch.randn(3, 4), torch.randn(3, 4),
     "q must be a tensor of shape (..., T_q, d_k); got shape (4,)"),
    (torch.randn(3, 4), torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4),
     "k must be a torch.float32 tensor; got dtype torch.float64"),
    (torch.ones(3, 4, dtype=torch.long), torch.randn(3, 4), torch.randn(3, 4),
     "q must be a floating-point tensor; got dtype torch.int64"),
    (torch.randn(2, 3, 4), torch.randn(3, 3, 4), torch.randn(3, 3, 4),
     "q, k and v must have leading axes (batch, heads) that broadcast together; "
     "got shapes (2, 3, 4), (3, 3, 4) and (3, 3, 4)"),
    ([[1.0]], torch.randn(3, 4), torch.randn(3, 4), "q must be a torch.Tensor; got list"),
])
def test_attention_rejects_mismatched_shapes_and_dtypes_naming_the_argument(q, k, v, message):
    with pytest.raises(ArgumentError) as err:
        attention(q, k, v)
    assert str(err.value) == message


def test_attention_broadcasts_keys_shared_across_heads_like_matmul():
    q, k, v = torch.randn(2, 3, 5, 4), torch.randn(2, 1, 6, 4), torch.randn(2, 1, 6, 4)
    out, weights = attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k.expand(2, 3, 6, 4), v.expand(2, 3, 6, 4)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(scale=float("nan")), "scale must be a finite number > 0; got nan"),
    (dict(scale=0.0), "scale must be a finite number > 0; got 0.0"),
    (dict(dropout_p=1.0), "dropout_p must be a finite number in [0, 1); got 1.0"),
    (dict(dropout_p=float("nan")), "dropout_p must be a finite number in [0, 1); got nan"),
])
def test_attention_refuses_nan_or_out_of_range_scale_and_dropout(kwargs, message):
    q = torch.randn(3, 4)
    with pytest.raises(ArgumentError) as err:
        attention(q, q, q, **kwargs)
    assert str(err.value) == message


@pytest.mark.parametrize("args, fragment", [((0,), "t_q must be an int >= 1; got 0"), ((4, 3), "t_k must be >= t_q"),
                                            ((2.5,), "t_q must be an int >= 1; got 2.5"),
                                            ((2, True), "t_k must be an int >= 1; got True")])
def test_causal_mask_rejects_bad_sizes(args, fragment):
    with pytest.raises(ValueError, match=fragment):
        causal_mask(*args)


@pytest.mark.parametrize("tokens, pad_id, message", [
    (torch.tensor([1, 2, 0]), 0, "tokens must be a 2-d tensor (B, T); got shape (3,)"),
    (torch.zeros(2, 3), 0, "tokens must be an integer tensor; got dtype torch.float32"),
    (torch.zeros(2, 3, dtype=torch.long), -1, "pad_id must be an int >= 0; got -1"),
    (torch.zeros(2, 3, dtype=torch.long), 0.0, "pad_id must be an int >= 0; got 0.0"),
])
def test_padding_mask_rejects_bad_tokens_and_pad_ids(tokens, pad_id, message):
    with pytest.raises(ArgumentError) as err:
        padding_mask(tokens, pad_id)
    assert str(err.value) == message


def test_check_mask_accepts_every_documented_shape():
    for shape in [(5, 7), (2, 1, 1, 7), (2, 3, 5, 7), (1, 7), (3, 1, 7)]:
        check_mask(torch.ones(shape, dtype=torch.bool), (2, 3, 5, 7))


def _pair(d=16, h=4, bias=True):
    theirs = nn.MultiheadAttention(d, h, batch_first=True, bias=bias)
    return load_torch_mha(MultiHeadAttention(d, h, bias=bias), theirs), theirs


@pytest.mark.parametrize("bias", [True, False])
def test_multihead_self_attention_matches_nn_multiheadattention(bias):
    ours, theirs = _pair(bias=bias)
    x = torch.randn(3, 6, 16)
    ref, ref_w = theirs(x, x, x, average_attn_weights=False)
    torch.testing.assert_close(ours(x), ref)
    out, w = ours(x, need_weights=True)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(w, ref_w)


def test_multihead_attention_with_causal_and_padding_masks_matches_nn_multiheadattention():
    ours, theirs = _pair()
    x = torch.randn(2, 6, 16)
    tokens = torch.randint(1, 9, (2, 6))
    tokens[0, -3:] = 0
    ref, _ = theirs(x, x, x, attn_mask=~causal_mask(6), key_padding_mask=tokens == 0)
    torch.testing.assert_close(ours(x, mask=padding_mask(tokens, 0), is_causal=True), ref)
    torch.testing.assert_close(ours(x, mask=padding_mask(tokens, 0), is_causal=True, need_weights=True)[0], ref)


def test_multihead_cross_attention_matches_nn_multiheadattention_and_backward_agrees():
    ours, theirs = _pair()
    x, mem = torch.randn(2, 4, 16, requires_grad=True), torch.randn(2, 9, 16)
    ref, _ = theirs(x, mem, mem)
    out = ours(x, mem)
    torch.testing.assert_close(out, ref)
    (g1,) = torch.autograd.grad(out.sum(), x)
    (g2,) = torch.autograd.grad(ref.sum(), x)
    torch.testing.assert_close(g1, g2)


def test_fast_path_and_weights_path_agree_in_training_mode_without_dropout():
    ours = MultiHeadAttention(12, 3).train()
    x = torch.randn(2, 5, 12)
    torch.testing.assert_close(ours(x, is_causal=True), ours(x, is_causal=True, need_weights=True)[0])


def test_multihead_weights_have_one_map_per_head_and_rows_sum_to_one():
    _, w = MultiHeadAttention(12, 3)(torch.randn(2, 5, 12), torch.randn(2, 7, 12), need_weights=True)
    assert w.shape == (2, 3, 5, 7)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 5))


@pytest.mark.parametrize("args, fragment", [
    ((10, 3), "d_model must be divisible by n_head"),
    ((0, 1), "d_model must be an int >= 1; got 0"),
    ((8, 0), "n_head must be an int >= 1; got 0"),
    ((8.0, 2), "d_model must be an int >= 1; got 8.0"),
])
def test_multihead_attention_rejects_bad_sizes(args, fragment):
    with pytest.raises(ValueError, match=fragment):
        MultiHeadAttention(*args)


def test_multihead_attention_rejects_bad_dropout():
    for bad in (1.5, float("nan"), -0.1):
        with pytest.raises(ValueError, match=re.escape(f"dropout must be a finite number in [0, 1); got {bad!r}")):
            MultiHeadAttention(8, 2, dropout=bad)


def test_multihead_attention_rejects_wrong_input_width_batch_and_mask():
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"x must be \(B, T, d_model=8\); got \(2, 5, 6\)"):
        mha(torch.randn(2, 5, 6))
    with pytest.raises(ValueError, match=r"kv must be \(B, T, d_model=8\); got \(2, 5, 6\)"):
        mha(torch.randn(2, 5, 8), torch.randn(2, 5, 6))
    with pytest.raises(ValueError, match=r"kv must have the same batch size as x \(B=2\); got shape \(3, 5, 8\)"):
        mha(torch.randn(2, 5, 8), torch.randn(3, 5, 8))
    with pytest.raises(ValueError, match="x must be a floating-point tensor; got dtype torch.int64"):
        mha(torch.zeros(2, 5, 8, dtype=torch.long))
    with pytest.raises(ValueError, match=r"mask must be \(5, 5\) or broadcastable to \(2, 2, 5, 5\)"):
        mha(torch.randn(2, 5, 8), mask=torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="torch.bool"):
        mha(torch.randn(2, 5, 8), mask=torch.ones(5, 5))


def test_load_torch_mha_rejects_a_module_of_another_size():
    with pytest.raises(ValueError, match="embed_dim=8 and num_heads=2"):
        load_torch_mha(MultiHeadAttention(8, 2), nn.MultiheadAttention(8, 4))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.bfloat16, 5e-2)])
def test_multihead_attention_on_cuda_matches_nn_multiheadattention(dtype, tol):
    device = torch.device("cuda")
    theirs = nn.MultiheadAttention(64, 4, batch_first=True).to(device, dtype)
    ours = load_torch_mha(MultiHeadAttention(64, 4), theirs).to(device, dtype)
    x = torch.randn(2, 32, 64, device=device, dtype=dtype)
    ref, _ = theirs(x, x, x, attn_mask=~causal_mask(32, device=device))
    torch.testing.assert_close(ours(x, is_causal=True), ref, atol=tol, rtol=tol)
    torch.testing.assert_close(ours(x, is_causal=True, need_weights=True)[0], ref, atol=tol, rtol=tol)


def test_attention_dropout_acts_only_when_training_is_true():
    q, k, v = (torch.randn(2, 3, 6, 8) for _ in range(3))
    plain_out, plain_w = attention(q, k, v)
    eval_out, eval_w = attention(q, k, v, dropout_p=0.5, training=False)
    torch.testing.assert_close(eval_out, plain_out)
    torch.testing.assert_close(eval_w, plain_w)
    torch.manual_seed(0)
    _, train_w = attention(q, k, v, dropout_p=0.5, training=True)
    kept = train_w != 0
    assert 0 < kept.float().mean() < 1                                       # some weights were dropped
    torch.testing.assert_close(train_w[kept], plain_w[kept] / 0.5)           # the rest scaled by 1/(1-p)


def test_multihead_weights_path_has_no_dropout_in_eval_mode():
    mha = MultiHeadAttention(12, 3, dropout=0.5).eval()
    x = torch.randn(2, 5, 12)
    out, w = mha(x, is_causal=True, need_weights=True)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 5))
    torch.testing.assert_close(out, mha(x, is_causal=True))
