"""Bits per character undo the tokenizer; per-window losses pair up; n-gram overlap finds copied text."""

import math

import pytest
import torch
import torch.nn.functional as F

from lmcourse.gpt import GPT, GPTConfig
from lmcourse.lm_eval import (
    bits_per_byte,
    bits_per_character,
    ngram_contamination,
    ngram_total_nats,
    sequence_losses,
    validation_windows,
    word_ngrams,
)
from lmcourse.ngram import NGramLM


def test_bits_per_character_is_total_nats_over_ln2_times_characters():
    assert bits_per_character(math.log(2) * 10, 10) == pytest.approx(1.0)
    # a uniform model over 4 symbols spends 2 bits on each character, however the text is cut into tokens
    assert bits_per_character(20 * math.log(4), 20) == pytest.approx(2.0)
    text = "你好世界"                                      # 4 characters, 12 UTF-8 bytes
    assert bits_per_byte(6.0, len(text.encode("utf-8"))) == pytest.approx(bits_per_character(6.0, len(text)) / 3)


def test_bits_per_character_agrees_for_two_tokenizations_of_the_same_probabilities():
    # a model that gives "ab" probability 1/4 as one token, or "a" then "b" each 1/2, says the same about the text
    one_token, two_tokens = -math.log(1 / 4) * 5, -2 * math.log(1 / 2) * 5
    assert bits_per_character(one_token, 10) == pytest.approx(bits_per_character(two_tokens, 10))
    assert math.exp(one_token / 5) != pytest.approx(math.exp(two_tokens / 10))   # per-token perplexities differ


@pytest.mark.parametrize("args, fragment", [((-1.0, 3), "total_nats must be a finite number >= 0; got -1.0"),
                                            ((1.0, 0), "n_characters must be an int >= 1; got 0"),
                                            ((float("inf"), 3), "total_nats must be a finite number >= 0; got inf"),
                                            ((float("nan"), 3), "total_nats must be a finite number >= 0; got nan")])
def test_bits_per_character_rejects_bad_input(args, fragment):
    with pytest.raises(ValueError, match=fragment):
        bits_per_character(*args)


def test_ngram_total_nats_matches_the_models_perplexity():
    text = "the cat sat on the mat and the cat ran " * 5
    lm = NGramLM(order=3, k=0.5).fit(text[:150])
    total, n = ngram_total_nats(lm, text[150:])
    assert n == len(text[150:]) - 2
    assert math.exp(total / n) == pytest.approx(lm.perplexity(text[150:]))


def test_validation_windows_are_fixed_non_overlapping_and_shifted():
    ids = torch.arange(23)
    x, y = validation_windows(ids, 5)
    assert x.shape == y.shape == (4, 5)
    assert torch.equal(x[1], torch.arange(5, 10)) and torch.equal(y[1], torch.arange(6, 11))
    assert validation_windows(ids, 5, n_windows=2)[0].shape == (2, 5)
    with pytest.raises(ValueError, match="block_size"):
        validation_windows(ids, 0)


def test_sequence_losses_average_to_the_models_loss_on_the_same_windows():
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=16))
    x, y = validation_windows(torch.randint(11, (100,)), 8)
    per_window = sequence_losses(model, x, y, batch_size=5)
    assert per_window.shape == (len(x),)
    _, loss = model(x, y)
    assert per_window.mean().item() == pytest.approx(loss.item(), rel=1e-5)
    assert model.training                                 # restored


def test_sequence_losses_accept_a_model_that_returns_plain_logits():
    emb = torch.nn.Embedding(5, 5)
    x = torch.randint(5, (3, 4))
    y = torch.randint(5, (3, 4))
    expected = F.cross_entropy(emb(x).flatten(0, 1), y.flatten(), reduction="none").view(3, 4).mean(1)
    assert torch.allclose(sequence_losses(emb, x, y), expected)


def test_ngram_contamination_finds_a_copied_document_and_spares_a_fresh_one():
    train = ("to be or not to be that is the question whether tis nobler in the mind to suffer "
             "the slings and arrows of outrageous fortune").split()
    copied = train[3:20]
    fresh = "a completely different sentence about cats dogs and the weather in spring time".split()
    partly = copied[:8] + fresh
    shares = ngram_contamination(train, [copied, fresh, partly, ["short"]], n=5)
    assert shares[0] == 1.0 and shares[1] == 0.0 and 0 < shares[2] < 1 and shares[3] == 0.0
    assert shares == ngram_contamination(train, [copied, fresh, partly, ["short"]], n=5,
                                         train_ngrams=word_ngrams(train, 5))
    with pytest.raises(TypeError, match="word lists"):
        ngram_contamination(train, ["a plain string"], n=5)


def test_sequence_losses_and_windows_name_the_argument_with_the_wrong_shape():
    model = GPT(GPTConfig(block_size=8, vocab_size=5, n_layer=1, n_head=1, n_embd=8))
    x = torch.zeros(2, 4, dtype=torch.long)
    with pytest.raises(ValueError, match=r"y must be of shape \(N, T\) with N=2, T=4; got shape \(2, 3\)"):
        sequence_losses(model, x, x[:, :3])
    with pytest.raises(ValueError, match="ids must be an integer tensor; got dtype torch.float32"):
        validation_windows(torch.zeros(20), 4)
