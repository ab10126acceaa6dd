"""Every notebook has checked exercises, and every checker is proven by its tests.

The course promises that each notebook has at least two self-checking exercises, and that every
checker accepts the notebook's own reference solution and rejects at least two typical wrong
answers with a hint that names the mistake. This file keeps that promise for every
``lmcourse/exercises/nbNN_*.py`` there is, including ones added later.

How it proves it:

* The notebook side is read statically: the cells tagged "exercise" and "solution" are parsed
  (``ast``) for calls to the notebook's checkers, whatever name the module was imported under.
* The test side is *observed*, not parsed: ``tests/test_exercises_nb*.py`` run once more, in a
  subprocess, with :class:`Recorder`, a pytest plugin that wraps every checker. While
  ``solution_namespace`` executes a notebook's solution cells, it notes the object each solution
  cell hands to its checker (the reference solution). Then, for every checker call made by a test
  that passes, it notes whether the answer was that very object and whether the test read
  ``passed``; and, because the returned :class:`Result` hands out ``mistake`` and ``message`` as
  strings that remember what they were compared with, which fragments the test looked for with
  ``in`` (or ``==``, ``startswith``, ``endswith``).

Watching the run instead of parsing the source means any test style counts (parametrize lists,
module-level tables of cases, helper functions, loops), and nothing counts that did not run in a
passing test: a wrong answer counts only when the test found a fragment of the *hint* in the
result, and that fragment names this hint alone (it occurs in no other hint of the checker), so
``"✘" in result.message`` or ``not result.passed`` prove nothing here. Wrong answers are told apart
by the hint they get (for a ``check_value`` checker with one fixed hint, by value), and the
checker's own ``Mistake`` functions do not count: a test writes its wrong answer as a learner would.
Separately, every ``Mistake`` a checker knows is fed to it, to prove its hint can be reached at all
(the cases tell it from a right answer, and no earlier Mistake takes its place).

The recorded run costs about as long as the exercise tests themselves (seconds), once per session.
Run ``python tests/test_exercise_audit.py`` for a table of every checker and what its tests prove.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import inspect
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
NOTEBOOKS = ROOT / "notebooks"
EXERCISES = ROOT / "lmcourse" / "exercises"

MIN_EXERCISES = 2       # distinct checkers called from a notebook's exercise cells
MIN_WRONG_ANSWERS = 2   # distinct wrong answers per checker, each rejected with its hint asserted
MIN_FRAGMENT = 4        # characters (not counting spaces) a hint fragment needs to name anything


# ----------------------------------------------------------------------------- what exists

@dataclass(frozen=True)
class Checker:
    nn: str            # "03"
    module: str        # "nb03_embeddings"
    name: str          # "check_skipgram_pairs"

    @property
    def key(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def test_file(self) -> Path:
        return TESTS / f"test_exercises_nb{self.nn}.py"


def _modules() -> dict[str, list[str]]:
    """Exercise modules by notebook number: {"03": ["nb03_embeddings"]}."""
    found = defaultdict(list)
    for path in sorted(EXERCISES.glob("nb[0-9][0-9]_*.py")):
        found[path.stem[2:4]].append(path.stem)
    return dict(found)


def _notebooks() -> dict[str, list[Path]]:
    """Notebooks by number: {"03": [Path(".../03_word_embeddings.ipynb")]}."""
    found = defaultdict(list)
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        found[path.name[:2]].append(path)
    return dict(found)


def _public_checkers(module: str) -> list[str]:
    """Names of the public ``check_*`` functions *defined* in an exercise module."""
    mod = importlib.import_module(f"lmcourse.exercises.{module}")
    return sorted(name for name, obj in vars(mod).items()
                  if name.startswith("check_") and inspect.isfunction(obj) and obj.__module__ == mod.__name__)


def _checker_params() -> list:
    params = []
    for nn, modules in _modules().items():
        for module in modules:
            try:
                names = _public_checkers(module)
            except Exception as err:  # a module being written must fail its audit, not the collection
                params.append(pytest.param(Checker(nn, module, f"<import failed: {type(err).__name__}: {err}>"),
                                           id=f"{module}.<import>"))
                continue
            if not names:
                params.append(pytest.param(Checker(nn, module, "<no check_* function>"), id=f"{module}.<none>"))
            params += [pytest.param(Checker(nn, module, name), id=f"{module}.{name}") for name in names]
    return params


# ----------------------------------------------------------------------------- the notebook side

def _cells(path: Path, tag: str) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"]
            if c["cell_type"] == "code" and tag in c.get("metadata", {}).get("tags", [])]


def _parse(source: str) -> ast.Module:
    """Parse a code cell; IPython lines (``%magic``, ``!shell``) are blanked first."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    return ast.parse("\n".join(lines))


def _references_to(module: str, trees: list[ast.Module]) -> tuple[set[str], dict[str, str]]:
    """How cells refer to an exercise module: ({"ex", ...}, {local name: checker name})."""
    dotted = f"lmcourse.exercises.{module}"
    prefixes, direct = {dotted}, {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "lmcourse.exercises":
                prefixes |= {a.asname or a.name for a in node.names if a.name == module}
            elif isinstance(node, ast.ImportFrom) and node.module == dotted:
                direct |= {a.asname or a.name: a.name for a in node.names if a.name.startswith("check_")}
            elif isinstance(node, ast.Import):
                prefixes |= {a.asname for a in node.names if a.name == dotted and a.asname}
    return prefixes, direct


def notebook_calls(path: Path, module: str, tag: str) -> dict[str, list[str]]:
    """Checker calls in the cells tagged ``tag``: {checker name: [source of its first argument, ...]}."""
    every_cell = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "code":
            try:
                every_cell.append(_parse("".join(cell["source"])))
            except SyntaxError:  # not Python (a rare cell magic): it imports nothing we could follow
                pass
    prefixes, direct = _references_to(module, every_cell)
    calls = defaultdict(list)
    for source in _cells(path, tag):
        for node in ast.walk(_parse(source)):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if (isinstance(func, ast.Attribute) and func.attr.startswith("check_")
                    and ast.unparse(func.value) in prefixes):
                name = func.attr
            elif isinstance(func, ast.Name) and func.id in direct:
                name = direct[func.id]
            else:
                continue
            calls[name].append(ast.unparse(node.args[0]) if node.args else "")
    return dict(calls)


def _only_notebook(nn: str) -> Path | None:
    paths = _notebooks().get(nn, [])
    return paths[0] if len(paths) == 1 else None


# ----------------------------------------------------------------------------- the recorder

class _Noted(str):
    """A string that notes the fragments it was found to contain (``in``, ``==``, start/end)."""

    def __new__(cls, text: str, notes: list):
        obj = super().__new__(cls, text)
        obj._notes = notes
        return obj

    def _note(self, fragment, found: bool) -> bool:
        if found and isinstance(fragment, str):
            self._notes.append(str(fragment))
        return found

    def __contains__(self, fragment):
        return self._note(fragment, str.__contains__(self, fragment))

    def __eq__(self, other):
        equal = str.__eq__(self, other)
        return self._note(other, equal) if equal is True else equal

    __hash__ = str.__hash__

    def startswith(self, prefix, *args):
        return self._note(prefix, str.startswith(self, prefix, *args))

    def endswith(self, suffix, *args):
        return self._note(suffix, str.endswith(self, suffix, *args))


def _noted_result(result, event: dict):
    """A copy of a checker's Result that records, in ``event``, how a test looked at it."""
    from lmcourse.exercises.checking import Result

    class NotedResult(Result):
        def __getattribute__(self, name):
            value = object.__getattribute__(self, name)
            if name == "passed":
                event["passed_read"] = True
            if name in ("mistake", "message") and isinstance(value, str):
                return _Noted(value, event["fragments"])
            return value

        def __bool__(self):
            event["passed_read"] = True
            return object.__getattribute__(self, "passed")

    return NotedResult(result.passed, result.message, result.failed_case, result.mistake)


def hint_text(message: str, mistake: str | None) -> str:
    """The part of a result that teaches: its ``mistake``, else what follows "Hint:" in the message."""
    if mistake:
        return mistake
    found = re.search(r"Hint:\s*(.*)", message or "", flags=re.S)
    return found.group(1).strip() if found else ""


class Recorder:
    """pytest plugin: wraps every exercise checker and writes what the tests proved to ``out`` (JSON)."""

    def __init__(self, out: str):
        from lmcourse.exercises import checking

        self.out = out
        self.nodeid: str | None = None              # the test whose call phase is running
        self.solving: list[str] = []                # notebook stems whose solution cells are running
        self.references: dict[str, list] = defaultdict(list)   # checker key -> [(stem, object)]
        self.known_hints: dict[str, set] = defaultdict(set)
        self.events: list[dict] = []
        self.outcomes: dict[str, str] = {}
        self.active: list[str] = []
        for nn, modules in _modules().items():
            for module in modules:
                try:
                    mod = importlib.import_module(f"lmcourse.exercises.{module}")
                    names = _public_checkers(module)
                except Exception:
                    continue
                for name in names:
                    setattr(mod, name, self._wrap(nn, f"{module}.{name}", getattr(mod, name)))
                if getattr(mod, "check_function", None) is checking.check_function:
                    mod.check_function = self._noting_mistakes(checking.check_function)
                if getattr(mod, "check_value", None) is checking.check_value:
                    mod.check_value = self._noting_value_hint(checking.check_value)
        sys.path.insert(0, str(TESTS))
        import solutions

        solutions.solution_namespace = self._noting_solutions(solutions.solution_namespace)

    def _noting_solutions(self, original):
        def solution_namespace(stem, *args, **kwargs):
            self.solving.append(stem)
            try:
                return original(stem, *args, **kwargs)
            finally:
                self.solving.pop()
        return solution_namespace

    def _noting_mistakes(self, original):
        def check_function(*args, mistakes=(), **kwargs):
            if self.active:
                self.known_hints[self.active[-1]] |= {m.hint for m in mistakes}
            return original(*args, mistakes=mistakes, **kwargs)
        return check_function

    def _noting_value_hint(self, original):
        def check_value(*args, hint="", **kwargs):
            if self.active and hint:
                self.known_hints[self.active[-1]].add(hint)
            return original(*args, hint=hint, **kwargs)
        return check_value

    def _is_reference(self, nn: str, key: str, answer) -> bool:
        from lmcourse.exercises.checking import same

        for stem, ref in self.references[key]:
            if stem.startswith(f"{nn}_") and (answer is ref or (not callable(ref) and same(answer, ref))):
                return True
        return False

    def _wrap(self, nn: str, key: str, checker):
        def noted_checker(*args, **kwargs):
            answer = args[0] if args else next(iter(kwargs.values()), None)
            self.active.append(key)
            try:
                result = checker(*args, **kwargs)
            finally:
                self.active.pop()
            if self.solving:
                self.references[key].append((self.solving[-1], answer))
                return result
            if self.nodeid is None:
                return result
            hint = hint_text(result.message, result.mistake)
            event = {"checker": key, "nodeid": self.nodeid, "passed": bool(result.passed),
                     "reference": self._is_reference(nn, key, answer), "passed_read": False,
                     "hint": hint, "answer": None if callable(answer) else repr(answer)[:200],
                     "answer_module": getattr(answer, "__module__", None) if callable(answer) else None,
                     "uses_mistake": result.mistake is not None, "fragments": []}
            self.events.append(event)
            return _noted_result(result, event)
        noted_checker.__wrapped__ = checker
        return noted_checker

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):  # a fixture may call the checker, and the test assert on it
        self.nodeid = item.nodeid
        try:
            yield
        finally:
            self.nodeid = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        self.nodeid = item.nodeid
        try:
            yield
        finally:
            self.nodeid = None

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.outcomes[report.nodeid] = "failed"
        elif report.when == "call" and report.passed:
            self.outcomes.setdefault(report.nodeid, "passed")

    def pytest_sessionfinish(self, session):
        data = {"events": [e for e in self.events if self.outcomes.get(e["nodeid"]) == "passed"],
                "failed_tests": sorted(n for n, o in self.outcomes.items() if o == "failed"),
                "known_hints": {k: sorted(v) for k, v in self.known_hints.items()},
                "reference_stems": {k: sorted({s for s, _ in v}) for k, v in self.references.items()}}
        for event in self.events:  # failed tests are named in messages, with the checkers they touched
            if self.outcomes.get(event["nodeid"]) == "failed":
                data.setdefault("failed_by_checker", {}).setdefault(event["checker"], []).append(event["nodeid"])
        Path(self.out).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


_RUNNER = """
import sys
sys.path.insert(0, {tests!r})
import pytest
import test_exercise_audit as audit
sys.exit(pytest.main(["-q", "-p", "no:randomly", "--continue-on-collection-errors", *sys.argv[2:]],
                     plugins=[audit.Recorder(sys.argv[1])]))
"""


@contextlib.contextmanager
def _quietly():
    """Run a checker here without its printout, leaving torch's global RNG as it was (some checkers seed it)."""
    import torch

    with torch.random.fork_rng(), contextlib.redirect_stdout(io.StringIO()):
        yield


def _mistakes_of(checker: Checker) -> list | None:
    """The ``Mistake`` list a ``check_function``-based checker passes on; None for other checkers."""
    from lmcourse.exercises import checking

    mod = importlib.import_module(f"lmcourse.exercises.{checker.module}")
    original = getattr(mod, "check_function", None)
    if original is not checking.check_function or not hasattr(mod, checker.name):
        return None
    captured, calls = [], []

    def capturing(*args, mistakes=(), **kwargs):
        calls.append(1)
        captured.extend(mistakes)
        return original(*args, mistakes=mistakes, **kwargs)

    def unfinished(*args, **kwargs):
        raise NotImplementedError

    mod.check_function = capturing
    try:
        with _quietly():
            getattr(mod, checker.name)(unfinished)
    finally:
        mod.check_function = original
    return captured if calls else None


@lru_cache(maxsize=1)
def _observed_once() -> dict | str:
    try:
        return _record_exercise_tests()
    except (RuntimeError, subprocess.SubprocessError, OSError, ValueError) as err:  # reported, not re-run per test
        return f"{type(err).__name__}: {err}"


def observed() -> dict:
    """What the exercise tests proved, recorded once per session (about as long as running them)."""
    record = _observed_once()
    if isinstance(record, str):
        pytest.fail(f"could not record the exercise tests: {record}", pytrace=False)
    return record


def _record_exercise_tests() -> dict:
    """Run every ``tests/test_exercises_nb*.py`` in a subprocess under the Recorder; return its record."""
    files = sorted(str(p.relative_to(ROOT)) for p in TESTS.glob("test_exercises_nb[0-9][0-9].py"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_ADDOPTS", "PYTEST_XDIST", "PYTEST_CURRENT"))}
    env.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "record.json"
        run = subprocess.run([sys.executable, "-c", _RUNNER.format(tests=str(TESTS)), str(out), *files],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        if run.returncode not in (0, 1) or not out.exists():
            raise RuntimeError(f"the recorded run of the exercise tests did not finish (exit {run.returncode}):\n"
                               f"{(run.stdout + run.stderr)[-3000:]}")
        record = json.loads(out.read_text(encoding="utf-8"))
    for param in _checker_params():  # hints of checkers no test calls (yet) are known too
        checker = param.values[0]
        try:
            mistakes = _mistakes_of(checker) or []
        except Exception:
            mistakes = []
        hints = set(record["known_hints"].get(checker.key, [])) | {m.hint for m in mistakes}
        record["known_hints"][checker.key] = sorted(hints)
    return record


# ----------------------------------------------------------------------------- the rules

def reference_problem(checker: Checker, record: dict, solution_args: list[str],
                      stem: str = "<notebook stem>") -> str | None:
    """None when a passing test ran ``checker`` on the notebook's reference solution and read ``passed``."""
    events = [e for e in record["events"] if e["checker"] == checker.key and e["reference"]]
    if any(e["passed"] and e["passed_read"] for e in events):
        return None
    stems = record.get("reference_stems", {}).get(checker.key, [])
    shown = f"ex.{checker.name}({solution_args[0]})" if solution_args else f"ex.{checker.name}(…)"
    if not stems:
        why = (f"no test builds the notebook's solutions: the solution cell calls {shown}, so take "
               f"`{solution_args[0] if solution_args else '…'}` from solution_namespace(\"{stem}\", setup=...) "
               f"and assert ex.{checker.name}(solved[...]).passed")
    elif not events:
        why = (f"the tests build the notebook's solutions but never pass the reference answer the solution cell "
               f"passes ({shown}) to {checker.name}")
    elif not any(e["passed"] for e in events):
        why = "the reference solution does not pass it"
    else:
        why = "the tests run it on the reference solution but never assert that it passed (.passed or assert result)"
    return f"{checker.name} ({checker.module}): {why}.{_failed_note(checker, record)}"


def proven_wrong_answers(checker: Checker, record: dict) -> tuple[dict[str, list[str]], list[str]]:
    """({wrong-answer key: [test ids]}, [notes on rejections that do not count]).

    A wrong answer counts when a passing test got a failing result carrying a hint and found in it
    a fragment of at least MIN_FRAGMENT characters that occurs in no other hint of the checker.
    Answers are told apart by their hint; for checkers with one fixed hint (``check_value``), by value.
    """
    events = [e for e in record["events"] if e["checker"] == checker.key and not e["passed"]]
    hints = set(record.get("known_hints", {}).get(checker.key, [])) | {e["hint"] for e in events if e["hint"]}
    proven, notes = defaultdict(list), []
    for e in events:
        if not e["hint"]:
            continue
        if (e.get("answer_module") or "").startswith("lmcourse.exercises."):
            notes.append(f"{e['nodeid']} hands the checker a function from {e['answer_module']} (its own Mistake?); "
                         "write the wrong answer in the test, the way a learner would")
            continue
        others = hints - {e["hint"]}
        naming = [f for f in e["fragments"] if len(f.replace(" ", "")) >= MIN_FRAGMENT and f in e["hint"]
                  and not any(f in other for other in others)]
        if naming:
            key = e["hint"] if e["uses_mistake"] or len(hints) > 1 else f"{e['hint']} | answer {e['answer']}"
            proven[key].append(e["nodeid"])
        elif e["fragments"]:
            notes.append(f"{e['nodeid']} gets the hint {e['hint'][:60]!r}… but looks for "
                         + "; ".join(_why_not(f, e["hint"], others) for f in sorted(set(e["fragments"]))))
        else:
            notes.append(f"{e['nodeid']} gets the hint {e['hint'][:70]!r}… but never asserts a fragment of it")
    return dict(proven), notes


def _why_not(fragment: str, hint: str, others: set[str]) -> str:
    if len(fragment.replace(" ", "")) < MIN_FRAGMENT:
        return f"{fragment!r} (too short to name a mistake)"
    if fragment not in hint:
        return f"{fragment!r} (not part of the hint)"
    other = next(o for o in others if fragment in o)
    return f"{fragment!r} (also in the hint {other[:50]!r}…, so it cannot tell which hint was given)"


def wrong_answer_problem(checker: Checker, record: dict) -> str | None:
    proven, notes = proven_wrong_answers(checker, record)
    if len(proven) >= MIN_WRONG_ANSWERS:
        return None
    hints = record.get("known_hints", {}).get(checker.key, [])
    untested = [h for h in hints if h not in proven]
    lines = [f"{checker.name} ({checker.module}): {len(proven)} distinct wrong answer(s) rejected with their hint "
             f"asserted by a passing test in {checker.test_file.name}; needs {MIN_WRONG_ANSWERS}."]
    lines += [f"  proven: {k[:90]!r}… ({v[0]})" for k, v in proven.items()]
    lines += [f"  not counted: {n}" for n in notes[:6]]
    lines += [f"  hint no test asserts: {h[:110]!r}" for h in untested[:6]]
    if not hints:
        lines.append("  the checker has no Mistake hints at all: add Mistake(...) entries that name typical errors")
    return "\n".join(lines) + _failed_note(checker, record)


def _failed_note(checker: Checker, record: dict) -> str:
    failed = record.get("failed_by_checker", {}).get(checker.key, [])
    return f"\n  (failing tests that call it, not counted: {failed[:5]})" if failed else ""


# ----------------------------------------------------------------------------- the audit

@pytest.mark.parametrize("nn", sorted(set(_notebooks()) | set(_modules())))
def test_every_notebook_calls_at_least_two_checkers_from_its_exercise_cells(nn):
    notebooks, modules = _notebooks().get(nn, []), _modules().get(nn, [])
    assert len(notebooks) == 1, (f"notebook {nn}: expected one notebooks/{nn}_*.ipynb, "
                                 f"found {[p.name for p in notebooks]}")
    assert len(modules) == 1, (f"notebook {notebooks[0].name}: expected one exercise module "
                               f"lmcourse/exercises/nb{nn}_*.py, found {modules}")
    known = set(_public_checkers(modules[0]))
    calls = notebook_calls(notebooks[0], modules[0], "exercise")
    unknown = sorted(set(calls) - known)
    assert not unknown, (f"{notebooks[0].name}: exercise cells call checkers that {modules[0]} "
                         f"does not define: {unknown}")
    assert len(calls) >= MIN_EXERCISES, (
        f"{notebooks[0].name}: exercise cells (tagged 'exercise') call {len(calls)} distinct checker(s) of "
        f"{modules[0]} {sorted(calls)}; every notebook needs at least {MIN_EXERCISES} self-checking exercises")


@pytest.mark.parametrize("checker", _checker_params())
def test_every_checker_is_used_by_its_notebook(checker):
    assert checker.name.startswith("check_"), f"{checker.module}: {checker.name}"
    notebook = _only_notebook(checker.nn)
    assert notebook is not None, f"{checker.name} ({checker.module}): no single notebooks/{checker.nn}_*.ipynb uses it"
    missing = [tag for tag in ("exercise", "solution")
               if checker.name not in notebook_calls(notebook, checker.module, tag)]
    assert not missing, (f"{checker.name} ({checker.module}) is never called from a cell tagged "
                         f"{' or '.join(repr(t) for t in missing)} in {notebook.name}: each checker needs an exercise "
                         "cell that calls it and a solution cell that calls it on the reference answer")


@pytest.mark.parametrize("checker", _checker_params())
def test_every_checker_accepts_its_notebooks_reference_solution_in_the_tests(checker):
    assert checker.name.startswith("check_"), f"{checker.module}: {checker.name}"
    assert checker.test_file.exists(), f"{checker.name} ({checker.module}): {checker.test_file.name} does not exist"
    notebook = _only_notebook(checker.nn)
    args = notebook_calls(notebook, checker.module, "solution").get(checker.name, []) if notebook else []
    problem = reference_problem(checker, observed(), args, notebook.stem if notebook else "<notebook stem>")
    assert problem is None, problem


@pytest.mark.parametrize("checker", _checker_params())
def test_every_checker_rejects_two_wrong_answers_with_a_hint_the_tests_assert(checker):
    assert checker.name.startswith("check_"), f"{checker.module}: {checker.name}"
    assert checker.test_file.exists(), f"{checker.name} ({checker.module}): {checker.test_file.name} does not exist"
    problem = wrong_answer_problem(checker, observed())
    assert problem is None, problem


@pytest.mark.parametrize("checker", _checker_params())
def test_every_mistake_a_checker_knows_gives_its_own_hint(checker):
    """A Mistake whose function passes the checker, or whose hint an earlier Mistake takes, never teaches."""
    assert checker.name.startswith("check_"), f"{checker.module}: {checker.name}"
    mistakes = _mistakes_of(checker)
    if mistakes is None:
        pytest.skip(f"{checker.name} does not use check_function; its hints are proven by its tests alone")
    problems = []
    for mistake in mistakes:
        with _quietly():
            result = getattr(importlib.import_module(f"lmcourse.exercises.{checker.module}"), checker.name)(mistake.fn)
        if result.passed:
            problems.append(f"unreachable, the cases cannot tell it from a correct answer: {mistake.hint[:90]!r}")
        elif result.mistake != mistake.hint:
            problems.append(f"{mistake.hint[:70]!r} is answered with "
                            f"{(result.mistake or 'no hint')[:70]!r} (an earlier Mistake matches first)")
    assert not problems, f"{checker.name} ({checker.module}):\n  " + "\n  ".join(problems)


# ----------------------------------------------------------------------------- the audit's own rules

def _event(hint, fragments, *, passed=False, uses_mistake=True, answer=None, nodeid="t::x"):
    return {"checker": "nb99_x.check_y", "nodeid": nodeid, "passed": passed, "reference": False,
            "passed_read": True, "hint": hint, "answer": answer, "uses_mistake": uses_mistake,
            "fragments": fragments}


_Y = Checker("99", "nb99_x", "check_y")
_HINTS = ["you divided by d_k; the scale is √d_k", "no √d_k: divide the scores by sqrt(d_k)"]


@pytest.mark.parametrize("fragments, counts", [
    (["divided by d_k"], True),
    (["√d_k"], False),          # in both hints: names neither
    (["d_k"], False),           # too short
    (["✘"], False),             # not in the hint at all
    ([], False),                # only `not result.passed`
])
def test_a_wrong_answer_counts_only_with_a_fragment_that_names_its_hint(fragments, counts):
    record = {"events": [_event(_HINTS[0], fragments)], "known_hints": {_Y.key: _HINTS}}
    proven, notes = proven_wrong_answers(_Y, record)
    assert bool(proven) is counts and bool(notes) is not counts


def test_the_checkers_own_mistake_functions_do_not_count_as_wrong_answers():
    event = dict(_event(_HINTS[0], ["divided by d_k"]), answer_module="lmcourse.exercises.nb99_x")
    proven, notes = proven_wrong_answers(_Y, {"events": [event], "known_hints": {_Y.key: _HINTS}})
    assert not proven and "the way a learner would" in notes[0]


def test_two_answers_with_the_same_hint_are_one_wrong_answer():
    record = {"events": [_event(_HINTS[0], ["divided by d_k"], nodeid="t::a"),
                         _event(_HINTS[0], ["you divided"], nodeid="t::b")], "known_hints": {_Y.key: _HINTS}}
    assert len(proven_wrong_answers(_Y, record)[0]) == 1
    assert "needs 2" in wrong_answer_problem(_Y, record) and "no √d_k" in wrong_answer_problem(_Y, record)


def test_a_single_hint_checker_counts_distinct_wrong_values():
    hint = "P(b | a) divides by the count of pairs starting with a"
    record = {"events": [_event(hint, ["divides by the count"], uses_mistake=False, answer=a) for a in ("0.5", "2.0")],
              "known_hints": {_Y.key: [hint]}}
    assert wrong_answer_problem(_Y, record) is None


def test_the_reference_must_pass_and_its_result_be_read():
    unread = {"events": [dict(_event("", [], passed=True), reference=True, passed_read=False)],
              "reference_stems": {_Y.key: ["99_x"]}}
    assert "never assert" in reference_problem(_Y, unread, ["f"])
    unread["events"][0]["passed_read"] = True
    assert reference_problem(_Y, unread, ["f"]) is None
    assert "solution_namespace" in reference_problem(_Y, {"events": []}, ["f"])


def test_noted_strings_remember_what_a_test_looked_for():
    notes = []
    hint = _Noted("the mask is inverted", notes)
    assert "inverted" in hint and "upside" not in hint and hint == "the mask is inverted" and hint.startswith("the")
    assert notes == ["inverted", "the mask is inverted", "the"]
    assert {hint: 1}["the mask is inverted"] == 1


def test_notebook_calls_follow_the_import_alias(tmp_path):
    cells = [("", "from lmcourse.exercises import nb99_x as quiz\nfrom lmcourse.exercises.nb99_x import check_b as cb"),
             ("exercise", "%matplotlib inline\ndef f(x):\n    # TODO\n    raise NotImplementedError\n"
                          "quiz.check_a(f)\ncb(f)"),
             ("solution", "def f(x):\n    return x\nquiz.check_a(f)\nother.check_c(f)")]
    nb = {"cells": [{"cell_type": "code", "source": src, "metadata": {"tags": [tag] if tag else []}}
                    for tag, src in cells]}
    path = tmp_path / "99_x.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert notebook_calls(path, "nb99_x", "exercise") == {"check_a": ["f"], "check_b": ["f"]}
    assert notebook_calls(path, "nb99_x", "solution") == {"check_a": ["f"]}   # other.check_c is not nb99_x


# ----------------------------------------------------------------------------- a table for people

def _table() -> str:
    record = observed()
    rows = ["checker | reference solution passes | wrong answers with hint asserted | hints it can give"]
    for param in _checker_params():
        checker = param.values[0]
        notebook = _only_notebook(checker.nn)
        args = notebook_calls(notebook, checker.module, "solution").get(checker.name, []) if notebook else []
        ref = "yes" if reference_problem(checker, record, args) is None else "NO"
        hints = len(set(record["known_hints"].get(checker.key, []))
                    | {e["hint"] for e in record["events"] if e["checker"] == checker.key and e["hint"]})
        rows.append(f"{checker.key} | {ref} | {len(proven_wrong_answers(checker, record)[0])} | {hints}")
    return "\n".join(rows)


if __name__ == "__main__":
    print(_table())
