"""How fast does lmcourse's BPE trainer learn 1,000 merges on tinyshakespeare?

Prints one line: merges, seconds, tokens per character of the trained tokenizer on the
whole text, and the speedup of incremental pair counting over the naive trainer (which
recounts every pair before each merge), both measured in this run on the same small slice
and checked to learn identical merges.

    python benchmarks/bpe_train.py [--merges 1000] [--slice 100000] [--slice-merges 200]
"""

import argparse
import time

from lmcourse.data import load_text
from lmcourse.tokenizers import BPETokenizer, train_bpe, train_bpe_naive


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merges", type=int, default=1000)
    parser.add_argument("--slice", type=int, default=100_000, help="characters used for the naive-vs-fast comparison")
    parser.add_argument("--slice-merges", type=int, default=200)
    args = parser.parse_args()

    text = load_text("tinyshakespeare")
    merges, seconds = _timed(train_bpe, text, args.merges)
    tok = BPETokenizer(merges)
    tokens_per_char = len(tok.encode(text)) / len(text)

    small = text[: args.slice]
    naive, t_naive = _timed(train_bpe_naive, small, args.slice_merges)
    fast, t_fast = _timed(train_bpe, small, args.slice_merges)
    if naive != fast:
        raise SystemExit("incremental and naive trainers disagree: this is a bug")
    print(f"merges={len(merges)} seconds={seconds:.2f} tokens/char={tokens_per_char:.3f} "
          f"speedup_vs_naive={t_naive / t_fast:.1f}x (naive {t_naive:.2f} s vs incremental {t_fast:.3f} s, "
          f"{args.slice_merges} merges on {len(small):,} chars, identical merges)")


if __name__ == "__main__":
    main()
