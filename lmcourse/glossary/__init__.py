"""The bilingual glossary (术语表): every key term of the course, in English and 中文.

Terms live as data, one tab-separated file per notebook in ``terms/`` (``00_welcome.tsv``
holds the terms notebook 00 introduces), with the columns ``term``, ``zh`` and
``definition``. Each notebook ends with ``key_terms("00")``; ``table()`` shows them all.
In the Chinese edition (:mod:`lmcourse.language`) the table explains each term in Chinese, from
``locale/zh/glossary/NN_topic.po``.
"""

from __future__ import annotations

import csv
import functools
import html
from dataclasses import dataclass
from pathlib import Path

from ..language import translate

TERMS_DIR = Path(__file__).with_name("terms")
COLUMNS = ("term", "zh", "definition")


@dataclass(frozen=True)
class Term:
    term: str
    zh: str
    definition: str
    notebook: str  # two-digit number of the notebook that introduces it


# Inline styles, because JupyterLab right-aligns table cells and wraps narrow columns with its
# own CSS, which beats an `align` attribute; its HTML sanitizer keeps `style` (text-align and
# white-space included) in untrusted stored outputs too, so a reopened notebook looks the same.
_LEFT = ' style="text-align:left"'
_ONE_LINE = ' style="text-align:left;white-space:nowrap"'


class TermTable(list):
    """A list of :class:`Term` that shows itself as a table in a notebook and as text elsewhere.

    In the table every cell is left-aligned and the English and 中文 terms stay on one line.
    """

    def _repr_html_(self) -> str:
        names = ("English", "中文", translate("meaning"), translate("notebook"))
        head = "".join(f"<th{_ONE_LINE}>{name}</th>" for name in names)  # a 中文 header must not wrap either
        rows = "".join(
            f"<tr><td{_ONE_LINE}><b>{html.escape(t.term)}</b></td><td{_ONE_LINE}>{html.escape(t.zh)}</td>"
            f"<td{_LEFT}>{html.escape(translate(t.definition))}</td><td{_LEFT}>{t.notebook}</td></tr>" for t in self)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

    def __str__(self) -> str:
        return "\n".join(translate(f"{t.term} · {t.zh} — {translate(t.definition)} (notebook {t.notebook})")
                          for t in self)

    __repr__ = __str__


@functools.lru_cache(maxsize=1)
def load() -> tuple[Term, ...]:
    """Every term, in notebook order, as read from ``terms/*.tsv``."""
    terms: list[Term] = []
    for path in sorted(TERMS_DIR.glob("*.tsv")):
        notebook = path.name[:2]
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t")
            if tuple(reader.fieldnames or ()) != COLUMNS:
                raise ValueError(f"{path.name} must have the tab-separated header {COLUMNS}; got {reader.fieldnames}")
            for line, row in enumerate(reader, start=2):
                if not all((row.get(c) or "").strip() for c in COLUMNS):
                    raise ValueError(f"{path.name} line {line}: every column of {COLUMNS} must be filled")
                terms.append(Term(row["term"].strip(), row["zh"].strip(), row["definition"].strip(), notebook))
    return tuple(terms)


def lookup(term: str) -> Term:
    """The entry for ``term`` (case-insensitive)."""
    for entry in load():
        if entry.term.lower() == term.lower():
            return entry
    raise KeyError(f"term {term!r} is not in the glossary; add it to a file in {TERMS_DIR.name}/")


def key_terms(notebook: str) -> TermTable:
    """The terms introduced by ``notebook`` (its two-digit number, e.g. ``"00"``), as a table."""
    notebook = str(notebook).zfill(2)
    found = TermTable(t for t in load() if t.notebook == notebook)
    if not found:
        raise ValueError(f"notebook must be the number of a notebook with a terms file; got {notebook!r}")
    return found


def table() -> TermTable:
    """The whole glossary as one table."""
    return TermTable(load())
