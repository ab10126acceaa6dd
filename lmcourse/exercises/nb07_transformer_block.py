"""Checkers for notebook 07: RMSNorm, the pre-norm block, a decoder layer's parameters, a pre-norm decoder layer."""

from __future__ import annotations

import torch
import torch.nn as nn

from .checking import Case, Mistake, Result, check_function


def _x(seed: int, *shape: int, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale + shift


_RMS_CASES = [
    Case((_x(0, 2, 6, scale=3.0, shift=2.0), torch.ones(6)), label="x (2, 6) off-centre (mean ≈ 2), weight 1"),
    Case((_x(1, 2, 3, 5, scale=0.5), _x(2, 5)), label="x (2, 3, 5), random weight"),
    Case((_x(4, 4, 3, scale=0.002), torch.ones(3)), label="x (4, 3) with tiny values (0.002 scale): eps matters here"),
    Case((_x(5, 3, 4), _x(6, 4)), {"eps": 0.5}, label="x (3, 4), random weight, eps=0.5"),
]


def _rms_norm(x, weight, eps=1e-6):
    return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def check_rms_norm(rms_norm) -> Result:
    """``rms_norm(x, weight, eps=1e-6)`` must equal ``torch.nn.functional.rms_norm`` over the last axis."""
    return check_function(rms_norm, _rms_norm, _RMS_CASES, name="check_rms_norm", atol=1e-5, mistakes=[
        Mistake(lambda x, w, eps=1e-6:
                (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + eps) * w,
                "you centred x first: that is LayerNorm without its bias. RMSNorm does not subtract the mean; it "
                "divides x itself by its root mean square, sqrt(mean(x²) + eps)."),
        Mistake(lambda x, w, eps=1e-6: x / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + eps) * w,
                "you divided by the standard deviation (which subtracts the mean inside). RMSNorm divides by the "
                "root mean square of x itself: sqrt(mean(x²) + eps), so an off-centre x keeps its offset."),
        Mistake(lambda x, w, eps=1e-6: x / (x.pow(2).mean(-1, keepdim=True).sqrt() + eps) * w,
                "eps goes inside the square root: x / sqrt(mean(x²) + eps), not / (rms + eps)."),
        Mistake(lambda x, w, eps=1e-6: x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w,
                "use the eps argument: one case passes eps=0.5."),
        Mistake(lambda x, w, eps=1e-6: x / x.pow(2).mean(-1, keepdim=True).sqrt() * w,
                "no eps: add eps to mean(x²) before the square root (and use the eps argument you are given)."),
        Mistake(lambda x, w, eps=1e-6: x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps),
                "the learned scale is missing: multiply by weight at the end."),
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


def _decoder_layer_params(d_model: int, d_ff: int, bias: bool) -> int:
    d, f = d_model, d_ff
    attention = 4 * d * d + (4 * d if bias else 0)                 # W_Q, W_K, W_V, W_O (and their biases)
    ffn = 2 * d * f + ((f + d) if bias else 0)
    norm = 2 * d if bias else d                                    # γ, and β unless bias=False
    return 2 * attention + ffn + 3 * norm


_COUNT_CASES = [Case((512, 2048, True), label="d_model=512, d_ff=2048, bias=True (the paper's base model)"),
                Case((64, 256, False), label="d_model=64, d_ff=256, bias=False"),
                Case((10, 7, True), label="d_model=10, d_ff=7, bias=True"),
                Case((10, 7, False), label="d_model=10, d_ff=7, bias=False")]


def check_decoder_layer_params(decoder_layer_params) -> Result:
    """``decoder_layer_params(d_model, d_ff, bias)``: parameters of ``nn.TransformerDecoderLayer(..., bias=bias)``."""
    def encoder_only(d, f, b):
        return _decoder_layer_params(d, f, b) - (4 * d * d + (4 * d if b else 0)) - (2 * d if b else d)

    return check_function(decoder_layer_params, _decoder_layer_params, _COUNT_CASES,
                          name="check_decoder_layer_params", mistakes=[
        Mistake(encoder_only,
                "that is an encoder layer. A decoder layer has a second attention (cross-attention to the "
                "encoder's memory, four more projections) and a third LayerNorm."),
        Mistake(lambda d, f, b: _decoder_layer_params(d, f, b) - (2 * d if b else d),
                "a decoder layer has three LayerNorms, one per sublayer (self-attention, cross-attention, FFN)."),
        Mistake(lambda d, f, b: _decoder_layer_params(d, f, True) - (0 if b else 8 * d + f + d),
                "with bias=False the LayerNorms lose their β too (PyTorch's bias flag covers Linear and LayerNorm "
                "layers): each norm keeps only its weight γ, d_model numbers."),
        Mistake(lambda d, f, b: _decoder_layer_params(d, f, b) - (0 if b else 3 * d),
                "with bias=False each LayerNorm still has its weight γ (d_model numbers); only β goes."),
        Mistake(lambda d, f, b: _decoder_layer_params(d, f, True),
                "use the bias argument: with bias=False no Linear has a bias vector and no LayerNorm a β."),
        Mistake(lambda d, f, b: _decoder_layer_params(d, f, b) + (f - d if b else 0),
                "the FFN's second layer maps d_ff back to d_model, so its bias has d_model entries, not d_ff."),
    ])


def _torch_and_parts(seed: int, d: int, n_head: int):
    """A pre-norm ``nn.TransformerDecoderLayer`` with every weight and bias random, and the same weights as the
    parts of the course's ``DecoderLayer`` (a dict of modules)."""
    from lmcourse.transformer import DecoderLayer, load_torch_layer

    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(seed)
        theirs = nn.TransformerDecoderLayer(d, n_head, 2 * d, dropout=0.0, batch_first=True, norm_first=True).eval()
        for p in theirs.parameters():
            p.add_(torch.randn_like(p) * 0.3)                  # LayerNorms and biases no longer 1s and 0s
        layer = load_torch_layer(DecoderLayer(d, n_head, 2 * d, norm_first=True), theirs).eval()
    return theirs, {"self_attn": layer.self_attn, "cross_attn": layer.cross_attn, "ffn": layer.ff,
                    "norm1": layer.norm1, "norm2": layer.norm2, "norm3": layer.norm3}


def _decoder_parts(seed: int, d: int, n_head: int) -> dict:
    return _torch_and_parts(seed, d, n_head)[1]


def _real(*lengths: int, width: int) -> torch.Tensor:
    return torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]


def _decoder_cases() -> list[Case]:
    return [
        Case((_x(20, 2, 4, 8), _x(21, 2, 5, 8), _real(4, 4, width=4), _real(5, 5, width=5), _decoder_parts(0, 8, 2)),
             label="y (2, 4, 8), memory (2, 5, 8), no padding; d_model 8, 2 heads"),
        Case((_x(22, 2, 5, 8), _x(23, 2, 6, 8), _real(5, 3, width=5), _real(4, 6, width=6), _decoder_parts(1, 8, 2)),
             label="y (2, 5, 8), memory (2, 6, 8); target 1 has 2 padded tokens, source 0 has 2"),
        Case((_x(24, 3, 1, 12), _x(25, 3, 3, 12), _real(1, 1, 1, width=1), _real(3, 2, 1, width=3),
              _decoder_parts(2, 12, 3)), label="y (3, 1, 12): the first decoding step; memory (3, 3, 12) padded"),
    ]


def _pre_norm_decoder(y, memory, tgt_real, src_real, parts, *, causal=True, tgt_pad=True, src_pad=True,
                      cross_kv="memory", post_norm=False):
    t = y.shape[1]
    self_mask = torch.ones(t, t, dtype=torch.bool).tril() if causal else torch.ones(t, t, dtype=torch.bool)
    if tgt_pad:
        self_mask = self_mask & tgt_real[:, None, None, :]                 # (B, 1, T, T)
    memory_mask = src_real[:, None, None, :] if src_pad else None          # (B, 1, 1, S)
    p = parts
    if post_norm:
        y = p["norm1"](y + p["self_attn"](y, mask=self_mask))
        y = p["norm2"](y + p["cross_attn"](y, memory, mask=memory_mask))
        return p["norm3"](y + p["ffn"](y))
    y = y + p["self_attn"](p["norm1"](y), mask=self_mask)
    h = p["norm2"](y)
    kv, mask = (memory, memory_mask) if cross_kv == "memory" else (h, None)
    y = y + p["cross_attn"](h, kv, mask=mask)
    return y + p["ffn"](p["norm3"](y))


def check_pre_norm_decoder_layer(pre_norm_decoder_layer) -> Result:
    """``pre_norm_decoder_layer(y, memory, tgt_real, src_real, parts)`` -> (B, T, d), as a pre-norm
    ``nn.TransformerDecoderLayer`` with a causal mask, the target's and the source's padding."""
    with torch.no_grad():
        return check_function(pre_norm_decoder_layer, _pre_norm_decoder, _decoder_cases(),
                              name="check_pre_norm_decoder_layer", atol=1e-5, mistakes=[
            Mistake(lambda *a: _pre_norm_decoder(*a, post_norm=True),
                    "that is post-norm: norm(x + sublayer(x)). Pre-norm normalizes each sublayer's input and "
                    "adds the raw x back: x = x + sublayer(norm(x)), three times."),
            Mistake(lambda *a: _pre_norm_decoder(*a, causal=False),
                    "the self-attention sees the future: join a causal mask, torch.ones(T, T, dtype=torch.bool)"
                    ".tril(), to the target's padding mask with &."),
            Mistake(lambda *a: _pre_norm_decoder(*a, cross_kv="self"),
                    "cross-attention takes its keys and values from the encoder's memory: "
                    "parts['cross_attn'](h, memory, mask=...), with the queries h from the decoder."),
            Mistake(lambda *a: _pre_norm_decoder(*a, src_pad=False),
                    "cross-attention must not look at the source's padding: pass mask=src_real[:, None, None, :] "
                    "(shape (B, 1, 1, S), True = real token)."),
            Mistake(lambda *a: _pre_norm_decoder(*a, tgt_pad=False),
                    "the self-attention mask must also block the target's padding keys, as PyTorch's layer does "
                    "with tgt_key_padding_mask: causal & tgt_real[:, None, None, :], shape (B, 1, T, T)."),
        ])
