"""Checkers for notebook 01: counting pairs inside pre-tokenized chunks, and segmenting a word with
learned BPE merges."""

from __future__ import annotations

from .checking import Case, Mistake, Result, check_function

# ----------------------------------------------------------------------------- exercise 1: pair counts

_CHUNK_CASES = [
    Case(({(1, 2, 3): 2, (2, 3): 5},), label="chunk_counts={(1, 2, 3): 2, (2, 3): 5}"),
    Case(({(5, 5, 5): 3},), label="chunk_counts={(5, 5, 5): 3} (overlapping pairs)"),
    Case(({(7, 8): 1, (9, 7): 1},), label="chunk_counts={(7, 8): 1, (9, 7): 1} (no pair crosses two chunks)"),
    Case(({(1,): 4, (1, 2): 1},), label="chunk_counts={(1,): 4, (1, 2): 1} (a one-byte chunk has no pair)"),
    Case(({},), label="chunk_counts={} (empty)"),
]


def _chunk_pair_counts(chunk_counts):
    counts = {}
    for ids, n in chunk_counts.items():
        for pair in zip(ids, ids[1:]):
            counts[pair] = counts.get(pair, 0) + n
    return counts


def _flattened(chunk_counts):
    seq = [x for ids, n in chunk_counts.items() for _ in range(n) for x in ids]
    return _chunk_pair_counts({tuple(seq): 1}) if seq else {}


def check_chunk_pair_counts(chunk_pair_counts) -> Result:
    """``chunk_pair_counts(chunk_counts)`` must count adjacent pairs inside each chunk, weighted by its frequency."""
    return check_function(chunk_pair_counts, _chunk_pair_counts, _CHUNK_CASES, name="check_chunk_pair_counts",
                          mistakes=[
        Mistake(lambda c: _chunk_pair_counts({ids: 1 for ids in c}),
                "each chunk was counted once. A chunk that occurs n times in the text contributes each of its "
                "pairs n times: add n, not 1."),
        Mistake(_flattened,
                "some pairs cross from one chunk into the next. Chunks are separate (that is the point of "
                "pre-tokenization): count pairs inside each chunk only."),
        Mistake(_nonoverlapping,
                "you counted non-overlapping pairs. In (5, 5, 5) the pair (5, 5) occurs twice, at positions "
                "0-1 and 1-2: step one position at a time, e.g. zip(ids, ids[1:])."),
    ])


def _nonoverlapping(chunk_counts):
    counts = {}
    for ids, n in chunk_counts.items():
        for pair in zip(ids[::2], ids[1::2]):
            counts[pair] = counts.get(pair, 0) + n
    return counts


# ----------------------------------------------------------------------------- exercise 2: segment a word

_MERGES = [("l", "o"), ("e", "s"), ("es", "t"), ("lo", "w"), ("w", "e"), ("n", "e"), ("ne", "w"), ("low", "est")]
_SEGMENT_CASES = [
    Case(("lowest", _MERGES), label="word='lowest' with the 8 merges shown in the notebook"),
    Case(("newest", _MERGES), label="word='newest' (two merges compete for 'we' and 'es')"),
    Case(("lower", _MERGES), label="word='lower'"),
    Case(("west", _MERGES), label="word='west' ('we' is a known piece, but (e, s) was learned first)"),
    Case(("slow", _MERGES), label="word='slow' (an unmerged first letter)"),
    Case(("xyz", _MERGES), label="word='xyz' (no merge applies: one piece per character)"),
    Case(("", _MERGES), label="word='' (empty)"),
]


def _segment(word, merges):
    pieces = list(word)
    for a, b in merges:  # in the order they were learned
        out, i = [], 0
        while i < len(pieces):
            if i + 1 < len(pieces) and pieces[i] == a and pieces[i + 1] == b:
                out.append(a + b)
                i += 2
            else:
                out.append(pieces[i])
                i += 1
        pieces = out
    return pieces


def _segment_longest_match(word, merges):
    vocab = set(word) | {a + b for a, b in merges}
    pieces, i = [], 0
    while i < len(word):
        for j in range(len(word), i, -1):
            if word[i:j] in vocab or j == i + 1:
                pieces.append(word[i:j])
                i = j
                break
    return pieces


def check_bpe_segment(bpe_segment) -> Result:
    """``bpe_segment(word, merges)`` must apply the merges, in the order learned, to the word's characters."""
    return check_function(bpe_segment, _segment, _SEGMENT_CASES, name="check_bpe_segment", mistakes=[
        Mistake(_segment_longest_match,
                "this is greedy longest-match (how WordPiece works), not BPE. BPE does not look up the longest "
                "known piece; it replays the merges, in order, on the characters."),
        Mistake(lambda w, m: _segment(w, m[::-1]),
                "you applied the merges in reverse order. Merges are ranked: the one learned first is applied "
                "first, because later merges were learned on text where earlier merges had already happened."),
        Mistake(lambda w, m: [w] if w else [],
                "you returned the whole word as one piece; start from its characters and apply the merges."),
        Mistake(lambda w, m: list(w),
                "no merge was applied: for each (a, b) in merges, join every adjacent a, b into a + b."),
    ])
