"""Tokenizers: char, word and byte-level BPE — round-trips, agreement with Hugging Face, bad input."""

import json
import random
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lmcourse._checks import ArgumentError
from lmcourse.tokenizers import (
    BPE_PATTERN,
    BPETokenizer,
    CharTokenizer,
    WordTokenizer,
    count_pairs,
    merge,
    token_view,
    train_bpe,
    train_bpe_naive,
)

CORPUS = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
          "You are all resolved rather to die than to famish? 我们先说话。语言模型学习文字。 ") * 5


@pytest.fixture(scope="module")
def bpe():
    return BPETokenizer.train(CORPUS, num_merges=60, special_tokens=["<|endoftext|>"])


# --- CharTokenizer keeps the API other notebooks use
def test_char_tokenizer_round_trips_and_exposes_its_vocabulary():
    tok = CharTokenizer.from_text("hello world")
    assert tok.chars == sorted(set("hello world")) and tok.stoi["h"] == tok.chars.index("h")
    assert tok.vocab_size == len(set("hello world"))
    assert tok.decode(tok.encode("low hole")) == "low hole"


def test_char_tokenizer_rejects_unknown_characters_and_ids():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tok.encode("abz")
    with pytest.raises(ValueError, match=r"ids must be integers in \[0, 3\); got 3$"):
        tok.decode([0, 3])
    with pytest.raises(ValueError, match="non-empty string"):
        CharTokenizer.from_text("")


# --- WordTokenizer
def test_word_tokenizer_maps_unseen_words_to_unk():
    tok = WordTokenizer.from_text("to be or not to be")
    assert tok.decode(tok.encode("to be a bee")) == "to be <unk> <unk>"
    assert tok.encode("zzz") == [0]


def test_word_tokenizer_keeps_the_most_frequent_words():
    tok = WordTokenizer.from_text("a a a b b c", max_size=2)
    assert tok.itos == ["<unk>", " ", "a"]  # the space occurs 5 times, "a" 3


def test_word_tokenizer_bad_input_errors():
    with pytest.raises(ValueError, match="text must be a non-empty string"):
        WordTokenizer.from_text("")
    with pytest.raises(ValueError, match="max_size must be an int >= 1; got 0"):
        WordTokenizer.from_text("a b", max_size=0)
    with pytest.raises(ValueError, match="min_count must be an int >= 1; got 0"):
        WordTokenizer.from_text("a b", min_count=0)
    with pytest.raises(ValueError, match=r"ids must be integers in \[0, "):
        WordTokenizer.from_text("a b").decode([99])
    with pytest.raises(TypeError, match="text must be a str"):
        WordTokenizer.from_text("a b").encode(b"a")


# --- BPE building blocks
def test_merge_is_left_to_right_and_non_overlapping():
    assert merge([1, 1, 1, 2, 1, 1], (1, 1), 9) == [9, 1, 2, 9]
    assert merge([], (1, 1), 9) == [] and merge([1], (1, 1), 9) == [1]


def test_count_pairs_counts_overlapping_pairs():
    assert count_pairs([1, 1, 1]) == {(1, 1): 2}


@pytest.mark.parametrize("seed", range(4))
def test_incremental_training_gives_exactly_the_naive_merges(seed):
    rng = random.Random(seed)
    words = ["low", "lower", "newest", "widest", "语言", "模型", "the", " a", "aaaa", "x_y"]
    text = " ".join(rng.choice(words) for _ in range(400))
    assert train_bpe(text, 80) == train_bpe_naive(text, 80)


def test_training_stops_when_no_pair_is_left():
    # chunks "ab" and " ab": merge (a, b), then (" ", ab); after that nothing is left to merge
    assert train_bpe("ab ab", 50) == train_bpe_naive("ab ab", 50) == [(97, 98), (32, 256)]


def test_bpe_train_bad_input_errors():
    with pytest.raises(ValueError, match="text must be a non-empty string"):
        BPETokenizer.train("", 10)
    with pytest.raises(ValueError, match="num_merges must be an int >= 0; got -1"):
        BPETokenizer.train("abc", -1)
    with pytest.raises(ValueError, match="num_merges must be an int >= 0; got True"):
        BPETokenizer.train("abc", True)
    with pytest.raises(ValueError, match="num_merges must be an int >= 0; got 2.0"):
        train_bpe_naive("abc", 2.0)


# --- round trips
@settings(max_examples=150, deadline=None)
@given(st.text())
def test_bpe_round_trips_any_unicode_text(text):
    tok = _shared_bpe()
    assert tok.decode(tok.encode(text)) == text


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab 我们说话。\n"))))
def test_bpe_token_bytes_join_back_to_the_utf8_text(text):
    tok = _shared_bpe()
    ids = tok.encode(text)
    assert b"".join(tok.token_bytes(i) for i in ids) == text.encode("utf-8")


_CACHE = {}


def _shared_bpe():
    if "tok" not in _CACHE:
        _CACHE["tok"] = BPETokenizer.train(CORPUS, num_merges=60, special_tokens=["<|endoftext|>"])
    return _CACHE["tok"]


def test_bpe_empty_text_encodes_to_no_tokens(bpe):
    assert bpe.encode("") == [] and bpe.decode([]) == ""


def test_bpe_merges_shorten_the_text_and_special_tokens_get_one_id(bpe):
    text = "Before we proceed any further<|endoftext|>我们"
    ids = bpe.encode(text, allowed_special="all")
    assert len(ids) < len(text.encode("utf-8"))
    assert ids.count(bpe.special_tokens["<|endoftext|>"]) == 1
    assert bpe.vocab_size == 256 + 60 + 1
    assert bpe.decode(ids) == text


def test_bpe_save_load_round_trip(bpe, tmp_path):
    path = tmp_path / "tok.json"
    bpe.save(path)
    loaded = BPETokenizer.load(path)
    assert loaded.merges == bpe.merges and loaded.special_tokens == bpe.special_tokens
    assert loaded.encode(CORPUS) == bpe.encode(CORPUS)


# --- bad input
def _three_tokenizers():
    return [CharTokenizer.from_text("abc"), WordTokenizer.from_text("to be or not"),
            BPETokenizer.train("low lower lowest " * 5, num_merges=5, special_tokens=["<|endoftext|>"])]


@pytest.mark.parametrize("tok", _three_tokenizers(), ids=lambda t: type(t).__name__)
@pytest.mark.parametrize("bad, shown", [(1.0, "1.0"), (1.7, "1.7"), (True, "True"), ("1", "'1'"), (None, "None"),
                                        (-1, "-1"), (10**6, "1000000"), (torch.tensor(1.0), "tensor(1.)"),
                                        (torch.tensor(True), "tensor(True)"), (np.float64(2.0), "np.float64(2.0)")])
def test_every_decode_refuses_non_integer_and_out_of_range_ids(tok, bad, shown):
    with pytest.raises(ArgumentError) as err:
        tok.decode([0, bad])
    assert str(err.value) == f"ids must be integers in [0, {tok.vocab_size}); got {shown}"


@pytest.mark.parametrize("tok", _three_tokenizers(), ids=lambda t: type(t).__name__)
def test_every_decode_refuses_the_first_id_past_the_vocabulary_and_accepts_the_last(tok):
    with pytest.raises(ArgumentError, match=rf"ids must be integers in \[0, {tok.vocab_size}\); got {tok.vocab_size}$"):
        tok.decode([tok.vocab_size])
    assert tok.decode([tok.vocab_size - 1]) == tok.decode([np.int64(tok.vocab_size - 1)])


@pytest.mark.parametrize("tok", _three_tokenizers(), ids=lambda t: type(t).__name__)
def test_every_decode_takes_a_tensor_or_numpy_array_of_ids_like_a_list(tok):
    ids = [0, 1, tok.vocab_size - 1]
    for as_array in (torch.tensor(ids), torch.tensor(ids, dtype=torch.int32), np.array(ids)):
        assert tok.decode(as_array) == tok.decode(ids)
    with pytest.raises(ArgumentError, match="ids must be a sequence of token ids; got int"):
        tok.decode(3)


def test_bpe_decoding_out_of_range_or_non_integer_ids_is_an_error(bpe):
    with pytest.raises(ValueError, match=rf"ids must be integers in \[0, {bpe.vocab_size}\); got {bpe.vocab_size}"):
        bpe.decode([1, bpe.vocab_size])
    with pytest.raises(ValueError, match="got -1"):
        bpe.decode([-1])
    with pytest.raises(ValueError, match="ids must be integers"):
        bpe.decode(["a"])
    with pytest.raises(ValueError, match="ids must be integers"):
        bpe.decode([1.5])


def test_bpe_encode_rejects_non_strings_and_lone_surrogates(bpe):
    with pytest.raises(TypeError, match="text must be a str"):
        bpe.encode(None)
    with pytest.raises(ValueError, match="lone surrogate"):
        bpe.encode("a\ud800")


@pytest.mark.parametrize("content, fragment", [
    ("{not json", "not a valid tokenizer file"),
    (json.dumps({"format": "something else"}), "expected format"),
    (json.dumps({"format": "lmcourse.BPETokenizer", "version": 99}), "version must be 1"),
    (json.dumps({"format": "lmcourse.BPETokenizer", "version": 1, "pattern": "x"}), "missing merges"),
    (json.dumps({"format": "lmcourse.BPETokenizer", "version": 1, "pattern": "x", "merges": [[1, 300]],
                 "special_tokens": []}), "merge 0 must be a pair of existing token ids"),
    (json.dumps({"format": "lmcourse.BPETokenizer", "version": 1, "pattern": "x", "merges": "ab",
                 "special_tokens": []}), "must be lists"),
])
def test_loading_a_corrupt_tokenizer_file_is_a_clear_error(tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=fragment):
        BPETokenizer.load(path)


def test_bpe_rejects_empty_special_tokens():
    with pytest.raises(ValueError, match="special_tokens must be non-empty strings"):
        BPETokenizer([], special_tokens=[""])


def test_special_token_strings_in_text_stay_text_unless_allowed(bpe):
    eot = bpe.special_tokens["<|endoftext|>"]
    text = "user wrote <|endoftext|> here"
    plain = bpe.encode(text)
    assert eot not in plain and bpe.decode(plain) == text
    assert plain == bpe.encode("user wrote ") + bpe.encode("<|endoftext|>") + bpe.encode(" here")
    for allowed in ("all", {"<|endoftext|>"}, ["<|endoftext|>"]):
        ids = bpe.encode(text, allowed_special=allowed)
        assert ids.count(eot) == 1 and bpe.decode(ids) == text
    assert bpe.encode(text, allowed_special=set()) == plain


def test_allowed_special_picks_which_special_tokens_are_read():
    tok = BPETokenizer.train(CORPUS, num_merges=20, special_tokens=["<|endoftext|>", "<|user|>"])
    ids = tok.encode("<|user|>hi<|endoftext|>", allowed_special={"<|user|>"})
    assert ids[0] == tok.special_tokens["<|user|>"] and tok.special_tokens["<|endoftext|>"] not in ids
    assert tok.decode(ids) == "<|user|>hi<|endoftext|>"


@pytest.mark.parametrize("allowed, fragment", [
    ("none", "must be 'all' or a collection"), (5, "must be 'all' or a collection"),
    ({"<|nope|>"}, "must name special tokens of this tokenizer"),
])
def test_allowed_special_rejects_what_it_cannot_use(bpe, allowed, fragment):
    with pytest.raises(ValueError, match=fragment):
        bpe.encode("hi", allowed_special=allowed)


# --- agreement with Hugging Face tokenizers
def test_bpe_ids_equal_hugging_face_bpe_with_the_same_merges(bpe):
    hf = bpe.to_huggingface()
    for text in (CORPUS, "Speak, speak! 我们学习 <|endoftext|> résumé 123 x_y\t\n"):
        assert hf.encode(text).ids == bpe.encode(text)
        hf.encode_special_tokens = False  # Hugging Face then reads special strings, like allowed_special="all"
        assert hf.encode(text).ids == bpe.encode(text, allowed_special="all")
        hf.encode_special_tokens = True


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_bpe_merges_applied_like_hugging_face_on_random_text(text):
    """Same chunks in, same ids out: the BPE model itself agrees on any text."""
    from tokenizers import pre_tokenizers

    tok = _shared_bpe()
    if "hf" not in _CACHE:
        hf = tok.to_huggingface()
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
        _CACHE["hf"] = hf
    chunks = re.findall(BPE_PATTERN, text)
    if chunks:
        assert _CACHE["hf"].encode(chunks, is_pretokenized=True).ids == tok.encode(text)


def test_hf_bpe_trainer_and_ours_reach_similar_compression():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    text = CORPUS * 4
    ours = BPETokenizer.train(text, 100)
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=356, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    hf.train_from_iterator([text], trainer)
    n_ours, n_hf = len(ours.encode(text)), len(hf.encode(text).ids)
    assert 0.8 < n_ours / n_hf < 1.25


# --- display
def test_token_view_shows_every_piece_and_id():
    view = token_view(["a", " b<"], [5, 6])
    assert "a" in view and "␣b&lt;" in view and ">5<" in view and "2 tokens" in view
    with pytest.raises(ValueError, match="ids must have one entry per piece"):
        token_view(["a"], [1, 2])


def test_piece_shows_partial_characters_as_bytes():
    assert BPETokenizer().pieces("我") == ["\\xe6", "\\x88", "\\x91"]
