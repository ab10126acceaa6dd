"""The module ↔ notebook map: docs/modules.md is what docs/make_module_map.py makes from the notebooks'
imports today, the generator sees every import form, and a module's docstrings name only notebooks that
import it.

The docstring rule: "notebook NN" (or "notebooks NN and MM", "NN–MM") in a module's docstrings must be a
notebook whose code imports that module. To point at an idea another module holds, name that module
(docs/modules.md says which notebook builds it). The one other form allowed is "notebook NN's `name`",
which promises that notebook NN's code has `name`, and is checked for that.
"""

import ast
import importlib.util
import json
import re
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("make_module_map", ROOT / "docs" / "make_module_map.py")
make_module_map = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_module_map)

REF = re.compile(r"\b[Nn]otebooks? (\d\d)\b((?:(?:,\s*|,?\s+and\s+|\s*[–-]\s*)\d\d\b)*)")
NAMED = re.compile(r"\b[Nn]otebook (\d\d)'s\s+(?::\w+:)?`{1,2}~?([\w.]+)")
MODULE_FILES = sorted(p for p in (ROOT / "lmcourse").rglob("*.py") if "vendor" not in p.parts
                      and p.relative_to(ROOT / "lmcourse").parts[0] != "__init__.py")


@lru_cache(maxsize=1)
def _map():
    return make_module_map.module_map()


@lru_cache(maxsize=None)
def _code(number: str) -> str:
    cells = json.loads(make_module_map.notebooks()[number].read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_the_committed_module_map_is_current():
    committed = (ROOT / "docs" / "modules.md").read_text(encoding="utf-8")
    assert committed == make_module_map.render(), "docs/modules.md is out of date: run python docs/make_module_map.py"


def test_the_check_flag_reports_an_out_of_date_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(make_module_map, "TABLE", tmp_path / "docs" / "modules.md")
    monkeypatch.setattr(make_module_map, "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "modules.md").write_text("an old table\n", encoding="utf-8")
    assert make_module_map.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().out


def _notebook(tmp_path, *cells):
    nb = {"cells": [{"cell_type": "code", "source": source, "metadata": {}} for source in cells]
          + [{"cell_type": "markdown", "source": "from lmcourse.bias import weat_effect_size", "metadata": {}}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "99_example.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def test_every_import_form_counts_and_markdown_does_not(tmp_path):
    path = _notebook(
        tmp_path,
        "%matplotlib inline\nimport lmcourse.attention\nimport lmcourse.gpt as g",
        "from lmcourse.tokenizers import CharTokenizer\nfrom lmcourse.exercises import nb05_attention as ex",
        "from lmcourse import viz, set_seed\nfrom lmcourse import compression as C",
        "!echo shell lines are skipped\nimport lmcourse\nlmcourse.ngram.NGramLM\nfrom lmcourse.data import load_text",
    )
    assert make_module_map.notebook_imports(path) == {
        "attention", "gpt", "tokenizers", "exercises", "viz", "device", "compression", "ngram", "data"}


def test_a_module_is_built_in_its_first_notebook_after_00_unless_it_is_support():
    assert make_module_map.built_in("ngram", ["00", "02", "04"]) == "02"
    assert make_module_map.built_in("data", ["00", "01"]) is None
    assert make_module_map.built_in("attention", _map()["attention"]) == "05"
    assert make_module_map.built_in("positions", _map()["positions"]) == "06"


def test_the_support_list_names_only_modules_that_exist():
    assert make_module_map.SUPPORT <= set(make_module_map.package_modules())


def _docstrings(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                yield getattr(node, "lineno", 1), doc


@pytest.mark.parametrize("path", MODULE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_docstring_names_only_notebooks_that_import_the_module(path):
    module = path.relative_to(ROOT / "lmcourse").with_suffix("").parts[0]
    importers = _map()[module]
    wrong = []
    for line, doc in _docstrings(path):
        named = {m.start(): m for m in NAMED.finditer(doc)}
        for match in REF.finditer(doc):
            numbers = [match.group(1), *re.findall(r"\d\d", match.group(2))]
            if match.start() in named and len(numbers) == 1:
                number, name = named[match.start()].groups()
                if name.split(".")[-1] not in _code(number):
                    wrong.append(f"line {line}: notebook {number}'s code has no {name!r}")
                continue
            if re.search(r"\d\d\s*[–-]\s*\d\d", match.group(0)):
                first, last = int(numbers[0]), int(numbers[-1])
                numbers = [f"{n:02d}" for n in range(first, last + 1)]
            wrong += [f"line {line}: notebook {n} does not import lmcourse.{module} "
                      f"(…{doc[max(0, match.start() - 40):match.end() + 30]!r}…)"
                      for n in numbers if n not in importers]
    assert not wrong, (f"lmcourse.{module} is imported by notebooks {', '.join(importers) or 'none'}; "
                       "its docstrings say otherwise:\n" + "\n".join(wrong))
