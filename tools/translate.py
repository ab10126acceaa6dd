"""The Chinese edition (中文版), built from the English sources and gettext PO files that hold the translations.

What is translated, and where its translations live (one PO file per source; ``names`` lists them):

  notebooks/NN_topic.ipynb        markdown cells, keyed by cell id   locale/zh/notebooks/NN_topic.po
  docs/instructor/*.md, README.md paragraphs (blocks between blank   locale/zh/instructor/*.po, locale/zh/README.po
                                  lines), keyed by their English
  lmcourse/quizzes/NN_topic.toml  prompts, choices, explanations      lmcourse/locale/zh/quizzes/NN_topic.po
  lmcourse/exercises/*.py,        what checkers and the quiz print    lmcourse/locale/zh/exercises/*.po
  lmcourse/quiz.py                (an f-string becomes a template
                                  with {0}, {1}...)
  tools/classroom.py              the words given to translate()      lmcourse/locale/zh/tools/classroom.po

``build`` brings every PO file in step with its English (a changed entry keeps its translation, marked
fuzzy, with the old English as its previous msgid; a gone one becomes obsolete) and writes
notebooks/zh/, docs/instructor/zh/ and README.zh.md: the English files with every current translation
put in (a fuzzy or missing one stays English and is listed). The package reads its own PO files at run
time (lmcourse.language). ``build --check`` writes nothing and fails if anything is out of date.

A translator edits the PO files with any PO editor (Poedit, Weblate), or moves a source's strings
through a plain exchange format: ``export NAME`` (``--translation`` for the current Chinese), then
``check NAME FILE`` and ``import NAME FILE``.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the course package is next to this folder
    sys.path.insert(0, str(ROOT))
NOTEBOOKS = ROOT / "notebooks"

from tools import classroom  # noqa: E402  (after the path line above, for a run as a script)

# ----------------------------------------------------------------------------- extraction

def notebook_entries(path: Path) -> list[tuple[str, str]]:
    """(cell id, markdown source) for every markdown cell of an English notebook."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [(c["id"], "".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "markdown"]


_FENCE = re.compile(r"^\s*(```|~~~)")


def split_blocks(text: str) -> list[str]:
    """Split a markdown file into blocks and separators, alternately: block, sep, block, sep, ...

    A block ends at a blank line outside a fenced code block; joining the pieces gives ``text`` back.
    """
    pieces: list[str] = []
    lines = text.splitlines(keepends=True)
    block: list[str] = []
    sep: list[str] = []
    fenced = False
    for line in lines:
        if not line.strip() and not fenced:  # a blank line (leading ones too) belongs to a separator
            sep.append(line)
            continue
        if sep and block:
            pieces.append("".join(block))
            pieces.append("".join(sep))
            block, sep = [], []
        elif sep and not block:
            pieces.append("")
            pieces.append("".join(sep))
            sep = []
        if _FENCE.match(line):
            fenced = not fenced
        block.append(line)
    pieces.append("".join(block))
    pieces.append("".join(sep))
    return pieces


RUN_TIME_COLUMN = classroom.README_TIME_COLUMN  # the README's column that tools/classroom.py fills in


def _without_run_times(block: str) -> str:
    """The README's course table with its run-time cells empty: they come from the notebooks, not from a
    translator, so a new run's times do not make the table's translation out of date."""
    lines = block.split("\n")
    if not lines or not lines[0].startswith("|") or RUN_TIME_COLUMN not in lines[0]:
        return block
    column = [c.strip() for c in lines[0].strip().strip("|").split("|")].index(RUN_TIME_COLUMN)
    for i in range(2, len(lines)):
        cells = lines[i].strip().strip("|").split("|")
        if len(cells) > column:
            cells[column] = " "
            lines[i] = "|" + "|".join(cells) + "|"
    return "\n".join(lines)


def markdown_entries(path: Path) -> list[tuple[str, str]]:
    """(b001, text) for every non-empty block of a markdown file, without its trailing newline."""
    blocks = split_blocks(path.read_text(encoding="utf-8"))[0::2]
    out = []
    for i, b in enumerate(blocks):
        text = _without_run_times(b.rstrip("\n"))
        if text.strip():
            out.append((f"b{i + 1:03d}", text))
    return out


def quiz_entries(path: Path) -> list[tuple[str, str]]:
    """(q1.prompt / q1.c2.text / q1.c2.why, text) for every string of a quiz file, as lmcourse.quiz reads them
    (and so as it looks them up)."""
    from lmcourse import quiz

    out = []
    for qi, q in enumerate(quiz.parse(path.read_text(encoding="utf-8"), name=path.name).questions, 1):
        out.append((f"q{qi}.prompt", q.prompt))
        for ci, c in enumerate(q.choices, 1):
            out += [(f"q{qi}.c{ci}.text", c.text), (f"q{qi}.c{ci}.why", c.why)]
    return out


def glossary_entries(path: Path) -> list[tuple[str, str]]:
    """(term, definition) for every term a notebook introduces, as lmcourse.glossary reads them (the term
    itself and its 中文 stay)."""
    from lmcourse import glossary

    return [(t.term, t.definition) for t in glossary.load() if t.notebook == path.name[:2]]


def _template(node: ast.JoinedStr) -> str:
    parts, n = [], 0
    for v in node.values:
        if isinstance(v, ast.Constant):
            parts.append(str(v.value).replace("{", "{{").replace("}", "}}"))
        else:
            parts.append("{%d}" % n)
            n += 1
    return "".join(parts)


def _is_prose(text: str) -> bool:
    """Words a learner reads: letters, and more than one name (a space, or a label's colon)."""
    letters = re.sub(r"\{\d+\}", "", text).strip()
    return bool(re.search(r"[A-Za-z]{2,}", letters)) and bool(re.search(r"\s|:$", letters))


def _translate_calls(tree: ast.AST) -> list[ast.expr]:
    """The first argument of every ``translate(...)`` call in a module."""
    return [node.args[0] for node in ast.walk(tree) if isinstance(node, ast.Call) and node.args
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == "translate"]


def _numbered(found: list[tuple[int, int, str]]) -> list[tuple[str, str]]:
    """(s001, text), ... for strings found at (line, column), in source order, each once."""
    seen, out = set(), []
    for _, _, text in sorted(found):
        if text not in seen:
            seen.add(text)
            out.append((f"s{len(out) + 1:03d}", text))
    return out


def translated_call_entries(path: Path) -> list[tuple[str, str]]:
    """(s001, text) for every string given to ``translate(...)`` in a module (a tool's few words to the reader)."""
    found = []
    for arg in _translate_calls(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            found.append((arg.lineno, arg.col_offset, arg.value))
        elif isinstance(arg, ast.JoinedStr):
            found.append((arg.lineno, arg.col_offset, _template(arg)))
    return _numbered(found)


def python_entries(path: Path) -> list[tuple[str, str]]:
    """(s001, text) for every prose string and f-string of a module, docstrings left out, in source order
    (and every string given to ``translate(...)``, prose or not)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    inner = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            for v in node.values:
                inner.add(id(v))
                if isinstance(v, ast.FormattedValue) and v.format_spec is not None:
                    inner.add(id(v.format_spec))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in {"join", "replace", "startswith", "endswith", "split", "strip", "get"}:
            inner.add(id(node.func.value))
    called = {id(arg) for arg in _translate_calls(tree)}
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if id(node) in docstrings or id(node) in inner:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = _template(node)
        else:
            continue
        if _is_prose(text) or id(node) in called:
            found.append((node.lineno, node.col_offset, text))
    return _numbered(found)


# ----------------------------------------------------------------------------- sources

def sources() -> dict[str, tuple[str, Path]]:
    """Every translated source: PO name -> (kind, path)."""
    out: dict[str, tuple[str, Path]] = {}
    for nb in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        out[f"notebooks/{nb.stem}"] = ("notebook", nb)
    for md in sorted((ROOT / "docs" / "instructor").glob("*.md")):
        out[f"instructor/{md.stem}"] = ("markdown", md)
    out["README"] = ("markdown", ROOT / "README.md")
    for q in sorted((ROOT / "lmcourse" / "quizzes").glob("*.toml")):
        out[f"quizzes/{q.stem}"] = ("quiz", q)
    for py in sorted((ROOT / "lmcourse" / "exercises").glob("*.py")):
        if py.stem != "__init__":
            out[f"exercises/{py.stem}"] = ("python", py)
    out["exercises/quiz_ui"] = ("python", ROOT / "lmcourse" / "quiz.py")
    out["tools/classroom"] = ("calls", ROOT / "tools" / "classroom.py")
    for tsv in sorted((ROOT / "lmcourse" / "glossary" / "terms").glob("*.tsv")):
        out[f"glossary/{tsv.stem}"] = ("glossary", tsv)
    out["glossary/table"] = ("calls", ROOT / "lmcourse" / "glossary" / "__init__.py")
    return out


def entries(kind: str, path: Path) -> list[tuple[str, str]]:
    return {"notebook": notebook_entries, "markdown": markdown_entries, "quiz": quiz_entries,
            "python": python_entries, "calls": translated_call_entries, "glossary": glossary_entries}[kind](path)


MARK = "@@@ "


def write_exchange(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"{MARK}{key}\n{text}\n" for key, text in pairs)


def read_exchange(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    key = None
    buf: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith(MARK):
            if key is not None:
                out[key] = "".join(buf).removesuffix("\n")
            key, buf = line[len(MARK):].strip(), []
        elif key is not None:
            buf.append(line)
    if key is not None:
        out[key] = "".join(buf).removesuffix("\n")
    return out


# ----------------------------------------------------------------------------- checking a translation

_CODE_FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$", re.S | re.M)
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_MATH = re.compile(r"\$\$.+?\$\$|\\begin\{(\w+\*?)\}.*?\\end\{\1\}|(?<![\\\w$])\$[^$\n]+?\$", re.S)
_LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_PLACEHOLDER = re.compile(r"(?<!\{)\{(\d+)\}(?!\})")
_CJK = re.compile(r"[\u3400-\u9fff]")


def _pieces(text: str) -> dict[str, list[str]]:
    """The parts of a text a translation must keep: code, math, links, tags, heading levels, table shape."""
    fences = [m.group(0) for m in _CODE_FENCE.finditer(text)]
    rest = _CODE_FENCE.sub("\0", text)
    spans = [m.group(0) for m in _CODE_SPAN.finditer(rest)]
    rest = _CODE_SPAN.sub("\0", rest)
    math = [m.group(0) for m in _MATH.finditer(rest)]
    rest = _MATH.sub("\0", rest)
    links = _LINK.findall(rest)
    tags = [re.sub(r"\s.*", "", t.rstrip(">/")) + ">" for t in _TAG.findall(rest)]
    headings = [len(m.group(1)) for m in re.finditer(r"^(#{1,6})\s", rest, re.M)]
    table = [line.count("|") for line in rest.splitlines() if line.lstrip().startswith("|")]
    return {"code block": sorted(fences), "`code`": sorted(spans), "math": sorted(math),
            "link": sorted(links), "HTML tag": sorted(tags), "heading level": headings, "table row (| count)": table}


def _zh_link(kind: str, name: str, target: str) -> str:
    """The link target the Chinese file must use for an English one."""
    if kind != "markdown":
        return target
    if name.startswith("instructor/"):
        if target.startswith("../../"):  # a file of the repository, seen from one folder deeper
            return "../../../" + _zh_link(kind, "README", target[len("../../"):])
        return re.sub(r"^(build/(?:slides|student))/(?!zh/)", r"\1/zh/", target)
    target = re.sub(r"^notebooks/(\d\d_[\w-]+\.ipynb)", r"notebooks/zh/\1", target)
    target = re.sub(r"^docs/instructor/(?!zh/)", "docs/instructor/zh/", target)
    target = re.sub(r"^README\.md(#.*)?$", "README.zh.md", target)  # its headings, and so its anchors, are Chinese
    target = re.sub(r"^(build/(?:slides|student))/(?!zh/)", r"\1/zh/", target)
    return target


def _readme_code(code: str) -> str:
    """README.zh.md's commands as the English ones: ``make lab-zh`` for ``make lab``, the zh notebook's path,
    ``LMCOURSE_LANG=zh``; a shell comment (``  # ...``) is prose and may be translated."""
    if code.startswith("```\n"):  # a plain block is a listing (the layout): its names stay, its words are prose
        return "\n".join(re.findall(r"^ *[\w./-]+/(?= )", code, flags=re.M))
    code = re.sub(r"[ \t]+#(?![\w-]*\)).*$", "", code, flags=re.M)
    code = code.replace("make lab-zh", "make lab").replace("notebooks/zh/", "notebooks/")
    return code.replace("LMCOURSE_LANG=zh ", "")


def problems(kind: str, name: str, english: str, chinese: str) -> list[str]:
    """What is wrong with one translated entry (empty when it keeps everything it must)."""
    if not chinese.strip():
        return ["empty translation"]
    out = []
    en, zh = _pieces(english), _pieces(chinese)
    en["link"] = sorted(_zh_link(kind, name, t) for t in en["link"])
    if kind == "markdown":  # code spans may hold paths that the Chinese edition names differently
        en["`code`"] = sorted(_zh_link(kind, name, t.strip("`")).join(["`" * (len(t) - len(t.lstrip("`")))] * 2)
                              for t in en["`code`"])
    if name == "README":  # its commands may open the Chinese edition, and its shell comments be Chinese
        for what in ("code block", "`code`"):
            en[what], zh[what] = sorted(map(_readme_code, en[what])), sorted(map(_readme_code, zh[what]))
    en["`code`"], zh["`code`"] = (sorted(re.sub(r"\s+", " ", t) for t in en["`code`"]),
                                  sorted(re.sub(r"\s+", " ", t) for t in zh["`code`"]))  # a span may wrap
    for what in en:
        if en[what] != zh[what]:
            missing = [x for x in en[what] if x not in zh[what]]
            extra = [x for x in zh[what] if x not in en[what]]
            if missing or extra:
                out.append(f"{what}: missing {missing[:3]} / unexpected {extra[:3]}")
            else:
                out.append(f"{what}: expected {en[what]}, got {zh[what]}")
    if kind in {"python", "calls"}:
        want = sorted(_PLACEHOLDER.findall(english))
        got = sorted(_PLACEHOLDER.findall(chinese))
        if want != got:
            out.append(f"placeholders: expected {['{%s}' % p for p in want]}, got {['{%s}' % p for p in got]}")
        if english.count("{{") != chinese.count("{{") or english.count("}}") != chinese.count("}}"):
            out.append("literal braces {{ }}: keep as many as the English has")
        lead_en = english[:len(english) - len(english.lstrip())]
        lead_zh = chinese[:len(chinese) - len(chinese.lstrip())]
        if lead_en != lead_zh:
            out.append(f"leading whitespace: expected {lead_en!r}, got {lead_zh!r}")
        if english.endswith("\n") != chinese.endswith("\n"):
            out.append("trailing newline: keep it as in the English")
    elif kind in {"notebook", "markdown"} and _stray_emphasis(chinese) > _stray_emphasis(english):
        out.append("bold or italic that does not render: put Chinese punctuation outside the markers "
                   "(**术语**：, **术语**（term）)")
    elif chinese == english and _words(english) >= 3:
        out.append("not translated (identical to the English)")
    elif not _CJK.search(chinese) and _words(english) >= 3:
        out.append("no Chinese in the translation")
    return out


def _stray_emphasis(text: str) -> int:
    """How many ``*`` / ``**`` stay literal when the text is rendered (CommonMark, as JupyterLab does):
    in Chinese, ``**术语：**说明`` or ``**术语（term）**说明`` does not close, because the closing marker follows
    punctuation and is followed by a letter. ``**术语**：说明`` renders."""
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").enable("table").render(text)
    html = re.sub(r"<code>.*?</code>|<pre>.*?</pre>", "", html, flags=re.S)
    html = _MATH.sub("", html)
    return len(re.findall(r"(?<![\\*])\*{1,2}(?!\*)", html))


def _words(text: str) -> int:
    rest = _CODE_SPAN.sub(" ", _CODE_FENCE.sub(" ", text))
    rest = _MATH.sub(" ", rest)
    return len(re.findall(r"[A-Za-z]{2,}", rest))


def check_exchange(name: str, text: str, src: dict[str, tuple[str, Path]] | None = None,
                   english: list[tuple[str, str]] | None = None) -> list[str]:
    """Every problem of a translation in the exchange format, each line naming its key (against the
    source's current English, or against ``english``: the export the translator worked from)."""
    src = src or sources()
    kind, path = src[name]
    english = english if english is not None else entries(kind, path)
    chinese = read_exchange(text)
    out = []
    keys = [k for k, _ in english]
    missing = [k for k in keys if k not in chinese]
    extra = [k for k in chinese if k not in dict(english)]
    if missing:
        out.append(f"missing keys: {', '.join(missing)}")
    if extra:
        out.append(f"keys that the English does not have: {', '.join(extra)}")
    order = [k for k in chinese if k in dict(english)]
    if not missing and order != keys:
        out.append("keys are not in the English order")
    for key, en in english:
        if key in chinese:
            out += [f"{key}: {p}" for p in problems(kind, name, en, chinese[key])]
    return out


# ----------------------------------------------------------------------------- PO files

LANG = "zh"
HEADER = {
    "Project-Id-Version": "lmcourse",
    "Language": "zh_CN",
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=UTF-8",
    "Content-Transfer-Encoding": "8bit",
    "Plural-Forms": "nplurals=1; plural=0;",
}


def po_path(name: str) -> Path:
    """Where a source's translations live: the package's own (quizzes, checkers) ship with it."""
    if name.startswith(("quizzes/", "exercises/", "tools/", "glossary/")):
        return ROOT / "lmcourse" / "locale" / LANG / f"{name}.po"
    return ROOT / "locale" / LANG / f"{name}.po"


def output_path(name: str) -> Path | None:
    """The Chinese file a source builds (None: read at run time from its PO file)."""
    if name.startswith("notebooks/"):
        return NOTEBOOKS / LANG / f"{name.split('/', 1)[1]}.ipynb"
    if name.startswith("instructor/"):
        return ROOT / "docs" / "instructor" / LANG / f"{name.split('/', 1)[1]}.md"
    if name == "README":
        return ROOT / f"README.{LANG}.md"
    return None


def _po_key(kind: str, key: str, english: str) -> tuple[str | None, str]:
    """An English string's (msgctxt, msgid): a notebook's cells are keyed by cell id, the rest by their English
    alone (the README's course table without the run times it gets from the notebooks)."""
    return (key if kind == "notebook" else None, _without_run_times(english) if kind == "markdown" else english)


def _template_flag(kind: str, msgid: str) -> list[str]:
    return ["python-brace-format"] if kind in {"python", "calls"} and _PLACEHOLDER.search(msgid) else []


def load_po(path: Path):
    import polib

    if path.exists():
        return polib.pofile(str(path), wrapwidth=0)
    po = polib.POFile(wrapwidth=0)
    po.metadata = dict(HEADER)
    return po


def sync(po, kind: str, pairs: list[tuple[str, str]]):
    """A PO file with one entry per English string of ``pairs``, in source order, keeping every
    translation: an entry whose English changed keeps its old translation marked fuzzy (with the old
    English as its previous msgid); entries for strings that are gone become obsolete."""
    import difflib

    import polib

    live = [e for e in po if not e.obsolete]
    exact = {(e.msgctxt, e.msgid): e for e in live}
    by_ctx = {e.msgctxt: e for e in live if e.msgctxt}
    new = polib.POFile(wrapwidth=0)
    new.metadata = dict(HEADER)
    done, used = set(), set()
    fresh = []
    for key, english in pairs:
        ctx, english = _po_key(kind, key, english)
        if (ctx, english) in done:
            continue
        done.add((ctx, english))
        old = exact.get((ctx, english))
        entry = polib.POEntry(msgctxt=ctx, msgid=english, msgstr="", flags=_template_flag(kind, english))
        if old is not None:
            entry.msgstr, entry.previous_msgid = old.msgstr, old.previous_msgid
            if old.fuzzy:
                entry.flags.append("fuzzy")
            used.add(id(old))
        elif ctx is not None and ctx in by_ctx:
            old = by_ctx[ctx]
            used.add(id(old))
            _carry(entry, old)
        else:
            fresh.append(entry)
        new.append(entry)
    leftovers = [e for e in po if id(e) not in used and e.msgstr and (e.obsolete or (e.msgctxt, e.msgid) not in done)]
    for entry in fresh:  # a new string close to one that is gone: its translation, to be looked at
        if not leftovers:
            break
        candidates = {e.msgid: e for e in leftovers}
        close = difflib.get_close_matches(entry.msgid, list(candidates), n=1, cutoff=0.7)
        if close:
            old = candidates[close[0]]
            leftovers.remove(old)
            _carry(entry, old)
    for old in leftovers:
        gone = polib.POEntry(msgctxt=old.msgctxt, msgid=old.msgid, msgstr=old.msgstr, obsolete=True)
        new.append(gone)
    return new


def _carry(entry, old) -> None:
    """``entry`` takes ``old``'s translation, marked fuzzy: its English changed from ``old``'s."""
    entry.msgstr = old.msgstr
    if old.msgstr:
        entry.flags.append("fuzzy")
        entry.previous_msgid = old.previous_msgid if old.fuzzy and old.previous_msgid else old.msgid


def translations(po) -> dict[tuple[str | None, str], str]:
    """Current translations: (msgctxt, msgid) -> msgstr, without fuzzy, empty or obsolete entries."""
    return {(e.msgctxt, e.msgid): e.msgstr for e in po if not (e.obsolete or e.fuzzy) and e.msgstr}


def needing(po) -> list[str]:
    """The entries a translator must look at: untranslated or fuzzy, named by cell id or English start."""
    out = []
    for e in po:
        if e.obsolete:
            continue
        if e.fuzzy or not e.msgstr:
            what = "fuzzy" if e.fuzzy else "untranslated"
            label = e.msgctxt or e.msgid.splitlines()[0][:60]
            out.append(f"{what}: {label}")
    return out


def po_text(po) -> str:
    return str(po).rstrip("\n") + "\n"


# ----------------------------------------------------------------------------- building the Chinese files

def _checker_output(text: str) -> str:
    """A cell's stored checker lines (from a ✔ or ✘ line to the end of its indented lines) in Chinese."""
    from lmcourse import language

    out, inside = [], False
    for line in text.split("\n"):
        if line.startswith(("✔ ", "✘ ")):
            inside = True
        elif not line.startswith("  "):
            inside = False
        out.append(language.translate(line, LANG) if inside else line)
    return "\n".join(out)


def _quiz_output(output: dict, stem: str) -> dict:
    """A quiz cell's stored output (the questions, without the widget) in Chinese."""
    import nbformat

    from lmcourse import quiz

    zh = quiz.load(stem, language=LANG)
    data = {**output["data"], "text/plain": quiz.to_markdown(zh, answers=False, language=LANG),
            "text/html": quiz.static_html(zh, language=LANG)}
    return nbformat.from_dict({**output, "data": data})


def build_notebook(english: Path, po) -> str:
    import nbformat

    from lmcourse.language import speaking
    from tools import refresh_key_terms

    nb = nbformat.read(str(english), as_version=4)
    nb.metadata.setdefault("lmcourse", {})["language"] = LANG
    done = translations(po)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            text = done.get((cell.get("id"), cell.source))
            if text is not None:
                cell.source = text
        elif cell.cell_type == "code":
            if "quiz" in cell.get("metadata", {}).get("tags", []):
                cell.outputs = [_quiz_output(o, english.stem) if o.get("output_type") in
                                {"execute_result", "display_data"} else o for o in cell.outputs]
            elif "check_" in cell.source:
                for o in cell.outputs:
                    if o.get("output_type") == "stream":
                        o["text"] = _checker_output(o["text"])
    with speaking(LANG):  # the key-terms tables, explained in Chinese (the terms themselves are already both)
        refresh_key_terms.refresh(nb)
    return nbformat.writes(nb) + "\n"


def build_markdown(english: Path, po) -> str:
    done = translations(po)
    pieces = split_blocks(english.read_text(encoding="utf-8"))
    for i in range(0, len(pieces), 2):
        block = pieces[i]
        text = block.rstrip("\n")
        zh = done.get((None, _without_run_times(text)))
        if zh is not None:
            pieces[i] = _with_run_times(zh, text) + block[len(text):]
    return "".join(pieces)


def _with_run_times(zh: str, english: str) -> str:
    """A translated course table with the English table's run-time cells put back (same rows, same columns)."""
    if _without_run_times(english) == english:
        return zh
    en_lines, zh_lines = english.split("\n"), zh.split("\n")
    column = [c.strip() for c in en_lines[0].strip().strip("|").split("|")].index(RUN_TIME_COLUMN)
    for i in range(2, min(len(en_lines), len(zh_lines))):
        en_cells = en_lines[i].strip().strip("|").split("|")
        zh_cells = zh_lines[i].strip().strip("|").split("|")
        if len(en_cells) > column and len(zh_cells) > column:
            zh_cells[column] = en_cells[column]
            zh_lines[i] = "|" + "|".join(zh_cells) + "|"
    return "\n".join(zh_lines)


def plan(names: list[str] | None = None) -> list[tuple[str, Path, str, list[str]]]:
    """For every source: (name, file, the text it must hold, what needs translation), for the PO file
    and for the Chinese file it builds; nothing is written."""
    src = sources()
    out = []
    for name in names or list(src):
        kind, path = src[name]
        po = sync(load_po(po_path(name)), kind, entries(kind, path))
        todo = needing(po)
        out.append((name, po_path(name), po_text(po), todo))
        target = output_path(name)
        if target is not None:
            text = build_notebook(path, po) if kind == "notebook" else build_markdown(path, po)
            out.append((name, target, text, []))
    return out


def _write(path: Path, text: str) -> None:
    """All or nothing: the new text replaces ``path`` in one step (a reader sees the old file or the new one)."""
    from lmcourse._files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8", newline="\n"))


def build(names: list[str] | None = None, *, check: bool = False, out=None) -> int:
    """Bring the PO files and the Chinese files up to date (with ``check``, only say what is not).
    Returns the number of files that changed (or would) plus the entries that need translation."""
    out = out or sys.stdout
    changed, todo_total = [], 0
    for name, path, text, todo in plan(names):
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != text:
            changed.append(path)
            if not check:
                _write(path, text)
        for line in todo:
            print(f"{name}: {line}", file=out)
        todo_total += len(todo)
    verb = "would change" if check else "changed"
    for path in changed:
        print(f"{verb}: {path.relative_to(ROOT)}", file=out)
    print(f"{len(changed)} files {verb}; {todo_total} entries need translation", file=out)
    return len(changed) + todo_total


def import_exchange(name: str, text: str, english_text: str | None = None) -> tuple[int, list[str]]:
    """Put a translator's exchange file into the source's PO file; it must pass :func:`check_exchange`
    against the English it was made from (``english_text``, an earlier export, or the current source).
    An entry whose English has changed since goes in fuzzy. Returns (entries imported, keys whose
    English is no longer in the source)."""
    src = sources()
    kind, path = src[name]
    made_from = list(read_exchange(english_text).items()) if english_text is not None else entries(kind, path)
    found = check_exchange(name, text, src, made_from)
    if found:
        raise ValueError(f"{name}: the translation has problems, none imported:\n" + "\n".join(found))
    chinese = read_exchange(text)
    po = sync(load_po(po_path(name)), kind, entries(kind, path))
    live = [e for e in po if not e.obsolete]
    by_key = {(e.msgctxt, e.msgid): e for e in live}
    by_ctx = {e.msgctxt: e for e in live if e.msgctxt}
    imported, gone = 0, []
    for key, english in made_from:
        ctx, msgid = _po_key(kind, key, english)
        entry = by_key.get((ctx, msgid))
        stale = entry is None and ctx is not None and ctx in by_ctx
        if stale:
            entry = by_ctx[key]
        if entry is None:
            gone.append(key)
            continue
        entry.msgstr = chinese[key]
        if stale:
            if "fuzzy" not in entry.flags:
                entry.flags.append("fuzzy")
            entry.previous_msgid = english
        else:
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
            entry.previous_msgid = None
        imported += 1
    _write(po_path(name), po_text(po))
    return imported, gone

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="print a source's strings in the exchange format (@@@ key, then text)")
    ex.add_argument("name", help="e.g. notebooks/03_word_embeddings, instructor/03_word_embeddings, "
                                 "quizzes/03_word_embeddings, exercises/nb03_word_embeddings, README")
    ex.add_argument("--translation", action="store_true",
                    help="print the current Chinese instead (empty for an entry not translated yet), to revise")
    sub.add_parser("names", help="list every source name")
    ck = sub.add_parser("check", help="check a translation in the exchange format against its English source")
    ck.add_argument("name")
    ck.add_argument("file", type=Path)
    bd = sub.add_parser("build", help="update the PO files and build the Chinese files; list what needs translation")
    bd.add_argument("names", nargs="*", help="sources to build (default: all)")
    bd.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change "
                                                          "or an entry needs translation")
    im = sub.add_parser("import", help="put a translation in the exchange format into its PO file")
    im.add_argument("name")
    im.add_argument("file", type=Path)
    im.add_argument("--english", type=Path, help="the export the translation was made from (default: the source now)")
    args = parser.parse_args(argv)
    src = sources()
    if args.command == "names":
        print("\n".join(src))
        return 0
    for name in getattr(args, "names", []) or ([args.name] if hasattr(args, "name") else []):
        if name not in src:
            parser.error(f"name: expected one of the names `names` lists, got {name!r}")
    if args.command == "build":
        found = build(args.names or None, check=args.check)
        return 1 if args.check and found else 0
    for given in (getattr(args, "file", None), getattr(args, "english", None)):
        if given is not None and not given.is_file():
            parser.error(f"file: expected an exchange file (from `export`), got {str(given)!r}, which does not exist")
    if args.command == "import":
        try:
            made_from = args.english.read_text(encoding="utf-8") if args.english else None
            n, gone = import_exchange(args.name, args.file.read_text(encoding="utf-8"), made_from)
        except ValueError as err:
            print(err, file=sys.stderr)
            return 1
        print(f"{args.name}: {n} entries imported into {po_path(args.name).relative_to(ROOT)}"
              + (f"; English no longer in the source: {', '.join(gone)}" if gone else ""))
        return 0
    if args.command == "check":
        text = args.file.read_text(encoding="utf-8")
        found = check_exchange(args.name, text, src)
        print("\n".join(found) if found else f"{args.name}: ok, {len(read_exchange(text))} entries")
        return 1 if found else 0
    kind, path = src[args.name]
    pairs = entries(kind, path)
    if args.translation:
        done = translations(sync(load_po(po_path(args.name)), kind, pairs))
        pairs = [(key, done.get(_po_key(kind, key, en), "")) for key, en in pairs]
    sys.stdout.write(write_exchange(pairs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
