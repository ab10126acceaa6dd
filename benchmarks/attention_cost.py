"""How do written-out attention, SDPA and tiled (online-softmax) attention scale with the length?

For each length in ``--lengths`` runs one attention call of shape (1, ``--heads``, T, ``--head-dim``),
no mask: notebook 05's written-out ``attention`` (which stores the T × T weights), PyTorch's
``F.scaled_dot_product_attention`` and the package's ``tiled_attention`` (notebook 14 §8, blocks of
``--block``). Checks that the three agree; prints the median milliseconds of ``--repeats`` runs
(measured in this run), the bytes of one score table, and each method's time as a ratio of the
written-out time. Timings are this machine's; the ratios and the fitted slope (log time against
log T over the three longest lengths) are what to compare. The last line is
``sdpa_speedup=<written-out / SDPA time at the longest length>``.

    python benchmarks/attention_cost.py [--lengths 256 512 1024 2048] [--heads 4] [--head-dim 64] [--block 128]
"""

import argparse
import functools
import math

import torch
import torch.nn.functional as F

from lmcourse.attention import attention, attention_scores_bytes, tiled_attention
from lmcourse.compression import latency_ms


def _slope(xs: list[int], ys: list[float]) -> float:
    """Least-squares slope of log y against log x."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 512, 1024, 2048])
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--block", type=int, default=128, help="block size of tiled_attention")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.manual_seed(0)
    methods = {"written out": lambda q, k, v: attention(q, k, v)[0],
               "SDPA": lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
               f"tiled, block {args.block}": lambda q, k, v: tiled_attention(q, k, v, block_size=args.block)}
    times: dict[str, list[float]] = {name: [] for name in methods}
    print(f"attention (1, {args.heads}, T, {args.head_dim}), float32, no mask, device {args.device}, "
          f"torch threads {torch.get_num_threads()}, median of {args.repeats} runs")
    print(f"{'T':>6} {'scores MiB':>11} " + " ".join(f"{name + ' ms':>20}" for name in methods)
          + "   ratios to written out")
    with torch.no_grad():
        for T in args.lengths:
            q, k, v = (torch.randn(1, args.heads, T, args.head_dim, device=args.device) for _ in range(3))
            outs = {name: fn(q, k, v) for name, fn in methods.items()}            # also the warm-up
            ref = outs["written out"]
            if not all(torch.allclose(out, ref, atol=1e-4) for out in outs.values()):
                raise SystemExit(f"the three attentions disagree at T={T}: this is a bug")
            for name, fn in methods.items():
                times[name].append(latency_ms(functools.partial(fn, q, k, v), repeat=args.repeats, warmup=0))
            mib = attention_scores_bytes(T, n_head=args.heads) / 2**20
            ratios = " ".join(f"{times[name][-1] / times['written out'][-1]:5.2f}" for name in methods)
            print(f"{T:6} {mib:11.2f} " + " ".join(f"{times[name][-1]:20.2f}" for name in methods) + f"   {ratios}")
    if len(args.lengths) >= 3:
        tail = args.lengths[-3:]
        print("fitted slope of log time on log T (three longest):",
              ", ".join(f"{name} {_slope(tail, times[name][-3:]):.2f}" for name in methods), "| memory 2.00")
    print(f"sdpa_speedup={times['written out'][-1] / times['SDPA'][-1]:.2f}")


if __name__ == "__main__":
    main()
