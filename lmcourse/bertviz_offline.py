"""bertviz views that work offline: the JavaScript libraries are inlined, not fetched.

bertviz's ``head_view`` and ``model_view`` draw attention as interactive SVG, but they load
require.js, d3 and jQuery from a CDN, so without internet they render blank. The functions
here call bertviz, remove every remote reference from its HTML, and put the three libraries
(vendored in ``lmcourse/vendor`` with their licenses) inline — once per kernel session,
in the first view shown, not in every output.

``attention`` is bertviz's format: a sequence with one tensor per layer, each of shape
(batch=1, heads, T, T), e.g. ``model(..., output_attentions=True).attentions``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

VENDOR = Path(__file__).with_name("vendor")
_REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>", re.I)
_REQUIRE_CONFIG = re.compile(r"require\.config\(\{.*?\}\);", re.S)
_libraries_sent = False


def _js_string(source: str) -> str:
    """``source`` as a JavaScript string literal that is safe inside a <script> element."""
    return json.dumps(source).replace("</", "<\\/")


def libraries_html() -> str:
    """One <script> that defines ``requirejs`` (unless the page has it) and the AMD modules
    ``d3`` and ``jquery``, from the vendored files. About 420 KB."""
    require_src, d3_src, jquery_src = (
        (VENDOR / name).read_text(encoding="utf-8") for name in ("require.js", "d3.min.js", "jquery.min.js"))
    return (
        "<script>\n(function () {\n"
        "  var run = eval;  // indirect eval: runs each library in the global scope\n"
        f"  if (typeof window.requirejs !== 'function') {{ run({_js_string(require_src)}); }}\n"
        "  // d3 and jQuery register themselves as globals while `define` is hidden, then as named modules.\n"
        "  var define_ = window.define; window.define = undefined;\n"
        f"  run({_js_string(d3_src)});\n"
        f"  run({_js_string(jquery_src)});\n"
        "  window.define = define_;\n"
        "  var d3 = window.d3, jq = window.jQuery;\n"
        "  window.requirejs.undef('d3'); window.requirejs.undef('jquery');\n"
        "  window.define('d3', [], function () { return d3; });\n"
        "  window.define('jquery', [], function () { return jq; });\n"
        "})();\n</script>\n"
    )


def _offline(html: str, include_libraries: bool | None) -> str:
    global _libraries_sent
    html = _REQUIRE_CONFIG.sub("", _REMOTE_SCRIPT.sub("", html))
    if include_libraries is None:
        include_libraries, _libraries_sent = not _libraries_sent, True
    return (libraries_html() if include_libraries else "") + html


def _check(attention: Sequence, tokens: Sequence[str]) -> None:
    if len(attention) == 0:
        raise ValueError("attention must hold one tensor per layer; got an empty sequence")
    for i, layer in enumerate(attention):
        shape = tuple(getattr(layer, "shape", ()))
        if len(shape) != 4 or shape[0] != 1 or shape[2] != shape[3]:
            raise ValueError(f"attention[{i}] must have shape (1, heads, T, T); got {shape}")
        if shape[2] != len(tokens):
            raise ValueError(f"tokens must have {shape[2]} entries to match attention[{i}]; got {len(tokens)}")


def head_view(attention: Sequence, tokens: Sequence[str], *, include_libraries: bool | None = None, **kwargs):
    """bertviz's head view (every head of one layer, lines from each token to those it attends to), offline.

    ``include_libraries=None`` inlines the libraries in the first view of the session only.
    Extra keyword arguments go to ``bertviz.head_view``. Returns an ``IPython.display.HTML``.
    """
    from bertviz import head_view as _head_view
    from IPython.display import HTML

    _check(attention, tokens)
    view = _head_view(attention, list(tokens), html_action="return", **kwargs)
    return HTML(_offline(view.data, include_libraries))


def model_view(attention: Sequence, tokens: Sequence[str], *, include_libraries: bool | None = None, **kwargs):
    """bertviz's model view (a thumbnail of every head in every layer), offline. See :func:`head_view`."""
    from bertviz import model_view as _model_view
    from IPython.display import HTML

    _check(attention, tokens)
    view = _model_view(attention, list(tokens), html_action="return", **kwargs)
    return HTML(_offline(view.data, include_libraries))
