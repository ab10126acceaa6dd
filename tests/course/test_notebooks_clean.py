"""Stored notebooks are what a learner reads first: they must be clean, complete and in order."""

import getpass
import json
import re
from pathlib import Path

import nbformat
import pytest

from tools import classroom

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
README = NOTEBOOK_DIR.parent / "README.md"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
ZH_NOTEBOOKS = sorted((NOTEBOOK_DIR / "zh").glob("*.ipynb"))  # the Chinese edition: the same checks, in Chinese
README_ZH = NOTEBOOK_DIR.parent / "README.zh.md"
MAX_BYTES = 3 * 1024 * 1024
MACHINE_PATH = re.compile(r"(/(root|home|work|tmp|Users)/|[A-Z]:\\\\Users\\\\)")
SKELETON = ["objectives", "time", "prerequisites", "exercise", "summary", "key terms"]
SKELETON_ZH = ["学习目标", "时间", "预备知识", "练习", "小结", "术语"]
TIME_ROW = {"en": r"\*\*Time\*\*\s*\|\s*about (\d+) minutes", "zh": r"\*\*时间\*\*\s*\|\s*约 (\d+) 分钟"}
README_MINUTES = {"en": "| {} min |", "zh": "| {} 分钟 |"}
# The Chinese header table's labels are joined by U+2060 (word joiner): a browser may break Chinese
# between any two characters, and would stack 学/习/目/标 in the narrow first column.
WORD_JOINER = "\u2060"


def _language(path):
    return "zh" if path.parent.name == "zh" else "en"


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def _readme_row(path):
    readme = README_ZH if _language(path) == "zh" else README
    rows = [line for line in readme.read_text(encoding="utf-8").splitlines() if line.startswith(f"| {path.name[:2]} |")]
    assert len(rows) == 1, f"{readme.name}'s course table needs exactly one row for {path.name}; found {len(rows)}"
    return rows[0]


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def test_notebooks_exist_and_are_numbered_in_learning_order():
    names = [p.name for p in NOTEBOOKS]
    assert names, "no notebooks found"
    assert names[0] == "00_welcome.ipynb"
    numbers = [int(n[:2]) for n in names]
    assert numbers == sorted(set(numbers)), f"notebook numbers must be unique and ordered: {names}"
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", n) for n in names), names


@pytest.mark.parametrize("path", NOTEBOOKS + ZH_NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
class TestStoredNotebook:
    def test_is_valid_and_uses_the_python3_kernel(self, path):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata["kernelspec"]["name"] == "python3"

    def test_was_run_top_to_bottom_without_errors(self, path):
        cells = _code_cells(_load(path))
        counts = [c["execution_count"] for c in cells]
        assert None not in counts, "some code cells were never run: refresh with `make outputs`"
        assert counts == list(range(1, len(counts) + 1)), f"execution counts out of order: {counts}"
        for cell in cells:
            for out in cell["outputs"]:
                assert out["output_type"] != "error", f"stored error: {out.get('ename')}: {out.get('evalue')}"

    def test_outputs_show_no_machine_paths_or_user_names(self, path):
        user = getpass.getuser()
        for cell in _code_cells(_load(path)):
            text = json.dumps(cell["outputs"], ensure_ascii=False)
            text = re.sub(r'"image/png": "[^"]*"', "", text)
            match = MACHINE_PATH.search(text)
            assert not match, ("an output shows a machine path near "
                               f"{text[max(0, match.start() - 40):match.end() + 40]!r}")
            if user not in ("root", "runner") and len(user) > 3:
                assert user not in text, f"an output shows the user name {user!r}"

    def test_outputs_hold_no_native_library_log_lines(self, path):
        # e.g. torch.profiler's "USDT:<date> <pid>:<tid> ...cpp:52] profiler_start": run with KINETO_LOG_LEVEL=6
        for cell in _code_cells(_load(path)):
            for out in cell["outputs"]:
                text = "".join(out.get("text", ""))
                log_line = re.search(r"^(USDT|[IWE]\d{4}):?[\d :-]+", text, re.M)
                assert not log_line, f"a log line in an output: {text[:120]!r}"

    def test_is_a_sensible_size(self, path):
        assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size:,} bytes"

    def test_follows_the_course_skeleton(self, path):
        nb = _load(path)
        text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown").lower()
        text = text.replace(WORD_JOINER, "")
        missing = [word for word in (SKELETON_ZH if _language(path) == "zh" else SKELETON) if word not in text]
        assert not missing, f"missing skeleton sections: {missing}"
        assert nb["cells"][0]["source"][0].startswith("# "), "first cell must be the title"

    def test_markdown_holds_no_control_characters(self, path):
        # a TAB or backspace in markdown is almost always a swallowed "\\t"/"\\b" from a Python string
        for index, cell in enumerate(_load(path)["cells"]):
            if cell["cell_type"] == "markdown":
                source = "".join(cell["source"])
                bad = sorted({repr(ch) for ch in source if ord(ch) < 32 and ch != "\n"})
                assert not bad, f"markdown cell {index} holds control characters {bad}: {source[:120]!r}"

    def test_readme_gives_the_study_time_of_its_header(self, path):
        intro = "".join(_load(path)["cells"][0]["source"]).replace(WORD_JOINER, "")
        header = re.search(TIME_ROW[_language(path)], intro)
        assert header, f"the first cell needs a row matching {TIME_ROW[_language(path)]!r}"
        row = _readme_row(path)
        minutes = header.group(1)
        assert README_MINUTES[_language(path)].format(minutes) in row, \
            f"the README says {row!r}; the notebook header says {minutes} minutes"

    def test_readme_run_time_is_the_last_make_outputs_run(self, path):
        run = _load(path)["metadata"].get("lmcourse", {}).get("run")
        assert run and run["profile"] == "cpu", "no recorded cpu run: refresh the stored outputs with `make outputs`"
        time = classroom.format_run_time(run["seconds"])
        assert f"| {time} |" in _readme_row(path), f"README should say {time} (run `make outputs` or " \
            "`python tools/classroom.py readme README.md notebooks/*.ipynb`)"

    def test_stored_solution_outputs_show_their_checkers_passing(self, path):
        # how many exercises a notebook has, and that its solutions pass when run, is
        # tests/exercises/test_exercise_rules.py's
        solutions = [c for c in _code_cells(_load(path)) if "solution" in _tags(c)]
        assert solutions, "no cell is tagged 'solution'"
        for cell in solutions:
            out = "".join("".join(o.get("text", "")) for o in cell["outputs"])
            assert "✔" in out and "✘" not in out, f"a stored solution does not pass its checker: {out[:200]!r}"
