"""A learner's view, tested for real: JupyterLab in headless Chromium runs course notebooks.

Starts JupyterLab on localhost with a temporary config and a temporary copy of the notebooks,
opens them in Chromium (Debian's, driven by Python playwright), runs every cell and checks
what a learner would see: no error output, matplotlib figures, an ipywidgets control whose
output changes when moved, a chat widget that streams a tiny GPT's reply and marks how it ended,
a bertviz view that renders its SVG with the network cut off, and
a key-terms table whose Chinese terms stay on one line, left-aligned, both freshly run and as a
stored output in an untrusted notebook (which JupyterLab sanitizes). `make lab` itself is opened
the way a learner's browser opens it: notebook 00 in front, no news pop-up. Screenshots are
saved under pytest's temporary directory. The servers are always shut down.
"""

import json
import os
import shutil
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from lmcourse import glossary
from servers import free_port, running_lab

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install chromium)")]
TOKEN = "lmcourse-browser-test"
BERTVIZ_NOTEBOOK = [
    ("import torch\nfrom lmcourse import bertviz_offline\n\ntorch.manual_seed(0)\n"
     "tokens = ['the', 'cat', 'sat', 'down']\n"
     "attention = [torch.softmax(torch.randn(1, 2, 4, 4), dim=-1) for _ in range(2)]"),
    "bertviz_offline.head_view(attention, tokens)",
]
# A 1-layer GPT learns two chats by heart in about a second (the same replies for each of 25 seeds tried), then the
# chat widget shows it. Greedy, "hi" gets "hello" and <|end|>; "story" is cut at max_new_tokens=8.
CHAT_NOTEBOOK = [
    ("import torch\nfrom lmcourse import chat\nfrom lmcourse.gpt import GPT, GPTConfig\n"
     "from lmcourse.tokenizers import BPETokenizer\n\n"
     "tok = BPETokenizer(special_tokens=chat.SPECIAL_TOKENS)\n"
     "examples = [chat.encode_chat(tok, [{'role': 'user', 'content': q}, {'role': 'assistant', 'content': a}])\n"
     "            for q, a in [('hi', 'hello'), ('story', 'once upon a time')]]\n"
     "x, y = chat.sft_batch(examples, block_size=40, pad_id=0)\n"
     "torch.manual_seed(0)\n"
     "model = GPT(GPTConfig(block_size=40, vocab_size=tok.vocab_size, n_layer=1, n_head=2, n_embd=32))\n"
     "opt = torch.optim.AdamW(model.parameters(), lr=2e-2)\n"
     "for _ in range(150):\n"
     "    loss = model(x, y)[1]\n    opt.zero_grad()\n    loss.backward()\n    opt.step()\n"
     "loss.item()"),
    "from lmcourse.chatbot import chat_widget\n\nchat_widget(model, tok, max_new_tokens=8)",
]
# Every text the chat transcript shows, in order (the reply streams: partial replies end in the cursor ▌).
STREAM_WATCH = """() => { const t = document.querySelector('.widget-html-content'); window.transcriptSeen = [];
  new MutationObserver(() => window.transcriptSeen.push(t.textContent))
    .observe(t, {childList: true, subtree: true, characterData: true}); }"""
KEY_TERMS = "from lmcourse import glossary\n\nglossary.table()"
# Per table: the most lines any English / 中文 cell wraps to, and every cell's computed text-align.
MEASURE_TABLE = """() => {
  const table = document.querySelector('.jp-OutputArea-output table');
  const lines = cell => { const r = document.createRange(); r.selectNodeContents(cell);
    return new Set([...r.getClientRects()].map(rect => Math.round(rect.top))).size; };
  const rows = [...table.querySelectorAll('tbody tr')];
  return {rows: rows.length, english: Math.max(...rows.map(r => lines(r.cells[0]))),
          chinese: Math.max(...rows.map(r => lines(r.cells[1]))),
          align: [...new Set([...table.querySelectorAll('th, td')].map(c => getComputedStyle(c).textAlign))],
          trusted: window.jupyterapp.shell.currentWidget.content.widgets[0].model.trusted};
}"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a temporary folder with notebook 05, a small bertviz notebook and two key-terms ones."""
    work = tmp_path_factory.mktemp("lab")
    root = work / "notebooks"
    root.mkdir()
    shutil.copy(ROOT / "notebooks" / "05_self_attention.ipynb", root)
    (root / "zh").mkdir()   # the Chinese edition's folder, as in notebooks/zh/
    nbformat.write(_notebook(*map(nbformat.v4.new_code_cell, BERTVIZ_NOTEBOOK)), root / "bertviz_offline.ipynb")
    fresh = _notebook(nbformat.v4.new_code_cell(KEY_TERMS))
    nbformat.write(fresh, root / "key_terms_fresh.ipynb")
    # As a notebook's stored output looks when reopened: not signed here, so JupyterLab sanitizes it.
    table = glossary.table()
    stored = _notebook(nbformat.v4.new_code_cell(KEY_TERMS, execution_count=1, outputs=[nbformat.v4.new_output(
        "execute_result", {"text/html": table._repr_html_(), "text/plain": str(table)}, execution_count=1)]))
    nbformat.write(stored, root / "key_terms_stored.ipynb")
    port = free_port()
    env = dict(os.environ, LMCOURSE_PROFILE="ci", JUPYTER_CONFIG_DIR=str(work / "config"),
               JUPYTER_CONFIG_PATH=str(ROOT / "jupyter-config"), JUPYTERLAB_SETTINGS_DIR=str(work / "settings"),
               JUPYTER_RUNTIME_DIR=str(work / "runtime"), JUPYTER_DATA_DIR=str(work / "data"))
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
           "--LabApp.expose_app_in_browser=True"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    base = f"http://127.0.0.1:{port}"
    with running_lab(cmd, base=base, token=TOKEN, log_path=work / "lab.log", env=env):
        yield base


def _notebook(*cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.fixture
def page(lab):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)   # a busy shared machine loads JupyterLab slowly
            page.outside = []
            # The network is off for everything but the local JupyterLab server.
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(lab)
                       else (page.outside.append(route.request.url), route.abort()))
            yield page
        finally:
            browser.close()


def _run_all(page, base: str, name: str, timeout_s: float = 240) -> None:
    """Open notebook ``name``, wait for its kernel, run every cell and wait until all have run."""
    workspace = name.split(".")[0].replace("_", "-").replace("/", "-")  # fresh: nothing restored from another test
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


def test_chat_widget_streams_a_reply_and_marks_how_it_ended(page, lab, tmp_path):
    _put(lab, "chat_widget.ipynb", _notebook(*map(nbformat.v4.new_code_cell, CHAT_NOTEBOOK)))
    _run_all(page, lab, "chat_widget.ipynb", timeout_s=120)
    assert _errors(page) == []
    transcript = page.locator(".widget-html-content").first
    box = page.locator(".widget-text input").first
    page.evaluate(STREAM_WATCH)
    box.fill("hi")
    box.press("Enter")                                   # Enter sends
    page.wait_for_function("() => document.querySelector('.widget-html-content').textContent"
                           ".includes('[end of turn]')", timeout=60_000)
    assert transcript.text_content() == "You: hiAssistant: hello [end of turn]"
    shown = page.evaluate("() => window.transcriptSeen")
    assert any(text.endswith("▌") and "hello" not in text for text in shown), f"the reply did not stream: {shown}"
    page.get_by_role("button", name="New chat").click()
    page.wait_for_function("() => document.querySelector('.widget-html-content').textContent === ''",
                           timeout=60_000)
    box.fill("story")
    page.get_by_role("button", name="Send").click()    # and so does the button
    page.wait_for_function("() => document.querySelector('.widget-html-content').textContent.includes('[cut:')",
                           timeout=60_000)
    page.screenshot(path=str(tmp_path / "chat_widget.png"))
    assert transcript.text_content() == "You: storyAssistant: once upo [cut: max_new_tokens=8 reached]"
    assert page.outside == [], f"the page tried to reach the network: {page.outside}"


def _put(lab: str, name: str, notebook: nbformat.NotebookNode) -> None:
    request = urllib.request.Request(f"{lab}/api/contents/{name}?token={TOKEN}", method="PUT",
                                     data=json.dumps({"type": "notebook", "format": "json",
                                                      "content": notebook}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).close()


def test_quiz_explains_a_wrong_then_the_right_answer_with_its_formulas_typeset(page, lab, tmp_path):
    from lmcourse import quiz

    cell = nbformat.v4.new_code_cell('from lmcourse import quiz\n\nquiz.show("16_assistant")')
    _put(lab, "quiz.ipynb", _notebook(cell))
    _run_all(page, lab, "quiz.ipynb", timeout_s=120)
    assert _errors(page) == []
    first = quiz.load("16_assistant").questions[0]
    wrong = next(i for i, c in enumerate(first.choices) if not c.right)
    block = page.locator(".widget-vbox .widget-vbox").first
    block.get_by_role("button", name=quiz.LETTERS[wrong], exact=True).click()
    page.wait_for_function("() => document.body.textContent.includes('Not this one')", timeout=60_000)
    assert first.choices[wrong].why[:40] in block.text_content()
    block.get_by_role("button", name=quiz.LETTERS[first.answer], exact=True).click()
    page.wait_for_function("() => document.body.textContent.includes('✔ Right')", timeout=60_000)
    assert first.choices[first.answer].why[:40] in block.text_content()
    assert "1 of 5" in page.locator(".jp-OutputArea").first.text_content()
    # the third question's prompt has $\log 2$: MathJax typesets it in the lab
    page.wait_for_function("() => document.querySelectorAll('.jp-OutputArea mjx-container').length > 0",
                           timeout=60_000)
    page.screenshot(path=str(tmp_path / "quiz.png"), full_page=True)
    assert page.outside == [], f"the page tried to reach the network: {page.outside}"


def test_in_the_chinese_editions_folder_the_quiz_and_the_checkers_speak_chinese(page, lab, tmp_path):
    """A kernel of a notebook in notebooks/zh/ runs in that folder: the one setting the language is read from."""
    from lmcourse import language, quiz

    cells = [nbformat.v4.new_code_cell('from lmcourse.exercises import nb00_welcome as ex\n\n'
                                       'ex.check_count_pairs(lambda text: {})'),
             nbformat.v4.new_code_cell('from lmcourse import quiz\n\nquiz.show("05_self_attention")')]
    _put(lab, "zh/checks_zh.ipynb", _notebook(*cells))
    _run_all(page, lab, "zh/checks_zh.ipynb", timeout_s=120)
    assert _errors(page) == []
    verdict = page.locator(".jp-OutputArea").first.text_content()
    assert language.translate("✘ check_count_pairs: wrong answer on case 1 of 5, input 'to be or not to be'.",
                              "zh") in verdict
    first = quiz.load("05_self_attention", language="zh").questions[0]
    wrong = next(i for i, c in enumerate(first.choices) if not c.right)
    block = page.locator(".widget-vbox .widget-vbox").first
    block.get_by_role("button", name=quiz.LETTERS[wrong], exact=True).click()
    page.wait_for_function("() => document.body.textContent.includes('不是这个')", timeout=60_000)
    assert first.prompt[:15] in block.text_content() and first.choices[wrong].why[:20] in block.text_content()
    page.screenshot(path=str(tmp_path / "quiz_zh.png"), full_page=True)
    assert page.outside == [], f"the page tried to reach the network: {page.outside}"


@pytest.mark.parametrize("name, trusted", [("key_terms_fresh.ipynb", True), ("key_terms_stored.ipynb", False)])
def test_key_terms_table_keeps_terms_on_one_line_and_left_aligned(page, lab, tmp_path, name, trusted):
    if trusted:
        _run_all(page, lab, name, timeout_s=120)
    else:
        page.goto(f"{lab}/lab/workspaces/stored/tree/{name}?reset&token={TOKEN}")
    page.wait_for_selector(".jp-OutputArea-output table tbody tr", timeout=120_000)
    page.screenshot(path=str(tmp_path / name.replace(".ipynb", ".png")))
    measured = page.evaluate(MEASURE_TABLE)
    # JupyterLab's own CSS right-aligns cells and lets a 中文 cell shrink to one character a line.
    assert measured == {"rows": len(glossary.table()), "english": 1, "chinese": 1, "align": ["left"],
                        "trusted": trusted}


@pytest.mark.lab
@pytest.mark.skipif(shutil.which("make") is None or not (ROOT / ".venv" / "bin" / "jupyter").exists(),
                    reason="needs make and the .venv that `make setup` creates")
@pytest.mark.parametrize("target, notebook", [("lab", "00_welcome.ipynb"), ("lab-zh", "zh/00_welcome.ipynb")])
def test_make_lab_opens_notebook_00_in_front_without_a_news_popup(tmp_path, target, notebook):
    """What the learner's browser gets from `make lab` (`make lab-zh`: the Chinese edition): the URL it is
    told to open, opened in Chromium."""
    port, token, opened = free_port(), "lmcourse-make-lab", tmp_path / "opened.txt"
    opener = tmp_path / "opener.py"   # stands in for the learner's browser: records what it is asked to open
    opener.write_text(f"import sys, pathlib\npathlib.Path({str(opened)!r}).write_text(sys.argv[1])\n")
    flags = (f"--ip=127.0.0.1 --port={port} --IdentityProvider.token={token} --ServerApp.port_retries=0 "
             f"--LabApp.expose_app_in_browser=True --ServerApp.browser='{sys.executable} {opener} %s'")
    # Nothing from this machine's own Jupyter settings or saved workspaces: a learner's first start.
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTER_DATA_DIR=str(tmp_path / "data"), JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"), LMCOURSE_PROFILE="ci")
    base = f"http://127.0.0.1:{port}"
    # -o: use the environment as it is; a test never reinstalls it.
    with running_lab(["make", "-s", "-o", ".venv/.installed", target, f"LAB_FLAGS={flags}"], base=base, token=token,
                     log_path=tmp_path / "lab.log", cwd=ROOT, env=env), playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            outside = []
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith((base, "file:"))
                       else (outside.append(route.request.url), route.abort()))
            deadline = time.monotonic() + 60
            while not opened.exists() and time.monotonic() < deadline:
                time.sleep(0.5)
            page.goto(opened.read_text())   # file:…/jpserver-…-open.html, which forwards to the lab
            page.wait_for_function(
                "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                f" return w && w.context && w.context.path === '{notebook}'; }}", timeout=120_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            page.wait_for_timeout(5000)   # the news question would come a moment after the layout is restored
            page.screenshot(path=str(tmp_path / "make_lab.png"))
            toasts = page.eval_on_selector_all(".Toastify__toast", "els => els.map(e => e.textContent)")
            menus = page.eval_on_selector_all(".lm-MenuBar-itemLabel", "els => els.map(e => e.textContent)")
            active = page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path")
        finally:
            browser.close()
    assert active == notebook
    assert menus[:2] == (["文件", "编辑"] if target == "lab-zh" else ["File", "Edit"])  # JupyterLab's own language
    assert toasts == [], f"a notification covers notebook 00: {toasts}"
    assert outside == [], f"the page tried to reach the network: {outside}"
