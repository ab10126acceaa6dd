"""Checkers for notebook 07: layer normalization, the pre-norm residual block, and counting parameters."""

from __future__ import annotations

import torch
import torch.nn as nn

from .checking import Case, Mistake, Result, check_function


def _x(seed: int, *shape: int, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale + shift


_LN_CASES = [
    Case((_x(0, 2, 6, scale=3.0, shift=1.0), torch.ones(6), torch.zeros(6)), label="x (2, 6), weight 1, bias 0"),
    Case((_x(1, 2, 3, 5, scale=0.5), _x(2, 5), _x(3, 5)), label="x (2, 3, 5), random weight and bias"),
    Case((_x(4, 4, 3, scale=0.01), torch.ones(3), torch.zeros(3)),
         label="x (4, 3) with tiny values (0.01 scale): eps matters here"),
]


def _layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def check_layer_norm(layer_norm) -> Result:
    """``layer_norm(x, weight, bias, eps=1e-5)`` must equal ``nn.functional.layer_norm`` over the last axis."""
    return check_function(layer_norm, _layer_norm, _LN_CASES, name="check_layer_norm", atol=1e-5, mistakes=[
        Mistake(lambda x, w, b, eps=1e-5:
                (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + eps) * w + b,
                "torch.var defaults to the unbiased estimate (divides by n − 1). LayerNorm uses the biased one: "
                "x.var(-1, keepdim=True, unbiased=False), or ((x - mean) ** 2).mean(-1, keepdim=True)."),
        Mistake(lambda x, w, b, eps=1e-5:
                (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True, unbiased=False) + eps) * w + b,
                "eps goes inside the square root: (x - mean) / sqrt(var + eps), not / (std + eps)."),
        Mistake(lambda x, w, b, eps=1e-5:
                (x - x.mean(0, keepdim=True)) / torch.sqrt(x.var(0, keepdim=True, unbiased=False) + eps) * w + b,
                "you normalized over the batch axis (that is BatchNorm). LayerNorm normalizes each vector over "
                "its own features: the last axis, dim=-1."),
        Mistake(lambda x, w, b, eps=1e-5:
                (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + eps),
                "the learned scale and shift are missing: multiply by weight and add bias at the end."),
        Mistake(lambda x, w, b, eps=1e-5:
                (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True, unbiased=False)) * w + b,
                "no eps: add eps to the variance before the square root, "
                "or vectors with (nearly) equal entries blow up."),
    ])


def _parts(seed: int, d: int = 6):
    with torch.random.fork_rng(), torch.no_grad():   # seeded modules, without touching the caller's RNG
        torch.manual_seed(seed)
        attn, ffn = nn.Linear(d, d), nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Linear(2 * d, d))
        norm1, norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        for norm in (norm1, norm2):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    return _x(seed + 10, 2, 3, d, scale=2.0, shift=0.5), attn, ffn, norm1, norm2


_BLOCK_CASES = [
    Case(_parts(0), label="x (2, 3, 6); attn, ffn, norm1, norm2 small random modules"),
    Case(_parts(1, 8), label="x (2, 3, 8); other random modules"),
]


def _normalized_residual(x, attn, ffn, norm1, norm2):
    x = norm1(x) + attn(norm1(x))
    return norm2(x) + ffn(norm2(x))


def _pre_norm(x, attn, ffn, norm1, norm2):
    x = x + attn(norm1(x))
    return x + ffn(norm2(x))


def check_pre_norm_block(pre_norm_block) -> Result:
    """``pre_norm_block(x, attn, ffn, norm1, norm2)``: ``x + attn(norm1(x))``, then ``x + ffn(norm2(x))``."""
    with torch.no_grad():
        return check_function(pre_norm_block, _pre_norm, _BLOCK_CASES, name="check_pre_norm_block", atol=1e-5,
                              mistakes=[
            Mistake(lambda x, a, f, n1, n2: n2((y := n1(x + a(x))) + f(y)),
                    "that is post-norm (the original paper): norm(x + sublayer(x)). Pre-norm normalizes the "
                    "sublayer's *input* and leaves the residual path untouched: x + sublayer(norm(x))."),
            Mistake(lambda x, a, f, n1, n2: f(n2(a(n1(x)))),
                    "the residual connections are missing: add the block's input back, x = x + sublayer(norm(x))."),
            Mistake(_normalized_residual,
                    "you added the *normalized* input back (norm(x) + sublayer(norm(x))). The residual must "
                    "carry the raw x, so the path from output to input stays an identity."),
            Mistake(lambda x, a, f, n1, n2: (y := x + a(n1(x))) + f(n1(y)),
                    "the feed-forward sublayer must use its own norm2, not norm1."),
            Mistake(lambda x, a, f, n1, n2: x + a(n1(x)) + f(n2(x)),
                    "the FFN must read the output of the attention sublayer (x after its residual), not the "
                    "original x: the two sublayers are in sequence, not in parallel."),
        ])


def _encoder_layer_params(d_model: int, d_ff: int) -> int:
    return 4 * (d_model * d_model + d_model) + (d_model * d_ff + d_ff) + (d_ff * d_model + d_model) + 2 * 2 * d_model


_COUNT_CASES = [Case((512, 2048), label="d_model=512, d_ff=2048 (the paper's base model)"),
                Case((64, 256), label="d_model=64, d_ff=256"),
                Case((10, 7), label="d_model=10, d_ff=7")]


def check_encoder_layer_params(encoder_layer_params) -> Result:
    """``encoder_layer_params(d_model, d_ff)``: the parameter count of one encoder layer, with biases."""
    return check_function(encoder_layer_params, _encoder_layer_params, _COUNT_CASES,
                          name="check_encoder_layer_params", mistakes=[
        Mistake(lambda d, f: 4 * d * d + 2 * d * f + 4 * d,
                "the biases are missing: each nn.Linear(n_in, n_out) has n_in·n_out weights plus n_out biases."),
        Mistake(lambda d, f: 4 * (d * d + d) + (d * f + f) + (f * d + d),
                "the two LayerNorms are missing: each has a weight and a bias of size d_model (2·d_model)."),
        Mistake(lambda d, f: 3 * (d * d + d) + (d * f + f) + (f * d + d) + 4 * d,
                "attention has four projections, not three: W_Q, W_K, W_V and the output projection W_O."),
        Mistake(lambda d, f: 4 * (d * d + d) + (d * f + f) + (f * d + d) + 2 * d,
                "each LayerNorm has two vectors (weight γ and bias β) of size d_model; two norms make 4·d_model."),
        Mistake(lambda d, f: 4 * (d * d + d) + 2 * (d * f + f) + 4 * d,
                "the second FFN layer maps d_ff back to d_model, so its bias has d_model entries, not d_ff."),
    ])

