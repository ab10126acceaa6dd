"""What a learner sees, checked in a real (headless) Chromium with the network cut off.

Needs Debian's chromium (`.ci/run` installs it) and the Python playwright package; skipped
with a reason where either is missing. Screenshots go to pytest's temporary directory.
"""

import shutil

import pytest
import torch

from lmcourse import bertviz_offline as bo

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
    from pathlib import Path

    from lmcourse import classroom

    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "05_self_attention.ipynb"
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
