"""Notebook 09's KV cache written by hand (torch.cat per layer) is what lmcourse's KVCache computes and stores."""

import math

import pytest
import torch

from lmcourse.gpt import GPT, GPTConfig


def _attend_cached(attn, x, past):
    """The notebook's one-layer cache, with the kv heads expanded for grouped-query attention."""
    B, T, C = x.shape
    hs, n_kv = C // attn.n_head, attn.n_kv_head
    q, k, v = attn.c_attn(x).split((C, n_kv * hs, n_kv * hs), dim=2)
    q = q.view(B, T, attn.n_head, hs).transpose(1, 2)
    k, v = (t.view(B, T, n_kv, hs).transpose(1, 2) for t in (k, v))
    if past is not None:
        k, v = torch.cat((past[0], k), dim=2), torch.cat((past[1], v), dim=2)
    T_k = k.shape[2]
    mask = torch.ones(T, T_k, dtype=torch.bool).tril(diagonal=T_k - T)
    k_all, v_all = (t.repeat_interleave(attn.n_head // n_kv, dim=1) for t in (k, v))
    scores = (q @ k_all.transpose(-2, -1) / math.sqrt(hs)).masked_fill(~mask, float("-inf"))
    y = (torch.softmax(scores, dim=-1) @ v_all).transpose(1, 2).reshape(B, T, C)
    return attn.c_proj(y), (k, v)


def _next_logits(model, new_ids, caches):
    past = 0 if caches[0] is None else caches[0][0].shape[2]
    x = model.wpe(model.wte(new_ids), offset=past)
    for i, block in enumerate(model.blocks):
        a, caches[i] = _attend_cached(block.attn, block.ln_1(x), caches[i])
        x = x + a
        x = x + block.mlp(block.ln_2(x))
    return model.lm_head(model.ln_f(x[:, -1]))


@pytest.mark.parametrize("n_kv_head", [None, 2, 1])
@torch.no_grad()
def test_a_cache_written_with_cat_gives_kvcaches_logits_keys_and_values_at_every_step(n_kv_head):
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=20, vocab_size=30, n_layer=2, n_head=4, n_embd=32, n_kv_head=n_kv_head)).eval()
    new = torch.randint(0, 30, (2, 5))
    caches, package = [None] * 2, model.new_cache(batch_size=2)
    for _ in range(14):                                               # a prefill of 5, then 13 decode steps: 18 of 20
        ours = _next_logits(model, new, caches)
        assert torch.allclose(ours, model.next_logits(new, package), atol=1e-5)
        for layer, (k, v) in enumerate(caches):
            assert k.shape[1] == model.config.kv_heads
            assert torch.allclose(k, package.k[layer, :, :, :package.length], atol=1e-6)
            assert torch.allclose(v, package.v[layer, :, :, :package.length], atol=1e-6)
        new = ours.argmax(-1, keepdim=True)


@torch.no_grad()
def test_greedy_tokens_from_the_hand_written_cache_are_the_uncached_ones():
    torch.manual_seed(1)
    model = GPT(GPTConfig(block_size=24, vocab_size=30, n_layer=3, n_head=4, n_embd=32)).eval()
    prompt = torch.randint(0, 30, (3, 4))
    idx, new, caches = prompt, prompt, [None] * 3
    for _ in range(20):
        new = _next_logits(model, new, caches).argmax(-1, keepdim=True)
        idx = torch.cat((idx, new), dim=1)
    assert torch.equal(idx, model.generate(prompt, 20, greedy=True, use_cache=False))
