"""Notebook 00's checkers beyond their Mistakes: other right answers, answers of the wrong kind, and wrong
answers written here, independently of the checkers' own lists of mistakes."""

from collections import Counter, defaultdict

import numpy as np

from lmcourse.exercises import nb00_welcome as ex

# ----------------------------------------------------------------------------- wrong answers, written here


def pairs_present_not_counted(text):  # records which pairs occur, not how often
    return {pair: 1 for pair in zip(text, text[1:])}


def pairs_read_backwards(text):  # keys (next, current) instead of (current, next)
    return dict(Counter(zip(text[1:], text)))


def pairs_wrapping_around(text):  # treats the text as a circle: last character paired with the first
    return dict(Counter(zip(text, text[1:] + text[:1])))


def uniform_over_seen_successors(counts, ch):  # every seen next character equally likely
    row = [b for (a, b) in counts if a == ch]
    return {b: 1 / len(row) for b in row}


def percentages_not_probabilities(counts, ch):  # multiplies by 100
    row = {b: n for (a, b), n in counts.items() if a == ch}
    return {b: 100 * n / sum(row.values()) for b, n in row.items()}


def distribution_as_sorted_list(counts, ch):  # right numbers, but a list of pairs instead of a dict
    row = {b: n for (a, b), n in counts.items() if a == ch}
    return sorted((b, n / sum(row.values())) for b, n in row.items())


def model_predicting_the_previous_character(text, order):  # context after the predicted character
    counts = defaultdict(Counter)
    for i in range(len(text) - order + 1):
        counts[text[i + 1:i + order]][text[i]] += 1
    return {c: {x: n / sum(row.values()) for x, n in row.items()} for c, row in counts.items()}


def model_with_tuple_contexts(text, order):  # contexts as tuples of characters, not strings
    counts = defaultdict(Counter)
    for i in range(len(text) - order + 1):
        counts[tuple(text[i:i + order - 1])][text[i + order - 1]] += 1
    return {c: {x: n / sum(row.values()) for x, n in row.items()} for c, row in counts.items()}


def model_uniform_over_seen_next_chars(text, order):  # forgets how often each next character was seen
    seen = defaultdict(set)
    for i in range(len(text) - order + 1):
        seen[text[i:i + order - 1]].add(text[i + order - 1])
    return {c: {x: 1 / len(xs) for x in xs} for c, xs in seen.items()}


def model_crashing_on_short_text(text, order):  # indexes past the end when the text is shorter than order
    counts = defaultdict(Counter)
    for i in range(max(1, len(text) - order + 1)):
        counts[text[i:i + order - 1]][text[i + order - 1]] += 1
    return {c: {x: n / sum(row.values()) for x, n in row.items()} for c, row in counts.items()}


WRONG_ANSWERS = {
    "check_count_pairs": [pairs_present_not_counted, pairs_read_backwards, pairs_wrapping_around],
    "check_next_char_distribution": [uniform_over_seen_successors, percentages_not_probabilities,
                                     distribution_as_sorted_list],
    "check_ngram_model": [model_predicting_the_previous_character, model_with_tuple_contexts,
                          model_uniform_over_seen_next_chars, model_crashing_on_short_text],
}

# ----------------------------------------------------------------------------- other right answers


def test_a_counter_or_a_loop_is_as_good_as_a_dict_comprehension():
    def by_loop(text):
        counts = {}
        for pair in zip(text, text[1:]):
            counts[pair] = counts.get(pair, 0) + 1
        return counts
    assert ex.check_count_pairs(lambda t: Counter(zip(t, t[1:]))).passed
    assert ex.check_count_pairs(by_loop).passed


def test_numpy_integer_counts_are_counts_but_float_counts_are_refused():
    assert ex.check_count_pairs(lambda t: {p: np.int64(n) for p, n in Counter(zip(t, t[1:])).items()}).passed
    as_floats = ex.check_count_pairs(lambda t: {p: float(n) for p, n in Counter(zip(t, t[1:])).items()})
    assert not as_floats.passed and "expected an integer" in as_floats.message


def test_an_ngram_model_of_defaultdicts_and_numpy_floats_is_a_right_answer():
    def with_numpy(text, order):
        counts = defaultdict(Counter)
        for i in range(len(text) - order + 1):
            counts[text[i:i + order - 1]][text[i + order - 1]] += 1
        out = defaultdict(dict)
        for c, row in counts.items():
            n = np.array(list(row.values()))
            out[c] = dict(zip(row, n / n.sum()))   # np.float64 probabilities
        return out
    assert ex.check_ngram_model(with_numpy).passed


def test_an_ngram_model_with_the_contexts_cut_by_slicing_from_the_end_is_right():
    def from_the_end(text, order):
        counts = defaultdict(Counter)
        for t in range(order - 1, len(text)):
            counts[text[t - order + 1:t]][text[t]] += 1
        return {c: {x: n / sum(row.values()) for x, n in row.items()} for c, row in counts.items()}
    assert ex.check_ngram_model(from_the_end).passed


# ----------------------------------------------------------------------------- answers of the wrong kind


def test_a_list_of_pairs_is_answered_with_what_was_expected_not_an_error():
    result = ex.check_count_pairs(lambda t: list(zip(t, t[1:])))
    assert not result.passed and result.mistake is None and "expected a dict, got list" in result.message


def test_an_unseen_character_crashing_the_learners_code_is_reported():
    result = ex.check_next_char_distribution(lambda c, ch: {b: n / 0 for (a, b), n in c.items() if a == ch})
    assert not result.passed and "raised ZeroDivisionError" in result.message


def test_a_model_that_crashes_on_a_short_text_is_told_which_input():
    result = ex.check_ngram_model(model_crashing_on_short_text)
    assert not result.passed and "raised IndexError" in result.message and "shorter than one window" in result.message
