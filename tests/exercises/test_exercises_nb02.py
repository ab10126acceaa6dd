"""Notebook 02's checkers beyond their Mistakes: other right answers, malformed answers, unknown mistakes."""

import math

from lmcourse.exercises import nb02_language_models as ex


def test_perplexity_in_base_two_is_the_same_perplexity():
    assert ex.check_perplexity(lambda ps: 2 ** (-sum(math.log2(p) for p in ps) / len(ps))).passed


def test_add_k_checker_names_the_failing_input_when_no_known_mistake_matches():
    def vocab_of_counts(c, v, k):  # uses the seen tokens as the vocabulary
        return {t: (c.get(t, 0) + k) / (sum(c.values()) + k * len(c)) for t in v}
    result = ex.check_add_k(vocab_of_counts)
    assert not result.passed and result.mistake is None
    assert "case 1 of 4" in result.message and "vocab=['a','b','c']" in result.message
