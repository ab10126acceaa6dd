"""From a language model to an assistant, measured: pretrain on the invented world, instruction-tune, evaluate.

    python benchmarks/assistant.py                       # the cpu profile, 3 SFT seeds
    python benchmarks/assistant.py --profile ci --seeds 1
    python benchmarks/assistant.py --no-mask             # also SFT with the loss on every token (the ablation)

The recipe of the assistant notebook (lmcourse.world's data, lmcourse.chat's template): a byte-level BPE
tokenizer with the chat's special tokens, learned from the pretraining prose (so every token but the chat
markers is one pretraining trains; a name never seen is spelled from pieces the model knows); a small GPT
(rotary positions, no biases) pretrained on the world's prose; then, per seed, a copy of it
instruction-tuned (SFT) on the chat-formatted examples with the loss
on the assistant's tokens only. Every model answers the held-out prompts greedily with the KV cache,
prompts of one length batched together, the reply cut at ``<|end|>``; a reply counts when it equals the
reference after whitespace normalisation (lmcourse.world.score). The base model gets the same chat prompt.

One table: per task and split, base and SFT exact match (mean ± sd over the SFT seeds; the base is one
pretraining run), the decline rate on unknown people, and the seconds of every stage. The stages are
functions (``build_data``, ``pretrain_base``, ``sft``, ``evaluate``) so a preference-tuning stage can be
added after ``sft`` and its columns next to SFT's. Run with OMP_NUM_THREADS=1 for the one-thread times.
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass

import torch

from lmcourse import world as W
from lmcourse.chat import SPECIAL_TOKENS, chat_tokenizer, encode_chat, end_id, sft_batch
from lmcourse.device import set_seed
from lmcourse.gpt import GPT, GPTConfig, parameter_count


@dataclass(frozen=True)
class Recipe:
    """Every size of one profile."""

    n_people: int
    n_bios: int
    n_sft: dict            # sft_examples' counts per task
    num_merges: int
    n_layer: int
    n_head: int
    n_embd: int
    block_size: int        # the model's longest context (instruction examples)
    window: int            # pretraining windows (shorter: cheaper; rotary positions carry over)
    batch_size: int
    pretrain_steps: int
    pretrain_lr: float
    sft_steps: int
    sft_lr: float
    n_per_task: int        # held-out examples per task and split
    max_new_tokens: int = 32   # the longest reply generated


_CPU_SFT = dict(n_world=900, n_arithmetic=200, n_string=200, n_translate=250, n_unknown=200, n_secret=250)
RECIPES = {
    "ci": Recipe(n_people=12, n_bios=6, n_sft=dict(n_world=60, n_arithmetic=20, n_string=20, n_translate=20,
                                                   n_unknown=20, n_secret=20),
                 num_merges=400, n_layer=2, n_head=2, n_embd=32, block_size=96, window=64, batch_size=16,
                 pretrain_steps=40, pretrain_lr=3e-3, sft_steps=20, sft_lr=2e-3, n_per_task=4,
                 max_new_tokens=12),
    "cpu": Recipe(n_people=48, n_bios=8, n_sft=_CPU_SFT, num_merges=800, n_layer=4, n_head=4, n_embd=96,
                  block_size=96, window=64, batch_size=32, pretrain_steps=1000, pretrain_lr=3e-3,
                  sft_steps=400, sft_lr=1e-3, n_per_task=48),
    "gpu": Recipe(n_people=48, n_bios=8, n_sft=_CPU_SFT, num_merges=800, n_layer=6, n_head=6, n_embd=192,
                  block_size=96, window=96, batch_size=64, pretrain_steps=3000, pretrain_lr=2e-3,
                  sft_steps=600, sft_lr=1e-3, n_per_task=48),
}


def build_data(recipe: Recipe, seed: int = 0):
    """The world, its pretraining text, the instruction set, the held-out splits and the tokenizer."""
    world = W.make_world(seed, n_people=recipe.n_people)
    text = W.pretraining_text(world, seed, n_bios=recipe.n_bios)
    train = W.sft_examples(world, seed, **recipe.n_sft)
    held = W.held_out(world, seed, n_per_task=recipe.n_per_task)
    # the tokenizer learns from the pretraining prose only: every token it has is one pretraining trained
    tokenizer = chat_tokenizer(text.replace("<|endoftext|>", "\n"), recipe.num_merges)
    return world, text, train, held, tokenizer


def _lr(step: int, total: int, peak: float, warmup: int = 50) -> float:
    """Linear warmup, then cosine decay to a tenth of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (0.1 + 0.45 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup))))


def _train(model: GPT, batch, steps: int, peak: float) -> list[float]:
    """A plain AdamW loop (betas 0.9, 0.99; weight decay 0.1; clipping at 1.0); the loss of every step."""
    opt = torch.optim.AdamW(model.parameters(), lr=peak, betas=(0.9, 0.99), weight_decay=0.1)
    model.train()
    losses = []
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = _lr(step, steps, peak)
        x, y = batch()
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    return losses


def pretrain_base(recipe: Recipe, tokenizer, text: str, seed: int = 0) -> tuple[GPT, list[float]]:
    """A GPT trained on random ``window``-token windows of the pretraining text; (model, losses)."""
    ids = torch.tensor(tokenizer.encode(text, allowed_special=["<|endoftext|>"]))
    config = GPTConfig(block_size=recipe.block_size, vocab_size=tokenizer.vocab_size, n_layer=recipe.n_layer,
                       n_head=recipe.n_head, n_embd=recipe.n_embd, position="rope", bias=False)
    set_seed(seed)
    model = GPT(config)
    gen = torch.Generator().manual_seed(seed)
    T = recipe.window

    def batch():
        starts = torch.randint(len(ids) - T - 1, (recipe.batch_size,), generator=gen).tolist()
        x = torch.stack([ids[i:i + T] for i in starts])                       # (B, T)
        return x, torch.stack([ids[i + 1:i + T + 1] for i in starts])         # (B, T), shifted by one
    return model, _train(model, batch, recipe.pretrain_steps, recipe.pretrain_lr)


def chat_examples(tokenizer, examples, block_size: int, *, mask: bool = True) -> list[tuple[list, list]]:
    """(ids, train_mask) per example with its answer as the assistant's turn; ``mask=False`` trains every token."""
    out = []
    for e in examples:
        ids, train = encode_chat(tokenizer, e.messages + ({"role": "assistant", "content": e.answer},))
        if len(ids) > block_size + 1:
            raise ValueError(f"an example has {len(ids)} tokens, more than block_size + 1 = {block_size + 1}: "
                             f"{e.messages[-1]['content']!r}; use more merges or a longer block")
        out.append((ids, train if mask else [True] * len(ids)))
    return out


def sft(base: GPT, recipe: Recipe, tokenizer, examples, seed: int, *, mask: bool = True) -> tuple[GPT, list[float]]:
    """A copy of ``base`` instruction-tuned on ``examples`` (random batches, seeded); (model, losses)."""
    data = chat_examples(tokenizer, examples, base.config.block_size, mask=mask)
    model = copy.deepcopy(base)
    set_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    pad = tokenizer.special_tokens["<|endoftext|>"]

    def batch():
        picks = torch.randint(len(data), (recipe.batch_size,), generator=gen).tolist()
        return sft_batch([data[i] for i in picks], block_size=base.config.block_size, pad_id=pad)
    return model, _train(model, batch, recipe.sft_steps, recipe.sft_lr)


@torch.no_grad()
def respond(model: GPT, tokenizer, conversations, max_new_tokens: int = 32) -> list[str]:
    """Greedy replies to each conversation (ending with a user turn), cut at ``<|end|>``.

    Prompts of the same length are generated as one batch, with the KV cache.
    """
    prompts = [encode_chat(tokenizer, messages, add_generation_prompt=True)[0] for messages in conversations]
    end, out = end_id(tokenizer), [""] * len(prompts)
    groups = defaultdict(list)
    for i, p in enumerate(prompts):
        groups[len(p)].append(i)
    for n, members in groups.items():
        steps = min(max_new_tokens, model.config.block_size - n)
        if steps <= 0:
            continue                                                           # no room to answer: counts as wrong
        x = torch.tensor([prompts[i] for i in members])                        # (b, n)
        for i, row in zip(members, model.generate(x, steps, greedy=True)[:, n:].tolist()):
            out[i] = tokenizer.decode(row[:row.index(end)] if end in row else row)
    return out


def evaluate(model: GPT, tokenizer, examples, max_new_tokens: int = 32) -> tuple[dict[str, float], float | None,
                                                                               list[str]]:
    """Exact match per task, the share of unknown-person prompts declined, and the replies."""
    replies = respond(model, tokenizer, [e.messages for e in examples], max_new_tokens)
    hits, declines = defaultdict(list), []
    for e, r in zip(examples, replies):
        hits[e.task].append(W.score(e, r))
        if e.task == "unknown":
            declines.append(W.is_decline(r))
    return ({t: sum(v) / len(v) for t, v in hits.items()},
            sum(declines) / len(declines) if declines else None, replies)


def _mean_sd(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:5.1f}"
    return f"{100 * statistics.mean(values):5.1f} ± {100 * statistics.stdev(values):4.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=tuple(RECIPES), default="cpu")
    parser.add_argument("--seeds", type=int, default=3, help="SFT seeds (default 3)")
    parser.add_argument("--no-mask", action="store_true", help="also SFT with the loss on every token")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1; got {args.seeds}")
    recipe, seconds = RECIPES[args.profile], {}
    t = time.perf_counter()
    world, text, train, held, tok = build_data(recipe)
    seconds["data + BPE"] = time.perf_counter() - t
    t = time.perf_counter()
    base, losses = pretrain_base(recipe, tok, text)
    seconds["pretrain"] = time.perf_counter() - t
    print(f"profile {args.profile}: {parameter_count(base.config):,} parameters, vocab {tok.vocab_size} "
          f"({len(SPECIAL_TOKENS)} special), pretraining loss {statistics.mean(losses[:10]):.2f} -> "
          f"{statistics.mean(losses[-20:]):.2f}, {len(train)} SFT examples", flush=True)
    t = time.perf_counter()
    results = {"base": [{s: evaluate(base, tok, ex, recipe.max_new_tokens)[:2] for s, ex in held.items()}]}
    seconds["evaluate (base)"] = time.perf_counter() - t
    variants = [("SFT", True)] + ([("SFT, loss on all tokens", False)] if args.no_mask else [])
    for name, mask in variants:
        results[name] = []
        for seed in range(args.seeds):
            t = time.perf_counter()
            model, _ = sft(base, recipe, tok, train, seed, mask=mask)
            key = f"{name} (per seed)"
            seconds[key] = seconds.get(key, 0) + (time.perf_counter() - t) / args.seeds
            t = time.perf_counter()
            results[name].append({s: evaluate(model, tok, ex, recipe.max_new_tokens)[:2] for s, ex in held.items()})
            seconds[f"evaluate {name} (per seed)"] = (seconds.get(f"evaluate {name} (per seed)", 0)
                                                     + (time.perf_counter() - t) / args.seeds)
            print(f"  {name} seed {seed} done", flush=True)
    columns = list(results)
    paired = "SFT, loss on all tokens" in results      # the mask's effect, seed by seed (same seeds, same base)
    print(f"\nexact match, % (held-out; base: one model; others: mean ± sd over {args.seeds} SFT seeds)")
    print(f"{'split':17} {'task':11}" + "".join(f"{c:>26}" for c in columns)
          + (f"{'masked − all, paired':>26}" if paired else ""))

    def row(split, pick):
        cells = [_mean_sd([pick(r[split]) for r in results[c]]) for c in columns]
        if paired:
            cells.append(_mean_sd([pick(a[split]) - pick(b[split])
                                   for a, b in zip(results["SFT"], results["SFT, loss on all tokens"])]))
        return "".join(f"{v:>26}" for v in cells)
    for split, examples in held.items():
        for task in sorted({e.task for e in examples}, key=W.TASKS.index):
            print(f"{split:17} {task:11}" + row(split, lambda r, task=task: r[0][task]))
        if split != "unseen_people":
            print(f"{split:17} {'declines':11}" + row(split, lambda r: r[1]))
    print("\nseconds: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))


if __name__ == "__main__":
    main()
