"""How much faster is generation with a KV cache than recomputing the whole context each step?

Generates ``--new`` tokens (greedy, batch 1, from a one-token prompt) with a GPT whose
block_size is ``--block``, once recomputing the full context at every step and once
reusing cached keys and values; checks that both produce identical tokens; prints the
seconds of each (best of ``--repeats``, measured in this run). Then, for 1, 2 and n_head
key/value heads (grouped-query attention; ``--n-kv-head`` adds another count), prints the
bytes of the cache ``KVCache`` allocates, how many times smaller it is than multi-head
attention's, and the seconds per token of cached generation. The last line is
``kv_cache_speedup=<uncached seconds / cached seconds>`` (for the model with ``--n-kv-head``
key/value heads, n_head by default).

    python benchmarks/kv_cache.py [--new 512] [--block 512] [--n-layer 4] [--n-head 4] [--n-embd 128]
                                  [--n-kv-head N]
"""

import argparse
import time

import torch

from lmcourse.gpt import GPT, GPTConfig


def _best_time(fn, repeats: int) -> tuple[torch.Tensor, float]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def _model(args, n_kv_head: int) -> GPT:
    torch.manual_seed(0)
    config = GPTConfig(block_size=args.block, vocab_size=args.vocab, n_layer=args.n_layer, n_head=args.n_head,
                       n_embd=args.n_embd, n_kv_head=n_kv_head)
    return GPT(config).to(args.device).eval()


def _cache_bytes(model: GPT) -> int:
    cache = model.new_cache(batch_size=1)
    return cache.k.numel() * cache.k.element_size() + cache.v.numel() * cache.v.element_size()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new", type=int, default=512, help="tokens to generate")
    parser.add_argument("--block", type=int, default=512, help="block_size (context length) of the model")
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-kv-head", type=int, default=None,
                        help="key/value heads of the model timed with and without the cache (default n_head)")
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=65)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    n_kv = args.n_head if args.n_kv_head is None else args.n_kv_head

    model = _model(args, n_kv)
    prompt = torch.zeros(1, 1, dtype=torch.long, device=args.device)
    model.generate(prompt, 8, greedy=True)                                   # warm-up
    plain, t_plain = _best_time(lambda: model.generate(prompt, args.new, greedy=True, use_cache=False), args.repeats)
    cached, t_cached = _best_time(lambda: model.generate(prompt, args.new, greedy=True, use_cache=True), args.repeats)
    if not torch.equal(plain, cached):
        raise SystemExit("cached and uncached generation disagree: this is a bug")
    print(f"GPT n_layer={args.n_layer} n_head={args.n_head} n_kv_head={n_kv} n_embd={args.n_embd} "
          f"block_size={args.block}, {args.new} new tokens, device {args.device}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"recompute the full context: {t_plain:.3f} s ({1000 * t_plain / args.new:.2f} ms/token)")
    print(f"KV cache:                   {t_cached:.3f} s ({1000 * t_cached / args.new:.2f} ms/token)")
    print("identical tokens: True")

    counts = sorted(k for k in {1, 2, args.n_head, n_kv} if args.n_head % k == 0)[::-1]   # n_head first
    full = None
    print(f"grouped-query attention ({args.n_head} query heads), cache for batch 1 and {args.block} positions:")
    for k in counts:
        m = model if k == n_kv else _model(args, k)
        m.generate(prompt, 8, greedy=True)                                   # warm-up
        _, seconds = _best_time(lambda m=m: m.generate(prompt, args.new, greedy=True), args.repeats)
        nbytes = _cache_bytes(m)
        full = full or nbytes                                                 # the first row: multi-head
        print(f"  n_kv_head={k:<3d} cache {nbytes:>10,d} bytes ({full / nbytes:g}x smaller than multi-head) "
              f"| {1000 * seconds / args.new:.2f} ms/token with the cache")
    print(f"kv_cache_speedup={t_plain / t_cached:.2f}")


if __name__ == "__main__":
    main()
