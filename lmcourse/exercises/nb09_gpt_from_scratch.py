"""Checkers for notebook 09: the causal mask, the nucleus (top-p) filter, the GPT parameter count, the KV cache's
size, and grouped-query attention's expansion of key/value heads."""

from __future__ import annotations

import torch

from ..gpt import GPTConfig, kv_cache_bytes, parameter_count
from ..sampling import top_p_filter
from .checking import Case, Mistake, Result, check_function


def _same_tensor(got, expected) -> bool:
    return (isinstance(got, torch.Tensor) and got.dtype == expected.dtype and got.shape == expected.shape
            and torch.equal(got, expected))


def _causal(t):
    return torch.ones(t, t, dtype=torch.bool).tril()


def check_causal_mask(causal_mask) -> Result:
    """``causal_mask(T)`` must return the (T, T) bool mask with True where query i may see key j (j <= i)."""
    cases = [Case((4,), label="T = 4"), Case((1,), label="T = 1 (a single token sees itself)"),
             Case((7,), label="T = 7")]
    return check_function(causal_mask, _causal, cases, name="check_causal_mask", compare=_same_tensor, mistakes=[
        Mistake(lambda t: torch.ones(t, t, dtype=torch.bool).triu(),
                "upper triangle: that lets each token see the *future* and hides the past. "
                "Row i is the query; it may see keys j <= i, the lower triangle (tril)."),
        Mistake(lambda t: torch.ones(t, t, dtype=torch.bool).tril(diagonal=-1),
                "the diagonal is missing: a token must be allowed to attend to itself (j <= i, not j < i), "
                "otherwise the first token sees nothing at all."),
        Mistake(lambda t: ~torch.ones(t, t, dtype=torch.bool).tril(),
                "the mask is inverted (True = blocked is the convention of nn.Transformer's masks); "
                "in this course True means 'may attend'."),
        Mistake(lambda t: torch.ones(t, t).tril(),
                "the pattern is right but the dtype is float: masks must be torch.bool "
                "(use dtype=torch.bool or .bool()), or masked_fill(~mask, …) will fail."),
    ])


def _top_p_cases():
    g = torch.Generator().manual_seed(9)
    return [
        Case((torch.tensor([0.5, 0.3, 0.15, 0.05]), 0.6),
             label="probs [0.5, 0.3, 0.15, 0.05], p = 0.6 (0.5 alone is < 0.6, so the nucleus has 2 tokens)"),
        Case((torch.tensor([0.05, 0.6, 0.1, 0.25]), 0.8), label="probs [0.05, 0.6, 0.1, 0.25] (not sorted), p = 0.8"),
        Case((torch.tensor([0.7, 0.2, 0.1]), 0.5), label="probs [0.7, 0.2, 0.1], p = 0.5 (the top token alone)"),
        Case((torch.softmax(torch.randn(3, 20, generator=g) * 2, -1), 0.9), label="a batch of probs (3, 20), p = 0.9"),
        Case((torch.softmax(torch.randn(2, 10, generator=g), -1), 1.0), label="probs (2, 10), p = 1.0 (keep all)"),
    ]


def _nucleus(probs, p):
    return top_p_filter(probs.log(), p).isfinite()


def _nucleus_keep_below(probs, p):
    """Wrong: keeps only tokens whose running total (including themselves) is <= p."""
    sorted_probs, order = probs.sort(-1, descending=True)
    keep = sorted_probs.cumsum(-1) <= p
    return keep.scatter(-1, order, keep)


def _nucleus_unsorted(probs, p):
    """Wrong: accumulates probabilities in vocabulary order instead of most-likely-first."""
    return probs.cumsum(-1) - probs < p


def _nucleus_sorted_positions(probs, p):
    """Wrong: builds the mask in sorted order and returns it without putting it back in vocabulary order."""
    sorted_probs, _ = probs.sort(-1, descending=True)
    return sorted_probs.cumsum(-1) - sorted_probs < p


def _nucleus_ascending(probs, p):
    """Wrong: sorts least likely first."""
    sorted_probs, order = probs.sort(-1)
    keep = sorted_probs.cumsum(-1) - sorted_probs < p
    return keep.scatter(-1, order, keep)


def check_top_p(nucleus) -> Result:
    """``nucleus(probs, p)``: probabilities (…, V) -> bool mask (…, V), True for the tokens top-p keeps."""
    return check_function(nucleus, _nucleus, _top_p_cases(), name="check_top_p", compare=_same_tensor, mistakes=[
        Mistake(_nucleus_keep_below,
                "you keep tokens while the running total is <= p, so you drop the token that *crosses* p "
                "(and keep nothing when the top token alone is above p). The nucleus is the smallest set "
                "with mass >= p: keep a token if the mass *before* it is still < p."),
        Mistake(_nucleus_sorted_positions,
                "your mask is in sorted order: put it back in vocabulary order with the indices from sort "
                "(keep.scatter(-1, order, keep))."),
        Mistake(_nucleus_unsorted,
                "you summed probabilities in vocabulary order; sort them, most likely first, before the cumsum."),
        Mistake(_nucleus_ascending,
                "you sorted least likely first; the nucleus starts from the *most* likely token (descending=True)."),
    ])


_CONFIGS = [
    GPTConfig(block_size=64, vocab_size=65, n_layer=4, n_head=4, n_embd=128),
    GPTConfig(block_size=256, vocab_size=65, n_layer=6, n_head=6, n_embd=384),
    GPTConfig(block_size=1024, vocab_size=50257, n_layer=12, n_head=12, n_embd=768),
]


def _with_head(c):
    return parameter_count(c) + c.vocab_size * c.n_embd


def _no_positions(c):
    return parameter_count(c) - c.block_size * c.n_embd


def _no_biases(c):
    C = c.n_embd
    return c.vocab_size * C + c.block_size * C + c.n_layer * (12 * C * C) + 2 * C


def _mlp_width_c(c):
    C = c.n_embd
    return parameter_count(c) - c.n_layer * (6 * C * C + 3 * C)


def _no_final_norm(c):
    return parameter_count(c) - 2 * c.n_embd


def check_parameter_count(count) -> Result:
    """``count(config)`` must give the number of parameters of ``GPT(config)`` (tied head counted once)."""
    cases = [Case((c,), label=f"GPTConfig(n_layer={c.n_layer}, n_embd={c.n_embd}, vocab_size={c.vocab_size}, "
                              f"block_size={c.block_size})") for c in _CONFIGS]
    return check_function(count, parameter_count, cases, name="check_parameter_count",
                          compare=lambda got, exp: isinstance(got, int) and got == exp, mistakes=[
        Mistake(_with_head, "you counted the output head separately; it is tied to the token embedding "
                            "(the same V×C matrix), so it adds nothing."),
        Mistake(_no_positions, "the learned position embedding (block_size × n_embd) is missing."),
        Mistake(_no_biases, "biases and LayerNorm parameters are missing: each block has 13·C of them "
                            "(q/k/v 3C, c_proj C, MLP 4C + C, two LayerNorms 2·2C)."),
        Mistake(_mlp_width_c, "the MLP is 4·C wide: C×4C + 4C×C = 8·C² weights, not 2·C²."),
        Mistake(_no_final_norm, "the final LayerNorm ln_f (2·C) is missing."),
    ])


_CACHE_CONFIGS = [
    (GPTConfig(block_size=256, vocab_size=65, n_layer=6, n_head=6, n_embd=384), 1, 256, 4,
     "nanoGPT's Shakespeare GPU model (6 layers, 6 heads of 64), batch 1, 256 tokens, fp32 (4 bytes)"),
    (GPTConfig(block_size=1024, vocab_size=50257, n_layer=12, n_head=12, n_embd=768), 8, 300, 2,
     "GPT-2 small, batch 8, 300 tokens of its 1024, fp16 (2 bytes)"),
    (GPTConfig(block_size=4096, vocab_size=32000, n_layer=80, n_head=64, n_embd=8192, n_kv_head=8), 1, 4096, 2,
     "LLaMA-2-70B's attention (80 layers, 64 query heads of 128, 8 kv heads), 4096 tokens, fp16"),
]


def _cache_size(config, batch_size, seq_len, bytes_per_value):
    return kv_cache_bytes(config.n_layer, batch_size, seq_len, config.kv_heads, config.n_embd // config.n_head,
                          bytes_per_value)


def check_cache_size(cache_size) -> Result:
    """``cache_size(config, batch_size, seq_len, bytes_per_value)``: the bytes of keys and values a full cache holds."""
    cases = [Case((c, b, t, nbytes), label=label) for c, b, t, nbytes, label in _CACHE_CONFIGS]
    return check_function(cache_size, _cache_size, cases, name="check_cache_size",
                          compare=lambda got, exp: isinstance(got, int) and got == exp, mistakes=[
        Mistake(lambda c, b, t, n: _cache_size(c, b, t, n) // 2,
                "half the size: the cache stores keys *and* values, two tensors of the same shape (the factor 2)."),
        Mistake(lambda c, b, t, n: _cache_size(c, b, t, n) // c.kv_heads * c.n_head,
                "you counted every query head; only the key/value heads are cached. With grouped-query "
                "attention that is config.kv_heads (8 for LLaMA-2-70B), not n_head."),
        Mistake(lambda c, b, t, n: _cache_size(c, b, t, n) // c.n_layer,
                "one layer's cache: every layer keeps its own keys and values (the factor n_layer)."),
        Mistake(lambda c, b, t, n: _cache_size(c, b, t, n) // n,
                "that is the number of values; multiply by bytes_per_value to get bytes."),
        Mistake(lambda c, b, t, n: _cache_size(c, b, t, n) // t * c.block_size,
                "you used block_size; the cache holds seq_len positions here (a KVCache allocates block_size, "
                "but only the tokens so far are filled)."),
        Mistake(lambda c, b, t, n: _cache_size(c, b, t, n) // b,
                "one sequence's cache: every sequence in the batch has its own (the factor batch_size)."),
    ])


def _kv_cases():
    g = torch.Generator().manual_seed(16)
    shapes = [((1, 2, 3, 4), 6, "k (B=1, n_kv=2, T=3, hs=4), n_head = 6 (3 query heads per kv head)"),
              ((2, 4, 5, 3), 8, "k (2, 4, 5, 3), n_head = 8 (2 query heads per kv head)"),
              ((2, 1, 4, 2), 4, "k (2, 1, 4, 2), n_head = 4 (multi-query: one kv head for all)"),
              ((1, 3, 2, 2), 3, "k (1, 3, 2, 2), n_head = 3 (as many kv heads as query heads: unchanged)")]
    return [Case((torch.randn(*shape, generator=g), n_head), label=label) for shape, n_head, label in shapes]


def _expand(k, n_head):
    return k.repeat_interleave(n_head // k.shape[1], dim=1)


def check_expand_kv(expand_kv) -> Result:
    """``expand_kv(k, n_head)``: key (or value) heads (B, n_kv, T, hs) -> (B, n_head, T, hs), each kv head given
    to its ``n_head // n_kv`` query heads in a row."""
    return check_function(expand_kv, _expand, _kv_cases(), name="check_expand_kv", compare=_same_tensor, mistakes=[
        Mistake(lambda k, n: k.repeat(1, n // k.shape[1], 1, 1),
                "right shape, wrong heads: repeat tiles the kv heads (0, 1, 0, 1, …), so query head 1 reads kv "
                "head 1. Query heads 0…g-1 share kv head 0, the next g kv head 1: repeat_interleave (0, 0, 1, 1, …)."),
        Mistake(lambda k, n: k.repeat_interleave(n // k.shape[1], dim=2),
                "you repeated along the time axis (dim 2): that copies positions, not heads. The heads are dim 1."),
        Mistake(lambda k, n: k.repeat_interleave(n // k.shape[1], dim=-1),
                "you repeated along the head size (the last axis); the heads are dim 1 of (B, n_kv, T, hs)."),
        Mistake(lambda k, n: k.repeat_interleave(k.shape[1], dim=1),
                "each kv head serves n_head // n_kv query heads; you repeated it n_kv times."),
    ])
