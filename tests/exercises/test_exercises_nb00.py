"""Notebook 00's checkers beyond their Mistakes: other right answers, and answers of the wrong kind."""

from collections import Counter

from lmcourse.exercises import nb00_welcome as ex


def test_a_counter_or_a_loop_is_as_good_as_a_dict_comprehension():
    def by_loop(text):
        counts = {}
        for pair in zip(text, text[1:]):
            counts[pair] = counts.get(pair, 0) + 1
        return counts
    assert ex.check_count_pairs(lambda t: Counter(zip(t, t[1:]))).passed
    assert ex.check_count_pairs(by_loop).passed


def test_a_list_of_pairs_is_answered_with_what_was_expected_not_an_error():
    result = ex.check_count_pairs(lambda t: list(zip(t, t[1:])))
    assert not result.passed and result.mistake is None and "expected: {('a', 'b'): 2, ('b', 'a'): 1}" in result.message


def test_an_unseen_character_crashing_the_learners_code_is_reported():
    result = ex.check_next_char_distribution(lambda c, ch: {b: n / 0 for (a, b), n in c.items() if a == ch})
    assert not result.passed and "raised ZeroDivisionError" in result.message
