"""Write docs/modules.md: for each lmcourse module, the notebook that builds it and the notebooks that use it.

The map is read from the notebooks' code cells, never written by hand. A notebook *imports* a module when
a code cell has ``import lmcourse.X``, ``from lmcourse.X import …``, ``from lmcourse import X`` (or a name
``lmcourse/__init__.py`` re-exports from X, such as ``set_seed``) or uses ``lmcourse.X.something``; X is a
top-level module or subpackage (``lmcourse.exercises.nb05_attention`` counts as ``exercises``).

The rule for *built in*: the first notebook from 01 on that imports the module. Notebook 00 is the tour
that tries pieces the later notebooks build, and the modules in :data:`SUPPORT` (data, display, checking,
seeding) are used by the notebooks but built by none. ``tests/course/test_module_map.py`` checks that the
committed table is current and that every notebook a module's docstrings name imports that module.

    python docs/make_module_map.py           # rewrite docs/modules.md
    python docs/make_module_map.py --check   # exit 1 if docs/modules.md is out of date
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "modules.md"

# Modules the notebooks use but none builds: the course's data, display, self-checks and quizzes (and the
# language they speak), sizes, seeding.
SUPPORT = {"bertviz_offline", "data", "device", "exercises", "glossary", "language", "parallel_corpus", "profiles",
           "quiz", "seeds", "sentiment_data", "viz"}


def package_modules(root: Path = ROOT) -> list[str]:
    """The top-level modules and subpackages of ``lmcourse``, sorted (``__init__`` is the package itself)."""
    package = root / "lmcourse"
    names = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    return sorted(names)


def reexports(root: Path = ROOT) -> dict[str, str]:
    """``{name: module}`` for the names ``lmcourse/__init__.py`` imports from its modules."""
    tree = ast.parse((root / "lmcourse" / "__init__.py").read_text(encoding="utf-8"))
    return {alias.asname or alias.name: node.module.split(".")[0]
            for node in tree.body if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
            for alias in node.names}


def _code_cells(notebook: Path):
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "code":
            lines = "".join(cell["source"]).splitlines()
            # IPython magics and shell lines are not Python; blank them so line numbers stay put
            yield ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines))


def notebook_imports(notebook: Path, root: Path = ROOT) -> set[str]:
    """The ``lmcourse`` modules one notebook's code cells import (see the module docstring for what counts)."""
    modules, names = set(package_modules(root)), reexports(root)
    found: set[str] = set()
    for tree in _code_cells(notebook):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[1] for alias in node.names
                          if alias.name.startswith("lmcourse.") and alias.name.split(".")[1] in modules}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                parts = node.module.split(".")
                if parts[0] == "lmcourse" and len(parts) > 1 and parts[1] in modules:
                    found.add(parts[1])
                elif node.module == "lmcourse":
                    found |= {alias.name if alias.name in modules else names[alias.name]
                              for alias in node.names if alias.name in modules or alias.name in names}
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                  and node.value.id == "lmcourse" and node.attr in modules):
                found.add(node.attr)
    return found


def notebooks(root: Path = ROOT) -> dict[str, Path]:
    """``{"05": notebooks/05_self_attention.ipynb, …}`` in order."""
    return {p.name[:2]: p for p in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))}


def module_map(root: Path = ROOT) -> dict[str, list[str]]:
    """``{module: [numbers of the notebooks that import it, in order]}`` for every module (empty if none)."""
    users: dict[str, list[str]] = {m: [] for m in package_modules(root)}
    for number, path in notebooks(root).items():
        for module in notebook_imports(path, root):
            users[module].append(number)
    return users


def built_in(module: str, users: list[str]) -> str | None:
    """The number of the notebook that builds ``module`` by the rule above, or None."""
    if module in SUPPORT:
        return None
    return next((n for n in users if n != "00"), None)


def render(root: Path = ROOT) -> str:
    """The text of docs/modules.md."""
    files = notebooks(root)
    users = module_map(root)
    lines = [
        "# Which notebook builds each `lmcourse` module, and which use it",
        "",
        "Generated by `python docs/make_module_map.py` from the notebooks' imports; do not edit by hand",
        "(`tests/course/test_module_map.py` fails when this file is out of date). *Built in*: the first notebook",
        "from 01 on that imports the module (notebook 00 is a tour that tries pieces built later). Modules",
        "marked *support* hold the course's data, display, self-checks, sizes and seeding: the notebooks use",
        "them, none builds them.",
        "",
        "| module | built in | used in |",
        "|---|---|---|",
    ]
    unused = []
    for module, numbers in users.items():
        if not numbers:
            unused.append(module)
            continue
        built = built_in(module, numbers)
        first = f"[{built}](../notebooks/{files[built].name})" if built else "support"
        rest = ", ".join(n for n in numbers if n != built)
        lines.append(f"| `lmcourse.{module}` | {first} | {rest or '—'} |")
    lines += ["", "Not imported by any notebook (used by the package itself, the Makefile or the benchmarks): "
              + ", ".join(f"`lmcourse.{m}`" for m in unused) + "."]
    lines += ["", "Notebooks: " + ", ".join(f"{n} `{p.stem[3:]}`" for n, p in files.items()) + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that docs/modules.md is current")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = TABLE.is_file() and TABLE.read_text(encoding="utf-8") == text
        verdict = "current" if current else "out of date: run python docs/make_module_map.py"
        print(f"{TABLE.relative_to(ROOT)} is {verdict}")
        return 0 if current else 1
    TABLE.write_text(text, encoding="utf-8")
    print(f"wrote {TABLE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
