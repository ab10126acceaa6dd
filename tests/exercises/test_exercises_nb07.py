"""Notebook 07's checkers beyond their Mistakes: wrong answers written here, PyTorch's layers as the real thing."""

import torch
import torch.nn as nn

from lmcourse.exercises import nb07_transformer_block as ex


# --- check_rms_norm ---------------------------------------------------------------------------------------------
def rms_norm_over_the_batch_axis(x, weight, eps=1e-6):
    return x / torch.sqrt(x.pow(2).mean(0, keepdim=True) + eps) * weight        # one statistic per feature


def rms_norm_with_the_mean_absolute_value(x, weight, eps=1e-6):
    return x / (x.abs().mean(-1, keepdim=True) + eps) * weight                  # mean |x|, not root mean square


def rms_norm_with_the_sum_of_squares(x, weight, eps=1e-6):
    return x / torch.sqrt(x.pow(2).sum(-1, keepdim=True) + eps) * weight        # sum instead of mean: / √d too much


def rms_norm_adding_the_weight(x, weight, eps=1e-6):
    return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps) + weight       # weight used as a shift


# --- check_pre_norm_block ---------------------------------------------------------------------------------------
def block_normalizing_the_output_too(x, attn, ffn, norm1, norm2):
    x = x + attn(norm1(x))
    return norm2(x + ffn(norm2(x)))                                              # an extra norm on the residual path


def block_with_the_sublayers_swapped(x, attn, ffn, norm1, norm2):
    x = x + ffn(norm1(x))                                                        # FFN first, attention second
    return x + attn(norm2(x))


def block_with_one_residual_around_both(x, attn, ffn, norm1, norm2):
    return x + ffn(norm2(attn(norm1(x))))                                        # one skip for the whole block


# --- check_decoder_layer_params ---------------------------------------------------------------------------------
def decoder_params_with_three_projections_per_attention(d_model, d_ff, bias):
    b = 1 if bias else 0
    return 2 * (3 * d_model * d_model + 3 * d_model * b) + 2 * d_model * d_ff + (d_ff + d_model) * b + \
        3 * (d_model + d_model * b)                                                # W_O forgotten


def decoder_params_with_d_ff_equal_4_d(d_model, d_ff, bias):
    return ex._decoder_layer_params(d_model, 4 * d_model, bias)                 # the usual ratio, not the argument


def decoder_params_as_a_float(d_model, d_ff, bias):
    return float(ex._decoder_layer_params(d_model, d_ff, bias))                 # a count is an integer


# --- check_pre_norm_decoder_layer -------------------------------------------------------------------------------
def _masks(y, tgt_real, src_real):
    t = y.shape[1]
    return torch.ones(t, t, dtype=torch.bool).tril() & tgt_real[:, None, None, :], src_real[:, None, None, :]


def decoder_with_the_ffn_on_the_self_attention_output(y, memory, tgt_real, src_real, parts):
    self_mask, memory_mask = _masks(y, tgt_real, src_real)
    h = y + parts["self_attn"](parts["norm1"](y), mask=self_mask)
    c = parts["cross_attn"](parts["norm2"](h), memory, mask=memory_mask)
    return h + c + parts["ffn"](parts["norm3"](h))                               # FFN in parallel with cross-attention


def decoder_with_the_causal_mask_transposed(y, memory, tgt_real, src_real, parts):
    t = y.shape[1]
    self_mask = torch.ones(t, t, dtype=torch.bool).triu() & tgt_real[:, None, None, :]   # sees the future, not the past
    y = y + parts["self_attn"](parts["norm1"](y), mask=self_mask)
    y = y + parts["cross_attn"](parts["norm2"](y), memory, mask=src_real[:, None, None, :])
    return y + parts["ffn"](parts["norm3"](y))


def decoder_normalizing_the_memory(y, memory, tgt_real, src_real, parts):
    self_mask, memory_mask = _masks(y, tgt_real, src_real)
    y = y + parts["self_attn"](parts["norm1"](y), mask=self_mask)
    y = y + parts["cross_attn"](parts["norm2"](y), parts["norm2"](memory), mask=memory_mask)   # memory normed again
    return y + parts["ffn"](parts["norm3"](y))


def decoder_with_pytorchs_mask_convention(y, memory, tgt_real, src_real, parts):
    self_mask, memory_mask = _masks(y, tgt_real, src_real)                       # True = blocked, as nn.Transformer
    y = y + parts["self_attn"](parts["norm1"](y), mask=~self_mask)
    y = y + parts["cross_attn"](parts["norm2"](y), memory, mask=~memory_mask)
    return y + parts["ffn"](parts["norm3"](y))


WRONG_ANSWERS = {
    "check_rms_norm": [rms_norm_over_the_batch_axis, rms_norm_with_the_mean_absolute_value,
                       rms_norm_with_the_sum_of_squares, rms_norm_adding_the_weight],
    "check_pre_norm_block": [block_normalizing_the_output_too, block_with_the_sublayers_swapped,
                             block_with_one_residual_around_both],
    "check_decoder_layer_params": [decoder_params_with_three_projections_per_attention,
                                   decoder_params_with_d_ff_equal_4_d, decoder_params_as_a_float],
    "check_pre_norm_decoder_layer": [decoder_with_the_ffn_on_the_self_attention_output,
                                     decoder_with_the_causal_mask_transposed, decoder_normalizing_the_memory,
                                     decoder_with_pytorchs_mask_convention],
}


def test_rms_norm_accepts_pytorchs_rms_norm_and_rsqrt():
    assert ex.check_rms_norm(lambda x, w, eps=1e-6: torch.nn.functional.rms_norm(x, x.shape[-1:], w, eps)).passed
    assert ex.check_rms_norm(lambda x, w, eps=1e-6: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w).passed


def test_rms_norm_reference_equals_nn_rmsnorm_on_every_case():
    for case in ex._RMS_CASES:
        x, weight = case.args
        eps = case.kwargs.get("eps", 1e-6)
        norm = nn.RMSNorm(x.shape[-1], eps=eps)
        with torch.no_grad():
            norm.weight.copy_(weight)
            assert torch.allclose(ex._rms_norm(x, weight, **case.kwargs), norm(x), atol=1e-6)


def test_decoder_layer_params_equals_pytorchs_count_and_accepts_numpy_ints():
    import numpy as np
    for case in ex._COUNT_CASES:
        d, f, bias = case.args
        with torch.device("meta"):
            layer = nn.TransformerDecoderLayer(d, 2, f, bias=bias)
        assert ex._decoder_layer_params(d, f, bias) == sum(p.numel() for p in layer.parameters())
    assert ex.check_decoder_layer_params(lambda d, f, b: np.int64(ex._decoder_layer_params(d, f, b))).passed


def test_decoder_layer_reference_equals_nn_transformer_decoder_layer_on_every_case():
    for case, sizes in zip(ex._decoder_cases(), [(0, 8, 2), (1, 8, 2), (2, 12, 3)]):
        y, memory, tgt_real, src_real, _ = case.args
        theirs, parts = ex._torch_and_parts(*sizes)
        t = y.shape[1]
        with torch.no_grad():
            expected = theirs(y, memory, tgt_mask=~torch.ones(t, t, dtype=torch.bool).tril(),
                              tgt_key_padding_mask=~tgt_real, memory_key_padding_mask=~src_real)
            assert torch.allclose(ex._pre_norm_decoder(y, memory, tgt_real, src_real, parts), expected, atol=1e-5)


def test_decoder_layer_accepts_is_causal_with_the_padding_mask_and_the_course_layer_itself():
    from lmcourse.transformer import DecoderLayer

    def with_is_causal(y, memory, tgt_real, src_real, parts):
        y = y + parts["self_attn"](parts["norm1"](y), mask=tgt_real[:, None, None, :], is_causal=True)
        y = y + parts["cross_attn"](parts["norm2"](y), memory, mask=src_real[:, None, None, :])
        return y + parts["ffn"](parts["norm3"](y))
    assert ex.check_pre_norm_decoder_layer(with_is_causal).passed

    def through_the_course_layer(y, memory, tgt_real, src_real, parts):
        layer = DecoderLayer(y.shape[-1], parts["self_attn"].n_head, parts["ffn"].linear1.out_features,
                             norm_first=True).eval()
        layer.self_attn, layer.cross_attn, layer.ff = parts["self_attn"], parts["cross_attn"], parts["ffn"]
        layer.norm1, layer.norm2, layer.norm3 = parts["norm1"], parts["norm2"], parts["norm3"]
        return layer(y, memory, tgt_real[:, None, None, :], src_real[:, None, None, :])
    assert ex.check_pre_norm_decoder_layer(through_the_course_layer).passed


def test_a_pre_norm_block_checker_still_accepts_torch_modules_as_sublayers():
    assert ex.check_pre_norm_block(lambda x, a, f, n1, n2: (y := x + a(n1(x))) + f(n2(y))).passed
