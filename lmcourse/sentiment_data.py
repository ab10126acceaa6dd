"""A small labeled sentiment set, written for this course: English and Chinese sentences.

Each sentence is a short opinion (a film, a meal, a product, a trip, a service, a day) that
a reader would call clearly positive (label 1) or clearly negative (label 0). The
sentences were written by hand for lmcourse (no source text was copied), so the set may be
used and shared under the course's license. It is small on purpose: notebooks 12 and 13
train and evaluate classifiers on it in seconds, and it is big enough to see
overfitting, cross-validation spread and the difference between two classifiers.

The sentences are data, not code: ``lmcourse/data/sentiment.tsv``, one sentence a line with
the tab-separated columns ``text``, ``label`` (``positive`` or ``negative``) and ``lang``
(``en`` or ``zh``). :func:`read_examples` checks the whole file before it returns a row.
:func:`load_sentiment` returns the whole set; :func:`train_test_split` splits it
deterministically (no randomness, no overlap): inside each (language, label) group, every
fourth sentence goes to the test set, so both sets have the same mix of languages and labels.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from ._checks import one_of

DATA_FILE = Path(__file__).with_name("data") / "sentiment.tsv"
COLUMNS = ("text", "label", "lang")
LABELS = {"negative": 0, "positive": 1}
LANGS = ("en", "zh")

TEST_EVERY = 4  # in each (language, label) group, sentences 3, 7, 11, … go to the test set


@dataclass(frozen=True)
class Example:
    """One labeled sentence: ``label`` 1 = positive, 0 = negative; ``lang`` is "en" or "zh"."""

    text: str
    label: int
    lang: str


def read_examples(path: str | os.PathLike = DATA_FILE) -> tuple[Example, ...]:
    """Every row of a sentiment file, in file order, or an error: nothing is returned from a bad file.

    The first line must be the header ``text<TAB>label<TAB>lang``; each further line holds three
    non-empty fields, a label from :data:`LABELS` and a language from :data:`LANGS`, and no sentence
    may appear twice (a repeat could land in both the training and the test set). A broken line
    raises ``ValueError`` naming the file, the line number and what is wrong with it.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    header = tuple(lines[0].split("\t")) if lines else ()
    if header != COLUMNS:
        raise ValueError(f"{path}, line 1: the header must be the tab-separated columns {COLUMNS}; got {header}")
    examples, first_seen = [], {}
    for number, line in enumerate(lines[1:], start=2):
        fields = [field.strip() for field in line.split("\t")]
        where = f"{path}, line {number}"
        if len(fields) != len(COLUMNS):
            raise ValueError(f"{where}: expected {len(COLUMNS)} tab-separated fields {COLUMNS}; got {len(fields)}")
        text, label, lang = fields
        empty = [name for name, field in zip(COLUMNS, fields, strict=True) if not field]
        if empty:
            raise ValueError(f"{where}: the field {empty[0]!r} is empty")
        if label not in LABELS:
            raise ValueError(f"{where}: label must be one of {tuple(LABELS)}; got {label!r}")
        if lang not in LANGS:
            raise ValueError(f"{where}: lang must be one of {LANGS}; got {lang!r}")
        if text in first_seen:
            raise ValueError(f"{where}: the sentence {text!r} already appears on line {first_seen[text]}")
        first_seen[text] = number
        examples.append(Example(text, LABELS[label], lang))
    return tuple(examples)


@functools.lru_cache(maxsize=1)
def _course_examples() -> tuple[Example, ...]:
    return read_examples(DATA_FILE)


def load_sentiment(lang: str | None = None) -> list[Example]:
    """Every sentence of the set, in a fixed order; ``lang="en"`` or ``"zh"`` keeps one language."""
    one_of("lang", lang, (None, *LANGS))
    return [ex for ex in _course_examples() if lang in (None, ex.lang)]


def train_test_split(lang: str | None = None) -> tuple[list[Example], list[Example]]:
    """``(train, test)``: in each (language, label) group every fourth sentence is a test sentence.

    Deterministic and stratified: about 75 % / 25 %, the same languages and labels in both.
    """
    train, test, seen = [], [], {}
    for ex in load_sentiment(lang):
        key = (ex.lang, ex.label)
        seen[key] = seen.get(key, 0) + 1
        (test if seen[key] % TEST_EVERY == 0 else train).append(ex)
    return train, test


def texts_and_labels(examples: list[Example]) -> tuple[list[str], list[int]]:
    """Two parallel lists, sentences and labels, ready for a classifier."""
    return [ex.text for ex in examples], [ex.label for ex in examples]


def vader_lexicon(words_only: bool = True) -> dict[str, float]:
    """``{word: mean human rating}`` from the VADER lexicon (Hutto & Gilbert 2014, MIT license).

    Ten people rated each entry from −4 (extremely negative) to +4 (extremely positive); the
    file ships inside the ``vaderSentiment`` package. ``words_only`` drops emoticons and
    other entries that are not purely alphabetic (about 300 of 7,500).
    """
    from importlib.resources import files

    try:
        text = files("vaderSentiment").joinpath("vader_lexicon.txt").read_text(encoding="utf-8")
    except ModuleNotFoundError as err:  # pragma: no cover - declared dependency
        raise ImportError("the VADER lexicon needs the package vaderSentiment: pip install vaderSentiment") from err
    lexicon = {}
    for line in text.splitlines():
        word, mean, *_ = line.split("\t")
        if not words_only or word.isalpha():
            lexicon[word] = float(mean)
    return lexicon
