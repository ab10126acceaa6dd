"""slicing: the student-copy test runs the part after the first solution and only the cells it reads from."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from slicing import exercise_slice, names
from tools import classroom


@pytest.mark.parametrize("source, bound, read", [
    ("x = f(x)", {"x"}, {"f", "x"}),                                      # reads the x of an earlier cell
    ("y = 1\nz = y + w", {"y", "z"}, {"w"}),                              # y is this cell's own by then
    ("for i in range(n):\n    total = i", {"i", "total"}, {"n"}),
    ("def g(a, b=c):\n    return a + b + d", {"g"}, {"c", "d"}),
    ("h = lambda t: t * k", {"h"}, {"k"}),
    ("squares = [v * v for v in values if v > m]", {"squares"}, {"values", "m"}),
    ("import numpy as np\nfrom torch import nn\nimport os.path", {"np", "nn", "os"}, set()),
    ("%matplotlib inline\nprint(len(s))", set(), {"s"}),                  # magics and builtins need no cell
    ("try:\n    q = r\nexcept ValueError as err:\n    print(err)", {"q", "err"}, {"r"}),
    ("class Model:\n    size = width\n    def f(self):\n        return self.size", {"Model"}, {"width"}),
])
def test_names_finds_what_a_cell_binds_and_what_it_reads_first(source, bound, read):
    assert names(source) == (bound, read)


def _notebook():
    cells = [new_code_cell("import math"), new_code_cell("data = [1, 2, 3]"),
             new_code_cell("model = train(data)  # slow, and the exercise never uses it"),
             new_code_cell("def train(d):\n    return d"), new_markdown_cell("## Exercise"),
             new_code_cell("def mean(xs):\n    return None  # TODO"),
             new_code_cell("def mean(xs):\n    return sum(xs) / len(xs)", metadata={"tags": ["solution"]}),
             new_code_cell("print(mean(data), math.pi)")]
    return new_notebook(cells=cells)


def test_the_slice_keeps_the_tail_and_the_cells_it_reads_from_and_drops_the_rest():
    nb = _notebook()
    sliced = exercise_slice(nb, classroom.student_copy(nb))
    kept = [c.source for c in sliced.cells if c.cell_type == "code"]
    assert kept == ["import math", "data = [1, 2, 3]", "def mean(xs):\n    return None  # TODO",
                    "print(mean(data), math.pi)"]
    assert any(c.cell_type == "markdown" for c in sliced.cells)


def test_a_later_cell_that_needs_a_removed_solution_still_fails_in_the_slice():
    nb = _notebook()
    nb.cells.append(new_code_cell("print(helper(3))"))
    nb.cells.insert(7, new_code_cell("def helper(x):\n    return x", metadata={"tags": ["solution"]}))
    sliced = exercise_slice(nb, classroom.student_copy(nb))
    namespace: dict = {}
    with pytest.raises(NameError, match="helper"):
        for cell in (c for c in sliced.cells if c.cell_type == "code"):
            exec(cell.source, namespace)  # noqa: S102 - the test's own cells
        raise AssertionError("the slice ran without the removed solution")  # pragma: no cover


def test_a_notebook_without_solutions_is_kept_whole():
    nb = new_notebook(cells=[new_code_cell("a = 1"), new_code_cell("b = 2")])
    assert [c.source for c in exercise_slice(nb, classroom.student_copy(nb)).cells] == ["a = 1", "b = 2"]


def test_the_slice_changes_neither_notebook():
    nb = _notebook()
    student = classroom.student_copy(nb)
    before = (nbformat.writes(nb), nbformat.writes(student))
    exercise_slice(nb, student)
    assert (nbformat.writes(nb), nbformat.writes(student)) == before
