"""Every notebook keeps the exercise promise, for every checker there is and every one added later.

Each ``notebooks/NN_topic.ipynb`` has its checkers in ``lmcourse/exercises/nbNN_topic.py``, its key
terms in ``lmcourse/glossary/terms/NN_topic.tsv`` and its teaching notes in
``docs/instructor/NN_topic.md``. Its exercise cells call at least two of its checkers (all of
them); its own solution cells pass every one. Each checker knows at least two typical mistakes,
and each gets its own hint. A checker's ``Mistake`` list is read by running it once on an
unfinished answer with the core's ``check_function`` (or ``check_rules``) watched.
"""

import importlib
import inspect
import json
import re
from pathlib import Path

import pytest
import torch

from lmcourse import language
from lmcourse.exercises import Mistake, Rule
from solutions import solution_namespace

ROOT = Path(__file__).resolve().parents[2]
STEMS = [p.stem for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
CALL = re.compile(r"\bex\.(check_\w+)\(")


def _module(stem: str):
    return importlib.import_module(f"lmcourse.exercises.nb{stem}")


def _checkers(module) -> dict:
    return {name: fn for name, fn in vars(module).items()
            if name.startswith("check_") and inspect.isfunction(fn) and fn.__module__ == module.__name__}


def _code(stem: str, tag: str | None = None) -> list[str]:
    cells = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells
            if c["cell_type"] == "code" and (tag is None or tag in c.get("metadata", {}).get("tags", []))]


CHECKERS = [pytest.param(stem, name, id=f"nb{stem}.{name}") for stem in STEMS for name in _checkers(_module(stem))]


@pytest.fixture(autouse=True)
def _torch_rng_untouched():  # some checkers seed torch's generator
    with torch.random.fork_rng():
        yield


def test_every_notebook_stem_names_its_exercise_module_glossary_file_and_instructor_note():
    found = {"lmcourse/exercises": {p.name for p in (ROOT / "lmcourse/exercises").glob("*.py")},
             "lmcourse/glossary/terms": {p.name for p in (ROOT / "lmcourse/glossary/terms").iterdir()},
             "docs/instructor": {p.name for p in (ROOT / "docs/instructor").iterdir()}}
    expected = {"lmcourse/exercises": {f"nb{s}.py" for s in STEMS} | {"__init__.py", "checking.py"},
                "lmcourse/glossary/terms": {f"{s}.tsv" for s in STEMS},
                "docs/instructor": {f"{s}.md" for s in STEMS} | {"README.md", "zh"}}
    for folder, names in expected.items():
        assert found[folder] == names, (f"{folder}: missing {sorted(names - found[folder])}, "
                                        f"not named for a notebook {sorted(found[folder] - names)}")


@pytest.mark.parametrize("stem", STEMS)
def test_every_notebook_calls_all_its_checkers_and_at_least_two_from_its_exercise_cells(stem):
    line = f"from lmcourse.exercises import nb{stem} as ex"
    assert any(line in source for source in _code(stem)), f"{stem} never imports its checkers with `{line}`"
    called, defined = {m for s in _code(stem, "exercise") for m in CALL.findall(s)}, set(_checkers(_module(stem)))
    assert called == defined, f"exercise cells call {sorted(called)}; nb{stem} defines {sorted(defined)}"
    assert len(called) >= 2, f"{stem} needs at least two self-checking exercises; it has {sorted(called)}"


@pytest.mark.parametrize("stem", STEMS)
def test_the_notebooks_own_solution_cells_pass_every_checker(stem, monkeypatch):
    module, results = _module(stem), {}
    checkers = _checkers(module)
    for name, checker in checkers.items():
        def noted(*args, _name=name, _checker=checker, **kwargs):
            results.setdefault(_name, []).append(result := _checker(*args, **kwargs))
            return result
        monkeypatch.setattr(module, name, noted)
    solution_namespace(stem)
    assert set(results) == set(checkers), f"the solution cells call only {sorted(results)} of {sorted(checkers)}"
    failed = {name: r.message for name, rs in results.items() for r in rs if not r.passed}
    assert not failed, f"a reference solution fails its checker: {failed}"


def _unfinished(*args, **kwargs):
    raise NotImplementedError


def _known(module, name: str, monkeypatch) -> list:
    """The Mistakes (or Rules) checker ``name`` hands to the core, caught by running it on an unfinished answer."""
    from lmcourse.exercises import checking

    known = []

    def function_spy(learner, reference, cases, *, mistakes=(), **kwargs):
        known.extend(mistakes)
        return checking.check_function(learner, reference, cases, mistakes=mistakes, **kwargs)

    def rules_spy(learner, run, rules, **kwargs):
        known.extend(rules)
        return checking.check_rules(learner, run, rules, **kwargs)

    monkeypatch.setattr(module, "check_function", function_spy, raising=False)
    monkeypatch.setattr(module, "check_rules", rules_spy, raising=False)
    getattr(module, name)(_unfinished)
    monkeypatch.undo()
    return known


@pytest.mark.parametrize("stem, name", CHECKERS)
def test_every_mistake_a_checker_knows_is_rejected_with_its_own_hint(stem, name, monkeypatch):
    """A Mistake the cases cannot tell from a right answer, or whose hint an earlier one takes, never teaches.

    A checker of properties (``check_rules``) has Rules, not wrong functions; its tests reach each one."""
    module = _module(stem)
    known = _known(module, name, monkeypatch)
    hints = [k.hint for k in known]
    assert len(hints) >= 2, f"{name} needs at least two typical mistakes with a hint each; it knows {len(hints)}"
    assert len(set(hints)) == len(hints), f"{name} gives one hint for two mistakes: {hints}"
    assert all(isinstance(k, (Mistake, Rule)) for k in known)
    problems = []
    for mistake in (k for k in known if isinstance(k, Mistake)):
        result = getattr(module, name)(mistake.fn)
        if result.passed:
            problems.append(f"passes, so its hint is never given: {mistake.hint[:80]!r}")
        elif result.mistake != mistake.hint:
            problems.append(f"{mistake.hint[:60]!r} is answered with {(result.mistake or 'no hint')[:60]!r}")
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("stem, name", CHECKERS)
def test_an_unfinished_or_non_function_answer_is_refused_without_raising(stem, name, capsys):
    """A learner runs the checker cell before writing the function, or passes its result instead of it."""
    checker = getattr(_module(stem), name)
    unfinished = checker(_unfinished)
    assert not unfinished.passed and "not written yet" in unfinished.message
    not_a_function = checker("my answer")
    assert not not_a_function.passed and "expected a function" in not_a_function.message


def _wrong_answers(stem: str) -> dict:
    """``WRONG_ANSWERS`` of the notebook's own test file: checker name -> wrong answers written there."""
    return getattr(importlib.import_module(f"test_exercises_nb{stem[:2]}"), "WRONG_ANSWERS", {})


@pytest.mark.parametrize("stem, name", CHECKERS)
def test_every_checker_rejects_three_wrong_answers_written_in_its_tests(stem, name):
    """Beyond the mistakes a checker knows: plausible wrong answers its author did not list, written in the test."""
    wrong = _wrong_answers(stem).get(name, [])
    assert len(wrong) >= 3, f"test_exercises_nb{stem[:2]}.WRONG_ANSWERS[{name!r}] needs at least 3 wrong answers"
    checker = getattr(_module(stem), name)
    accepted = [getattr(fn, "__name__", repr(fn)) for fn in wrong if checker(fn).passed]
    assert not accepted, f"{name} accepts wrong answers: {accepted}"


class _Hostile:
    """An answer that cannot be compared, shown, converted or iterated."""

    def _refuse(self, *args, **kwargs):
        raise RuntimeError("this answer refuses everything")

    __eq__ = __ne__ = __lt__ = __gt__ = __repr__ = __str__ = __len__ = __iter__ = __float__ = __index__ = _refuse
    __bool__ = __getitem__ = __getattr__ = __call__ = _refuse
    __hash__ = None


def _raises(*args, **kwargs):
    raise ValueError("a bug in the learner's code")


HOSTILE = {
    "raises": _raises,
    "returns None": lambda *a, **k: None,
    "returns a number as a string": lambda *a, **k: "0.5",
    "returns NaN": lambda *a, **k: float("nan"),
    "returns a one-element tensor": lambda *a, **k: torch.zeros(1),
    "returns a generator": lambda *a, **k: (x for x in range(3)),
    "returns an object that refuses everything": lambda *a, **k: _Hostile(),
}


@pytest.mark.parametrize("stem, name", CHECKERS)
def test_no_checker_raises_into_the_learners_cell_or_accepts_a_hostile_answer(stem, name, capsys):
    checker = getattr(_module(stem), name)
    passed = [what for what, fn in HOSTILE.items() if checker(fn).passed]
    assert not passed, f"{name} accepts an answer that {passed}"
    printed = capsys.readouterr().out
    assert printed.count("✘") >= len(HOSTILE), f"{name} printed no ✘ hint for some hostile answers:\n{printed}"


@pytest.mark.parametrize("stem, name", CHECKERS)
def test_in_the_chinese_edition_every_hint_a_checker_knows_is_given_in_chinese(stem, name, monkeypatch, capsys):
    """The hints come from lmcourse/locale/zh/exercises/nbNN_topic.po; a hint written so that the
    extraction cannot see it whole (built with ``+``, say) would stay English: this finds it."""
    module = _module(stem)
    known = _known(module, name, monkeypatch)
    exact, _ = language.catalogue("zh")
    untranslated = [k.hint[:70] for k in known if k.hint not in exact]
    assert not untranslated, f"{name}: hints without a Chinese translation (run `make zh`): {untranslated}"
    with language.speaking("zh"):
        unfinished = getattr(module, name)(_unfinished)
        mistake = next((k for k in known if isinstance(k, Mistake)), None)
        wrong = getattr(module, name)(mistake.fn) if mistake else None
    assert re.search(r"[\u4e00-\u9fff]", unfinished.message.splitlines()[0]), unfinished.message
    if wrong is not None:
        assert exact[mistake.hint] in wrong.message, f"{name}: the Chinese hint is not shown:\n{wrong.message}"
