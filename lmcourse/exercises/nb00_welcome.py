"""Checkers for notebook 00: counting character pairs, turning counts into probabilities, and building a whole
order-n character model from a text."""

from __future__ import annotations

from collections import Counter

from .checking import Case, Mistake, Result, check_function

_TEXTS = [
    Case(("to be or not to be",), label="'to be or not to be'"),
    Case(("abab",), label="'abab'"),
    Case(("aaa",), label="'aaa' (overlapping pairs)"),
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


# ----------------------------------------------------------------------------- exercise 3: an order-n model

_MODEL_CASES = [
    Case(("abab", 2), label="text='abab', order=2"),
    Case(("aaab", 3), label="text='aaab', order=3 (repeated characters: the windows 'aaa' and 'aab' overlap)"),
    Case(("to be or not to be", 2), label="text='to be or not to be', order=2"),
    Case(("abcab", 1), label="text='abcab', order=1 (no context: the empty string)"),
    Case(("abc", 3), label="text='abc', order=3 (exactly one window)"),
    Case(("ab", 3), label="text='ab', order=3 (shorter than one window: nothing to count)"),
    Case(("she sells sea shells", 3), label="text='she sells sea shells', order=3"),
]


def _ngram_model(text: str, order: int) -> dict:
    counts: dict = {}
    for i in range(len(text) - order + 1):  # every window of `order` characters, one step at a time
        context, nxt = text[i:i + order - 1], text[i + order - 1]
        row = counts.setdefault(context, {})
        row[nxt] = row.get(nxt, 0) + 1
    return {c: {x: n / sum(row.values()) for x, n in row.items()} for c, row in counts.items()}


def _ngram_counts(text: str, order: int) -> dict:
    counts: dict = {}
    for i in range(len(text) - order + 1):
        row = counts.setdefault(text[i:i + order - 1], {})
        row[text[i + order - 1]] = row.get(text[i + order - 1], 0) + 1
    return counts


def _without_last_window(text: str, order: int) -> dict:
    return _ngram_model(text[:-1], order) if text else {}


def _stepping_by_window(text: str, order: int) -> dict:
    windows = [text[i:i + order] for i in range(0, len(text) - order + 1, order)]
    return _ngram_model_of_windows(windows)


def _ngram_model_of_windows(windows) -> dict:
    counts: dict = {}
    for w in windows:
        row = counts.setdefault(w[:-1], {})
        row[w[-1]] = row.get(w[-1], 0) + 1
    return {c: {x: n / sum(row.values()) for x, n in row.items()} for c, row in counts.items()}


def check_ngram_model(ngram_model) -> Result:
    """``ngram_model(text, order)`` must map each context (a string of ``order`` - 1 characters) to its
    next-character distribution ``{char: P(char | context)}``, counted over every overlapping window."""
    return check_function(ngram_model, _ngram_model, _MODEL_CASES, name="check_ngram_model", mistakes=[
        Mistake(lambda t, n: _ngram_model(t, n + 1),
                "your contexts are one character too long. An order-n model looks at the previous n - 1 "
                "characters: each window holds n characters, the context is its first n - 1."),
        Mistake(lambda t, n: _ngram_model(t, n - 1) if n > 1 else {},
                "your contexts are one character too short: an order-n window holds n characters, "
                "n - 1 of context and then the next one."),
        Mistake(_ngram_counts,
                "these are counts, not probabilities: divide each count by the total count of its context, "
                "so that each context's distribution sums to 1."),
        Mistake(_without_last_window,
                "the last window is missing — an off-by-one in the loop range. A text of L characters has "
                "L - n + 1 windows of n characters: range(len(text) - order + 1)."),
        Mistake(_stepping_by_window,
                "your windows do not overlap. Step one character at a time: in 'aaab' with order 3, the windows "
                "are 'aaa' and 'aab'."),
    ])
