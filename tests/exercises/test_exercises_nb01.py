"""Notebook 01's checkers beyond their Mistakes: other right answers, other code making a known mistake, and wrong
answers written here, independently of the checkers' own lists of mistakes."""

from lmcourse.exercises import nb01_text_and_tokens as ex

# ----------------------------------------------------------------------------- wrong answers, written here


def wordpiece_unk_as_a_string(word, vocab):  # returns "[UNK]" itself, not a list holding it
    pieces, start = [], 0
    while start < len(word):
        end = next((e for e in range(len(word), start, -1)
                    if (word[start:e] if start == 0 else "##" + word[start:e]) in vocab), None)
        if end is None:
            return "[UNK]"
        pieces.append(word[start:end] if start == 0 else "##" + word[start:end])
        start = end
    return pieces


def wordpiece_marking_every_piece(word, vocab):  # puts '##' on the first piece too
    pieces, start = [], 0
    while start < len(word):
        end = next((e for e in range(len(word), start, -1) if "##" + word[start:e] in vocab), None)
        if end is None:
            return ["[UNK]"]
        pieces.append("##" + word[start:end])
        start = end
    return pieces


def wordpiece_skipping_unknown_characters(word, vocab):  # drops a character nothing matches and goes on
    pieces, start = [], 0
    while start < len(word):
        end = next((e for e in range(len(word), start, -1)
                    if (word[start:e] if not pieces else "##" + word[start:e]) in vocab), None)
        if end is None:
            start += 1
            continue
        pieces.append(word[start:end] if not pieces else "##" + word[start:end])
        start = end
    return pieces


def wordpiece_lowercasing_first(word, vocab):  # lowercases inside WordPiece (MiniLM does it before)
    word = word.lower()
    pieces, start = [], 0
    while start < len(word):
        end = next((e for e in range(len(word), start, -1)
                    if (word[start:e] if start == 0 else "##" + word[start:e]) in vocab), None)
        if end is None:
            return ["[UNK]"]
        pieces.append(word[start:end] if start == 0 else "##" + word[start:end])
        start = end
    return pieces


def segment_until_nothing_changes(word, merges):  # ignores the merge order: any learned pair, repeatedly
    pieces, learned = list(word), set(merges)
    changed = True
    while changed:
        changed = False
        for i in range(len(pieces) - 1):
            if (pieces[i], pieces[i + 1]) in learned:
                pieces[i:i + 2] = [pieces[i] + pieces[i + 1]]
                changed = True
                break
    return pieces


def segment_with_overlapping_joins(word, merges):  # joins a pair without consuming both pieces
    pieces = list(word)
    for a, b in merges:
        out, i = [], 0
        while i < len(pieces):
            if i + 1 < len(pieces) and pieces[i] == a and pieces[i + 1] == b:
                out.append(a + b)
            elif not (i > 0 and pieces[i - 1] == a and pieces[i] == b):
                out.append(pieces[i])
            i += 1
        pieces = out
    return pieces


def segment_as_a_joined_string(word, merges):  # right pieces, returned as one string joined with spaces
    pieces = list(word)
    for a, b in merges:
        out, i = [], 0
        while i < len(pieces):
            if i + 1 < len(pieces) and pieces[i] == a and pieces[i + 1] == b:
                out.append(a + b)
                i += 2
            else:
                out.append(pieces[i])
                i += 1
        pieces = out
    return " ".join(pieces)


WRONG_ANSWERS = {
    "check_wordpiece_split": [wordpiece_unk_as_a_string, wordpiece_marking_every_piece,
                              wordpiece_skipping_unknown_characters, wordpiece_lowercasing_first],
    "check_bpe_segment": [segment_until_nothing_changes, segment_with_overlapping_joins, segment_as_a_joined_string],
}

# ----------------------------------------------------------------------------- other right answers


def test_wordpiece_written_with_a_for_loop_and_a_tuple_answer_is_right():
    def by_for_loop(word, vocab):
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = ("##" if start else "") + word[start:end]
                if piece in vocab:
                    pieces.append(piece)
                    start = end
                    break
            else:
                return ("[UNK]",)
        return tuple(pieces)   # a tuple where order is all that matters
    assert ex.check_wordpiece_split(by_for_loop).passed


def test_segmenting_by_earliest_ranked_pair_like_encode_is_the_same_segmentation():
    def by_rank(word, merges):
        rank = {pair: r for r, pair in reversed(list(enumerate(merges)))}
        pieces = list(word)
        while len(pieces) >= 2:
            i = min(range(len(pieces) - 1), key=lambda j: (rank.get((pieces[j], pieces[j + 1]), len(merges)), j))
            if (pieces[i], pieces[i + 1]) not in rank:
                break
            pieces[i:i + 2] = [pieces[i] + pieces[i + 1]]
        return pieces
    assert ex.check_bpe_segment(by_rank).passed


# ----------------------------------------------------------------------------- known mistakes, other code


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


def test_a_whole_word_unk_is_what_separates_wordpiece_from_piece_by_piece_unknowns():
    def unk_per_piece(word, vocab):
        pieces, start = [], 0
        while start < len(word):
            end = next((e for e in range(len(word), start, -1)
                        if (word[start:e] if start == 0 else "##" + word[start:e]) in vocab), start + 1)
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            pieces.append(piece if piece in vocab else "[UNK]")
            start = end
        return pieces
    result = ex.check_wordpiece_split(unk_per_piece)
    assert not result.passed and "whole word" in result.mistake
