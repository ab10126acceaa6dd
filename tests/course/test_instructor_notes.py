"""Instructor notes (docs/instructor/) stay in step with the notebooks they describe.

Every notebook has a note with the same stem. A note has the same sections every time; its
90-minute plan adds up to 90 minutes; and every notebook section it names, written in bold
as **§ heading text** or in short as §3 / §4.2, is a real (numbered) markdown heading of that
notebook, so a renamed or removed section makes this test fail instead of leaving a teacher
with a stale note.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTES_DIR = ROOT / "docs" / "instructor"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
NOTES = sorted(p for p in NOTES_DIR.glob("*.md") if p.name != "README.md")

REQUIRED_SECTIONS = [
    "Before class",
    "90-minute plan",
    "Run live",
    "Show from stored output",
    "Where learners get stuck",
    "Common mistake to discuss",
    "Discussion questions",
    "Homework",
]
MODES = {"lecture", "live code", "pairs", "exercise", "discussion"}
SECTION_REF = re.compile(r"\*\*§\s*(.+?)\*\*")
SECTION_NUMBER = re.compile(r"§\s?(\d+(?:\.\d+)?)")   # a short reference in running text: §3, §4.2
NUMBERED_ITEM = re.compile(r"^\d+\.\s", re.MULTILINE)


def _markdown_headings(notebook: Path) -> set[str]:
    """Every markdown heading of a notebook, as text without the #'s and without * emphasis."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    headings = set()
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        for line in "".join(cell["source"]).splitlines():
            match = re.match(r"(?:>\s*)?#{1,6}\s+(.+)", line)  # a heading, also inside a > box
            if match:
                headings.add(_normalize(match.group(1)))
    return headings


def _normalize(text: str) -> str:
    return " ".join(text.replace("*", "").split())


def _notebook_time(notebook: Path) -> str:
    """The notebook's own estimate from its opening table, e.g. 'about 60 minutes'."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    intro = "".join(cells[0]["source"])
    match = re.search(r"\*\*Time\*\*\s*\|\s*(about \d+ minutes)", intro)
    assert match, f"{notebook.name} has no '**Time** | about N minutes' row in its first cell"
    return match.group(1)


def _sections(note: Path) -> dict[str, str]:
    """Map each '## ' section title of a note to its body text."""
    parts = re.split(r"^## +(.+)$", note.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2])}


def _plan_rows(body: str) -> list[list[str]]:
    """The data rows of the first markdown table in a section, as lists of stripped cells."""
    rows = [line.strip() for line in body.splitlines() if line.strip().startswith("|")]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    return cells[2:]  # skip the header and the |---| line


def _note_path(notebook: Path) -> Path:
    return NOTES_DIR / f"{notebook.stem}.md"


def _note_for(notebook: Path) -> Path:
    note = _note_path(notebook)
    assert note.exists(), f"{notebook.name} has no instructor note: write docs/instructor/{note.name}"
    return note


def test_every_notebook_has_a_note_with_the_same_stem():
    assert NOTEBOOKS, "no notebooks found"
    missing = [nb.name for nb in NOTEBOOKS if not _note_path(nb).exists()]
    assert not missing, f"notebooks without instructor notes in docs/instructor/: {missing}"


def test_every_note_belongs_to_a_notebook():
    stems = {nb.stem for nb in NOTEBOOKS}
    orphans = [note.name for note in NOTES if note.stem not in stems]
    assert not orphans, f"notes whose notebook does not exist (renamed?): {orphans}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
class TestNote:
    def test_has_every_required_section(self, notebook):
        sections = _sections(_note_for(notebook))
        missing = [s for s in REQUIRED_SECTIONS if s not in sections]
        assert not missing, f"{notebook.stem}.md lacks sections: {missing}"

    def test_plan_minutes_add_up_to_ninety_with_known_modes(self, notebook):
        rows = _plan_rows(_sections(_note_for(notebook))["90-minute plan"])
        assert len(rows) >= 4, f"{notebook.stem}.md: the 90-minute plan needs a table of >= 4 rows"
        minutes, modes = [], []
        for row in rows:
            assert len(row) == 3, f"{notebook.stem}.md: plan rows are | minutes | what | mode |, got {row}"
            assert row[0].isdigit(), f"{notebook.stem}.md: minutes must be a whole number, got {row[0]!r}"
            minutes.append(int(row[0]))
            modes.append(row[2])
        assert sum(minutes) == 90, f"{notebook.stem}.md: plan adds up to {sum(minutes)} minutes, not 90"
        unknown = sorted(set(modes) - MODES)
        assert not unknown, f"{notebook.stem}.md: unknown modes {unknown}; use one of {sorted(MODES)}"
        assert "exercise" in modes or "pairs" in modes, f"{notebook.stem}.md: the plan has no hands-on time"

    def test_names_only_sections_that_exist_in_the_notebook(self, notebook):
        text = _note_for(notebook).read_text(encoding="utf-8")
        headings = _markdown_headings(notebook)
        refs = [_normalize(r) for r in SECTION_REF.findall(text)]
        assert refs, f"{notebook.stem}.md names no notebook sections (write them as **§ heading**)"
        stale = [r for r in refs if r not in headings]
        assert not stale, f"{notebook.stem}.md names sections that {notebook.name} does not have: {stale}"

    def test_short_section_numbers_exist_in_the_notebook(self, notebook):
        text = _note_for(notebook).read_text(encoding="utf-8")
        numbers = {m.group(1) for h in _markdown_headings(notebook) if (m := re.match(r"(\d+(?:\.\d+)?)\s", h))}
        missing = sorted(set(SECTION_NUMBER.findall(text)) - numbers)
        assert not missing, (f"{notebook.stem}.md refers to §{', §'.join(missing)}, "
                             f"which {notebook.name} does not number")

    def test_run_live_and_stored_output_lists_point_at_sections(self, notebook):
        sections = _sections(_note_for(notebook))
        for title in ("Run live", "Show from stored output"):
            items = [line for line in sections[title].splitlines() if line.startswith("- ")]
            assert items, f"{notebook.stem}.md: '{title}' has no list items"
            unanchored = [line for line in items if not SECTION_REF.search(line)]
            assert not unanchored, f"{notebook.stem}.md: '{title}' items must name a **§ section**: {unanchored}"

    def test_has_three_to_five_discussion_questions_with_answers(self, notebook):
        body = _sections(_note_for(notebook))["Discussion questions"]
        questions = NUMBERED_ITEM.split(body)[1:]
        assert 3 <= len(questions) <= 5, f"{notebook.stem}.md has {len(questions)} discussion questions"
        without = [q.splitlines()[0] for q in questions if "*Answer:*" not in q]
        assert not without, f"{notebook.stem}.md: questions without an *Answer:* for the teacher: {without}"

    def test_quotes_the_notebooks_own_time_estimate(self, notebook):
        body = _sections(_note_for(notebook))["Before class"]
        expected = _notebook_time(notebook)
        assert expected in body, f"{notebook.stem}.md 'Before class' should say the notebook takes {expected!r}"

    def test_links_its_notebook(self, notebook):
        text = _note_for(notebook).read_text(encoding="utf-8")
        assert f"(../../notebooks/{notebook.name})" in text, f"{notebook.stem}.md does not link {notebook.name}"


def test_index_links_every_note():
    index = (NOTES_DIR / "README.md").read_text(encoding="utf-8")
    missing = [nb.stem for nb in NOTEBOOKS if f"({nb.stem}.md)" not in index]
    assert not missing, f"docs/instructor/README.md does not link the notes of: {missing}"


def test_index_explains_slides_and_student_copies():
    index = (NOTES_DIR / "README.md").read_text(encoding="utf-8")
    for command in ("make slides", "make student"):
        assert command in index, f"docs/instructor/README.md should say how to use `{command}`"


def test_repository_readme_links_the_instructor_notes():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/instructor/README.md" in readme, "README.md should link docs/instructor/README.md for teachers"


def test_a_renamed_heading_is_reported_as_stale(tmp_path):
    notebook = tmp_path / "99_demo.ipynb"
    notebook.write_text(json.dumps({"cells": [
        {"cell_type": "markdown", "source": ["# 99 · Demo\n", "## 1 · Masks: who may look at whom\n"]},
        {"cell_type": "markdown", "source": ["> ### ⚠️ Common *mistakes*\n"]},
    ]}), encoding="utf-8")
    headings = _markdown_headings(notebook)
    note = "Run **§ 1 · Masks: who may look at whom**, then **§ ⚠️ Common mistakes**, then **§ 2 · Masks**."
    refs = [_normalize(r) for r in SECTION_REF.findall(note)]
    assert [r in headings for r in refs] == [True, True, False]


def test_plan_rows_are_read_from_the_table_only(tmp_path):
    note = tmp_path / "99_demo.md"
    note.write_text("# Demo\n\n## 90-minute plan\n\n| minutes | what | mode |\n|---|---|---|\n"
                    "| 60 | **§ 1 · Intro** | lecture |\n| 30 | exercises | pairs |\n\n## Run live\n\n- x\n",
                    encoding="utf-8")
    rows = _plan_rows(_sections(note)["90-minute plan"])
    assert rows == [["60", "**§ 1 · Intro**", "lecture"], ["30", "exercises", "pairs"]]
    assert sum(int(r[0]) for r in rows) == 90
