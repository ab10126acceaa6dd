"""Train the notebook-08 translator (English → 中文) and measure held-out BLEU.

    python benchmarks/translation.py            # the cpu profile (LMCOURSE_PROFILE picks another)

Prints one line: ``bleu=<x> baseline_bleu=<y> train_seconds=<z> steps=<n> ...``. BLEU is
corpus BLEU over Chinese characters (sacrebleu's numbers, computed by lmcourse.metrics) on
the test split, whose (subject, verb, object) combinations never occur in training. The
baseline copies the English source as the "translation". As in notebook 08, numbers from 9000 to
9999 are kept out of the corpus; ``unseen_numbers_exact`` is the exact match on sentences that
count with them (``parallel_corpus.number_pairs``), a systematic test.
"""

import argparse
import time

import torch

import lmcourse
from lmcourse.metrics import corpus_bleu
from lmcourse.parallel_corpus import make_corpus, number_pairs
from lmcourse.profiles import get_profile
from lmcourse.transformer import Transformer, TransformerConfig
from lmcourse.translation import PAD_ID, Vocab, chinese_tokens, english_tokens, train_translator, translate

HELD_OUT_NUMBERS = range(9000, 10_000)


def recipe(P):
    """The sizes the notebook uses, per profile."""
    return dict(
        n_train=P.pick(ci=3000, cpu=20_000), n_test=P.pick(ci=200, cpu=500),
        d_model=P.pick(ci=64, cpu=128), n_head=4, n_layer=2, d_ff=P.pick(ci=128, cpu=256),
        dropout=0.0, batch_size=64, steps=P.pick(ci=150, cpu=1200),
        warmup=P.pick(ci=50, cpu=200), factor=1.0, label_smoothing=0.1)


def main():
    lmcourse.set_seed(0)
    P = get_profile()
    R = recipe(P)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help=f"override the recipe: {sorted(R)}")
    for item in parser.parse_args().set:
        key, _, value = item.partition("=")
        if key not in R:
            parser.error(f"--set key must be one of {sorted(R)}; got {key!r}")
        R[key] = type(R[key])(value)
    device = lmcourse.pick_device()
    train, test = make_corpus(R["n_train"], R["n_test"], seed=0, exclude_numbers=HELD_OUT_NUMBERS)
    en_vocab = Vocab.from_texts((p.en for p in train), english_tokens)
    zh_vocab = Vocab.from_texts((p.zh for p in train), chinese_tokens)
    config = TransformerConfig(len(en_vocab), len(zh_vocab), d_model=R["d_model"], n_head=R["n_head"],
                               n_layer=R["n_layer"], d_ff=R["d_ff"], dropout=R["dropout"], max_len=64,
                               pad_id=PAD_ID)
    model = Transformer(config).to(device)                       # initialises itself (Xavier)
    start = time.perf_counter()

    def progress(step, loss, logits, batch):
        if step % 100 == 0:
            print(f"step {step} loss {loss.item():.3f} t={time.perf_counter() - start:.0f}s", flush=True)

    train_translator(model, train, en_vocab, zh_vocab, steps=R["steps"], batch_size=R["batch_size"],
                     warmup=R["warmup"], factor=R["factor"], label_smoothing=R["label_smoothing"], seed=0,
                     callback=progress)
    train_seconds = time.perf_counter() - start
    refs = [[chinese_tokens(p.zh)] for p in test]
    hyps = [chinese_tokens(h) for h in translate(model, [p.en for p in test], en_vocab, zh_vocab)]
    bleu = corpus_bleu(hyps, refs).score
    baseline = corpus_bleu([chinese_tokens(p.en) for p in test], refs).score
    exact = sum(h == r[0] for h, r in zip(hyps, refs)) / len(test)
    unseen = number_pairs(HELD_OUT_NUMBERS, 200)
    unseen_exact = sum(o == p.zh for p, o in zip(unseen, translate(model, [p.en for p in unseen], en_vocab, zh_vocab)))
    print(f"bleu={bleu:.2f} baseline_bleu={baseline:.2f} train_seconds={train_seconds:.1f} steps={R['steps']} "
          f"exact_match={exact:.3f} unseen_numbers_exact={unseen_exact / len(unseen):.3f} profile={P.name} "
          f"threads={torch.get_num_threads()} device={device.type}")


if __name__ == "__main__":
    main()
