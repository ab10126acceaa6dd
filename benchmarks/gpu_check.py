"""Check the course's accelerator path in one run: equality checks on the device and a
GPT trained with the active profile's sizes (run it with LMCOURSE_PROFILE=gpu on a GPU).

    LMCOURSE_PROFILE=gpu python benchmarks/gpu_check.py --steps 600

Prints one line per check, then `gpu_check: N passed, M failed` and a line of measured
figures. On a machine without a GPU it runs the same checks on the CPU.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from lmcourse import environment_summary, get_profile, pick_device, set_seed
from lmcourse.attention import attention, causal_mask
from lmcourse.batches import get_batch, split_ids
from lmcourse.data import load_text
from lmcourse.gpt import GPT, GPTConfig
from lmcourse.rnn import LSTM
from lmcourse.tokenizers import CharTokenizer
from lmcourse.train import estimate_loss

results: list[tuple[str, bool, str]] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    results.append((name, ok, detail))
    print(f"{'PASS' if ok else 'FAIL'} {name} {detail}", flush=True)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    P = get_profile()
    parser.add_argument("--steps", type=int, default=P.pick(ci=20, cpu=200, gpu=600))
    args = parser.parse_args()
    device = pick_device()
    print(environment_summary(), flush=True)
    set_seed(0)

    # 1. our attention == SDPA on this device, forward and backward
    q, k, v = (torch.randn(2, 4, 64, 32, device=device, requires_grad=True) for _ in range(3))
    ours, _ = attention(q, k, v, causal_mask(64, device=device))
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    g_ours = torch.autograd.grad(ours.sum(), (q, k, v))
    g_ref = torch.autograd.grad(ref.sum(), (q, k, v))
    diff = max((ours - ref).abs().max().item(), *((a - b).abs().max().item() for a, b in zip(g_ours, g_ref)))
    check("attention == scaled_dot_product_attention (fwd+bwd)", diff < 1e-4, f"max diff {diff:.2e}")

    # 2. our LSTM == nn.LSTM (cuDNN on a GPU)
    torch_lstm = torch.nn.LSTM(16, 32, num_layers=2, batch_first=True).to(device)
    x = torch.randn(3, 20, 16, device=device)
    with torch.no_grad():
        diff = (LSTM.from_torch(torch_lstm)(x)[0] - torch_lstm(x)[0]).abs().max().item()
    check("LSTM == nn.LSTM", diff < 1e-4, f"max diff {diff:.2e}")

    # 3. a GPT trained with the profile's sizes
    text = load_text("tinyshakespeare", fraction=P.data_fraction)
    tok = CharTokenizer.from_text(text)
    train_ids, val_ids = split_ids(tok.encode(text))
    config = GPTConfig(block_size=P.block_size, vocab_size=tok.vocab_size, n_layer=P.n_layer, n_head=P.n_head,
                       n_embd=P.n_embd, dropout=P.dropout, bias=False)
    model = GPT(config).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    gen = torch.Generator().manual_seed(0)
    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        xb, yb = get_batch(train_ids, P.batch_size, P.block_size, generator=gen, device=device)
        with amp:
            _, loss = model(xb, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sync(device)
        times.append(time.perf_counter() - t0)
    with amp:
        val = estimate_loss(model, lambda: get_batch(val_ids, P.batch_size, P.block_size, generator=gen, device=device),
                            P.eval_batches)
    ms = statistics.median(times[5:] or times) * 1000
    check("GPT trains (val loss below the uniform ln V)", val < torch.log(torch.tensor(tok.vocab_size)).item(),
          f"val_loss={val:.3f} after {args.steps} steps")
    prompt = torch.tensor([tok.encode("ROMEO:")], device=device)
    sample = model.generate(prompt, 120, temperature=0.8, top_k=40, generator=torch.Generator(device).manual_seed(0))
    print("sample:", tok.decode(sample[0].tolist()).replace("\n", " / "), flush=True)

    # 4. KV cache: identical greedy tokens and a speedup, on this device
    new = min(256, P.block_size)
    start = torch.tensor([tok.encode("\n")], device=device)
    timings = {}
    outs = {}
    for use_cache in (False, True):
        sync(device)
        t0 = time.perf_counter()
        outs[use_cache] = model.generate(start, new - 1, greedy=True, use_cache=use_cache)
        sync(device)
        timings[use_cache] = time.perf_counter() - t0
    check("KV cache gives the same tokens", torch.equal(outs[True], outs[False]), f"{new - 1} tokens")
    speedup = timings[False] / timings[True]

    # 5. seeding repeats on the device
    set_seed(7)
    a = torch.randn(4, device=device)
    set_seed(7)
    check("set_seed repeats draws on the device", torch.equal(a, torch.randn(4, device=device)))

    passed = sum(ok for _, ok, _ in results)
    print(f"gpu_check: {passed} passed, {len(results) - passed} failed")
    print(f"device={device.type} params={sum(p.numel() for p in model.parameters())} ms_per_iter={ms:.1f} "
          f"tokens_per_s={P.batch_size * P.block_size / (ms / 1000):.0f} val_loss={val:.3f} "
          f"kv_cache_speedup={speedup:.2f}")


if __name__ == "__main__":
    main()
