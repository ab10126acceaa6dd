"""What a learner sees, checked in a real (headless) Chromium with the network cut off.

Needs Debian's chromium (`.ci/run` installs it) and the Python playwright package; skipped
with a reason where either is missing. Screenshots go to pytest's temporary directory.
"""

import shutil
from pathlib import Path

import nbformat
import pytest
import torch

from lmcourse import bertviz_offline as bo
from tools import classroom

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install chromium)")]


@pytest.fixture
def page():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.requested = []
            page.errors = []
            page.route("http*://**", lambda route: (page.requested.append(route.request.url), route.abort()))
            page.on("pageerror", lambda err: page.errors.append(str(err)))
            yield page
        finally:
            browser.close()


def test_bertviz_views_render_svg_with_the_network_off(page, tmp_path):
    torch.manual_seed(0)
    attention = [torch.softmax(torch.randn(1, 2, 4, 4), dim=-1) for _ in range(2)]
    tokens = ["the", "cat", "sat", "down"]
    html = (bo.head_view(attention, tokens, include_libraries=True).data
            + bo.model_view(attention, tokens, include_libraries=False).data)
    (tmp_path / "views.html").write_text(f"<!doctype html><html><body>{html}</body></html>", encoding="utf-8")
    page.goto((tmp_path / "views.html").as_uri())
    page.wait_for_function("document.querySelectorAll('svg').length >= 2", timeout=15_000)
    page.screenshot(path=str(tmp_path / "bertviz.png"), full_page=True)
    labels = page.eval_on_selector_all("svg text", "els => els.map(e => e.textContent)")
    assert all(tok in labels for tok in tokens), labels
    assert page.errors == [], page.errors
    assert page.requested == [], f"the page tried to reach the network: {page.requested}"


def test_a_slide_deck_opens_offline_and_moves_between_slides(page, tmp_path):
    notebook = NOTEBOOKS[0].with_name("05_self_attention.ipynb")
    deck = classroom.build_slides([notebook], tmp_path)[0]
    tried = []
    page.route("**/*", lambda route: (tried.append(route.request.url), route.abort())
               if route.request.url.startswith("http") else route.continue_())
    page.goto(deck.as_uri())
    page.wait_for_selector(".reveal.ready", timeout=20_000)       # reveal.js adds "ready" once initialised
    first = page.inner_text(".reveal .slides section.present h1")
    slides = page.eval_on_selector_all(".reveal .slides > section", "els => els.length")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("!document.querySelector('.reveal .slides > section.present h1')", timeout=5_000)
    page.screenshot(path=str(tmp_path / "slide.png"))
    page.wait_for_selector(".MathJax_CHTML", state="attached", timeout=20_000)   # formulas typeset offline
    assert first.startswith("05") and slides >= 10
    assert page.errors == [], page.errors
    # reveal.js, require.js, jQuery and MathJax are local files; only web fonts and the optional
    # widget and mermaid loaders were asked of the network (and refused)
    libraries = ("reveal", "require", "jquery", "mathjax")
    assert not [url for url in tried if any(lib in url.lower() for lib in libraries)], tried


def _printed_lines(cell) -> int:
    """How many lines a code cell shows: its source and its text outputs (a picture counts as 15)."""
    lines = len(cell.source.splitlines())
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        text = out.get("text") or ("" if "image/png" in data else data.get("text/plain", ""))
        lines += 15 if "image/png" in data else len(text.splitlines())
    return lines


def test_the_longest_cell_of_the_course_scrolls_into_view_on_its_slide(page, tmp_path):
    lines, notebook, cell_id = max((_printed_lines(c), path, c.id) for path in NOTEBOOKS
                                   for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    deck = classroom.build_slides([notebook], tmp_path)[0]
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(deck.as_uri())
    page.wait_for_selector(".reveal.ready", timeout=20_000)
    cell = f"document.getElementById('cell-id={cell_id}')"
    h, v = page.evaluate(f"""() => {{
        const slide = {cell}.closest('section'), stack = slide.parentElement;
        return [[...stack.parentElement.children].indexOf(stack), [...stack.children].indexOf(slide)]; }}""")
    page.evaluate(f"() => {{ location.hash = '#/{h}/{v}'; }}")
    page.wait_for_function(f"{cell}.closest('section').classList.contains('present')", timeout=5_000)
    slide = page.evaluate_handle(f"{cell}.closest('section')")
    box = slide.bounding_box()
    bottom, end = box["y"] + box["height"], f"() => {cell}.getBoundingClientRect().bottom"
    assert box["y"] >= 0 and bottom <= 720 + 1, f"the slide runs off the screen: {box}"
    assert page.evaluate(end) > bottom, f"{notebook.name} {cell_id} ({lines} lines) fits one screen; nothing to show"
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(60):                                   # scroll with the wheel, as a teacher would
        page.mouse.wheel(0, 200)
        page.wait_for_timeout(50)
        if page.evaluate(end) <= bottom:
            break
    page.screenshot(path=str(tmp_path / "longest_cell.png"))
    assert box["y"] <= page.evaluate(end) <= bottom + 1, \
        f"{notebook.name} {cell_id}: the end of the longest cell cannot be scrolled onto the slide"
    assert page.errors == [], page.errors
