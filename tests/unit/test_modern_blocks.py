"""The pieces of a LLaMA-style model and of fast attention, against the real thing.

RMSNorm against ``torch.nn.RMSNorm`` and Hugging Face's ``LlamaRMSNorm``, SwiGLU against
``LlamaMLP`` and its parameter budget, tiled (online-softmax) attention against
``F.scaled_dot_product_attention``.
"""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lmcourse._checks import ArgumentError
from lmcourse.attention import causal_mask, tiled_attention
from lmcourse.transformer import FeedForward, RMSNorm, SwiGLU, count_parameters, swiglu_hidden


def test_rmsnorm_equals_torch_and_llama(seeded):
    from transformers.models.llama.modeling_llama import LlamaRMSNorm
    ours, torch_norm, llama = RMSNorm(16, eps=1e-6), nn.RMSNorm(16, eps=1e-6), LlamaRMSNorm(16, eps=1e-6)
    with torch.no_grad():
        ours.weight.normal_()
        torch_norm.weight.copy_(ours.weight)
        llama.weight.copy_(ours.weight)
    x = torch.randn(2, 5, 16, requires_grad=True)
    y = ours(x)
    assert torch.allclose(y, torch_norm(x), atol=1e-6) and torch.allclose(y, llama(x), atol=1e-6)
    (g,) = torch.autograd.grad(y.square().sum(), x)
    (g_ref,) = torch.autograd.grad(torch_norm(x).square().sum(), x)
    assert torch.allclose(g, g_ref, atol=1e-5)


def test_rmsnorm_leaves_the_mean_alone_unlike_layernorm():
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    y = RMSNorm(4)(x)
    assert torch.allclose(y.pow(2).mean(-1), torch.ones(1), atol=1e-5) and y.mean() > 0.5


def test_swiglu_equals_llama_mlp(seeded):
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaMLP
    d, h = 32, swiglu_hidden(32, multiple_of=8)
    ours = SwiGLU(d, h)
    theirs = LlamaMLP(LlamaConfig(hidden_size=d, intermediate_size=h, hidden_act="silu", mlp_bias=False))
    with torch.no_grad():
        theirs.gate_proj.weight.copy_(ours.w1.weight)
        theirs.up_proj.weight.copy_(ours.w3.weight)
        theirs.down_proj.weight.copy_(ours.w2.weight)
    x = torch.randn(3, 7, d)
    assert torch.allclose(ours(x), theirs(x), atol=1e-6)


@pytest.mark.parametrize("d_model", [64, 128, 768, 4096])
def test_swiglu_hidden_width_keeps_the_parameters_of_the_4x_mlp(d_model):
    gated = count_parameters(SwiGLU(d_model, swiglu_hidden(d_model)))
    plain = count_parameters(FeedForward(d_model, 4 * d_model, bias=False))
    assert abs(gated - plain) / plain < 0.01
    assert swiglu_hidden(4096, multiple_of=256) == 11008          # LLaMA-7B's intermediate size


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("t_q, t_k, block", [(16, 16, 4), (13, 13, 5), (7, 19, 4), (1, 9, 64), (30, 30, 1)])
def test_tiled_attention_equals_sdpa(causal, t_q, t_k, block, seeded):
    q = torch.randn(2, 3, t_q, 8, dtype=torch.float64)
    k, v = torch.randn(2, 3, t_k, 8, dtype=torch.float64), torch.randn(2, 3, t_k, 6, dtype=torch.float64)
    mask = causal_mask(t_q, t_k) if causal else None
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(tiled_attention(q, k, v, causal=causal, block_size=block), expected, atol=1e-12)


def test_tiled_attention_keeps_its_gradients(seeded):
    q, k, v = (torch.randn(1, 2, 10, 4, requires_grad=True) for _ in range(3))
    grads = torch.autograd.grad(tiled_attention(q, k, v, causal=True, block_size=3).sum(), (q, k, v))
    ref = torch.autograd.grad(F.scaled_dot_product_attention(q, k, v, is_causal=True).sum(), (q, k, v))
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(grads, ref))


@pytest.mark.parametrize("call, fragment", [
    (lambda: RMSNorm(0), "d_model must be an int >= 1; got 0"),
    (lambda: RMSNorm(4, eps=float("nan")), "eps must be a finite number > 0; got nan"),
    (lambda: RMSNorm(4)(torch.zeros(2, 3)), "x must have last dimension d_model=4; got (2, 3)"),
    (lambda: RMSNorm(4)(torch.zeros(2, 4, dtype=torch.long)), "x must be a floating-point tensor"),
    (lambda: SwiGLU(8, 0), "d_ff must be an int >= 1; got 0"),
    (lambda: swiglu_hidden(64, multiple_of=0), "multiple_of must be an int >= 1; got 0"),
    (lambda: tiled_attention(torch.zeros(1, 4, 8), torch.zeros(1, 4, 8), torch.zeros(1, 4, 8), block_size=0),
     "block_size must be an int >= 1; got 0"),
    (lambda: tiled_attention(torch.zeros(1, 4, 8), torch.zeros(1, 4, 7), torch.zeros(1, 4, 8)), "k must be of shape"),
    (lambda: tiled_attention(torch.zeros(1, 5, 8), torch.zeros(1, 4, 8), torch.zeros(1, 4, 8), causal=True),
     "causal tiled attention needs at least as many keys as queries; got T_q=5, T_k=4"),
])
def test_bad_input_names_the_argument(call, fragment):
    with pytest.raises(ArgumentError) as info:
        call()
    assert fragment in str(info.value)
