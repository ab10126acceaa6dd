"""A student copy, with every solution removed, still runs (ci profile).

nbval runs each notebook whole; the cells before its first solution are the same in the student
copy, so only the rest can break when solutions go. The test runs that rest, with the earlier
cells it reads names from (``slicing.exercise_slice``), not the whole copy a second time.
"""

from pathlib import Path

import nbformat
import pytest
from jupyter_client import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from slicing import exercise_slice
from tools import classroom

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_copy_executes_without_errors(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    student = exercise_slice(nb, classroom.student_copy(nb))
    # IPC sockets instead of TCP ports: nbval starts kernels in the other xdist worker at the same
    # time, and two kernels that pick the same free port lose each other's messages (a silent hang)
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(tmp_path / "kernel"))
    client = NotebookClient(student, km=km, timeout=300, startup_timeout=120,
                            resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except CellExecutionError as err:
        pytest.fail(f"{path.name}: the student copy stops with an error (a cell needs a removed solution?)\n"
                    f"{str(err)[-1500:]}")
    finally:
        if km.has_kernel:                 # nbclient shuts down only kernels it started itself
            km.shutdown_kernel(now=True)
    verdicts = [o.get("text", "") for c in student.cells if "exercise" in c.metadata.get("tags", [])
                for o in c.get("outputs", [])]
    assert any("not written yet" in v for v in verdicts), "exercise cells should report that they are unwritten"
