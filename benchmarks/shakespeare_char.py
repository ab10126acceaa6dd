"""nanoGPT's shakespeare-char CPU run, trained with the course's loop (lmcourse.train.train).

    python benchmarks/shakespeare_char.py            # 2000 iterations, as nanoGPT's README
    python benchmarks/shakespeare_char.py --iters 200
    python benchmarks/shakespeare_char.py --position learned   # GPT-2's learned positions, as nanoGPT
    python benchmarks/shakespeare_char.py --modern --lr 2e-3   # the LLaMA-style block (notebook 10's ladder)

The config is nanoGPT's `train_shakespeare_char.py` with its README's CPU overrides:
n_layer 4, n_head 4, n_embd 128, block 64, batch 12, dropout 0, no bias, no compile;
AdamW (betas 0.9, 0.99, weight decay 0.1), lr 1e-3 warmed up for 100 iterations then
cosine-decayed to 1e-4 at the last iteration, gradient clipping at 1.0, and the validation
loss averaged over 20 batches. nanoGPT's README says this run takes about 3 minutes on a laptop CPU
(2000 iterations, evaluation included; it gives no per-iteration time) for a val loss of about 1.88.

One change from nanoGPT's model, on by default: rotary positions (`GPTConfig(position="rope")`,
notebook 07's RoPE) instead of a learned position table. Same sizes and hyperparameters otherwise;
`--position learned` gives nanoGPT's model, so the effect of the change can be measured here.

`--modern` trains the top of notebook 10's ladder, a LLaMA-style block: rotary positions, RMSNorm,
a SwiGLU MLP, no biases and grouped-query attention with 2 key/value heads for the 4 query heads.
GQA alone would remove 8 % of the parameters (a quarter of each layer's attention input matrix);
as LLaMA 2 did for its GQA models, the MLP is widened to give them back: SwiGLU hidden width
384 instead of `swiglu_hidden(128)` = 341, so the model has 99 % of nanoGPT's parameters (both
counts and the ratio are printed). `--lr` sets the peak learning rate (default nanoGPT's 1e-3;
the cosine still ends at a tenth of it).

The last line is `val_loss=<x> ms_per_iter=<y> tokens_per_s=<z>`: ms_per_iter is the median
wall time of a whole training iteration (batch, forward, backward, update), evaluation excluded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace

import torch

from lmcourse import set_seed
from lmcourse.batches import get_batch, split_ids
from lmcourse.data import load_text
from lmcourse.gpt import GPT, GPTConfig, parameter_count
from lmcourse.ladder import climb
from lmcourse.tokenizers import CharTokenizer
from lmcourse.train import TrainConfig, peak_memory_mib, train

MODERN_D_FF = 384  # SwiGLU width that gives GQA's removed attention parameters back to the MLP


def _load() -> str:
    """The 1-, 5- and 15-minute load averages, where the system reports them (not on Windows)."""
    if not hasattr(os, "getloadavg"):
        return "n/a"
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=2000, help="training iterations (default 2000)")
    parser.add_argument("--position", choices=("rope", "learned"), default="rope",
                        help="position encoding (default rope; learned = GPT-2/nanoGPT)")
    parser.add_argument("--eval-every", type=int, default=None,
                        help="evaluate every N iterations (default: at the end)")
    parser.add_argument("--modern", action="store_true",
                        help="LLaMA-style block: rope, RMSNorm, SwiGLU (d_ff 384), no bias, 2 key/value heads")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3, nanoGPT's)")
    args = parser.parse_args()
    if args.iters < 101:
        parser.error(f"--iters must be > 100 (the warmup); got {args.iters}")
    if not args.lr > 0:
        parser.error(f"--lr must be > 0; got {args.lr}")
    if args.modern and args.position != "rope":
        parser.error("--modern uses rotary positions; drop --position learned")
    set_seed(1337)
    text = load_text("tinyshakespeare")
    tok = CharTokenizer.from_text(text)
    train_ids, val_ids = split_ids(tok.encode(text), val_fraction=0.1)
    nanogpt = GPTConfig(block_size=64, vocab_size=tok.vocab_size, n_layer=4, n_head=4, n_embd=128,
                        dropout=0.0, bias=False, position="learned")
    if args.modern:   # the top of notebook 10's ladder from GPT-2's block, with GQA's parameters given to the MLP
        config = replace(climb(replace(nanogpt, bias=True))[-1][1], d_ff=MODERN_D_FF)
    else:
        config = replace(nanogpt, position=args.position)
    model = GPT(config)
    ours, theirs = parameter_count(config), parameter_count(nanogpt)
    print(f"{config}\nparameters: {ours:,} here, {theirs:,} in nanoGPT's model: ratio {ours / theirs:.3f}")
    batch, block = 12, 64
    g_train, g_val = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    train_cfg = TrainConfig(steps=args.iters, lr=args.lr, min_lr=args.lr / 10, schedule="cosine", warmup_steps=100,
                            betas=(0.9, 0.99), weight_decay=0.1, grad_clip=1.0, eval_batches=20,
                            eval_every=args.eval_every or args.iters)
    print(f"torch {torch.__version__} | threads {torch.get_num_threads()} | "
          f"load average {_load()}", flush=True)
    t0 = time.perf_counter()
    history = train(model, lambda: get_batch(train_ids, batch, block, generator=g_train),
                    lambda: get_batch(val_ids, batch, block, generator=g_val), train_cfg, generator=g_train)
    total = time.perf_counter() - t0
    ms = statistics.median(history.step_ms[10:] or history.step_ms)
    peak = peak_memory_mib()
    for step, tr, va in zip(history.steps, history.train_loss, history.val_loss):
        print(f"step {step}: train {tr:.4f} val {va:.4f}")
    name = "modern" if args.modern else f"position={args.position}"
    print(f"{name} | lr {args.lr:g} | params {sum(p.numel() for p in model.parameters()):,} | "
          f"total {total:.1f} s | peak RSS {'unknown' if peak is None else f'{peak:.0f} MiB'} | "
          f"load average {_load()}")
    print(f"val_loss={history.val_loss[-1]:.4f} ms_per_iter={ms:.2f} tokens_per_s={batch * block / (ms / 1000):.0f}")


if __name__ == "__main__":
    main()
