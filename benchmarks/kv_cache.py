"""How much faster is generation with a KV cache than recomputing the whole context each step?

Generates ``--new`` tokens (greedy, batch 1, from a one-token prompt) with a GPT whose
block_size is ``--block``, once recomputing the full context at every step and once
reusing cached keys and values; checks that both produce identical tokens; prints the
seconds of each (best of ``--repeats``, measured in this run) and, as the last line,
``kv_cache_speedup=<uncached seconds / cached seconds>``.

    python benchmarks/kv_cache.py [--new 256] [--block 256] [--n-layer 4] [--n-head 4] [--n-embd 128]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new", type=int, default=256, help="tokens to generate")
    parser.add_argument("--block", type=int, default=256, help="block_size (context length) of the model")
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=65)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.manual_seed(0)
    config = GPTConfig(block_size=args.block, vocab_size=args.vocab, n_layer=args.n_layer, n_head=args.n_head,
                       n_embd=args.n_embd)
    model = GPT(config).to(args.device).eval()
    prompt = torch.zeros(1, 1, dtype=torch.long, device=args.device)
    model.generate(prompt, 8, greedy=True)                                   # warm-up
    plain, t_plain = _best_time(lambda: model.generate(prompt, args.new, greedy=True, use_cache=False), args.repeats)
    cached, t_cached = _best_time(lambda: model.generate(prompt, args.new, greedy=True, use_cache=True), args.repeats)
    if not torch.equal(plain, cached):
        raise SystemExit("cached and uncached generation disagree: this is a bug")
    print(f"GPT n_layer={args.n_layer} n_head={args.n_head} n_embd={args.n_embd} block_size={args.block}, "
          f"{args.new} new tokens, device {args.device}, torch threads {torch.get_num_threads()}")
    print(f"recompute the full context: {t_plain:.3f} s ({1000 * t_plain / args.new:.2f} ms/token)")
    print(f"KV cache:                   {t_cached:.3f} s ({1000 * t_cached / args.new:.2f} ms/token)")
    print("identical tokens: True")
    print(f"kv_cache_speedup={t_plain / t_cached:.2f}")


if __name__ == "__main__":
    main()
