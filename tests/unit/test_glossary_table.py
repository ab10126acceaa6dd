"""The key-terms table's HTML: left-aligned cells, English and 中文 terms that do not wrap.

JupyterLab's CSS right-aligns table cells and lets narrow ones wrap, and an `align` attribute
loses to it; inline `style` wins and survives the sanitizer of an untrusted notebook. The
browser test (test_jupyterlab_browser.py) measures the result in Chromium.
"""

import html
import re

from lmcourse import glossary


def _cells(markup: str) -> list[tuple[str, str, str]]:
    return re.findall(r"<(th|td)( style=\"[^\"]*\")?>(.*?)</\1>", markup)


def test_every_cell_of_the_key_terms_table_is_left_aligned_by_an_inline_style():
    cells = _cells(glossary.key_terms("00")._repr_html_())
    assert len(cells) == 4 * (1 + len(glossary.key_terms("00")))
    assert all("text-align:left" in style for _, style, _ in cells)


def test_english_and_chinese_terms_do_not_wrap_and_meanings_do():
    table = glossary.key_terms("01")
    rows = re.findall(r"<tr>(.*?)</tr>", table._repr_html_())[1:]
    assert len(rows) == len(table)
    for row, term in zip(rows, table):
        (_, en_style, en), (_, zh_style, zh), (_, meaning_style, meaning), _ = _cells(row)
        assert (en, zh, meaning) == (f"<b>{html.escape(term.term)}</b>", html.escape(term.zh),
                                     html.escape(term.definition))
        assert "white-space:nowrap" in en_style and "white-space:nowrap" in zh_style
        assert "nowrap" not in meaning_style


def test_the_table_escapes_markup_in_terms():
    table = glossary.TermTable([glossary.Term("<b>", "中<文", "a & b", "00")])
    assert "<td style=\"text-align:left;white-space:nowrap\"><b>&lt;b&gt;</b></td>" in table._repr_html_()
    assert "中&lt;文" in table._repr_html_() and "a &amp; b" in table._repr_html_()
