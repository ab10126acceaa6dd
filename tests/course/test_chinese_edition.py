"""The Chinese edition (中文版) is built from the English sources and PO files, and is never out of date.

``tools/translate.py build`` writes ``notebooks/zh/``, ``docs/instructor/zh/`` and ``README.zh.md`` from
the English files and the translations in ``locale/zh/`` (checkers' and quizzes' in
``lmcourse/locale/zh/``). These tests hold the promise of issue #19: every English cell and string has a
current translation, building again changes nothing, and a zh notebook runs exactly the English code.
"""

import json
import re
from pathlib import Path

import polib
import pytest

from lmcourse import language, quiz
from tools import refresh_key_terms, translate

ROOT = Path(__file__).resolve().parents[2]
SOURCES = translate.sources()
ENGLISH = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CJK = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture(scope="module")
def plan():
    """What a build would write, computed once: (name, path, text, entries needing translation)."""
    return translate.plan()


def test_every_source_has_a_po_file_and_every_english_notebook_a_chinese_one():
    names = {f"notebooks/{p.stem}" for p in ENGLISH}
    assert names <= set(SOURCES)
    missing = [str(translate.po_path(n).relative_to(ROOT)) for n in SOURCES if not translate.po_path(n).exists()]
    assert not missing, f"no PO file yet (run `make zh`): {missing}"
    zh = sorted(p.name for p in (ROOT / "notebooks" / "zh").glob("*.ipynb"))
    assert zh == [p.name for p in ENGLISH]


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_cell_and_string_has_a_current_translation(name, plan):
    todo = [line for n, path, _, lines in plan if n == name and path.suffix == ".po" for line in lines]
    assert not todo, (f"{name} needs translation ({len(todo)} entries; `make zh` lists them, a PO editor such "
                      f"as Poedit opens {translate.po_path(name).relative_to(ROOT)}):\n  " + "\n  ".join(todo[:10]))


def test_building_again_changes_nothing(plan):
    stale = [str(path.relative_to(ROOT)) for _, path, text, _ in plan
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    assert not stale, f"the Chinese edition is out of date; run `make zh`: {stale}"


def test_every_translation_keeps_code_math_links_and_structure():
    found = []
    for name, (kind, _) in SOURCES.items():
        for entry in polib.pofile(str(translate.po_path(name))):
            if entry.msgstr and not entry.obsolete and not entry.fuzzy:
                found += [f"{name}: {entry.msgctxt or entry.msgid[:50]!r}: {p}"
                          for p in translate.problems(kind, name, entry.msgid, entry.msgstr)]
    assert not found, "\n".join(found[:20])


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.name)
class TestChineseNotebook:
    def test_has_the_english_code_cells_and_outputs(self, english):
        en, zh = _cells(english), _cells(english.parent / "zh" / english.name)
        assert [(c["cell_type"], c.get("id")) for c in zh] == [(c["cell_type"], c.get("id")) for c in en]
        for a, b in zip(en, zh):
            if a["cell_type"] != "code":
                continue
            assert b["source"] == a["source"], f"cell {a['id']}: the code differs from the English"
            assert b.get("execution_count") == a.get("execution_count")
            source = "".join(a["source"])
            if "quiz" in a.get("metadata", {}).get("tags", []) or "check_" in source \
                    or refresh_key_terms.KEY_TERMS.search(source):
                continue  # the quiz, the checkers' verdicts and the key terms are shown in Chinese: the next test
            assert b["outputs"] == a["outputs"], f"cell {a['id']}: the stored outputs differ from the English"

    def test_shows_the_quiz_the_checkers_verdicts_and_the_key_terms_in_chinese(self, english):
        from lmcourse import glossary

        en, zh = _cells(english), _cells(english.parent / "zh" / english.name)
        stem = english.stem
        for a, b in zip(en, zh):
            terms = refresh_key_terms.KEY_TERMS.search("".join(a["source"]))
            if terms:
                html = "".join(b["outputs"][0]["data"]["text/html"])
                with language.speaking("zh"):
                    assert html == glossary.key_terms(terms.group(1))._repr_html_()
                assert "释义" in html and all(CJK.search(translate.translations(polib.pofile(str(
                    translate.po_path(f"glossary/{stem}")))).get((None, t.definition), "")) for t in
                    glossary.key_terms(terms.group(1)))
            elif "quiz" in a.get("metadata", {}).get("tags", []):
                html = "".join(b["outputs"][0]["data"]["text/html"])
                assert html == quiz.static_html(quiz.load(stem, language="zh"), language="zh")
                assert CJK.search(html)
            elif a["cell_type"] == "code" and "check_" in "".join(a["source"]):
                for out_a, out_b in zip(a["outputs"], b["outputs"]):
                    text_a, text_b = "".join(out_a.get("text", "")), "".join(out_b.get("text", ""))
                    assert [line[:1] for line in text_b.split("\n")] == [line[:1] for line in text_a.split("\n")]
                    for line in text_b.split("\n"):
                        if line.startswith(("✔", "✘")):
                            assert CJK.search(line), f"cell {a['id']}: a verdict left in English: {line!r}"

    def test_every_markdown_cell_reads_in_chinese(self, english):
        for cell in _cells(english.parent / "zh" / english.name):
            if cell["cell_type"] == "markdown":
                text = "".join(cell["source"])
                assert CJK.search(text), f"cell {cell['id']} has no Chinese: {text[:80]!r}"
                run = _longest_english_run(text)
                assert run < 16, f"cell {cell['id']} holds an English passage of {run} words: {text[:200]!r}"

    def test_is_marked_as_the_chinese_edition(self, english):
        nb = json.loads((english.parent / "zh" / english.name).read_text(encoding="utf-8"))
        assert nb["metadata"]["lmcourse"]["language"] == "zh"


def _longest_english_run(text: str) -> int:
    """The longest run of English words outside code, math, links, HTML tags, titles in italics and
    quotations (a paper's title, the English sentence an example is about)."""
    rest = translate._CODE_FENCE.sub(" ", text)
    rest = re.sub(r"(?<![*\w])\*[^*\n]+\*(?![*\w])|“[^”]*”|\"[^\"\n]*\"", " ", rest)
    rest = translate._CODE_SPAN.sub(" ", rest)
    rest = translate._MATH.sub(" ", rest)
    rest = re.sub(r"\]\([^)]*\)", "]", rest)
    rest = re.sub(r"<[^>]+>", " ", rest)
    runs = re.findall(r"(?:[A-Za-z][A-Za-z'’-]*[\s,;:.()*_\"“”]*){2,}", rest)
    return max((len(re.findall(r"[A-Za-z][A-Za-z'’-]*", r)) for r in runs), default=0)


@pytest.mark.parametrize("stem", quiz.stems())
def test_every_quiz_reads_in_chinese_with_its_answers_where_they_were(stem):
    en, zh = quiz.load(stem, language="en"), quiz.load(stem, language="zh")
    assert [q.answer for q in zh.questions] == [q.answer for q in en.questions]
    for q in zh.questions:
        for text in (q.prompt, *[c.text for c in q.choices], *[c.why for c in q.choices]):
            assert CJK.search(text) or not re.search(r"[A-Za-z]{3,}", text), f"{stem}: not in Chinese: {text!r}"
    notes = quiz.to_markdown(zh, answers=True, language="zh")
    assert "Answer" not in notes and CJK.search(notes.splitlines()[0])


def test_instructor_notes_and_readme_are_built_with_links_to_the_chinese_edition():
    for name in (n for n in SOURCES if n.startswith("instructor/") or n == "README"):
        built = translate.output_path(name)
        text = built.read_text(encoding="utf-8")
        assert CJK.search(text)
        for target in re.findall(r"\]\(([^)#\s]+)", text):
            if not re.match(r"[a-z]+:", target) and not target.startswith("build/"):
                assert (built.parent / target).exists(), f"{built.relative_to(ROOT)} links {target}, which is missing"


# ----------------------------------------------------------------------------- the PO workflow


def _po(kind: str, pairs):
    return translate.sync(translate.load_po(Path("/nonexistent.po")), kind, pairs)


def test_a_changed_english_cell_keeps_its_translation_marked_fuzzy_with_the_old_english():
    po = _po("notebook", [("c001", "# Title"), ("c002", "Old text.")])
    for entry in po:
        entry.msgstr = "译文：" + entry.msgid
    changed = translate.sync(po, "notebook", [("c001", "# Title"), ("c002", "New text.")])
    by_ctx = {e.msgctxt: e for e in changed if not e.obsolete}
    assert not by_ctx["c001"].fuzzy and by_ctx["c001"].msgstr == "译文：# Title"
    assert by_ctx["c002"].fuzzy and by_ctx["c002"].msgid == "New text."
    assert by_ctx["c002"].previous_msgid == "Old text." and by_ctx["c002"].msgstr == "译文：Old text."
    assert translate.needing(changed) == ["fuzzy: c002"]
    assert (None, "New text.") not in translate.translations(changed)  # a fuzzy entry builds as English


def test_a_cell_that_is_gone_becomes_obsolete_and_a_new_one_is_untranslated():
    po = _po("notebook", [("c001", "Kept."), ("c002", "Dropped.")])
    for entry in po:
        entry.msgstr = "中文"
    changed = translate.sync(po, "notebook", [("c001", "Kept."), ("c003", "Added.")])
    assert [e.msgctxt for e in changed if e.obsolete] == ["c002"]
    assert translate.needing(changed) == ["untranslated: c003"]


def test_a_string_keyed_by_its_english_finds_its_old_translation_when_it_changes_a_little():
    po = _po("python", [("s001", "the last pair is missing — an off-by-one in the loop range.")])
    po[0].msgstr = "少了最后一对"
    changed = translate.sync(po, "python", [("s001", "the last pair is missing: an off-by-one in the loop range.")])
    live = [e for e in changed if not e.obsolete]
    assert live[0].fuzzy and live[0].msgstr == "少了最后一对"


def test_a_template_string_carries_the_brace_format_flag():
    po = _po("python", [("s001", "expected {0}, got {1}")])
    assert "python-brace-format" in po[0].flags


def test_a_translation_that_drops_code_or_a_placeholder_is_refused():
    assert translate.problems("notebook", "notebooks/x", "Call `f(x)` on $x^2$.", "调用 f(x)，作用于 $x^2$。")
    assert translate.problems("python", "exercises/x", "expected {0}, got {1}", "应为 {0}")
    assert translate.problems("notebook", "notebooks/x", "## 3 · Heading", "### 3 · 标题")
    assert not translate.problems("notebook", "notebooks/x", "Call `f(x)` on $x^2$.", "对 $x^2$ 调用 `f(x)`。")


def test_importing_a_broken_translation_writes_nothing(tmp_path, monkeypatch):
    name = "quizzes/00_welcome"
    before = translate.po_path(name).read_text(encoding="utf-8")
    english = translate.write_exchange(translate.entries(*SOURCES[name]))
    broken = english.replace("@@@ q1.prompt\n", "@@@ q1.promp\n", 1)
    with pytest.raises(ValueError, match="missing keys: q1.prompt"):
        translate.import_exchange(name, broken)
    assert translate.po_path(name).read_text(encoding="utf-8") == before


def test_the_exchange_format_round_trips():
    pairs = [("c001", "# Title\n\nText with @ signs."), ("c002", "line\n\n\nthree blank lines above")]
    assert list(translate.read_exchange(translate.write_exchange(pairs)).items()) == pairs


def test_markdown_blocks_split_and_join_back_to_the_file():
    text = "# T\n\npara one\nstill one\n\n\n```\ncode\n\nmore code\n```\n\n| a |\n|---|\n"
    pieces = translate.split_blocks(text)
    assert "".join(pieces) == text
    assert "```\ncode\n\nmore code\n```\n" in pieces  # a blank line inside a fence does not split it


# ----------------------------------------------------------------------------- the language switch


def test_the_language_comes_from_the_switch_or_the_editions_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(language.ENV_VAR, raising=False)
    (tmp_path / "notebooks" / "zh").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks" / "zh")
    assert language.current() == "zh"
    monkeypatch.chdir(tmp_path / "notebooks")
    assert language.current() == "en"
    monkeypatch.setenv(language.ENV_VAR, "zh")
    assert language.current() == "zh"
    with language.speaking("en"):
        assert language.current() == "en"
    monkeypatch.setenv(language.ENV_VAR, "fr")
    with pytest.raises(ValueError, match="LMCOURSE_LANG must be one of en, zh; got 'fr'"):
        language.current()
    with pytest.raises(ValueError, match="language must be one of"):
        with language.speaking("de"):
            pass


def test_a_message_built_from_a_template_is_translated_with_its_values():
    message = "✘ check_count_pairs: wrong answer on case 3 of 5, input 'aaa' (overlapping pairs)."
    zh = language.translate(message, "zh")
    assert CJK.search(zh) and "check_count_pairs" in zh and "3" in zh and "5" in zh
    assert language.translate(message, "en") == message
    unknown = "a line no catalogue knows, 12345"
    assert language.translate(unknown, "zh") == unknown
    assert language.translate("  expected: [1, 2]", "zh").startswith("  ")


def test_values_are_split_where_their_brackets_close_and_asides_and_lines_translated_one_by_one():
    shape = language.translate("tensor of shape (3, 2), float32 [0.1, 0.2]", "zh")
    assert "(3, 2)" in shape and "float32" in shape and CJK.search(shape)
    aside = language.translate("  (2 items instead of 3)", "zh")
    assert aside.startswith("  （") and aside.endswith("）") and "2" in aside and "3" in aside and CJK.search(aside)
    crash = language.translate("✘ check_x: on case 1 of 4, input (1, 2) your function raised ValueError: boom\n"
                               "  Hint: you counted single characters. We want pairs: each character together "
                               "with the one after it.", "zh").split("\n")
    assert len(crash) == 2 and all(CJK.search(line) for line in crash) and "ValueError" in crash[0]
    assert crash[1].startswith("  ") and "Hint" not in crash[1]


def test_checker_messages_speak_chinese_in_the_chinese_edition(capsys):
    from lmcourse.exercises import nb00_welcome as ex

    with language.speaking("zh"):
        result = ex.check_count_pairs(lambda t: dict(__import__("collections").Counter(zip(t[::2], t[1::2]))))
    printed = capsys.readouterr().out
    assert not result.passed and printed.strip() == result.message
    assert CJK.search(result.message.splitlines()[0]) and "Hint" not in result.message
    with language.speaking("en"):
        english = ex.check_count_pairs(lambda t: dict(__import__("collections").Counter(t))).message
    assert "Hint: you counted single characters" in english


# ----------------------------------------------------------------------------- instructor notes, slides, student copies

ZH_SECTIONS = ["课前准备", "90 分钟教学安排", "现场运行", "展示保存的输出", "学习者容易卡住的地方",
               "值得讨论的常见错误", "讨论题", "课后作业"]
ZH_MODES = {"讲授", "现场编码", "结对", "练习", "讨论"}  # lecture, live code, pairs, exercise, discussion


def _without_glosses(text: str) -> str:
    """A heading or a reference without its English gloss: 记忆（memorization） -> 记忆."""
    return re.sub(r"（[A-Za-z][^（）]*）", "", text)


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.stem)
def test_every_chinese_instructor_note_keeps_the_notes_promises_in_chinese(english):
    from test_instructor_notes import NUMBERED_ITEM, SECTION_REF, _markdown_headings, _normalize, _plan_rows, _sections

    notebook = english.parent / "zh" / english.name
    note = ROOT / "docs" / "instructor" / "zh" / f"{english.stem}.md"
    sections = _sections(note)
    assert [s for s in ZH_SECTIONS if s not in sections] == []
    rows = _plan_rows(sections["90 分钟教学安排"])
    assert sum(int(r[0]) for r in rows) == 90 and {r[2] for r in rows} <= ZH_MODES, rows
    headings = {_without_glosses(h) for h in _markdown_headings(notebook)}
    refs = [_without_glosses(_normalize(r)) for r in SECTION_REF.findall(note.read_text(encoding="utf-8"))]
    assert refs and not [r for r in refs if r not in headings], f"sections {notebook.name} does not have"
    questions = NUMBERED_ITEM.split(sections["讨论题"])[1:]
    assert 3 <= len(questions) <= 5 and all("*答案：*" in q or "*答案*：" in q for q in questions)
    assert f"(../../../notebooks/zh/{english.name})" in note.read_text(encoding="utf-8")


def test_student_copies_and_slides_of_the_chinese_edition_are_in_chinese():
    import nbformat

    from tools import classroom

    for english in ENGLISH:
        en = nbformat.read(english, as_version=4)
        zh = nbformat.read(english.parent / "zh" / english.name, as_version=4)
        assert classroom.notebook_language(zh) == "zh" and classroom.notebook_language(en) == "en"
        en_copy, zh_copy = classroom.student_copy(en), classroom.student_copy(zh)
        assert [c.get("id") for c in zh_copy.cells] == [c.get("id") for c in en_copy.cells]
        en_notes = sum("".join(c.source).count(classroom.translate(
            "Reference solutions are in your teacher's copy of this notebook.", "en")) for c in en_copy.cells)
        zh_notes = sum("".join(c.source).count("参考答案在老师那份笔记本里") for c in zh_copy.cells)
        assert zh_notes == en_notes, f"{english.name}: a sentence pointing at the collapsed solutions was kept"
    zh = nbformat.read(ROOT / "notebooks" / "zh" / "05_self_attention.ipynb", as_version=4)
    assert classroom.quiz_slides(zh) == 1
    questions, answers = [c for c in zh.cells if c.get("id", "").startswith("quiz-")][-2:]
    assert CJK.search(questions.source) and answers.source.startswith("**测验答案**")
    assert answers.metadata["slideshow"]["slide_type"] == "notes"


def test_the_command_line_checks_exports_and_refuses_bad_names(tmp_path, capsys):
    assert translate.main(["build", "--check", "quizzes/05_self_attention", "notebooks/05_self_attention"]) == 0
    assert "0 files would change; 0 entries need translation" in capsys.readouterr().out
    assert translate.main(["export", "--translation", "quizzes/05_self_attention"]) == 0
    exported = capsys.readouterr().out
    strings = translate.entries(*SOURCES["quizzes/05_self_attention"])
    assert CJK.search(exported) and exported.count("@@@ ") == len(strings)
    broken = tmp_path / "broken.txt"
    broken.write_text(exported.replace("$\\sqrt{d_k}$", "√d_k", 1), encoding="utf-8")
    assert translate.main(["check", "quizzes/05_self_attention", str(broken)]) == 1
    assert "math: missing" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        translate.main(["export", "quizzes/99_nothing"])
    assert stop.value.code == 2 and "name: expected one of the names" in capsys.readouterr().err
