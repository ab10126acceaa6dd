"""The language the course speaks to the learner: English, or Chinese (中文) in the Chinese edition.

One switch, ``LMCOURSE_LANG`` (``en`` or ``zh``), read here and nowhere else. When it is not set, the
edition of the running notebook decides: a kernel started for a notebook in ``notebooks/zh/`` runs in
that folder, so its exercise checkers and quiz speak Chinese; everywhere else the course speaks
English. ``make lab-zh`` sets the switch for the whole Chinese edition.

What changes with the language: the messages checkers print (pass marks, hints, what was expected),
the quiz's questions, choices, explanations and buttons' words. The text comes from gettext PO
files in ``locale/zh/`` (one per quiz and one per checker module), which ``tools/translate.py``
keeps in step with the English source: a string whose English changed is marked *fuzzy* there and
is shown in English until a translator has looked at it. A message built from values (an f-string
in the source) is translated through its template, ``"expected {0}, got {1}"``, with the values
themselves translated when they are messages too.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Iterator
from pathlib import Path

ENV_VAR = "LMCOURSE_LANG"
LANGUAGES = ("en", "zh")
LOCALE_DIR = Path(__file__).with_name("locale")
_held: list[str] = []


def current() -> str:
    """``en`` or ``zh``: ``LMCOURSE_LANG`` when set, else ``zh`` inside the Chinese edition's folder
    (inside :func:`speaking`, the language it holds)."""
    if _held:
        return _held[-1]
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if value:
        if value not in LANGUAGES:
            raise ValueError(f"{ENV_VAR} must be one of {', '.join(LANGUAGES)}; got {value!r}")
        return value
    here = Path.cwd()
    return "zh" if here.name == "zh" and here.parent.name == "notebooks" else "en"


@contextlib.contextmanager
def speaking(language: str) -> Iterator[None]:
    """Within the block, the course speaks ``language`` (a checker that reads another checker's English
    message, a build that renders the Chinese quiz)."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}; got {language!r}")
    _held.append(language)
    try:
        yield
    finally:
        _held.pop()


@functools.cache
def catalogue(language: str = "zh") -> tuple[dict[str, str], tuple[tuple[re.Pattern, str, int], ...]]:
    """Every current translation of the package's PO files: exact strings, and templates as
    (pattern, translation, weight) — the pattern matches a message built from the template; of several
    that match, one that starts with words wins, then the most specific (the longest literal part)."""
    import polib  # the Chinese edition's dependency, imported when it is used

    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}; got {language!r}")
    exact: dict[str, str] = {}
    templates = []
    for path in sorted((LOCALE_DIR / language).glob("*/*.po")):
        for entry in polib.pofile(str(path)):
            if entry.obsolete or entry.fuzzy or not entry.msgstr:
                continue
            if "python-brace-format" in entry.flags:  # an f-string of the source, its values as {0}, {1}...
                templates.append((_pattern(entry.msgid), entry.msgstr, len(re.sub(r"\{\d+\}", "", entry.msgid))))
            else:
                exact[entry.msgid] = entry.msgstr
    # a template that starts with words comes first: messages are built from the outside in ("✘ {0}: {1}"
    # around a checker's own sentence), and one that starts with a value could swallow the outer words
    return exact, tuple(sorted(templates, key=lambda t: (t[0].pattern.startswith("(?P<"), -t[2])))


def _pattern(template: str) -> re.Pattern:
    parts = re.split(r"(\{\{|\}\}|\{\d+\})", template)
    out, seen = [], set()
    for part in parts:
        if part == "{{":
            out.append(re.escape("{"))
        elif part == "}}":
            out.append(re.escape("}"))
        elif re.fullmatch(r"\{\d+\}", part):
            name = f"g{part[1:-1]}"
            out.append(f"(?P={name})" if name in seen else f"(?P<{name}>.*?)")  # within one line
            seen.add(name)
        else:
            out.append(re.escape(part))
    return re.compile("".join(out))


_VERDICT = re.compile(r"([✔✘] [\w.]+): (.+)")


def translate(text: str, language: str | None = None) -> str:
    """``text`` in the course's language: itself in English; in Chinese, its translation when the
    catalogue has one — the whole text, or line by line (a line it has none for is left as it is)."""
    language = language or current()
    if language == "en" or not isinstance(text, str) or not text:
        return text
    exact, templates = catalogue(language)
    return _translate(text, exact, templates, 0)


def _translate(text: str, exact: dict, templates: tuple, depth: int) -> str:
    if text in exact:
        return exact[text]
    if depth > 4 or not text.strip():
        return text
    if "\n" in text:  # a message of several lines: each line is a message of its own
        return "\n".join(_translate(line, exact, templates, depth) for line in text.split("\n"))
    verdict = _VERDICT.fullmatch(text)
    for pattern, translation, _ in templates:
        if verdict and pattern.pattern.startswith("(?P<"):  # "✔ name: sentence": the sentence on its own
            return f"{verdict.group(1)}：{_translate(verdict.group(2), exact, templates, depth + 1)}"
        found = _balanced_match(pattern, text)
        if found is not None:
            values = {int(k[1:]): _translate(v, exact, templates, depth + 1) for k, v in found.items()}
            try:
                return translation.format(*[values.get(i, "") for i in range(max(values, default=-1) + 1)])
            except (IndexError, KeyError, ValueError):  # a translation whose placeholders do not fit: keep English
                return text
    aside = re.fullmatch(r"(\s*)\((.+)\)", text)  # "  (largest difference 0.5)": the words inside
    if aside:
        inner = _translate(aside.group(2), exact, templates, depth + 1)
        if inner != aside.group(2):
            return f"{aside.group(1)}（{inner}）"
    stripped = text.lstrip()
    if stripped != text and stripped in exact:  # an indented line whose words the catalogue knows
        return text[:len(text) - len(stripped)] + exact[stripped]
    return text


_PAIRS = {")": "(", "]": "[", "}": "{"}


def _balanced(value: str) -> bool:
    depth: list[str] = []
    for ch in value:
        if ch in "([{":
            depth.append(ch)
        elif ch in _PAIRS:
            if not depth or depth.pop() != _PAIRS[ch]:
                return False
    return not depth


def _balanced_match(pattern: re.Pattern, text: str) -> dict[str, str] | None:
    """The values of ``text`` filled into ``pattern``'s template, each with its brackets closed: the
    shortest split first, then the longest ("tensor of shape {0}, {1}" on "tensor of shape (3, 2), float32")."""
    for candidate in (pattern, _greedy(pattern)):
        found = candidate.fullmatch(text)
        if found and all(_balanced(v) for v in found.groupdict().values()):
            return found.groupdict()
    return None


@functools.cache
def _greedy(pattern: re.Pattern) -> re.Pattern:
    return re.compile(pattern.pattern.replace(">.*?)", ">.*)"))
