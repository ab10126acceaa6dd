import json
from pathlib import Path

import pytest

from lmcourse import glossary

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_every_term_is_complete_and_defined_once():
    terms = glossary.load()
    assert terms, "the glossary is empty"
    names = [t.term.lower() for t in terms]
    assert len(names) == len(set(names)), "a term is defined in two notebooks' files"
    for t in terms:
        assert t.term and t.zh and t.definition and t.notebook.isdigit()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_ends_with_its_own_key_terms(path):
    number = path.name[:2]
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    last_code = next(c for c in reversed(cells) if c["cell_type"] == "code")
    assert f'glossary.key_terms("{number}")' in "".join(last_code["source"])
    assert glossary.key_terms(number), f"no terms file for notebook {number}"


def test_lookup_is_case_insensitive_and_unknown_terms_are_errors():
    assert glossary.lookup("Language Model").zh == "语言模型"
    with pytest.raises(KeyError, match="'flux capacitor' is not in the glossary"):
        glossary.lookup("flux capacitor")
    with pytest.raises(ValueError, match="notebook must be the number of a notebook with a terms file"):
        glossary.key_terms("99")


def test_term_table_renders_as_html_and_text():
    table = glossary.key_terms("00")
    html = table._repr_html_()
    assert "中文</th>" in html and "语言模型" in html
    assert "language model · 语言模型 —" in str(table)
