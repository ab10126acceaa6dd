"""The course's sentiment sentences: fixed, balanced, split without overlap, read from a checked data
file that is refused whole if one line is bad; the VADER lexicon loads."""

import hashlib
import json

import pytest

from lmcourse.sentiment_data import (
    DATA_FILE,
    Example,
    load_sentiment,
    read_examples,
    texts_and_labels,
    train_test_split,
    vader_lexicon,
)

# sha256 of json.dumps([[text, label, lang], ...], ensure_ascii=False), captured from the Python string lists
# the sentences were stored in before they moved to lmcourse/data/sentiment.tsv: the move changed no value.
BEFORE_THE_MOVE = {
    None: ("372184b547d83b8818054a60a04141d00a31541db68e70325978c7b336876b01",
           "b7b4ab6d53d188adfce121e680f7ca8a92d2e19da0aea94eb772f59c6504c97f",
           "08883ffc3d303b0728cc8f80f2613913442fdd8f0d8eda7b1e3769356fc894e3"),
    "en": ("75ccb8ad3bbf6363b5acbeb269ab448419ba2b938070b5415323b48422e77645",
           "c8cce1957bc4c3a939562b1e20f7d5157fa06e1f033efa8f4a7c2ddb5f0add1c",
           "86873c2ecd62722cca65cd8541778b1eab2de076aa13b53689979719101dd4c9"),
    "zh": ("0fc74af5a2852814f155c4b8579759326617452cbdbf1a90b4d01c05956aa41f",
           "a65433589027459585593a607cd7c13c71c0e640ec9fddeb6b6768418c52fde1",
           "671f59de47bee74298b1ace8dfdd8edc7087a129c100e4d58fefd13b1a4cfee2"),
}


def _sha(examples):
    rows = [[ex.text, ex.label, ex.lang] for ex in examples]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


@pytest.mark.parametrize("lang", [None, "en", "zh"])
def test_sentences_and_split_are_the_ones_the_notebooks_were_run_with(lang):
    train, test = train_test_split(lang)
    assert (_sha(load_sentiment(lang)), _sha(train), _sha(test)) == BEFORE_THE_MOVE[lang]
    assert texts_and_labels(test)[1][:4] == [ex.label for ex in test[:4]]


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
    with pytest.raises(ValueError, match=r"lang must be one of \(None, 'en', 'zh'\); got 'fr'"):
        load_sentiment("fr")


def test_vader_lexicon_has_human_ratings_in_range():
    lexicon = vader_lexicon()
    assert len(lexicon) > 7000
    assert all(-4 <= v <= 4 for v in lexicon.values())
    assert lexicon["good"] > 1 and lexicon["horrible"] < -1
    assert all(w.isalpha() for w in lexicon)
    assert len(vader_lexicon(words_only=False)) > len(lexicon)


def test_the_data_file_is_the_set():
    assert DATA_FILE.name == "sentiment.tsv" and DATA_FILE.parent.name == "data"
    assert list(read_examples()) == load_sentiment()
    assert load_sentiment()[0] == Example("The film was a delight from the first scene to the last.", 1, "en")


def _write(tmp_path, text):
    path = tmp_path / "sentiment.tsv"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = "text\tlabel\tlang\nA fine day.\tpositive\ten\n糟透了。\tnegative\tzh\n"


def test_a_good_file_is_read_in_order(tmp_path):
    assert read_examples(_write(tmp_path, GOOD)) == (Example("A fine day.", 1, "en"), Example("糟透了。", 0, "zh"))


@pytest.mark.parametrize("text, fragment", [
    ("", "line 1: the header must be the tab-separated columns ('text', 'label', 'lang'); got ()"),
    ("sentence\tlabel\tlang\nA fine day.\tpositive\ten\n", "line 1: the header must be"),
    (GOOD + "A dull day.\tnegative\n", "line 4: expected 3 tab-separated fields"),
    (GOOD + "\n", "line 4: expected 3 tab-separated fields"),
    (GOOD + " \tnegative\ten\n", "line 4: the field 'text' is empty"),
    (GOOD + "A dull day.\t\ten\n", "line 4: the field 'label' is empty"),
    (GOOD + "A dull day.\t1\ten\n", "line 4: label must be one of ('negative', 'positive'); got '1'"),
    (GOOD + "A dull day.\tnegative\tfr\n", "line 4: lang must be one of ('en', 'zh'); got 'fr'"),
    (GOOD + "A fine day.\tnegative\ten\n", "line 4: the sentence 'A fine day.' already appears on line 2"),
])
def test_a_bad_line_refuses_the_whole_file_naming_file_and_line(tmp_path, text, fragment):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as err:
        read_examples(path)
    assert str(err.value).startswith(f"{path}, line ")
    assert fragment in str(err.value)


def test_a_plain_install_ships_the_data_file():
    import fnmatch
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["lmcourse"]
    assert any(fnmatch.fnmatch("data/sentiment.tsv", p) for p in patterns), \
        f"pyproject.toml's package-data for lmcourse must include 'data/*.tsv'; got {patterns}"
