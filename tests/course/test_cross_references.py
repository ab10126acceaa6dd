"""Cross-references between notebooks stay true when a notebook is renumbered or rewritten.

Wherever the course points a learner at another place — "notebook 06", "12 §5", "notebook 01's
`CharTokenizer`", a row of the README's coverage table — the place must exist and hold what is
promised. Scanned: the notebooks' markdown, the instructor notes, the package's docstrings and
glossary, the benchmarks and the README.
"""

import json
import re
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = {p.name[:2]: p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))}
SOURCES = sorted(
    [*(ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"), *(ROOT / "docs" / "instructor").glob("*.md"),
     *(ROOT / "lmcourse").rglob("*.py"), *(ROOT / "lmcourse" / "glossary" / "terms").glob("*.tsv"),
     *(ROOT / "benchmarks").glob("*.py"), ROOT / "README.md"]
)

NOTEBOOK_REF = re.compile(r"\b[Nn]otebooks? (\d\d)\b(?:\s*[–-]\s*(\d\d)\b)?")
SECTION_REF = re.compile(r"(?:\b[Nn]otebook |(?<![\d.§])\b)(\d\d),? §\s?(\d+)(?:\s*[–-]\s*(\d+))?")
NAMED_REF = re.compile(r"\b[Nn]otebook (\d\d)'s `([^`]+)`")
HEADING = re.compile(r"^#{2,3}\s+(\d+)\s*·\s*(.+)$", re.MULTILINE)


def _text(path: Path) -> str:
    """What a reader sees: a notebook's markdown cells, or the whole file."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return path.read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def _sections(number: str) -> dict[int, str]:
    """Section number -> the section's text (heading to next numbered heading) of one notebook."""
    cells = json.loads(NOTEBOOKS[number].read_text(encoding="utf-8"))["cells"]
    sections: dict[int, list[str]] = {}
    current = None
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            match = re.match(r"#{2}\s+(\d+)\s*·", source.lstrip())
            if match:
                current = int(match.group(1))
        if current is not None:
            sections.setdefault(current, []).append(source)
    return {k: "\n".join(v) for k, v in sections.items()}


@lru_cache(maxsize=None)
def _whole(number: str) -> str:
    cells = json.loads(NOTEBOOKS[number].read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells)


def _where(path: Path, text: str, pos: int) -> str:
    return f"{path.relative_to(ROOT)}: …{text[max(0, pos - 50):pos + 60]!r}…"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_notebook_named_exists(path):
    text = _text(path)
    for match in NOTEBOOK_REF.finditer(text):
        for number in filter(None, match.groups()):
            assert number in NOTEBOOKS, f"no notebook {number}: {_where(path, text, match.start())}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_section_named_exists(path):
    text = _text(path)
    for match in SECTION_REF.finditer(text):
        number, first, last = match.group(1), int(match.group(2)), int(match.group(3) or match.group(2))
        assert number in NOTEBOOKS, f"no notebook {number}: {_where(path, text, match.start())}"
        missing = [k for k in range(first, last + 1) if k not in _sections(number)]
        assert not missing, f"notebook {number} has no section {missing}: {_where(path, text, match.start())}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_name_said_to_come_from_a_notebook_is_in_it(path):
    text = _text(path)
    for match in NAMED_REF.finditer(text):
        number, name = match.groups()
        assert number in NOTEBOOKS, f"no notebook {number}: {_where(path, text, match.start())}"
        short = name.split(".")[-1].split("(")[0]
        assert short in _whole(number), (f"notebook {number} never mentions {short!r}: "
                                         f"{_where(path, text, match.start())}")


def _coverage_rows():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## What the course covers, and where", 1)[1].split("\n## ", 1)[0]
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and "§" in cells[1]:
            yield cells[0], cells[1]


STOP = {"and", "the", "for", "with", "from", "their", "other", "between", "what"}


def _stem(word: str) -> str:
    return word.lower()[:6]


@pytest.mark.parametrize("topic, places", list(_coverage_rows()), ids=lambda x: x[:40])
def test_readme_coverage_rows_point_at_sections_that_teach_the_topic(topic, places):
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z-]{2,}", topic) if w.lower() not in STOP]
    for match in re.finditer(r"(\d\d) §(\d+)(?:\s*[–-]\s*(\d+))?", places):
        number, first, last = match.group(1), int(match.group(2)), int(match.group(3) or match.group(2))
        text = "\n".join(_sections(number).get(k, "") for k in range(first, last + 1)).lower()
        assert text, f"README coverage row {topic!r}: notebook {number} has no section §{first}–{last}"
        found = [w for w in words if _stem(w) in text]
        assert found, f"README coverage row {topic!r}: none of {words} appears in notebook {number} §{first}–{last}"


def test_the_coverage_table_was_found():
    assert len(list(_coverage_rows())) >= 20
