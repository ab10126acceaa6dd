"""The course's sentiment sentences: fixed, balanced, split without overlap; the VADER lexicon loads."""

import pytest

from lmcourse.sentiment_data import load_sentiment, texts_and_labels, train_test_split, vader_lexicon


def test_set_is_deterministic_and_balanced():
    first, second = load_sentiment(), load_sentiment()
    assert first == second and len(first) == 250
    for lang in ("en", "zh"):
        labels = [ex.label for ex in first if ex.lang == lang]
        assert labels.count(0) == labels.count(1)


def test_sentences_are_unique_and_labels_binary():
    texts = [ex.text for ex in load_sentiment()]
    assert len(set(texts)) == len(texts)
    assert {ex.label for ex in load_sentiment()} == {0, 1}


def test_split_has_no_overlap_and_covers_everything():
    train, test = train_test_split()
    train_texts, test_texts = {ex.text for ex in train}, {ex.text for ex in test}
    assert not train_texts & test_texts
    assert len(train) + len(test) == len(load_sentiment())
    assert train_test_split() == (train, test)


def test_split_is_stratified_by_language_and_label():
    train, test = train_test_split()
    for lang in ("en", "zh"):
        for label in (0, 1):
            n_train = sum(ex.lang == lang and ex.label == label for ex in train)
            n_test = sum(ex.lang == lang and ex.label == label for ex in test)
            assert 0.2 <= n_test / (n_train + n_test) <= 0.3


def test_language_filter_and_parallel_lists():
    zh = load_sentiment("zh")
    assert {ex.lang for ex in zh} == {"zh"}
    texts, labels = texts_and_labels(zh)
    assert len(texts) == len(labels) == len(zh) and texts[0] == zh[0].text


def test_unknown_language_is_rejected():
    with pytest.raises(ValueError, match="lang must be"):
        load_sentiment("fr")


def test_vader_lexicon_has_human_ratings_in_range():
    lexicon = vader_lexicon()
    assert len(lexicon) > 7000
    assert all(-4 <= v <= 4 for v in lexicon.values())
    assert lexicon["good"] > 1 and lexicon["horrible"] < -1
    assert all(w.isalpha() for w in lexicon)
    assert len(vader_lexicon(words_only=False)) > len(lexicon)
