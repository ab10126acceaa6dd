"""lmcourse.quiz: every notebook has a quiz that keeps the rules; the widget explains each click; bad files fail."""

import json
import re
from pathlib import Path

import pytest

from lmcourse import quiz

ROOT = Path(__file__).resolve().parents[2]
STEMS = [p.stem for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
GOOD = """
[[question]]
prompt = "Why `x`?"
[[question.choice]]
text = "one"
why = "because **one**"
[[question.choice]]
text = "two"
right = true
why = "because two"
""" * 3


def _cells(stem):
    return json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8"))["cells"]


def test_every_notebook_has_a_quiz_file_and_every_quiz_file_a_notebook():
    assert quiz.stems() == STEMS


@pytest.mark.parametrize("stem", STEMS)
def test_every_quiz_loads_with_its_answers_spread_over_the_letters(stem):
    loaded = quiz.load(stem)
    assert quiz.MIN_QUESTIONS <= len(loaded.questions) <= quiz.MAX_QUESTIONS
    answers = [q.answer for q in loaded.questions]
    assert len(set(answers)) > 1, f"{stem}: every right answer is {quiz.LETTERS[answers[0]]}, a pattern to guess"


@pytest.mark.parametrize("stem", STEMS)
def test_every_notebook_shows_its_own_quiz_after_its_exercises_and_before_its_summary(stem):
    cells = _cells(stem)
    tagged = [i for i, c in enumerate(cells) if "quiz" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{stem}: {len(tagged)} cells tagged quiz; expected one"
    at = tagged[0]
    assert "".join(cells[at]["source"]) == f'from lmcourse import quiz\n\nquiz.show("{stem}")'
    assert "".join(cells[at - 1]["source"]).startswith("## Quiz"), f"{stem}: the quiz cell follows no '## Quiz'"
    last_exercise = max(i for i, c in enumerate(cells) if {"exercise", "solution"} & set(c["metadata"].get("tags", [])))
    summary = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
                   and re.match(r"#+ .*\bSummary\b", "".join(c["source"])))
    assert last_exercise < at < summary, f"{stem}: the quiz must come after the exercises and before the summary"


def test_a_click_on_a_wrong_then_the_right_choice_explains_each_and_the_tally_counts_the_first_try():
    loaded = quiz.parse(GOOD, name="good.toml")
    box = quiz.widget(loaded)
    first = box.children[0]
    prompt, row_a, row_b, feedback = first.children
    assert "<code>x</code>" in prompt.value and "0 of 3" in box.children[-1].value
    row_a.children[0].click()
    assert "Not this one (A)" in feedback.value and "because <b>one</b>" in feedback.value
    assert row_a.children[0].button_style == "danger"
    row_b.children[0].click()
    assert "Right (B)" in feedback.value and "because two" in feedback.value
    assert row_b.children[0].button_style == "success"
    assert "1 of 3" in box.children[-1].value and "<b>0</b> right on the first try" in box.children[-1].value
    box.children[1].children[2].children[0].click()     # question 2, right at the first try
    assert "2 of 3" in box.children[-1].value and "<b>1</b> right on the first try" in box.children[-1].value


def test_the_widget_carries_the_questions_without_the_answers_for_viewers_without_widgets():
    box = quiz.show("16_assistant")
    bundle = box._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    loaded = quiz.load("16_assistant")
    for text in (bundle["text/plain"], bundle["text/html"]):
        assert all(re.sub(r"[`*$]", "", q.prompt)[:20] in re.sub(r"<[^>]+>|[`*$]", "", text) for q in loaded.questions)
        assert not any(c.why[:40] in text for q in loaded.questions for c in q.choices)


def test_the_slides_markdown_shows_questions_and_the_notes_give_each_answer_with_every_explanation():
    loaded = quiz.parse(GOOD, name="good.toml")
    questions, notes = quiz.to_markdown(loaded, answers=False), quiz.to_markdown(loaded, answers=True)
    assert "**1.** Why `x`?" in questions and "- **B.** two" in questions and "because" not in questions
    assert "**1. Answer: B.** because two" in notes and "- A: because **one**" in notes


@pytest.mark.parametrize("text, message", [
    ("[[question]]\nprompt = 'x'\n", "must have 3–5 [[question]] entries; got 1"),
    (GOOD.replace("right = true\n", ""), "question 1 must have exactly one choice with right = true; got 0"),
    (GOOD.replace('text = "one"\n', 'text = "one"\nright = true\n', 1), "exactly one choice with right = true; got 2"),
    (GOOD.replace('why = "because two"\n', "", 1), "question 1, choice B: why must be a non-empty string"),
    (GOOD.replace('prompt = "Why `x`?"', 'prompt = ""', 1), "question 1: prompt must be a non-empty string"),
    (GOOD.replace('text = "one"', 'text = "two"', 1), "question 1 has two choices with the same text"),
    (GOOD.replace('right = true', 'right = "yes"', 1), "choice B: right must be true or false; got 'yes'"),
    (GOOD.replace('why = "because two"', 'why = "b"\nhint = "c"', 1), "choice B has unknown keys ['hint']"),
    (GOOD * 2, "3–5 [[question]] entries; got 6"),
    ("[[question]\n", "bad.toml: not valid TOML"),
])
def test_a_malformed_quiz_is_refused_naming_the_file_the_question_and_what_was_expected(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        quiz.parse(text, name="bad.toml")


def test_an_unknown_stem_is_refused_listing_the_quizzes_there_are():
    with pytest.raises(ValueError, match=r"one of \[.*'16_assistant'\]; got '99_nothing'"):
        quiz.load("99_nothing")
    with pytest.raises(ValueError, match=r"stem must name a notebook with a quiz.*; got \['16_assistant'\]"):
        quiz.load(["16_assistant"])
