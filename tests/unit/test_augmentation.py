"""Text augmentation edits tokens, not pixels: each EDA edit does what it says, and a seed fixes it."""

import random

import pytest

from lmcourse.augmentation import (
    MASK,
    eda,
    join_tokens,
    mask_tokens,
    random_deletion,
    random_insertion,
    random_swap,
    split_tokens,
    synonym_replacement,
)

TOKENS = "the film was very good and the staff were friendly".split()


def test_synonym_replacement_changes_only_words_with_a_synonym():
    out = synonym_replacement(TOKENS, 10, random.Random(0), {"good": ("great",), "film": ("movie",)})
    assert out == "the movie was very great and the staff were friendly".split()
    assert synonym_replacement(TOKENS, 3, random.Random(0), {}) == TOKENS


def test_random_insertion_adds_synonyms_of_the_sentences_own_words():
    out = random_insertion(TOKENS, 2, random.Random(1), {"good": ("great",)})
    assert len(out) == len(TOKENS) + 2 and out.count("great") == 2
    assert random_insertion(TOKENS, 2, random.Random(1), {}) == TOKENS


def test_random_swap_keeps_the_tokens_and_changes_their_order():
    out = random_swap(TOKENS, 2, random.Random(2))
    assert sorted(out) == sorted(TOKENS) and out != TOKENS
    assert random_swap(["one"], 3, random.Random(0)) == ["one"]


def test_random_deletion_drops_tokens_but_never_all_of_them():
    out = random_deletion(TOKENS, 0.5, random.Random(3))
    assert 0 < len(out) < len(TOKENS) and all(t in TOKENS for t in out)
    assert len(random_deletion(TOKENS, 1.0, random.Random(0))) == 1
    assert random_deletion(TOKENS, 0.0, random.Random(0)) == TOKENS


def test_mask_tokens_masks_about_the_requested_share():
    out = mask_tokens(TOKENS * 100, 0.3, random.Random(4))
    assert abs(out.count(MASK) / len(out) - 0.3) < 0.05


def test_eda_is_repeatable_with_a_seed_and_gives_distinct_variants():
    text = "The film was a delight from the first scene to the last."
    a, b = eda(text, random.Random(5)), eda(text, random.Random(5))
    assert a == b and len(a) == 4
    assert sum(v != text for v in a) >= 2
    assert eda(text, random.Random(5), n_variants=2) == a[:2]


def test_split_and_join_round_trip_english_and_chinese():
    for text in ("The soup was rich, warm and full of flavour.", "这家餐厅的菜又新鲜又好吃。"):
        tokens, joiner = split_tokens(text)
        assert len(tokens) > 3 and join_tokens(tokens, joiner) == text


@pytest.mark.parametrize("call, error, fragment", [
    (lambda: random_deletion(TOKENS, 1.5, random.Random(0)), ValueError, "p must be"),
    (lambda: random_swap(TOKENS, 1, 0), TypeError, "rng must be"),
    (lambda: eda("a b", random.Random(0), n_variants=0), ValueError, "n_variants must be"),
    (lambda: split_tokens(["a"]), TypeError, "text must be"),
])
def test_augmentation_rejects_bad_input(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()
