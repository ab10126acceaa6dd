"""Checkers for notebook 00: counting character pairs and turning counts into probabilities."""

from __future__ import annotations

from collections import Counter

from .checking import Case, Mistake, Result, check_function

_TEXTS = [
    Case(("abab",), label="'abab'"),
    Case(("aaa",), label="'aaa' (overlapping pairs)"),
    Case(("to be or not to be",), label="'to be or not to be'"),
    Case(("a",), label="'a' (one character, no pairs)"),
    Case(("",), label="'' (empty text)"),
]


def _count_pairs(text: str) -> dict:
    return dict(Counter(zip(text, text[1:])))


def check_count_pairs(count_pairs) -> Result:
    """``count_pairs(text)`` must map each adjacent pair ``(a, b)`` to its number of occurrences."""
    return check_function(count_pairs, _count_pairs, _TEXTS, name="check_count_pairs", mistakes=[
        Mistake(lambda t: dict(Counter(zip(t[::2], t[1::2]))),
                "you counted non-overlapping pairs. In 'aaa' both (a, a) at positions 0-1 and 1-2 count: "
                "step one character at a time, e.g. zip(text, text[1:])."),
        Mistake(lambda t: dict(Counter(zip(t[:-1], t[1:-1]))),
                "the last pair is missing — an off-by-one in the loop range. A text of n characters has n-1 pairs."),
        Mistake(lambda t: dict(Counter(t[i:i + 2] for i in range(len(t) - 1))),
                "your keys are 2-character strings like 'ab'; "
                "use tuples ('a', 'b') so the two characters stay separate."),
        Mistake(lambda t: dict(Counter(t)),
                "you counted single characters. We want pairs: each character together with the one after it."),
    ])


_PAIR_COUNTS = {("a", "b"): 3, ("a", "c"): 1, ("b", "a"): 2, ("c", "a"): 4}
_DIST_CASES = [
    Case((_PAIR_COUNTS, "a"), label="counts {(a,b):3, (a,c):1, (b,a):2, (c,a):4}, ch='a'"),
    Case((_PAIR_COUNTS, "b"), label="same counts, ch='b'"),
    Case(({("x", "y"): 5, ("y", "x"): 5, ("x", "x"): 5}, "x"), label="counts {(x,y):5, (y,x):5, (x,x):5}, ch='x'"),
]


def _next_char_distribution(counts: dict, ch: str) -> dict:
    row = {b: n for (a, b), n in counts.items() if a == ch}
    total = sum(row.values())
    return {b: n / total for b, n in row.items()}


def check_next_char_distribution(next_char_distribution) -> Result:
    """``next_char_distribution(counts, ch)`` must return ``{b: P(b | ch)}`` from pair counts."""
    return check_function(next_char_distribution, _next_char_distribution, _DIST_CASES,
                          name="check_next_char_distribution", mistakes=[
        Mistake(lambda c, ch: {b: n for (a, b), n in c.items() if a == ch},
                "these are counts, not probabilities: "
                "divide each count by the total count of pairs that start with ch."),
        Mistake(lambda c, ch: {b: n / sum(c.values()) for (a, b), n in c.items() if a == ch},
                "you divided by the count of *all* pairs. P(b | ch) divides by the pairs that start with ch only, "
                "so the probabilities sum to 1."),
        Mistake(lambda c, ch: _next_char_distribution({(b, a): n for (a, b), n in c.items()}, ch),
                "you conditioned on the wrong side: keep the pairs whose *first* character is ch, "
                "and read the next character from the second place."),
    ])
