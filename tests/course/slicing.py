"""The cells a student copy needs to run its exercises: the part after the first removed solution,
and, before it, only the cells that define what that part uses (a slice of the notebook by names).

Everything before the first solution cell is the same in the student copy as in the notebook, and
nbval runs the notebook; what removing solutions can break is the part after it. So
:func:`exercise_slice` keeps that tail whole and, going backwards, each earlier code cell that binds a
name the kept cells read (then what *that* cell reads, and so on). A cell that binds nothing the tail
needs (training a model the exercises never touch, a plot) is left out; the markdown stays.
"""

from __future__ import annotations

import ast
import builtins
import copy

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

# names IPython puts in a notebook's namespace without an import
_IPYTHON_NAMES = {"get_ipython", "display", "In", "Out", "exit", "quit", "_", "__", "___"}
_SOLUTION_TAG = "solution"
_COMPOUND = (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try, ast.Match)


def _python(source: str) -> ast.Module:
    """A code cell as a Python AST, its magics (``%matplotlib``, ``!pip``) turned into calls first."""
    return ast.parse(TransformerManager().transform_cell(source))


def _scope_names(node: ast.AST) -> tuple[set[str], set[str]]:
    """(stores, loads) of the names in ``node``, not looking into nested functions, lambdas or classes."""
    stores, loads = set(), set()
    todo = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, ast.Name):
            (loads if isinstance(n.ctx, ast.Load) else stores).add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stores.add(n.name)
            loads |= _free_in_function(n)
            continue
        elif isinstance(n, ast.Lambda):
            loads |= _free_in_function(n)
            continue
        elif isinstance(n, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            inner_stores, inner_loads = set(), set()
            for child in ast.iter_child_nodes(n):
                s, l_ = _scope_names(child)
                inner_stores |= s
                inner_loads |= l_
            loads |= inner_loads - inner_stores              # the loop variables are the comprehension's own
            continue
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            stores.update((a.asname or a.name).split(".")[0] for a in n.names if a.name != "*")
        elif isinstance(n, ast.ExceptHandler) and n.name:
            stores.add(n.name)
        elif isinstance(n, ast.MatchAs | ast.MatchStar) and n.name:
            stores.add(n.name)
        todo.extend(ast.iter_child_nodes(n))
    return stores, loads


def _free_in_function(fn: ast.AST) -> set[str]:
    """The names a function, lambda or class body reads from outside: its loads minus its own locals."""
    body = fn.body if isinstance(fn.body, list) else [fn.body]
    decorators = getattr(fn, "decorator_list", [])
    args = fn.args if hasattr(fn, "args") and isinstance(fn.args, ast.arguments) else None
    local = set()
    outside: set[str] = set()
    if args is not None:
        every = args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
        local |= {a.arg for a in every}
        for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
            outside |= _scope_names(default)[1]
    inner_loads = set()
    for stmt in body:
        s, l_ = _scope_names(stmt)
        local |= s
        inner_loads |= l_
    for d in decorators:
        outside |= _scope_names(d)[1]
    return outside | (inner_loads - local)


def names(source: str) -> tuple[set[str], set[str]]:
    """(bound, read): the names a cell binds at its top level, and those it reads before binding them.

    Statements are taken in order: ``x = f(x)`` reads the ``x`` of an earlier cell. A compound
    statement (a loop, ``with``, ``if``…) counts its own bindings as made before its reads, and a
    function body reads what it does not bind itself. Errors only ever go one way: a read too many
    keeps an extra cell in the slice; none is missed."""
    bound: set[str] = set()
    read: set[str] = set()
    for stmt in _python(source).body:
        stores, loads = _scope_names(stmt)
        earlier = bound | (stores if isinstance(stmt, _COMPOUND) else set())
        read |= loads - earlier
        bound |= stores
    return bound, read - set(dir(builtins)) - _IPYTHON_NAMES


def exercise_slice(nb: nbformat.NotebookNode, student: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``student`` (the student copy of ``nb``) cut to what its exercises need, as explained above.

    Cells of the student copy before the place of ``nb``'s first solution cell are kept only if a
    later kept cell reads a name they bind; every cell from that place on is kept. Returns a new
    notebook; neither argument is changed. Without solution cells the whole copy is returned."""
    originals = [c for c in nb.cells if c.cell_type == "code"]
    first = next((i for i, c in enumerate(originals) if _SOLUTION_TAG in c.metadata.get("tags", [])), None)
    out = copy.copy(student)
    if first is None:
        return out
    head_ids = {c.get("id") for c in originals[:first]}
    code = [c for c in student.cells if c.cell_type == "code"]
    n_head = next((i for i, c in enumerate(code) if c.get("id") not in head_ids), len(code))
    needed: set[str] = set()
    for cell in reversed(code[n_head:]):                  # what the tail reads before the tail binds it
        bound, read = names(cell.source)
        needed = (needed - bound) | read
    keep = {id(c) for c in code[n_head:]}
    for cell in reversed(code[:n_head]):
        bound, read = names(cell.source)
        if bound & needed:
            keep.add(id(cell))
            needed = (needed - bound) | read
    out.cells = [c for c in student.cells if c.cell_type != "code" or id(c) in keep]
    return out
