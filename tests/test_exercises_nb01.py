"""The notebook-01 checkers accept the reference solutions and name the typical mistakes."""

from collections import Counter

from lmcourse.exercises import nb01_text_and_tokens as ex
from lmcourse.tokenizers import count_pairs
from solutions import solution_namespace

_SOLVED = solution_namespace("01_text_and_tokens", setup="from lmcourse.exercises import nb01_text_and_tokens as ex")
_chunk_pair_counts, _segment = _SOLVED["chunk_pair_counts"], _SOLVED["bpe_segment"]


def test_check_chunk_pair_counts_accepts_the_reference_and_lmcourse():
    assert ex.check_chunk_pair_counts(_chunk_pair_counts).passed

    def with_lmcourse(chunk_counts):
        counts = {}
        for ids, n in chunk_counts.items():
            count_pairs(ids, counts, n)
        return counts
    assert ex.check_chunk_pair_counts(with_lmcourse).passed


def test_check_chunk_pair_counts_names_ignored_frequencies():
    result = ex.check_chunk_pair_counts(lambda c: _chunk_pair_counts({ids: 1 for ids in c}))
    assert not result.passed and "add n, not 1" in result.mistake


def test_check_chunk_pair_counts_names_pairs_across_chunks():
    def flattened(chunk_counts):
        seq = [x for ids, n in chunk_counts.items() for _ in range(n) for x in ids]
        return dict(Counter(zip(seq, seq[1:])))
    result = ex.check_chunk_pair_counts(flattened)
    assert not result.passed and "cross from one chunk" in result.mistake


def test_check_chunk_pair_counts_names_non_overlapping_pairs():
    def stepping_by_two(chunk_counts):
        counts = Counter()
        for ids, n in chunk_counts.items():
            for i in range(0, len(ids) - 1, 2):
                counts[ids[i], ids[i + 1]] += n
        return dict(counts)
    result = ex.check_chunk_pair_counts(stepping_by_two)
    assert not result.passed and "non-overlapping" in result.mistake


def test_check_chunk_pair_counts_reports_unfinished_code():
    def todo(chunk_counts):
        raise NotImplementedError
    result = ex.check_chunk_pair_counts(todo)
    assert not result.passed and "not written yet" in result.message


def test_check_bpe_segment_accepts_the_reference():
    assert ex.check_bpe_segment(_segment).passed


def test_check_bpe_segment_names_greedy_longest_match():
    def wordpiece_like(word, merges):
        vocab = set(word) | {a + b for a, b in merges}
        pieces, i = [], 0
        while i < len(word):
            j = max(k for k in range(i + 1, len(word) + 1) if word[i:k] in vocab or k == i + 1)
            pieces.append(word[i:j])
            i = j
        return pieces
    result = ex.check_bpe_segment(wordpiece_like)
    assert not result.passed and "longest-match" in result.mistake


def test_check_bpe_segment_names_reversed_merge_order():
    result = ex.check_bpe_segment(lambda word, merges: _segment(word, list(reversed(merges))))
    assert not result.passed and "reverse order" in result.mistake


def test_check_bpe_segment_names_returning_the_whole_word():
    result = ex.check_bpe_segment(lambda word, merges: [word] if word else [])
    assert not result.passed and "whole word as one piece" in result.mistake


def test_check_bpe_segment_names_no_merges_applied():
    result = ex.check_bpe_segment(lambda word, merges: list(word))
    assert not result.passed and "no merge was applied" in result.mistake
