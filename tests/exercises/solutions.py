"""Run a notebook's reference-solution cells (tagged "solution") so tests can use their functions.

The solutions live once, in the notebooks; checker tests take them from there, so a test
proves that the very code a learner can reveal is accepted by its checker.
"""

import contextlib
import io
import json
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

# what the solution cells take from the notebook's earlier cells: its imports, and `ex`, its checkers
PRELUDE = "import math\nimport torch\nimport torch.nn.functional as F\nfrom lmcourse.exercises import nb{stem} as ex\n"


def solution_sources(stem: str) -> list[str]:
    """Source of every code cell tagged "solution" in notebooks/<stem>.ipynb, in order."""
    nb = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"]
            if c["cell_type"] == "code" and "solution" in c.get("metadata", {}).get("tags", [])]


def solution_namespace(stem: str) -> dict:
    """Execute the notebook's imports, then its solution cells; return the names they define."""
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(PRELUDE.format(stem=stem), namespace)  # noqa: S102 - trusted course code
        for source in solution_sources(stem):
            exec(source, namespace)  # noqa: S102
    return namespace
