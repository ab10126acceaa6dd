"""Teaching with the course: slide decks and student copies of the notebooks (a teacher's tool,
not part of the ``lmcourse`` package learners import).

Two things a teacher needs besides the notebooks themselves:

- **Slides.** Every heading starts its own markdown cell and every cell carries
  ``metadata.slideshow.slide_type``, so ``jupyter nbconvert --to slides`` turns a notebook
  into a reveal.js deck: a ``#``/``##`` heading starts a new slide, a ``###`` heading a
  sub-slide (down arrow), other cells stay on the slide before them, and reference
  solutions become speaker notes. The quiz cell (tagged ``quiz``) becomes its questions on the
  slide and its answers, with every choice's explanation, in the speaker notes
  (:func:`quiz_slides`); its stored output is the questions, not the widget (:func:`static_quiz`,
  run by ``tag``). :func:`tag_slides` applies that rule,
  and :func:`build_slides` writes the decks with reveal.js, require.js, jQuery and MathJax
  copied beside them, so they open from disk without internet, formulas included. A slide
  taller than the screen scrolls instead of running off the bottom (``templates/lmcourse_slides.html.j2``).
- **Student copies.** :func:`student_copy` removes every cell tagged ``solution`` and the
  sentences that point to them; :func:`build_student_copies` writes one per notebook and
  leaves the notebooks in ``notebooks/`` (the teacher's copies, with solutions) untouched.

Command line (what ``make slides``, ``make student`` and ``make outputs`` run)::

    python tools/classroom.py tag [--check] notebooks/*.ipynb
    python tools/classroom.py slides --out build/slides notebooks/*.ipynb
    python tools/classroom.py student --out build/student notebooks/*.ipynb
    python tools/classroom.py stamp --seconds 91 notebooks/08_translation.ipynb
    python tools/classroom.py readme README.md notebooks/*.ipynb

``stamp`` and ``readme`` are what ``make outputs`` runs after executing a notebook: the wall
time of that run is kept in the notebook's metadata (``metadata.lmcourse.run``), and the
README's run-time column is rewritten from it, so no run time in the README is typed by hand.
Needs ``nbformat`` and ``nbconvert`` (the ``dev`` extra that ``make setup`` installs).
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter
from nbconvert.preprocessors import TagRemovePreprocessor

import lmcourse
from lmcourse import quiz
from lmcourse._checks import number
from lmcourse._files import atomic_write
from lmcourse.language import translate

HERE = Path(__file__).resolve().parent
VENDOR = HERE / "vendor"                                   # reveal.js and MathJax, for the decks only
BERTVIZ_VENDOR = Path(lmcourse.__file__).parent / "vendor"  # require.js and jQuery, shared with bertviz
SOLUTION_TAG = "solution"
QUIZ_TAG = "quiz"
_QUIZ_CALL = re.compile(r"""quiz\.show\(["']([^"']+)["']\)""")
_SOLUTION_POINTER = re.compile(r"[^.\n]*\bsolution[^.\n]*\bcollapsed\b[^.\n]*[.\n]?|"
                               r"[^.\n]*\bcollapsed\b[^.\n]*\bsolution[^.\n]*[.\n]?", re.IGNORECASE)
_SOLUTION_POINTER_ZH = re.compile(r"[^。\n]*(?:答案|解答)[^。\n]*折叠[^。\n]*[。\n]?|"
                                  r"[^。\n]*折叠[^。\n]*(?:答案|解答)[^。\n]*[。\n]?")


def notebook_language(nb: nbformat.NotebookNode) -> str:
    """``zh`` for a notebook of the Chinese edition (``tools/translate.py`` marks them), else ``en``."""
    return nb.metadata.get("lmcourse", {}).get("language", "en")


def slide_type(cell: nbformat.NotebookNode) -> str:
    """The reveal.js role of one cell: ``"slide"``, ``"subslide"``, ``"notes"`` or ``"-"``.

    ``#`` and ``##`` headings open a slide, ``###`` a sub-slide (a heading right after an
    opening HTML tag, as in the "Common mistakes" boxes, counts); a reference solution is a
    speaker note (visible to the teacher, not on the projector); every other cell continues
    the slide it follows.
    """
    if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
        return "notes"
    if cell.get("cell_type") == "markdown":
        lines = [line for line in cell.get("source", "").split("\n")
                 if line.strip() and not re.fullmatch(r"\s*<[^>]+>\s*", line)]   # skip an opening <div …>
        first = lines[0].lstrip() if lines else ""
        if re.match(r"#{1,2} ", first):
            return "slide"
        if first.startswith("### "):
            return "subslide"
    return "-"


def split_at_headings(nb: nbformat.NotebookNode) -> int:
    """Split markdown cells so that every ``#``–``###`` heading starts a cell; return how many cells were added.

    A slide begins at a cell, so a heading in the middle of a cell would be buried in the
    slide before it. Headings inside fenced code blocks or inside an HTML ``<div>`` box (the
    "Common mistakes" boxes) are left alone, so a box stays whole. New cells get the id of
    the cell they came from plus ``-1``, ``-2``, … and no metadata of their own.
    """
    added, cells = 0, []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            cells.append(cell)
            continue
        parts, fenced, html_depth = [[]], False, 0
        for line in cell.source.split("\n"):
            if line.lstrip().startswith("```"):
                fenced = not fenced
            if (not fenced and not html_depth and re.match(r"#{1,3} ", line)
                    and any(x.strip() for x in parts[-1])):
                parts.append([])
            parts[-1].append(line)
            html_depth += len(re.findall(r"<div\b", line)) - len(re.findall(r"</div>", line))
        texts = ["\n".join(p).strip("\n") for p in parts]
        cell.source = texts[0]
        cells.append(cell)
        for k, text in enumerate(texts[1:], start=1):
            new = nbformat.v4.new_markdown_cell(text)
            new.id = f"{cell.get('id', 'md')}-{k}"
            cells.append(new)
            added += 1
    nb.cells = cells
    return added


def tag_slides(nb: nbformat.NotebookNode) -> int:
    """Split cells at headings (:func:`split_at_headings`), then set every cell's
    ``metadata.slideshow.slide_type`` by :func:`slide_type`; return how many cells changed."""
    changed = split_at_headings(nb)
    for cell in nb.cells:
        wanted = slide_type(cell)
        if cell.metadata.get("slideshow", {}).get("slide_type") != wanted:
            cell.metadata["slideshow"] = {"slide_type": wanted}
            changed += 1
    return changed


def quiz_slides(nb: nbformat.NotebookNode) -> int:
    """Replace each quiz cell of ``nb`` by two markdown cells: the questions with their lettered
    choices (on the slide), and the answers with every choice's explanation (speaker notes).

    A widget cannot be clicked on a projected slide; the class answers aloud and the teacher
    reads the notes. Returns how many quiz cells were replaced; ``nb`` is changed in place.
    """
    cells, replaced = [], 0
    for cell in nb.cells:
        if cell.cell_type != "code" or QUIZ_TAG not in cell.metadata.get("tags", []):
            cells.append(cell)
            continue
        found = _QUIZ_CALL.search(cell.source)
        if not found:
            raise ValueError(f"a cell tagged {QUIZ_TAG!r} must call quiz.show(\"<stem>\"); got {cell.source!r}")
        lang = notebook_language(nb)
        loaded = quiz.load(found.group(1), language=lang)
        questions = nbformat.v4.new_markdown_cell(quiz.to_markdown(loaded, answers=False, language=lang))
        answers = nbformat.v4.new_markdown_cell(translate("**Quiz answers**", lang) + "\n\n"
                                                + quiz.to_markdown(loaded, answers=True, language=lang))
        questions.metadata["slideshow"], answers.metadata["slideshow"] = {"slide_type": "-"}, {"slide_type": "notes"}
        questions.id, answers.id = f"{cell.get('id', 'quiz')}-questions", f"{cell.get('id', 'quiz')}-answers"
        cells += [questions, answers]
        replaced += 1
    nb.cells = cells
    return replaced


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def static_quiz(nb: nbformat.NotebookNode) -> int:
    """Keep a quiz cell's stored output as its questions (HTML and text), without the widget.

    A stored quiz widget is some 160 widget models (about 180 kB) in the notebook's metadata, and
    it cannot be clicked before the cell is run anyway. So the stored output keeps the questions a
    reader sees on GitHub or before running; running the cell shows the live quiz. Removes the
    widget view from quiz outputs and the quiz's models from ``metadata.widgets``; returns how
    many outputs changed (``nb`` is changed in place).
    """
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    changed, drop = 0, []
    for cell in nb.cells:
        if cell.cell_type != "code" or QUIZ_TAG not in cell.metadata.get("tags", []):
            continue
        for out in cell.get("outputs", []):
            view = out.get("data", {}).pop(WIDGET_VIEW, None)
            if view is not None:
                drop.append(view.get("model_id"))
                changed += 1
    seen = set()
    while drop:   # a widget's children, layouts and styles are "IPY_MODEL_<id>" references in its state
        model = drop.pop()
        if model in seen or model not in state:
            continue
        seen.add(model)
        drop += re.findall(r"IPY_MODEL_([0-9a-f]+)", str(state[model]))
    for model in seen:
        del state[model]
    if "widgets" in nb.metadata and not state:
        del nb.metadata["widgets"]
    return changed


def _student_note(match: re.Match, language: str = "en") -> str:
    text = match.group(0)
    lead = text[: len(text) - len(text.lstrip())]
    note = translate("Reference solutions are in your teacher's copy of this notebook.", language)
    return lead + note + ("\n" if text.endswith("\n") else "")


def student_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without its solution cells, for handing out to learners.

    Cells tagged ``solution`` are removed; markdown sentences that point to "the collapsed
    solution cell" are replaced, in place, by one saying where solutions are. Exercise cells (the
    ``# TODO`` ones) and everything else stay as they are. ``nb`` is not modified.
    """
    if not isinstance(nb, nbformat.NotebookNode) or "cells" not in nb:
        raise ValueError(f"nb must be a notebook read with nbformat; got {type(nb).__name__}")
    out, _ = TagRemovePreprocessor(remove_cell_tags={SOLUTION_TAG}).preprocess(copy.deepcopy(nb), {})
    lang = notebook_language(nb)
    pointer = _SOLUTION_POINTER_ZH if lang == "zh" else _SOLUTION_POINTER
    for cell in out.cells:
        if cell.cell_type == "markdown":
            cell.source = pointer.sub(lambda m: _student_note(m, lang), cell.source)
    out.metadata.setdefault("lmcourse", {})["copy"] = "student"
    return out


def _write_notebook(nb: nbformat.NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: nbformat.write(nb, tmp))


def _notebook_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    found = [Path(p) for p in paths]
    if not found:
        raise ValueError("notebooks must name at least one .ipynb file; got none")
    for p in found:
        if p.suffix != ".ipynb" or not p.is_file():
            raise ValueError(f"notebooks must be existing .ipynb files; got {str(p)!r}")
    return found


def build_student_copies(notebooks: Sequence[str | os.PathLike], out_dir: str | os.PathLike) -> list[Path]:
    """Write :func:`student_copy` of each notebook to ``out_dir`` under the same file name."""
    written = []
    for path in _notebook_paths(notebooks):
        target = Path(out_dir) / path.name
        _write_notebook(student_copy(nbformat.read(path, as_version=4)), target)
        written.append(target)
    return written


def build_slides(notebooks: Sequence[str | os.PathLike], out_dir: str | os.PathLike) -> list[Path]:
    """Write a reveal.js deck ``NN_topic.slides.html`` per notebook into ``out_dir``.

    reveal.js, require.js, jQuery and MathJax are copied next to the decks and referenced by
    relative paths, so the folder works offline and can be copied to a classroom machine as is.
    Cells are tagged with :func:`tag_slides` on the fly, so an untagged notebook still
    gives a sensible deck.
    """
    paths = _notebook_paths(notebooks)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for folder in ("reveal.js", "mathjax"):
        shutil.copytree(VENDOR / folder, out / folder, dirs_exist_ok=True)
    for script in ("require.js", "jquery.min.js"):
        shutil.copy2(BERTVIZ_VENDOR / script, out / script)
    exporter = SlidesExporter(reveal_url_prefix="reveal.js", require_js_url="require.js", jquery_url="jquery.min.js",
                              mathjax_url="mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
                              extra_template_paths=[str(HERE / "templates")], template_file="lmcourse_slides.html.j2")
    written = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        tag_slides(nb)
        quiz_slides(nb)
        html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        target = out / f"{path.stem}.slides.html"
        atomic_write(target, lambda tmp, html=html: Path(tmp).write_text(html, encoding="utf-8"))
        written.append(target)
    return written


RUN_KEY = "lmcourse"
README_TIME_COLUMN = "code runs in (cpu profile)*"


def stamp_run(nb: nbformat.NotebookNode, seconds: float, *, profile: str, threads: int) -> None:
    """Record how long the last ``make outputs`` run of ``nb`` took, and with what."""
    seconds = number("seconds", seconds, min=0)
    nb.metadata.setdefault(RUN_KEY, {})["run"] = {"profile": profile, "seconds": int(round(seconds)),
                                                  "threads": int(threads)}


def recorded_run(nb: nbformat.NotebookNode) -> dict | None:
    """The run :func:`stamp_run` recorded, or ``None`` for a notebook run some other way."""
    return nb.metadata.get(RUN_KEY, {}).get("run")


def format_run_time(seconds: int) -> str:
    """``"48 s"`` below two minutes, ``"3.2 min"`` above."""
    return f"{seconds} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def readme_with_run_times(readme: str, notebooks: Sequence[Path]) -> str:
    """``readme`` with the run-time column of its course table set from the notebooks' metadata.

    A row is the one whose first cell is the notebook's two-digit number; notebooks without a
    recorded run keep their cell as it is.
    """
    lines = readme.split("\n")
    header = next((i for i, line in enumerate(lines) if line.startswith("|") and README_TIME_COLUMN in line), None)
    if header is None:
        raise ValueError(f"readme must have a table with a {README_TIME_COLUMN!r} column; found none")
    column = [c.strip() for c in lines[header].strip("|").split("|")].index(README_TIME_COLUMN)
    times = {}
    for path in notebooks:
        run = recorded_run(nbformat.read(path, as_version=4))
        if run:
            times[path.name[:2]] = format_run_time(run["seconds"])
    for i in range(header + 2, len(lines)):
        if not lines[i].startswith("|"):
            break
        cells = lines[i].strip().strip("|").split("|")
        number = cells[0].strip()
        if number in times:
            cells[column] = f" {times[number]} "
            lines[i] = "|" + "|".join(cells) + "|"
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/classroom.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    tag = sub.add_parser("tag", help="split cells at headings, set every slide type and keep the stored quiz "
                                     "static, in place")
    tag.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook needs tagging")
    for name, helptext in (("slides", "build reveal.js decks"), ("student", "write student copies")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--out", required=True, help="output folder")
    stamp = sub.add_parser("stamp", help="record the wall time of the run that just executed the notebooks")
    stamp.add_argument("--seconds", type=float, required=True)
    stamp.add_argument("--profile", default=os.environ.get("LMCOURSE_PROFILE", "cpu"))
    readme = sub.add_parser("readme", help="rewrite the README's run-time column from the notebooks' metadata")
    readme.add_argument("readme", help="README.md")
    for p in sub.choices.values():
        p.add_argument("notebooks", nargs="+", help=".ipynb files")
    args = parser.parse_args(argv)
    try:
        if args.command == "stamp":
            threads = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
            for path in _notebook_paths(args.notebooks):
                nb = nbformat.read(path, as_version=4)
                stamp_run(nb, args.seconds, profile=args.profile, threads=threads)
                _write_notebook(nb, path)
            return 0
        if args.command == "readme":
            path = Path(args.readme)
            text = readme_with_run_times(path.read_text(encoding="utf-8"), _notebook_paths(args.notebooks))
            atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
            return 0
        if args.command == "tag":
            stale = []
            for path in _notebook_paths(args.notebooks):
                nb = nbformat.read(path, as_version=4)
                if tag_slides(nb) + static_quiz(nb):
                    stale.append(path)
                    if not args.check:
                        _write_notebook(nb, path)
            verb = "need tagging" if args.check else "tagged"
            print(f"{len(stale)} notebook(s) {verb}" + "".join(f"\n  {p}" for p in stale))
            return 1 if args.check and stale else 0
        build = build_slides if args.command == "slides" else build_student_copies
        written = build(args.notebooks, args.out)
        print(f"wrote {len(written)} file(s) to {args.out}")
        return 0
    except ValueError as err:
        parser.error(str(err))


if __name__ == "__main__":
    sys.exit(main())
