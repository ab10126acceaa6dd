"""`make lab` starts JupyterLab with the course: started headless here, asked over localhost, stopped."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.lab


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


@pytest.mark.skipif(shutil.which("make") is None or not (ROOT / ".venv" / "bin" / "jupyter").exists(),
                    reason="needs make and the .venv that `make setup` creates")
def test_make_lab_serves_the_course_on_localhost(tmp_path):
    port, token = _free_port(), "lmcourse-test"
    flags = (f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token} "
             f"--ServerApp.port_retries=0 --LabApp.news_url=None --LabServerApp.extension_manager=readonly")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    log = open(tmp_path / "lab.log", "w+")
    server = subprocess.Popen(["make", "-s", "lab", f"LAB_FLAGS={flags}"], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, listing = time.monotonic() + 90, None
        while time.monotonic() < deadline and listing is None:
            assert server.poll() is None, f"make lab exited early:\n{(tmp_path / 'lab.log').read_text()[-2000:]}"
            try:
                status, body = _get(f"{base}/api/contents?token={token}")
                listing = json.loads(body)
            except OSError:
                time.sleep(0.5)
        assert listing is not None, f"JupyterLab did not answer within 90 s:\n{(tmp_path / 'lab.log').read_text()[-2000:]}"
        names = [item["name"] for item in listing["content"]]
        assert "00_welcome.ipynb" in names
        status, page = _get(f"{base}/lab/tree/00_welcome.ipynb?token={token}")
        assert status == 200 and b"JupyterLab" in page
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()
    assert server.poll() is not None
