"""Shared pytest setup for tests/ and notebooks/ (nbval).

Notebooks under test run with the small ``ci`` profile unless LMCOURSE_PROFILE says
otherwise, and the run ends with a table of every notebook nbval executed.
"""

import os
from collections import defaultdict

os.environ.setdefault("LMCOURSE_PROFILE", "ci")
os.environ.setdefault("MPLBACKEND", "Agg")

_notebooks: dict[str, dict] = defaultdict(lambda: {"cells": 0, "seconds": 0.0, "failed": 0})


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if not path.endswith(".ipynb"):
        return
    entry = _notebooks[path]
    entry["seconds"] += report.duration
    if report.when == "call":
        entry["cells"] += 1
        entry["failed"] += report.failed


def pytest_terminal_summary(terminalreporter):
    if not _notebooks:
        return
    profile = os.environ.get("LMCOURSE_PROFILE")
    terminalreporter.write_sep("-", f"notebooks executed by nbval (LMCOURSE_PROFILE={profile})")
    for path, entry in sorted(_notebooks.items()):
        status = "ok" if not entry["failed"] else f"{entry['failed']} cell(s) FAILED"
        terminalreporter.write_line(f"{path:45} {entry['cells']:3d} cells {entry['seconds']:7.1f} s  {status}")
