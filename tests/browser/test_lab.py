"""`make lab` starts JupyterLab with the course and its settings: started headless, asked over localhost, stopped."""

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from servers import free_port, get, running_lab

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.lab


@pytest.mark.skipif(shutil.which("make") is None or not (ROOT / ".venv" / "bin" / "jupyter").exists(),
                    reason="needs make and the .venv that `make setup` creates")
def test_make_lab_serves_the_course_on_localhost(tmp_path):
    port, token = free_port(), "lmcourse-test"
    flags = (f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token} "
             f"--ServerApp.port_retries=0 --LabServerApp.extension_manager=readonly")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"))
    base = f"http://127.0.0.1:{port}"
    # -o: use the environment as it is; a test never reinstalls it.
    with running_lab(["make", "-s", "-o", ".venv/.installed", "lab", f"LAB_FLAGS={flags}"], base=base, token=token,
                     log_path=tmp_path / "lab.log", cwd=ROOT, env=env) as server:
        listing = json.loads(get(f"{base}/api/contents?token={token}")[1])
        assert "00_welcome.ipynb" in [item["name"] for item in listing["content"]]
        status, page = get(f"{base}/lab/tree/00_welcome.ipynb?token={token}")
        assert status == 200 and b"JupyterLab" in page
        # jupyter-config/ (which `make lab` puts on JUPYTER_CONFIG_PATH): no news fetched, none asked about.
        schema = json.loads(get(f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification"
                                f"?token={token}")[1])["schema"]   # the course's overrides become its defaults
        defaults = {key: value["default"] for key, value in schema["properties"].items()}
        assert defaults["fetchNews"] == "false" and defaults["checkForUpdates"] is False
        config = re.search(rb'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.DOTALL)
        assert json.loads(config.group(1))["news"] == {"disabled": True}   # LabApp.news_url is None
    assert server.poll() is not None, "the server must be stopped"
