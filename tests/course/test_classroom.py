"""tools/classroom.py: every notebook is also a slide deck, and student copies carry no solutions."""

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lmcourse import quiz
from tools import classroom

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _read(path):
    return nbformat.read(path, as_version=4)


def _solution_sources(nb):
    return [c.source for c in nb.cells if "solution" in c.metadata.get("tags", [])]


def test_headings_open_slides_solutions_become_notes_and_other_cells_continue():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    solution = code("x = 1", metadata={"tags": ["solution"]})
    assert [classroom.slide_type(c) for c in [
        md("# Title\ntext"), md("## 2 · Build"), md("### A detail"), md("#### small"), md("plain text"),
        md("  ## indented heading"), code("print(1)"), code("## a comment, not a heading"), solution,
    ]] == ["slide", "slide", "subslide", "-", "-", "slide", "-", "-", "notes"]


def test_tagging_is_idempotent():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## A"), nbformat.v4.new_code_cell("1")])
    assert classroom.tag_slides(nb) == 2
    assert classroom.tag_slides(nb) == 0
    assert [c.metadata.slideshow.slide_type for c in nb.cells] == ["slide", "-"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_stored_notebook_is_tagged_for_slides(path):
    nb = _read(path)
    stale = [i for i, c in enumerate(nb.cells)
             if c.metadata.get("slideshow", {}).get("slide_type") != classroom.slide_type(c)]
    assert not stale, (f"{path.name}: cells {stale[:10]} lack their slide type; run "
                       f"`python tools/classroom.py tag notebooks/*.ipynb`")
    assert classroom.tag_slides(nb) + classroom.static_quiz(nb) == 0, (
        f"{path.name}: `python tools/classroom.py tag` would still change it (a heading inside a cell, a live quiz)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_markdown_cell_leaves_an_html_box_open(path):
    # an unbalanced <div> would swallow every later slide of the deck
    unbalanced = [c.source[:60] for c in _read(path).cells if c.cell_type == "markdown"
                  and len(re.findall(r"<div\b", c.source)) != len(re.findall(r"</div>", c.source))]
    assert not unbalanced, f"{path.name}: {unbalanced}"


def test_splitting_keeps_fenced_code_and_html_boxes_whole():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "intro\n## A\ntext\n```\n## not a heading\n```\n"
        "<div class='box'>\n\n## Box title\n\n## still the box\n</div>")])
    nb.cells[0].id = "x"
    assert classroom.split_at_headings(nb) == 1
    assert [c.source.split("\n")[0] for c in nb.cells] == ["intro", "## A"]
    assert nb.cells[1].id == "x-1" and nb.cells[1].source.endswith("</div>")
    assert classroom.slide_type(nbformat.v4.new_markdown_cell("<div class='box'>\n\n## Box title\n</div>")) == "slide"


@pytest.fixture(scope="module")
def decks(tmp_path_factory):
    """Every notebook's deck, built once for the tests that read decks (building them all takes a while)."""
    folder = tmp_path_factory.mktemp("slides")
    return folder, classroom.build_slides(NOTEBOOKS, folder)


def _deck(decks, stem: str) -> str:
    return (decks[0] / f"{stem}.slides.html").read_text(encoding="utf-8")


def test_slide_decks_build_for_every_notebook_and_work_offline(decks):
    tmp_path, written = decks
    assert [p.name for p in written] == [f"{p.stem}.slides.html" for p in NOTEBOOKS]
    for path, deck in zip(NOTEBOOKS, written):
        html = deck.read_text(encoding="utf-8")
        headings = sum(1 for c in _read(path).cells if classroom.slide_type(c) in ("slide", "subslide"))
        assert html.count("<section") >= headings, deck.name
        local = re.findall(r'(?:src|href)="((?:reveal\.js|require|jquery|mathjax)[^"]*)"', html)
        local += re.findall(r'"(reveal\.js/[^"]+)"', html)
        assert {"require.js", "jquery.min.js", "reveal.js/dist/reveal.js",
                "mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"} <= set(local), deck.name
        missing = [ref for ref in set(local) if not (tmp_path / ref.split("?")[0]).is_file()]
        assert not missing, f"{deck.name} points to files that were not copied: {missing}"
        assert not re.search(r"unpkg.com/reveal|cdnjs.cloudflare.com/ajax/libs/(require|jquery|mathjax)", html)


def test_solutions_appear_only_as_speaker_notes_in_a_deck(decks):
    html = _deck(decks, "05_self_attention")
    notes = "".join(re.findall(r'<aside class="notes">(.*?)</aside>', html, flags=re.S))
    assert "Reference solution" in notes
    assert "Reference solution" not in re.sub(r'<aside class="notes">.*?</aside>', "", html, flags=re.S)


def test_a_deck_shows_the_quiz_questions_and_keeps_the_answers_in_the_speaker_notes(decks):
    html = _deck(decks, "16_assistant")
    notes = "".join(re.findall(r'<aside class="notes">(.*?)</aside>', html, flags=re.S))
    shown = re.sub(r'<aside class="notes">.*?</aside>', "", html, flags=re.S)
    loaded = quiz.load("16_assistant")
    first = loaded.questions[0]
    assert first.choices[0].text[:30] in shown and "Quiz answers" in notes
    assert all(c.why[:30] in notes and c.why[:30] not in shown for c in first.choices)
    assert "quiz.show(" not in html, "the quiz cell itself (a widget nobody can click on a slide) is replaced"


def test_a_stored_quiz_keeps_its_questions_and_drops_exactly_its_widget_models():
    import ipywidgets
    from ipywidgets.embed import dependency_state

    box, other = quiz.show("16_assistant"), ipywidgets.IntSlider(3)
    bundle = box._repr_mimebundle_()
    cell = nbformat.v4.new_code_cell('from lmcourse import quiz\n\nquiz.show("16_assistant")',
                                     metadata={"tags": ["quiz"]},
                                     outputs=[nbformat.v4.new_output("execute_result", data=bundle, execution_count=1)])
    kept = nbformat.v4.new_code_cell("w", outputs=[nbformat.v4.new_output(
        "execute_result", data=other._repr_mimebundle_(), execution_count=2)])
    state = {**dependency_state(box), **dependency_state(other)}
    nb = nbformat.v4.new_notebook(cells=[cell, kept])
    nb.metadata["widgets"] = {classroom.WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    assert classroom.static_quiz(nb) == 1 and classroom.static_quiz(nb) == 0
    assert set(cell.outputs[0].data) == {"text/html", "text/plain"}
    assert set(nb.metadata.widgets[classroom.WIDGET_STATE]["state"]) == set(dependency_state(other))
    assert classroom.WIDGET_VIEW in kept.outputs[0].data


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_stored_quiz_shows_its_questions_without_a_widget(path):
    cells = [c for c in _read(path).cells if "quiz" in c.metadata.get("tags", [])]
    outputs = [o for c in cells for o in c.get("outputs", [])]
    assert outputs and all(set(o.get("data", {})) == {"text/html", "text/plain"} for o in outputs), (
        f"{path.name}: run `python tools/classroom.py tag` after executing it")


def test_a_quiz_cell_that_names_no_quiz_is_refused():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("quiz()", metadata={"tags": ["quiz"]})])
    with pytest.raises(ValueError, match=r"must call quiz.show"):
        classroom.quiz_slides(nb)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_copy_has_no_solution_code_but_keeps_every_exercise(path):
    teacher = _read(path)
    before = nbformat.writes(teacher)
    student = classroom.student_copy(teacher)
    assert nbformat.writes(teacher) == before, "student_copy must not modify its input"
    solutions = _solution_sources(teacher)
    assert len(solutions) >= 2
    assert not _solution_sources(student)
    text = "\n".join(c.source for c in student.cells)
    for solution in solutions:
        block = "\n".join(line for line in solution.splitlines()
                          if line.strip() and not line.lstrip().startswith("#") and "check_" not in line)
        assert block not in text, f"{path.name}: a solution's code survives in the student copy:\n{block[:300]}"
    exercises = [c.source for c in teacher.cells if "exercise" in c.metadata.get("tags", [])]
    assert exercises == [c.source for c in student.cells if "exercise" in c.metadata.get("tags", [])]
    assert [c.source for c in teacher.cells if "quiz" in c.metadata.get("tags", [])] == \
        [c.source for c in student.cells if "quiz" in c.metadata.get("tags", [])], "the quiz must stay as it is"
    assert len(student.cells) == len(teacher.cells) - len(solutions)
    assert not re.search(r"collapsed", text, re.I), "a sentence still points to a collapsed solution cell"
    assert student.metadata["lmcourse"]["copy"] == "student"
    nbformat.validate(student)


def test_student_copies_are_written_next_to_each_other_and_originals_stay(tmp_path):
    originals = {p: p.read_bytes() for p in NOTEBOOKS}
    written = classroom.build_student_copies(NOTEBOOKS, tmp_path / "student")
    assert [p.name for p in written] == [p.name for p in NOTEBOOKS]
    assert all(p.read_bytes() == data for p, data in originals.items())
    assert not list((tmp_path / "student").glob("*.part"))


def test_command_line_builds_and_rejects_a_path_that_is_not_a_notebook(tmp_path):
    cmd = [sys.executable, str(ROOT / "tools" / "classroom.py")]
    ok = subprocess.run(cmd + ["student", "--out", str(tmp_path), str(NOTEBOOKS[0])], capture_output=True, text=True)
    assert ok.returncode == 0 and (tmp_path / NOTEBOOKS[0].name).is_file(), ok.stderr
    # every notebook's tagging is checked in-process above; here the command's exit code on one
    check = subprocess.run(cmd + ["tag", "--check", str(NOTEBOOKS[0])], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    bad = subprocess.run(cmd + ["slides", "--out", str(tmp_path), str(ROOT / "README.md")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "notebooks must be existing .ipynb files" in bad.stderr


def test_build_functions_reject_bad_input(tmp_path):
    with pytest.raises(ValueError, match="at least one"):
        classroom.build_student_copies([], tmp_path)
    with pytest.raises(ValueError, match="existing .ipynb"):
        classroom.build_slides([tmp_path / "missing.ipynb"], tmp_path)
    with pytest.raises(ValueError, match="nb must be a notebook"):
        classroom.student_copy({"cells": []})


def test_stamp_and_readme_keep_the_measured_run_times_in_the_readme(tmp_path):
    nb = nbformat.v4.new_notebook()
    classroom.stamp_run(nb, 130.4, profile="cpu", threads=1)
    assert classroom.recorded_run(nb) == {"profile": "cpu", "seconds": 130, "threads": 1}
    path = tmp_path / "05_topic.ipynb"
    nbformat.write(nb, path)
    readme = ("| # | notebook | study time | code runs in (cpu profile)* | GPU |\n|---|---|---|---|---|\n"
              "| 04 | four | 50 min | 9 s | — |\n| 05 | five | 45 min | 16 s | — |\n\nafter\n")
    out = classroom.readme_with_run_times(readme, [path])
    assert "| 05 | five | 45 min | 2.2 min | — |" in out
    assert "| 04 | four | 50 min | 9 s | — |" in out and out.endswith("after\n")
    assert classroom.format_run_time(48) == "48 s"


def test_stamp_refuses_a_negative_time_and_readme_needs_the_column(tmp_path):
    for bad in (-1, float("nan"), "90"):
        with pytest.raises(ValueError, match="seconds must be a finite number >= 0"):
            classroom.stamp_run(nbformat.v4.new_notebook(), bad, profile="cpu", threads=1)
    with pytest.raises(ValueError, match="code runs in"):
        classroom.readme_with_run_times("no table here", [])


def test_the_learner_package_carries_no_teacher_tooling():
    import tomllib

    import lmcourse

    package = Path(lmcourse.__file__).parent
    assert not (package / "classroom.py").exists()
    assert sorted(p.name for p in (package / "vendor").iterdir() if p.is_dir()) == []   # no reveal.js/, mathjax/
    assert {"reveal.js", "mathjax"} <= {p.name for p in (ROOT / "tools" / "vendor").iterdir()}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = project["tool"]["setuptools"]["package-data"]["lmcourse"]
    assert "vendor/*" in shipped and not [p for p in shipped if p.startswith("vendor/") and p != "vendor/*"]
    dev = {req.split(">")[0] for req in project["project"]["optional-dependencies"]["dev"]}
    assert {"nbformat", "nbconvert"} <= dev, "the tooling's own imports must be declared, not borrowed from jupyterlab"
