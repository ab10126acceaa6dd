"""One rule for ``__all__``: only ``lmcourse/__init__.py`` has one (what ``from lmcourse import *`` gives and
what the package re-exports); a module's public names are simply its names without a leading underscore."""

import ast
from pathlib import Path

import pytest

import lmcourse

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(p for p in (ROOT / "lmcourse").rglob("*.py") if "vendor" not in p.parts)


def _defines_all(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return True
    return False


def test_only_the_package_init_defines_all():
    init = ROOT / "lmcourse" / "__init__.py"
    offenders = [str(p.relative_to(ROOT)) for p in MODULES if p != init and _defines_all(p)]
    assert not offenders, f"only lmcourse/__init__.py may define __all__; also defined in: {', '.join(offenders)}"


@pytest.mark.parametrize("name", lmcourse.__all__)
def test_every_name_the_package_exports_exists(name):
    assert hasattr(lmcourse, name)


def test_the_package_exports_what_notebooks_import_from_it():
    used = {"Profile", "get_profile", "pick_device", "set_seed", "environment_summary", "__version__"}
    assert used <= set(lmcourse.__all__)
