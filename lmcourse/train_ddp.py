"""Data-parallel training: the course's loop on several processes with PyTorch DDP.

    torchrun --standalone --nproc_per_node=2 -m lmcourse.train_ddp --steps 20
    python -m lmcourse.train_ddp --steps 20          # the same run in one process

``torchrun`` starts one process per GPU (or per CPU slot) and tells each its ``RANK`` and
``WORLD_SIZE``. Every process holds a full copy of the model, wrapped in
``DistributedDataParallel``; each computes the gradients of its own slice of the global
batch, and DDP averages them across processes during ``backward`` (an all-reduce:
``gloo`` on CPUs, ``nccl`` on GPUs). All copies then take the same optimizer step, so they
stay identical — and, with equal slices, equal to one process training on the whole global
batch. Here each process draws the global batch with the same seeded generator and keeps
its slice, which makes that equality easy to check (real runs give each rank its own data
with a ``DistributedSampler`` or a per-rank offset into the token stream).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from safetensors.torch import save_model
from torch.nn.parallel import DistributedDataParallel

from . import set_seed
from .batches import get_batch, split_ids
from .data import load_text
from .gpt import GPT, GPTConfig
from .tokenizers import CharTokenizer
from .train import TrainConfig, train


@dataclass
class DDPRun:
    """A small run to show that data-parallel training equals one process on the global batch."""

    steps: int = 8
    global_batch: int = 8      # split evenly across the processes
    block_size: int = 32
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 32
    lr: float = 3e-3
    seed: int = 0


def _setup() -> tuple[int, int, torch.device]:
    """Join the process group torchrun describes (if any); return (rank, world_size, device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    rank = dist.get_rank() if dist.is_initialized() else 0
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def run(cfg: DDPRun, out: str | None = None) -> GPT:
    """Train a small GPT on tinyshakespeare with ``cfg``, data-parallel if started by torchrun.

    Returns the trained model (unwrapped); rank 0 writes its weights to ``out``
    (safetensors) if given. Without torchrun it is plain single-process training on the
    same global batches.
    """
    rank, world, device = _setup()
    if cfg.global_batch % world:
        raise ValueError(f"global_batch must be divisible by the number of processes {world}; got {cfg.global_batch}")
    text = load_text("tinyshakespeare", fraction=0.05)
    tok = CharTokenizer.from_text(text)
    train_ids, val_ids = split_ids(tok.encode(text))
    set_seed(cfg.seed)                                  # the same initial weights on every rank
    model = GPT(GPTConfig(block_size=cfg.block_size, vocab_size=tok.vocab_size, n_layer=cfg.n_layer,
                          n_head=cfg.n_head, n_embd=cfg.n_embd, bias=False)).to(device)
    wrapped = DistributedDataParallel(model) if world > 1 else model
    gen, val_gen = torch.Generator().manual_seed(cfg.seed), torch.Generator().manual_seed(cfg.seed + 1)

    def train_batch():                                  # the global batch, then this rank's slice
        x, y = get_batch(train_ids, cfg.global_batch, cfg.block_size, generator=gen)
        return x.chunk(world)[rank].to(device), y.chunk(world)[rank].to(device)

    history = train(wrapped, train_batch,
                    lambda: get_batch(val_ids, cfg.global_batch, cfg.block_size, generator=val_gen, device=device),
                    TrainConfig(steps=cfg.steps, lr=cfg.lr, schedule="cosine", warmup_steps=min(2, cfg.steps - 1),
                                grad_clip=1.0, eval_every=cfg.steps, eval_batches=2), generator=gen)
    if rank == 0:
        print(f"world_size={world} steps={cfg.steps} val_loss={history.val_loss[-1]:.4f}", flush=True)
        if out is not None:
            save_model(model, out)
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train a small GPT data-parallel (start with torchrun).")
    parser.add_argument("--steps", type=int, default=DDPRun.steps)
    parser.add_argument("--global-batch", type=int, default=DDPRun.global_batch)
    parser.add_argument("--seed", type=int, default=DDPRun.seed)
    parser.add_argument("--out", default=None, help="write the final weights here (safetensors)")
    args = parser.parse_args(argv)
    run(DDPRun(steps=args.steps, global_batch=args.global_batch, seed=args.seed), out=args.out)


if __name__ == "__main__":
    main()
