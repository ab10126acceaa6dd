"""A learner's view, tested for real: JupyterLab in headless Chromium runs course notebooks.

Starts JupyterLab on localhost with a temporary config and a temporary copy of the notebooks,
opens them in Chromium (Debian's, driven by Python playwright), runs every cell and checks
what a learner would see: no error output, matplotlib figures, an ipywidgets control whose
output changes when moved, and a bertviz view that renders its SVG with the network cut off.
Screenshots are saved under pytest's temporary directory. The server is always shut down.
"""

import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from servers import free_port, running_lab

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install chromium)")]
TOKEN = "lmcourse-browser-test"
BERTVIZ_NOTEBOOK = [
    "import torch\nfrom lmcourse import bertviz_offline\n\ntorch.manual_seed(0)\n"
    "tokens = ['the', 'cat', 'sat', 'down']\n"
    "attention = [torch.softmax(torch.randn(1, 2, 4, 4), dim=-1) for _ in range(2)]",
    "bertviz_offline.head_view(attention, tokens)",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a temporary folder with notebook 05 and a small bertviz notebook."""
    work = tmp_path_factory.mktemp("lab")
    root = work / "notebooks"
    root.mkdir()
    shutil.copy(ROOT / "notebooks" / "05_self_attention.ipynb", root)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in BERTVIZ_NOTEBOOK])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "bertviz_offline.ipynb")
    port = free_port()
    env = dict(os.environ, LMCOURSE_PROFILE="ci", JUPYTER_CONFIG_DIR=str(work / "config"),
               JUPYTER_RUNTIME_DIR=str(work / "runtime"), JUPYTER_DATA_DIR=str(work / "data"))
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
           "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    base = f"http://127.0.0.1:{port}"
    with running_lab(cmd, base=base, token=TOKEN, log_path=work / "lab.log", env=env):
        yield base


@pytest.fixture
def page(lab):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.outside = []
            # The network is off for everything but the local JupyterLab server.
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(lab)
                       else (page.outside.append(route.request.url), route.abort()))
            yield page
        finally:
            browser.close()


def _run_all(page, base: str, name: str, timeout_s: float = 240) -> None:
    """Open notebook ``name``, wait for its kernel, run every cell and wait until all have run."""
    workspace = name.split(".")[0].replace("_", "-")  # a fresh workspace: nothing restored from another test
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{name}?reset&token={TOKEN}")
    page.wait_for_function(
        "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
        " && w.sessionContext.session.kernel.status === 'idle'; }", timeout=120_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " const cells = w.content.widgets.filter(c => c.model.type === 'code');"
        " return cells.every(c => c.model.executionCount !== null && !c.node.classList.contains('jp-mod-pending'))"
        " && w.sessionContext.session.kernel.status === 'idle'; }", timeout=timeout_s * 1000, polling=1000)


def _errors(page) -> list[str]:
    return page.eval_on_selector_all('[data-mime-type="application/vnd.jupyter.error"]',
                                     "els => els.map(e => e.textContent.slice(0, 300))")


def test_course_notebook_runs_in_jupyterlab_with_plots_and_a_live_widget(page, lab, tmp_path):
    _run_all(page, lab, "05_self_attention.ipynb")
    page.screenshot(path=str(tmp_path / "05_after_run.png"))
    assert _errors(page) == []
    assert page.locator(".jp-RenderedImage img").count() >= 3, "matplotlib figures should show as images"

    widget = page.locator(".widget-interact").first
    widget.scroll_into_view_if_needed()
    before = widget.locator("img").first.get_attribute("src")
    widget.locator("select").first.select_option("cat")   # pick another query word
    page.wait_for_function(
        "before => { const img = document.querySelector('.widget-interact img'); return img && img.src !== before; }",
        arg=before, timeout=60_000)
    widget.screenshot(path=str(tmp_path / "05_widget.png"))
    assert widget.locator("img").first.get_attribute("src") != before


def test_bertviz_renders_in_jupyterlab_with_the_network_off(page, lab, tmp_path):
    _run_all(page, lab, "bertviz_offline.ipynb", timeout_s=120)
    page.wait_for_function("() => document.querySelectorAll('.jp-OutputArea svg text').length >= 8", timeout=60_000)
    page.screenshot(path=str(tmp_path / "bertviz.png"))
    labels = page.eval_on_selector_all(".jp-OutputArea svg text", "els => els.map(e => e.textContent)")
    assert {"the", "cat", "sat", "down"} <= set(labels)
    assert _errors(page) == []
    assert page.outside == [], f"the page tried to reach the network: {page.outside}"
