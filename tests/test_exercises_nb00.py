"""Checkers of notebook 00 accept the notebook's own solutions and catch the usual mistakes."""

from collections import Counter

import pytest

from lmcourse.exercises import nb00_welcome as ex
from solutions import solution_namespace


@pytest.fixture(scope="module")
def solved():
    return solution_namespace("00_welcome", setup="from lmcourse.exercises import nb00_welcome as ex")


def test_reference_solutions_pass(solved):
    assert ex.check_count_pairs(solved["count_pairs"]).passed
    assert ex.check_next_char_distribution(solved["next_char_distribution"]).passed


@pytest.mark.parametrize("wrong, hint", [
    (lambda t: dict(Counter(zip(t[::2], t[1::2]))), "non-overlapping"),
    (lambda t: dict(Counter(zip(t[:-1], t[1:-1]))), "last pair is missing"),
    (lambda t: dict(Counter(t[i:i + 2] for i in range(len(t) - 1))), "2-character strings"),
    (lambda t: dict(Counter(t)), "single characters"),
])
def test_count_pairs_mistakes_get_their_hint(wrong, hint):
    result = ex.check_count_pairs(wrong)
    assert not result.passed and hint in result.mistake


@pytest.mark.parametrize("wrong, hint", [
    (lambda c, ch: {b: n for (a, b), n in c.items() if a == ch}, "counts, not probabilities"),
    (lambda c, ch: {b: n / sum(c.values()) for (a, b), n in c.items() if a == ch}, "*all* pairs"),
    (lambda c, ch: {a: n / sum(m for (x, y), m in c.items() if y == ch) for (a, b), n in c.items() if b == ch},
     "wrong side"),
])
def test_next_char_distribution_mistakes_get_their_hint(wrong, hint):
    result = ex.check_next_char_distribution(wrong)
    assert not result.passed and hint in result.mistake
