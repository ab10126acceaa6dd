"""`make lab` starts JupyterLab with the course: started headless here, asked over localhost, stopped."""

import json
import os
import shutil
from pathlib import Path

import pytest

from servers import free_port, get, running_lab

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.lab


@pytest.mark.skipif(shutil.which("make") is None or not (ROOT / ".venv" / "bin" / "jupyter").exists(),
                    reason="needs make and the .venv that `make setup` creates")
def test_make_lab_serves_the_course_on_localhost(tmp_path):
    port, token = free_port(), "lmcourse-test"
    flags = (f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token} "
             f"--ServerApp.port_retries=0 --LabApp.news_url=None --LabServerApp.extension_manager=readonly")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    base = f"http://127.0.0.1:{port}"
    with running_lab(["make", "-s", "lab", f"LAB_FLAGS={flags}"], base=base, token=token,
                     log_path=tmp_path / "lab.log", cwd=ROOT, env=env) as server:
        listing = json.loads(get(f"{base}/api/contents?token={token}")[1])
        assert "00_welcome.ipynb" in [item["name"] for item in listing["content"]]
        status, page = get(f"{base}/lab/tree/00_welcome.ipynb?token={token}")
        assert status == 200 and b"JupyterLab" in page
    assert server.poll() is not None, "the server must be stopped"
