"""What do quantization, pruning and distillation buy, and what do they cost? One table, one run,
plus the pruning control over seeds.

Trains notebook 09's character GPT on tinyshakespeare for ``--steps`` steps (the teacher),
then measures, on the CPU and against the same fixed validation batches:

* int8 weights: ours (per-channel, weight-only) and PyTorch's dynamic quantization;
* pruning: 50 % of the MLP weights (unstructured), 50 % of the MLP neurons (structured),
  and 80 % of every block matrix followed by ``--steps // 5`` fine-tuning steps with the mask kept —
  next to its control, the *unpruned* teacher given the same extra steps on the same batches
  (the teacher is still improving, so extra steps help any model);
* distillation: a 2-layer, half-width student trained for ``--steps * 3 // 5`` steps on hard
  labels only, and the same student (same initial weights and batches) distilled at T=2, α=0.5.

Each row gives parameters, bytes on disk (safetensors; ``torch.save`` for PyTorch's quantized
model), the size ratio to the teacher, the median no-grad forward time of one (``--batch``, 64) batch,
the speedup ratio, the validation loss and its change from the teacher's. The table is one run
(the fine-tunes use seed 0); after it, the pruned-vs-control fine-tune is repeated on ``--seeds``
seeds and reported as mean ± sd and the paired difference pruned − unpruned (lmcourse.seeds).

    python benchmarks/compression.py [--steps 1000] [--batch 12] [--repeat 20] [--eval-batches 40] [--seeds 3]
"""

import argparse
import copy
import time
import warnings

import torch

from lmcourse import compression as C
from lmcourse.batches import get_batch, split_ids
from lmcourse.data import load_text
from lmcourse.gpt import GPT, GPTConfig
from lmcourse.seeds import paired, repeat
from lmcourse.tokenizers import CharTokenizer
from lmcourse.train import TrainConfig, train
from lmcourse.transformer import count_parameters

BLOCK, BATCH_TRAIN = 64, 12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="teacher training steps (others scale with it)")
    parser.add_argument("--batch", type=int, default=12, help="batch size of the timed forward pass")
    parser.add_argument("--repeat", type=int, default=20, help="timed forward passes per model (the median counts)")
    parser.add_argument("--eval-batches", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3, help="seeds for the pruned-vs-unpruned fine-tune (>= 1)")
    args = parser.parse_args()
    if args.steps < 5:
        parser.error(f"--steps must be at least 5; got {args.steps}")
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1; got {args.seeds}")
    warnings.filterwarnings("ignore", message=".*(quantiz|deprecated).*")
    torch.manual_seed(0)
    start = time.perf_counter()

    text = load_text("tinyshakespeare")
    tok = CharTokenizer.from_text(text)
    train_ids, val_ids = split_ids(tok.encode(text), val_fraction=0.1)
    vg = torch.Generator().manual_seed(2)
    val_batches = [get_batch(val_ids, BATCH_TRAIN, BLOCK, generator=vg) for _ in range(args.eval_batches)]
    x_timed = get_batch(val_ids, args.batch, BLOCK, generator=vg)[0]

    def fit(model, steps, lr=2e-3, seed=1):
        g, eg = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 100)
        cfg = TrainConfig(steps=steps, lr=lr, eval_every=steps, eval_batches=2, grad_clip=1.0)
        train(model, lambda: get_batch(train_ids, BATCH_TRAIN, BLOCK, generator=g),
              lambda: get_batch(val_ids, BATCH_TRAIN, BLOCK, generator=eg), cfg)
        return model.eval()

    config = GPTConfig(block_size=BLOCK, vocab_size=tok.vocab_size, n_layer=4, n_head=4, n_embd=128)
    teacher = fit(GPT(config), args.steps)

    rows = {"float32 teacher": teacher,
            "int8 per-channel, weight-only (ours)": C.quantize_linears(teacher),
            "int8 dynamic (PyTorch)": C.quantize_dynamic_int8(teacher),
            "pruned 50% MLP weights (unstructured)": C.remove_pruning(
                C.prune_magnitude(copy.deepcopy(teacher), 0.5, parts=("mlp",))),
            "pruned 50% MLP neurons (structured)": C.prune_mlp_neurons(teacher, 0.5)}
    rows["pruned 80% all blocks, no fine-tune"] = C.remove_pruning(C.prune_magnitude(copy.deepcopy(teacher), 0.8))
    extra, tuned = args.steps // 5, {}

    def fine_tune(seed, prune_first):                                       # the same batches for both arms
        if (seed, prune_first) not in tuned:
            model = C.prune_magnitude(copy.deepcopy(teacher), 0.8) if prune_first else copy.deepcopy(teacher)
            tuned[seed, prune_first] = C.remove_pruning(fit(model, extra, lr=1e-3, seed=10 + seed))
        return tuned[seed, prune_first]

    rows[f"pruned 80% + {extra} fine-tune steps"] = fine_tune(0, True)
    rows[f"unpruned + {extra} fine-tune steps (control)"] = fine_tune(0, False)
    student_config = GPTConfig(block_size=BLOCK, vocab_size=tok.vocab_size, n_layer=2, n_head=4, n_embd=64)
    for name in ("hard labels", "distilled T=2"):
        torch.manual_seed(1)
        student = GPT(student_config)
        model = student if name == "hard labels" else C.Distiller(student, teacher, temperature=2.0, alpha=0.5)
        fit(model, args.steps * 3 // 5, seed=3)
        rows[f"student 2x64, {name}"] = student.eval()

    ref_size, ref_ms, ref_loss = C.size_on_disk(teacher), None, C.mean_loss(teacher, val_batches)
    print(f"teacher GPT 4x128 trained {args.steps} steps | timed batch {tuple(x_timed.shape)} | "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'model':<40}{'params':>9}{'bytes':>10}{'size ratio':>11}{'fwd ms':>8}"
          f"{'speedup':>8}{'val loss':>9}{'Δ loss':>8}")
    for name, model in rows.items():
        size = C.torch_save_size(model) if "PyTorch" in name else C.size_on_disk(model)
        ms = C.forward_ms(model, x_timed, repeat=args.repeat)
        ref_ms = ref_ms or ms
        loss = C.mean_loss(model, val_batches)
        # int8 rows: same weights, fewer bits
        params = count_parameters(teacher if "int8" in name else model, trainable_only=False)
        print(f"{name:<40}{params:>9,}{size:>10,}{ref_size / size:>10.2f}x{ms:>8.2f}"
              f"{ref_ms / ms:>7.2f}x{loss:>9.3f}{loss - ref_loss:>+8.3f}")
    seeds = tuple(range(args.seeds))
    pruned_ft = repeat(lambda seed: C.mean_loss(fine_tune(seed, True), val_batches), seeds=seeds)
    control = repeat(lambda seed: C.mean_loss(fine_tune(seed, False), val_batches), seeds=seeds)
    print(f"over {args.seeds} seed(s) of {extra} fine-tune steps: "
          f"pruned 80% {pruned_ft} | unpruned (control) {control}")
    print(paired(control, pruned_ft, labels=("unpruned", "pruned")))
    print(f"(measured in one run of {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
