"""Checkers for notebook 01: WordPiece's greedy longest-match-first split (with ``##`` continuations and
``[UNK]``), and segmenting a word with learned BPE merges."""

from __future__ import annotations

from .checking import Case, Mistake, Result, check_function

# ----------------------------------------------------------------------------- exercise 1: WordPiece

_VOCAB = frozenset({"un", "##aff", "##able", "##a", "##ff", "##abl", "##b", "##l", "##e", "a", "aa", "##aa",
                    "play", "##ing", "##in", "##g", "##s", "p", "s", "low", "lowe", "##est", "##st", "##er"})
_SHOWN = "the exercise's vocabulary"
_WORDPIECE_CASES = [
    Case(("unaffable", _VOCAB), label=f"word='unaffable', {_SHOWN}"),
    Case(("playing", _VOCAB), label=f"word='playing', {_SHOWN}"),
    Case(("lowest", _VOCAB), label=f"word='lowest', {_SHOWN} (both 'low' and 'lowe' are pieces)"),
    Case(("aaa", _VOCAB), label=f"word='aaa', {_SHOWN} (a repeated letter: 'aa', '##aa', 'a', '##a' all exist)"),
    Case(("sp", _VOCAB), label=f"word='sp', {_SHOWN} ('p' is a piece, '##p' is not)"),
    Case(("unx", _VOCAB), label=f"word='unx', {_SHOWN} ('un' matches, then nothing matches 'x')"),
    Case(("Playing", _VOCAB), label=f"word='Playing', {_SHOWN} (mixed case: the vocabulary has no 'P')"),
    Case(("s", _VOCAB), label=f"word='s', {_SHOWN} (one character)"),
    Case(("", _VOCAB), label=f"word='', {_SHOWN} (empty)"),
]


def _wordpiece_split(word, vocab, unk="[UNK]"):
    pieces, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:  # the longest piece that starts here and is in the vocabulary
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                break
            end -= 1
        if end == start:  # nothing matches here: the whole word is unknown
            return [unk]
        pieces.append(piece)
        start = end
    return pieces


def _unk_for_the_piece(word, vocab, unk="[UNK]"):
    pieces, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                pieces.append(piece)
                start = end
                break
        else:
            pieces.append(unk)
            start += 1
    return pieces


def _shortest_first(word, vocab, unk="[UNK]"):
    pieces, start = [], 0
    while start < len(word):
        for end in range(start + 1, len(word) + 1):
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                pieces.append(piece)
                start = end
                break
        else:
            return [unk]
    return pieces


def _without_hashes(word, vocab, unk="[UNK]"):
    bare = {p.removeprefix("##") for p in vocab}  # looks pieces up without their '##', then marks them
    pieces, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            if word[start:end] in bare:
                pieces.append(word[start:end] if start == 0 else "##" + word[start:end])
                start = end
                break
        else:
            return [unk]
    return pieces


def _hashes_dropped_from_output(word, vocab, unk="[UNK]"):
    return [p.removeprefix("##") for p in _wordpiece_split(word, vocab, unk)]


def _from_the_right(word, vocab, unk="[UNK]"):
    pieces, end = [], len(word)
    while end > 0:
        for start in range(0, end):
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                pieces.insert(0, piece)
                end = start
                break
        else:
            return [unk]
    return pieces


def check_wordpiece_split(wordpiece_split) -> Result:
    """``wordpiece_split(word, vocab)``: WordPiece's greedy longest-match-first split of one word, pieces after
    the first marked ``##``; ``["[UNK]"]`` for the whole word when some position matches no piece."""
    return check_function(wordpiece_split, _wordpiece_split, _WORDPIECE_CASES, name="check_wordpiece_split",
                          mistakes=[
        Mistake(_unk_for_the_piece,
                "you put [UNK] in place of the character that matched nothing and went on. WordPiece gives up on "
                "the whole word: if any position matches no piece, the answer is ['[UNK]'] alone."),
        Mistake(_shortest_first,
                "you took the *shortest* piece that matches. WordPiece is greedy longest-match-first: at each "
                "position try the longest remaining substring first, then shorten it one character at a time."),
        Mistake(_without_hashes,
                "inside a word, pieces must be looked up *with* the '##' prefix: the vocabulary has '##p' for a "
                "'p' that continues a word and 'p' for one that starts it, and they are different entries."),
        Mistake(_hashes_dropped_from_output,
                "the split is right but the continuation pieces lost their '##': return the vocabulary entries "
                "themselves ('##ing', not 'ing'), so the pieces can be looked up and the word put back together."),
        Mistake(_from_the_right,
                "you matched from the end of the word. WordPiece starts at the beginning: the longest piece "
                "that starts at position 0, then the longest '##' piece that starts where it ended, and so on."),
    ])


# ----------------------------------------------------------------------------- exercise 2: segment a word

_MERGES = [("l", "o"), ("e", "s"), ("es", "t"), ("lo", "w"), ("w", "e"), ("n", "e"), ("ne", "w"), ("low", "est")]
_SEGMENT_CASES = [
    Case(("lowest", _MERGES), label="word='lowest' with the 8 merges shown in the notebook"),
    Case(("lower", _MERGES), label="word='lower'"),
    Case(("newest", _MERGES), label="word='newest' (two merges compete for 'we' and 'es')"),
    Case(("west", _MERGES), label="word='west' ('we' is a known piece, but (e, s) was learned first)"),
    Case(("slow", _MERGES), label="word='slow' (an unmerged first letter)"),
    Case(("xyz", _MERGES), label="word='xyz' (no merge applies: one piece per character)"),
    Case(("aaa", [("a", "a")]), label="word='aaa', merges=[('a', 'a')] (the pair occurs twice, overlapping)"),
    Case(("aaaaa", [("a", "a"), ("aa", "a")]), label="word='aaaaa', merges=[('a', 'a'), ('aa', 'a')]"),
    Case(("aab", [("a", "b"), ("a", "a")]),
         label="word='aab', merges=[('a', 'b'), ('a', 'a')] (after the first merge the pieces are 'a', 'ab')"),
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


def _segment_right_to_left(word, merges):
    pieces = list(word)
    for a, b in merges:
        out, i = [], len(pieces) - 1
        while i >= 0:
            if i >= 1 and pieces[i - 1] == a and pieces[i] == b:
                out.insert(0, a + b)
                i -= 2
            else:
                out.insert(0, pieces[i])
                i -= 1
        pieces = out
    return pieces


def _segment_by_string_replace(word, merges):
    text = " ".join(word)
    for a, b in merges:
        text = text.replace(f"{a} {b}", a + b)
    return text.split(" ") if text else []


def check_bpe_segment(bpe_segment) -> Result:
    """``bpe_segment(word, merges)`` must apply the merges, in the order learned, to the word's characters."""
    return check_function(bpe_segment, _segment, _SEGMENT_CASES, name="check_bpe_segment", mistakes=[
        Mistake(_segment_longest_match,
                "this is greedy longest-match (how WordPiece works), not BPE. BPE does not look up the longest "
                "known piece; it replays the merges, in order, on the characters."),
        Mistake(lambda w, m: _segment(w, m[::-1]),
                "you applied the merges in reverse order. Merges are ranked: the one learned first is applied "
                "first, because later merges were learned on text where earlier merges had already happened."),
        Mistake(_segment_by_string_replace,
                "you joined pieces by replacing text in a string, and the match crossed piece boundaries "
                "(in 'low e r', 'w e' is found across 'low' and 'e'). Compare whole pieces: pieces[i] == a and "
                "pieces[i + 1] == b."),
        Mistake(lambda w, m: [w] if w else [],
                "you returned the whole word as one piece; start from its characters and apply the merges."),
        Mistake(lambda w, m: list(w),
                "no merge was applied: for each (a, b) in merges, join every adjacent a, b into a + b."),
        Mistake(_segment_right_to_left,
                "you scanned from the right. Where a pair overlaps itself ('aaa' holds (a, a) twice, sharing the "
                "middle 'a') the left one wins: scan left to right, and a joined pair consumes both pieces."),
    ])
