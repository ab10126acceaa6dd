"""Notebook 01's checkers beyond their Mistakes: other right answers, and other code making a known mistake."""

from collections import Counter

from lmcourse.exercises import nb01_text_and_tokens as ex
from lmcourse.tokenizers import count_pairs


def test_check_chunk_pair_counts_accepts_lmcourses_count_pairs():
    def with_lmcourse(chunk_counts):
        counts = {}
        for ids, n in chunk_counts.items():
            count_pairs(ids, counts, n)
        return counts
    assert ex.check_chunk_pair_counts(with_lmcourse).passed


def test_a_loop_stepping_by_two_is_recognised_as_non_overlapping_pairs():
    def stepping_by_two(chunk_counts):
        counts = Counter()
        for ids, n in chunk_counts.items():
            for i in range(0, len(ids) - 1, 2):
                counts[ids[i], ids[i + 1]] += n
        return dict(counts)
    assert "non-overlapping" in ex.check_chunk_pair_counts(stepping_by_two).mistake


def test_a_wordpiece_style_segmenter_is_recognised_as_greedy_longest_match():
    def wordpiece_like(word, merges):
        vocab = set(word) | {a + b for a, b in merges}
        pieces, i = [], 0
        while i < len(word):
            j = max(k for k in range(i + 1, len(word) + 1) if word[i:k] in vocab or k == i + 1)
            pieces.append(word[i:j])
            i = j
        return pieces
    assert "longest-match" in ex.check_bpe_segment(wordpiece_like).mistake
