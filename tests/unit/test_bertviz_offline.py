"""The offline bertviz helper: no remote scripts, libraries inlined once, clear errors."""

import re

import pytest
import torch

from lmcourse import bertviz_offline as bo


def _attention(layers=2, heads=3, t=4):
    torch.manual_seed(0)
    return [torch.softmax(torch.randn(1, heads, t, t), dim=-1) for _ in range(layers)]


TOKENS = ["[CLS]", "the", "cat", "[SEP]"]


@pytest.mark.parametrize("view", [bo.head_view, bo.model_view])
def test_views_reference_no_remote_script(view):
    html = view(_attention(), TOKENS, include_libraries=True).data
    libraries = bo.libraries_html()
    assert html.startswith(libraries)
    assert not re.search(r"<script[^>]*\bsrc=", html, re.I), "a <script src=…> would need the network"
    assert "cdnjs" not in html
    assert "require.config" not in html[len(libraries):], "bertviz's CDN paths must be removed"
    assert "define('d3'" in libraries and "define('jquery'" in libraries


def test_libraries_are_inlined_in_the_first_view_only(monkeypatch):
    monkeypatch.setattr(bo, "_libraries_sent", False)
    first = bo.head_view(_attention(), TOKENS).data
    second = bo.model_view(_attention(), TOKENS).data
    assert "RequireJS" in first and len(first) > 300_000
    assert "RequireJS" not in second and len(second) < 100_000


def test_inlined_scripts_cannot_close_their_script_element_early():
    html = bo.libraries_html()
    body = html[len("<script>"): -len("</script>\n")]
    assert "</script" not in body.lower()


@pytest.mark.parametrize("attention, tokens, message", [
    ([], TOKENS, "attention must hold one tensor per layer"),
    ([torch.rand(3, 4, 4)], TOKENS, r"attention\[0\] must have shape \(1, heads, T, T\); got \(3, 4, 4\)"),
    ([torch.rand(1, 2, 4, 4)], TOKENS[:3], "tokens must have 4 entries"),
])
def test_bad_input_is_named(attention, tokens, message):
    with pytest.raises(ValueError, match=message):
        bo.head_view(attention, tokens)
