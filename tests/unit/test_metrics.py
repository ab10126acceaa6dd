import math
import random

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st

from lmcourse.metrics import (
    brevity_penalty,
    closest_ref_length,
    corpus_bleu,
    modified_precision_counts,
    ngrams,
    sentence_bleu,
)

_tokens = st.lists(st.sampled_from(list("abcde")), max_size=9)


def _sacrebleu(hyps, refs, smooth):
    n_refs = len(refs[0])
    return sacrebleu.corpus_bleu([" ".join(h) for h in hyps], [[" ".join(r[j]) for r in refs] for j in range(n_refs)],
                                 smooth_method=smooth, tokenize="none", force=True)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.integers(1, 5), n_refs=st.integers(1, 3),
       smooth=st.sampled_from(["none", "floor", "add-k", "exp"]))
def test_corpus_bleu_matches_sacrebleu_on_random_token_lists(data, n, n_refs, smooth):
    hyps = [data.draw(_tokens) for _ in range(n)]
    refs = [[data.draw(_tokens.filter(bool)) for _ in range(n_refs)] for _ in range(n)]
    ours, theirs = corpus_bleu(hyps, refs, smooth=smooth), _sacrebleu(hyps, refs, smooth)
    assert ours.score == pytest.approx(theirs.score, abs=1e-9)
    assert ours.brevity_penalty == pytest.approx(theirs.bp, abs=1e-12)
    assert (ours.hyp_len, ours.ref_len) == (theirs.sys_len, theirs.ref_len)


def test_corpus_bleu_matches_sacrebleu_on_chinese_characters():
    rng = random.Random(0)
    refs = ["我昨天在图书馆看书", "他们每天在家喝茶", "我爱编程", "学校里有两千零二十四个学生"]
    hyps = ["".join(c for c in r if rng.random() > 0.15) for r in refs]
    ours = corpus_bleu([list(h) for h in hyps], [[list(r)] for r in refs])
    theirs = sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh")
    assert ours.score == pytest.approx(theirs.score, abs=1e-9)


def test_a_perfect_translation_scores_100():
    refs = [["a", "b", "c", "d", "e"]]
    assert corpus_bleu([refs[0]], [refs]).score == pytest.approx(100.0)


def test_clipping_limits_a_repeated_word_to_its_reference_count():
    assert modified_precision_counts("the the the the".split(), ["the cat is here".split()], 1) == (1, 4)
    assert modified_precision_counts("the the".split(), ["the cat".split(), "the the dog".split()], 1) == (2, 2)


def test_ngrams_counts_overlapping_windows():
    assert ngrams(list("aaa"), 2) == {("a", "a"): 2}
    assert ngrams(list("ab"), 3) == {}


def test_brevity_penalty_punishes_short_output_only():
    assert brevity_penalty(10, 8) == 1.0
    assert brevity_penalty(5, 10) == pytest.approx(math.exp(-1))
    assert brevity_penalty(0, 3) == 0.0


def test_closest_reference_length_prefers_the_shorter_on_a_tie():
    assert closest_ref_length(5, [3, 7, 9]) == 3
    assert closest_ref_length(8, [7, 9]) == 7


def test_empty_hypothesis_scores_zero_like_sacrebleu():
    hyps, refs = [[], []], [[["a", "b"]], [["c"]]]
    assert corpus_bleu(hyps, refs).score == 0.0 == _sacrebleu(hyps, refs, "exp").score
    assert corpus_bleu(hyps, refs).brevity_penalty == 0.0


def test_sentence_bleu_is_corpus_bleu_of_one_sentence():
    hyp, refs = list("我昨天看书"), [list("我昨天在图书馆看书")]
    assert sentence_bleu(hyp, refs).score == pytest.approx(_sacrebleu([hyp], [refs], "exp").score)


@pytest.mark.parametrize("hyps, refs, error, fragment", [
    ([], [], ValueError, "at least one sentence"),
    ([["a"], ["b"]], [[["a"]]], ValueError, "one entry per hypothesis; got 1 reference sets for 2"),
    (["a b"], [[["a", "b"]]], TypeError, "not a str"),
    ("a b", [[["a"]]], TypeError, "hypotheses must be a list"),
    ([["a"]], [["a"]], TypeError, "not strings"),
    ([["a"]], [[]], ValueError, r"references\[0\] must be a non-empty list"),
])
def test_corpus_bleu_rejects_malformed_input(hyps, refs, error, fragment):
    with pytest.raises(error, match=fragment):
        corpus_bleu(hyps, refs)


def test_corpus_bleu_rejects_unknown_smoothing_and_bad_lengths():
    with pytest.raises(ValueError, match="smooth must be one of"):
        corpus_bleu([["a"]], [[["a"]]], smooth="laplace")
    with pytest.raises(ValueError, match="max_n must be an int >= 1; got 0"):
        corpus_bleu([["a"]], [[["a"]]], max_n=0)
    with pytest.raises(ValueError, match="hyp_len must be an int >= 0; got -1"):
        brevity_penalty(-1, 3)
    with pytest.raises(ValueError, match="smooth_value must be a finite number >= 0; got nan"):
        corpus_bleu([["a"]], [[["a"]]], smooth="floor", smooth_value=float("nan"))


@pytest.mark.parametrize("hyps, refs, fragment", [
    ([[1, 0, 2]], [[["1", "0", "2"]]], r"references must hold tokens of the hypotheses' type \(int\); got str tokens"),
    ([list("我爱你")], [[[ord(c) for c in "我爱你"]]], r"hypotheses' type \(str\); got int tokens"),
])
def test_bleu_refuses_hypotheses_and_references_of_different_token_types(hyps, refs, fragment):
    from lmcourse.metrics import bleu_statistics

    with pytest.raises(ValueError, match=fragment):
        corpus_bleu(hyps, refs)
    with pytest.raises(ValueError, match=fragment):
        bleu_statistics(hyps, refs)


def test_bleu_of_integer_token_ids_equals_bleu_of_their_strings():
    hyps, refs = [[3, 1, 4, 1, 5]], [[[3, 1, 4, 1, 6]]]
    as_text = corpus_bleu([[str(t) for t in h] for h in hyps], [[[str(t) for t in r] for r in rs] for rs in refs])
    assert corpus_bleu(hyps, refs).score == pytest.approx(as_text.score)


@given(st.lists(st.tuples(_tokens, _tokens), min_size=1, max_size=8),
       st.sampled_from(["none", "exp", "floor", "add-k"]))
@settings(max_examples=60, deadline=None)
def test_bleu_from_summed_sentence_statistics_equals_corpus_bleu(pairs, smooth):
    from lmcourse.metrics import bleu_from_statistics, bleu_statistics

    hyps, refs = [h for h, _ in pairs], [[r] for _, r in pairs]
    rows = bleu_statistics(hyps, refs)
    assert len(rows) == len(hyps) and all(len(r) == 10 for r in rows)
    expected = corpus_bleu(hyps, refs, smooth=smooth)
    got = bleu_from_statistics(rows, smooth=smooth)
    assert got.score == pytest.approx(expected.score, abs=1e-9)
    assert (got.matches, got.totals, got.hyp_len, got.ref_len) == (expected.matches, expected.totals,
                                                                   expected.hyp_len, expected.ref_len)


def test_bleu_from_statistics_of_a_subset_is_the_bleu_of_that_subset():
    import numpy as np

    from lmcourse.metrics import bleu_from_statistics, bleu_statistics

    hyps = ["the cat sat on the mat".split(), "a dog ran".split(), "we went home early today".split()]
    refs = [["the cat sat on a mat".split()], ["the dog ran".split()], ["we went home today".split()]]
    rows = np.array(bleu_statistics(hyps, refs))
    pick = [0, 2, 2]                                    # a bootstrap draw: items may repeat
    assert bleu_from_statistics(rows[pick]).score == pytest.approx(
        corpus_bleu([hyps[i] for i in pick], [refs[i] for i in pick]).score)


@pytest.mark.parametrize("stats, fragment", [([[1, 2, 3]], "statistics must be rows"),
                                             ([[1, 1, -1, 2]], "non-negative"),
                                             ([[1, 1, float("nan"), 2]], "statistics must be rows of finite")])
def test_bleu_from_statistics_rejects_rows_of_the_wrong_shape(stats, fragment):
    from lmcourse.metrics import bleu_from_statistics

    with pytest.raises(ValueError, match=fragment):
        bleu_from_statistics(stats)
