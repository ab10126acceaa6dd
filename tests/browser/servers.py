"""Starting and always stopping a JupyterLab server for tests (localhost only)."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    """``(status, body)`` of a GET request to ``url``."""
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


@contextlib.contextmanager
def running_lab(cmd: list[str], *, base: str, token: str, log_path: Path, cwd=None, env=None, timeout_s: float = 90):
    """Run ``cmd`` (which starts JupyterLab at ``base``) until its API answers; stop it on exit, failure included.

    The server runs in its own process group, so a wrapper such as ``make`` and the server
    it starts are stopped together (SIGTERM, then SIGKILL after 20 s).
    """
    log = open(log_path, "w+")
    server = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            assert server.poll() is None, f"JupyterLab exited early:\n{log_path.read_text()[-2000:]}"
            try:
                json.loads(get(f"{base}/api/status?token={token}")[1])
                break
            except OSError:
                assert time.monotonic() < deadline, \
                    f"JupyterLab did not answer within {timeout_s:.0f} s:\n{log_path.read_text()[-2000:]}"
                time.sleep(0.5)
        yield server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()
