"""From a language model to an assistant, measured: pretrain on the invented world, instruction-tune, DPO.

    python benchmarks/assistant.py                       # the cpu profile, 3 seeds
    python benchmarks/assistant.py --profile ci --seeds 1
    python benchmarks/assistant.py --no-mask             # also SFT with the loss on every token (the ablation)

The recipe of notebook 16, the same sizes and code paths: lmcourse.world's data, a byte-level BPE tokenizer
with the chat's special tokens (lmcourse.chat.chat_tokenizer), a small GPT (rotary positions, no biases)
pretrained with lmcourse.train on the world's prose; then, per seed, a copy instruction-tuned (SFT) on the
chat-formatted examples with the loss on the assistant's tokens only, and two copies of that tuned further
on one pass over a random sample of preference pairs (lmcourse.preference.train_dpo, frozen reference):
plain DPO, and DPO with the chosen answers' NLL added (``sft_weight=1``, the remedy for likelihood
displacement).
Every model answers the held-out prompts greedily (lmcourse.chatbot.greedy_replies); a reply counts when it
equals the reference after whitespace normalisation (lmcourse.world.score). The base model gets the same
chat prompts.

One table: per task and split, base / SFT / DPO exact match (mean ± sd over seeds; the base is one
pretraining run), the decline rate on unknown people, each DPO variant's held-out preference accuracy and
win rate against the SFT model of its seed, and the seconds of every stage. Run with OMP_NUM_THREADS=1 for the
one-thread times.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from lmcourse import chat, chatbot, preference
from lmcourse import world as W
from lmcourse.batches import get_batch
from lmcourse.device import set_seed
from lmcourse.gpt import GPT, GPTConfig, parameter_count
from lmcourse.train import TrainConfig, train

_SFT = dict(n_world=900, n_arithmetic=200, n_string=200, n_translate=250, n_unknown=200, n_secret=250)
RECIPES = {   # notebook 16's R, per profile
    "ci": dict(people=12, bios=4, merges=300, n_layer=2, n_head=2, n_embd=32, block=192, window=48, batch=16,
               pre_steps=30, pre_lr=3e-3, sft_counts=dict(n_world=40, n_arithmetic=16, n_string=16, n_translate=16,
               n_unknown=16, n_secret=16), sft_steps=12, sft_lr=2e-3, n_per_task=4, dpo_steps=6, dpo_pairs=16,
               reply=12),
    "cpu": dict(people=48, bios=8, merges=800, n_layer=4, n_head=4, n_embd=96, block=128, window=64, batch=32,
                pre_steps=1000, pre_lr=3e-3, sft_counts=_SFT, sft_steps=300, sft_lr=1e-3, n_per_task=48,
                dpo_steps=60, dpo_pairs=16, reply=32),
    "gpu": dict(people=48, bios=8, merges=800, n_layer=6, n_head=6, n_embd=192, block=128, window=96, batch=64,
                pre_steps=3000, pre_lr=2e-3, sft_counts=_SFT, sft_steps=600, sft_lr=1e-3, n_per_task=48,
                dpo_steps=200, dpo_pairs=32, reply=32),
}
BETA, DPO_LR = 0.1, 2e-5


def recipe(steps: int, lr: float) -> TrainConfig:
    """Notebook 16's trainer settings: warm-up, cosine decay to lr/10, clipping, AdamW (0.9, 0.99), decay 0.1."""
    return TrainConfig(steps=steps, lr=lr, schedule="cosine", warmup_steps=min(50, steps // 5), min_lr=lr / 10,
                       weight_decay=0.1, betas=(0.9, 0.99), grad_clip=1.0, eval_every=max(1, steps // 5),
                       eval_batches=5)


def pretrain(R: dict, tok, world, text: str) -> GPT:
    """The base model: next-token training on random windows of the world's prose (validation: seed-1 prose)."""
    ids = torch.tensor(tok.encode(text, allowed_special=["<|endoftext|>"]))
    val = torch.tensor(tok.encode(W.pretraining_text(world, 1, n_bios=2), allowed_special=["<|endoftext|>"]))
    config = GPTConfig(block_size=R["block"], vocab_size=tok.vocab_size, n_layer=R["n_layer"], n_head=R["n_head"],
                       n_embd=R["n_embd"], position="rope", bias=False)
    set_seed(0)
    model, gen = GPT(config), torch.Generator().manual_seed(0)
    train(model, lambda: get_batch(ids, R["batch"], R["window"], generator=gen),
          lambda: get_batch(val, R["batch"], R["window"], generator=gen), recipe(R["pre_steps"], R["pre_lr"]),
          generator=gen)
    return model


def sft(R: dict, tok, base: GPT, examples, val_examples, seed: int, *, mask: bool = True) -> GPT:
    """A copy of ``base`` instruction-tuned on ``examples`` (``mask=False``: the loss on every token)."""
    def as_chat(e):
        return chat.encode_chat(tok, e.messages + ({"role": "assistant", "content": e.answer},))
    data = [as_chat(e) for e in examples]
    if not mask:
        data = [(ids, [True] * len(ids)) for ids, _ in data]
    val, pad = [as_chat(e) for e in val_examples], tok.special_tokens["<|endoftext|>"]
    model, g = copy.deepcopy(base), torch.Generator().manual_seed(seed)
    set_seed(seed)

    def pick(rows):
        return chat.sft_batch([rows[i] for i in torch.randint(len(rows), (R["batch"],), generator=g)],
                              block_size=R["block"], pad_id=pad)
    train(model, lambda: pick(data), lambda: pick(val), recipe(R["sft_steps"], R["sft_lr"]), generator=g)
    return model


def preference_data(R: dict, tok, world):
    """DPO's training batches (one pass over a random sample of pairs) and the held-out pairs' batch."""
    pad = tok.special_tokens["<|endoftext|>"]

    def encode(p):
        return preference.encode_preference(tok, list(p.messages), p.chosen, p.rejected)

    def fits(p):
        prompt, chosen, rejected = encode(p)
        return len(prompt) + max(len(chosen), len(rejected)) <= R["block"]

    def batch_of(pairs):
        return preference.preference_batch([encode(p) for p in pairs], pad_id=pad, block_size=R["block"])
    all_train = W.preference_pairs(world, 0, "train")
    order = torch.randperm(len(all_train), generator=torch.Generator().manual_seed(0)).tolist()
    n = R["dpo_steps"] * R["dpo_pairs"]
    pairs = [p for p in (all_train[i] for i in order[:2 * n]) if fits(p)][:n]
    batches = [batch_of(pairs[k:k + R["dpo_pairs"]]) for k in range(0, len(pairs) - R["dpo_pairs"] + 1, R["dpo_pairs"])]
    held = [p for p in W.preference_pairs(world, 0, "unseen_inputs") if fits(p)]
    return batches, batch_of(held)


def evaluate(R: dict, tok, model: GPT, held: dict) -> tuple[dict, list]:
    """{"split/task": exact match} plus "split/declines" (unknown people declined), and every split's scores."""
    out, correct = {}, []
    for split, examples in held.items():
        replies = chatbot.greedy_replies(model, tok, [e.messages for e in examples], max_new_tokens=R["reply"])
        by_task, declines = {}, []
        for e, r in zip(examples, replies):
            by_task.setdefault(e.task, []).append(W.score(e, r))
            if e.task == "unknown":
                declines.append(W.is_decline(r))
        out.update({f"{split}/{t}": sum(v) / len(v) for t, v in by_task.items()})
        if declines:
            out[f"{split}/declines"] = sum(declines) / len(declines)
        if split == "unseen_inputs":
            correct = [W.score(e, r) for e, r in zip(examples, replies) if e.task != "secret"]
    return out, correct


def _cell(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:5.1f}"
    return f"{100 * statistics.mean(values):5.1f} ± {100 * statistics.stdev(values):4.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=tuple(RECIPES), default="cpu")
    parser.add_argument("--seeds", type=int, default=3, help="SFT and DPO seeds (default 3)")
    parser.add_argument("--no-mask", action="store_true", help="also SFT with the loss on every token")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1; got {args.seeds}")
    R, seconds, seeds = RECIPES[args.profile], {}, range(args.seeds)

    def timed(stage, fn, *a, **k):
        t = time.perf_counter()
        result = fn(*a, **k)
        seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - t
        return result

    world = W.make_world(0, n_people=R["people"])
    text = W.pretraining_text(world, 0, n_bios=R["bios"])
    tok = timed("tokenizer", chat.chat_tokenizer, text, R["merges"])
    examples = W.sft_examples(world, 0, **R["sft_counts"])
    held = W.held_out(world, 0, n_per_task=R["n_per_task"])
    base = timed("pretrain", pretrain, R, tok, world, text)
    print(f"profile {args.profile}: {parameter_count(base.config):,} parameters, vocab {tok.vocab_size}, "
          f"{len(examples)} SFT examples, {args.seeds} seeds", flush=True)
    results = {"base": [timed("evaluate", evaluate, R, tok, base, held)[0]]}
    variants = [("SFT", True)] + ([("SFT, all tokens", False)] if args.no_mask else [])
    models, right = {}, {}     # right[seed]: per unseen-input prompt, was the SFT model's reply correct?
    for name, mask in variants:
        results[name] = []
        for seed in seeds:
            models[name, seed] = timed(f"{name} (total)", sft, R, tok, base, examples, held["unseen_inputs"], seed,
                                       mask=mask)
            scores, correct = timed("evaluate", evaluate, R, tok, models[name, seed], held)
            results[name].append(scores)
            if name == "SFT":
                right[seed] = correct
    batches, held_batch = preference_data(R, tok, world)
    extra = {}
    for name, weight in (("DPO", 0.0), ("DPO + SFT term", 1.0)):
        results[name] = []
        extra[f"{name}: preference accuracy"], extra[f"{name}: win rate vs SFT"] = [], []
        for seed in seeds:
            set_seed(seed)
            policy, reference = copy.deepcopy(models["SFT", seed]), preference.frozen_copy(models["SFT", seed])
            timed(f"{name} (total)", preference.train_dpo, policy, reference, batches, steps=len(batches),
                  beta=BETA, lr=DPO_LR, sft_weight=weight)
            scores, dpo_right = timed("evaluate", evaluate, R, tok, policy, held)
            results[name].append(scores)
            extra[f"{name}: preference accuracy"].append(preference.preference_accuracy(policy, reference, held_batch))
            pairs = list(zip(dpo_right, right[seed]))      # per prompt: DPO right?, SFT right?; a tie counts half
            wins = sum(a > b for a, b in pairs) + 0.5 * sum(a == b for a, b in pairs)
            extra[f"{name}: win rate vs SFT"].append(wins / len(pairs))
        print(f"  {name} done", flush=True)
    columns = list(results)
    print(f"\nexact match, % (held-out; base: one model; the others mean ± sd over {args.seeds} seeds)")
    print(f"{'split / task':30}" + "".join(f"{c:>18}" for c in columns))
    for key in results["SFT"][0]:
        print(f"{key:30}" + "".join(f"{_cell([r.get(key, 0.0) for r in results[c]]):>18}" for c in columns))
    for key, values in extra.items():
        print(f"{key:36}{_cell(values):>12}")
    print("\nseconds: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))


if __name__ == "__main__":
    main()
