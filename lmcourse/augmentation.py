"""Text data augmentation: new training sentences made by small edits of the old ones.

Images are augmented by cropping, rotating and flipping; those transforms mean nothing for
text. Text is augmented by **back-translation** (translate to another language and back —
it needs two translation models, so the course does not run it offline), by **token-level
edits** and by **masking/noising**. :func:`eda` implements the four edits of EDA (Wei & Zou
2019, "Easy Data Augmentation"): synonym replacement, random insertion, random swap and random
deletion; :func:`mask_tokens` replaces a share of the tokens with a mask token.

English is cut into words and punctuation; Chinese (no spaces) into words with ``jieba``. Each
function takes a ``random.Random`` so that a seed fixes the edits. Notebook 13 augments its
sentiment sentences with :func:`eda` and measures what that is worth against a control.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence

from ._checks import integer, probability
from .tokenizers import split_words

# A small synonym table written for the course's sentiment sentences (notebook 12's set):
# words that can be exchanged without changing whether a sentence is positive or negative.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "good": ("great", "fine", "nice"), "great": ("good", "excellent", "wonderful"),
    "wonderful": ("lovely", "marvellous", "great"), "lovely": ("wonderful", "pleasant", "delightful"),
    "beautiful": ("lovely", "gorgeous", "stunning"), "excellent": ("superb", "great", "outstanding"),
    "bad": ("poor", "awful", "terrible"), "terrible": ("awful", "dreadful", "horrible"),
    "awful": ("terrible", "dreadful", "horrible"), "boring": ("dull", "tedious", "tiresome"),
    "slow": ("sluggish", "unhurried"), "quick": ("fast", "swift", "speedy"), "fast": ("quick", "swift", "speedy"),
    "very": ("really", "extremely", "truly"), "really": ("very", "truly"), "happy": ("glad", "pleased", "delighted"),
    "film": ("movie", "picture"), "movie": ("film", "picture"), "meal": ("dinner", "food"), "food": ("meal", "dishes"),
    "staff": ("employees", "team"), "room": ("bedroom",), "trip": ("journey", "visit"), "city": ("town",),
    "friendly": ("kind", "warm", "welcoming"), "rude": ("impolite", "discourteous"),
    "broke": ("failed", "stopped working"), "cold": ("chilly", "icy"), "dirty": ("filthy", "grimy"),
    "loved": ("adored", "enjoyed"), "hated": ("loathed", "disliked"),
    "很": ("非常", "十分"), "非常": ("很", "十分"), "好吃": ("美味", "可口"), "难吃": ("不好吃",), "电影": ("影片",),
    "餐厅": ("饭馆", "饭店"), "服务员": ("店员",), "手机": ("电话",), "喜欢": ("爱",), "糟糕": ("差劲", "很差"),
}
MASK = "[MASK]"
_CJK = re.compile(r"[\u4e00-\u9fff]")


def split_tokens(text: str) -> tuple[list[str], str]:
    """``(tokens, joiner)``: English words and punctuation (notebook 01's ``split_words``, spaces
    dropped; joined back with ``" "``), or Chinese words cut by ``jieba`` (joined with ``""``)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    if _CJK.search(text):
        import jieba

        jieba.setLogLevel(60)                                   # no "building prefix dict" chatter
        return [w for w in jieba.lcut(text) if w.strip()], ""
    return [w for w in split_words(text) if not w.isspace()], " "


def join_tokens(tokens: Sequence[str], joiner: str) -> str:
    """Put tokens from :func:`split_tokens` back together (no space before punctuation)."""
    return re.sub(r" ([.,!?;:'’])", r"\1", joiner.join(tokens)) if joiner == " " else joiner.join(tokens)


def _check_rate(name: str, value: float) -> float:
    return probability(name, value)


def _check_rng(rng) -> random.Random:
    if not isinstance(rng, random.Random):
        raise TypeError(f"rng must be a random.Random (e.g. random.Random(0)); got {type(rng).__name__}")
    return rng


def synonym_replacement(tokens: Sequence[str], n: int, rng: random.Random,
                        synonyms: Mapping[str, Sequence[str]] = SYNONYMS) -> list[str]:
    """Replace up to ``n`` distinct tokens that have a synonym in ``synonyms`` by a random synonym."""
    out, rng = list(tokens), _check_rng(rng)
    candidates = [i for i, t in enumerate(out) if t.lower() in synonyms]
    for i in rng.sample(candidates, min(n, len(candidates))):
        out[i] = rng.choice(list(synonyms[out[i].lower()]))
    return out


def random_insertion(tokens: Sequence[str], n: int, rng: random.Random,
                     synonyms: Mapping[str, Sequence[str]] = SYNONYMS) -> list[str]:
    """Insert ``n`` times, at a random place, a synonym of a random token of the sentence
    (EDA's insertion); when no token has a synonym, nothing is inserted."""
    out, rng = list(tokens), _check_rng(rng)
    for _ in range(n):
        options = [s for t in out for s in synonyms.get(t.lower(), ())]
        if not options:
            break
        out.insert(rng.randint(0, len(out)), rng.choice(options))
    return out


def random_swap(tokens: Sequence[str], n: int, rng: random.Random) -> list[str]:
    """Swap two random positions, ``n`` times."""
    out, rng = list(tokens), _check_rng(rng)
    if len(out) < 2:
        return out
    for _ in range(n):
        i, j = rng.sample(range(len(out)), 2)
        out[i], out[j] = out[j], out[i]
    return out


def random_deletion(tokens: Sequence[str], p: float, rng: random.Random) -> list[str]:
    """Drop each token with probability ``p``; one random token is kept if all would go."""
    p, rng = _check_rate("p", p), _check_rng(rng)
    if not tokens:
        return []
    kept = [t for t in tokens if rng.random() >= p]
    return kept if kept else [rng.choice(list(tokens))]


def mask_tokens(tokens: Sequence[str], p: float, rng: random.Random, mask: str = MASK) -> list[str]:
    """Replace each token with ``mask`` with probability ``p`` (noising, as BERT's masking)."""
    p, rng = _check_rate("p", p), _check_rng(rng)
    return [mask if rng.random() < p else t for t in tokens]


def eda(text: str, rng: random.Random, *, n_variants: int = 4, alpha: float = 0.1,
        synonyms: Mapping[str, Sequence[str]] = SYNONYMS) -> list[str]:
    """``n_variants`` edited copies of ``text``: each applies one EDA edit chosen in turn
    (synonym replacement, insertion, swap, deletion) to about ``alpha`` of its tokens (at least one)."""
    alpha, rng = _check_rate("alpha", alpha), _check_rng(rng)
    integer("n_variants", n_variants, min=1)
    tokens, joiner = split_tokens(text)
    n = max(1, round(alpha * len(tokens)))
    edits = (lambda t: synonym_replacement(t, n, rng, synonyms), lambda t: random_insertion(t, n, rng, synonyms),
             lambda t: random_swap(t, n, rng), lambda t: random_deletion(t, max(alpha, 1 / max(len(t), 1)), rng))
    return [join_tokens(edits[v % len(edits)](tokens), joiner) for v in range(n_variants)]
