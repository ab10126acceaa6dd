"""Shared pytest setup for tests/ and notebooks/ (nbval).

Notebooks under test run with the small ``ci`` profile unless LMCOURSE_PROFILE says
otherwise, and the run ends with a table of every notebook nbval executed.
"""

import os
from collections import defaultdict

import pytest

os.environ.setdefault("LMCOURSE_PROFILE", "ci")
os.environ.setdefault("MPLBACKEND", "Agg")
# Tests run in parallel on few cores: one thread each, and idle OpenMP threads that sleep
# instead of spinning (spinning threads of one process starve the others).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The Chinese edition's notebooks hold the English notebooks' code cell for cell
# (tests/course/test_chinese_edition.py checks it), so nbval runs two of them, in their own folder
# where checkers and quizzes speak Chinese: one with a checker and a quiz whose stored outputs
# are compared, one with the course's setup. The rest would run the same code again.
ZH_NOTEBOOKS_RUN = {"00_welcome.ipynb", "05_self_attention.ipynb"}


def pytest_ignore_collect(collection_path, config):
    if collection_path.suffix == ".ipynb" and collection_path.parent.name == "zh" \
            and collection_path.parent.parent.name == "notebooks":
        return collection_path.name not in ZH_NOTEBOOKS_RUN
    return None


_notebooks: dict[str, dict] = defaultdict(lambda: {"cells": 0, "seconds": 0.0, "failed": 0, "peak_mib": None})


def _kernel_peak_mib(notebook_item) -> float | None:
    """Peak resident memory of the kernel that ran a notebook (Linux /proc VmHWM), in MiB."""
    try:
        pid = notebook_item.kernel.km.provisioner.pid
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            line = next(line for line in f if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    except (AttributeError, OSError, StopIteration, ValueError):
        return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After a notebook's last cell, before nbval stops its kernel, note the kernel's peak memory."""
    if item.nodeid.split("::")[0].endswith(".ipynb") and (nextitem is None or nextitem.parent is not item.parent):
        peak = _kernel_peak_mib(item.parent)
        if peak is not None:
            item.user_properties.append(("kernel_peak_mib", peak))
    yield


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if not path.endswith(".ipynb"):
        return
    entry = _notebooks[path]
    entry["seconds"] += report.duration
    for name, value in report.user_properties:
        if name == "kernel_peak_mib":
            entry["peak_mib"] = value
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
        peak = f"{entry['peak_mib']:7.0f} MiB peak" if entry["peak_mib"] is not None else "   peak n/a"
        terminalreporter.write_line(f"{path:45} {entry['cells']:3d} cells {entry['seconds']:7.1f} s {peak}  {status}")
