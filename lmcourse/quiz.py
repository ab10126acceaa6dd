"""The quiz at the end of every notebook: a few questions on its ideas, each answer explained.

The questions are data, one TOML file per notebook in ``quizzes/`` (``05_self_attention.toml``
for ``notebooks/05_self_attention.ipynb``), so a teacher can read and change them without
touching code. Each ``[[question]]`` has a ``prompt`` and its ``[[question.choice]]`` entries; a
choice has its ``text``, a ``why`` (the explanation shown when it is picked, right or wrong) and,
for exactly one choice, ``right = true``. Strings may use ``code``, **bold** and $math$.

In a notebook, ``quiz.show("05_self_attention")`` shows one block per question with a lettered
button per choice; a click says whether that choice is right and why, and the learner may try
again. The tally counts a question as right on the first try only when the first click was right.
Slides show the questions, with the answers in the speaker notes (:func:`to_markdown`).

In the Chinese edition (see :mod:`lmcourse.language`) the questions, choices, explanations and the
widget's words come from the quiz's PO file, ``locale/zh/quizzes/<stem>.po``.
"""

from __future__ import annotations

import functools
import html
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .language import translate

QUIZ_DIR = Path(__file__).with_name("quizzes")
LETTERS = "ABCDE"
MIN_QUESTIONS, MAX_QUESTIONS = 3, 5
MIN_CHOICES, MAX_CHOICES = 2, len(LETTERS)



@dataclass(frozen=True)
class Choice:
    text: str
    why: str
    right: bool = False


@dataclass(frozen=True)
class Question:
    prompt: str
    choices: tuple[Choice, ...]

    @property
    def answer(self) -> int:
        """Index of the right choice."""
        return next(i for i, c in enumerate(self.choices) if c.right)


@dataclass(frozen=True)
class Quiz:
    stem: str
    questions: tuple[Question, ...]

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """Outside the lab's widgets (a static viewer, a terminal): the questions, without the answers."""
        return {"text/plain": to_markdown(self, answers=False),
                "text/markdown": to_markdown(self, answers=False)}


def _string(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where} must be a non-empty string; got {value!r}")
    return value.strip()


def _keys(table: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ValueError(f"{where} has unknown keys {unknown}; expected only {sorted(allowed)}")


def parse(text: str, *, name: str) -> Quiz:
    """A :class:`Quiz` from the TOML ``text`` of the file ``name``; a malformed quiz raises ``ValueError``
    naming the file, the question and what was expected (nothing is half-loaded)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{name}: not valid TOML: {err}") from None
    _keys(data, {"question"}, name)
    raw = data.get("question")
    if not isinstance(raw, list) or not MIN_QUESTIONS <= len(raw) <= MAX_QUESTIONS:
        count = len(raw) if isinstance(raw, list) else 0
        raise ValueError(f"{name} must have {MIN_QUESTIONS}–{MAX_QUESTIONS} [[question]] entries; got {count}")
    questions = []
    for q_index, q in enumerate(raw, start=1):
        where = f"{name}, question {q_index}"
        _keys(q, {"prompt", "choice"}, where)
        prompt = _string(q.get("prompt"), f"{where}: prompt")
        choices_raw = q.get("choice")
        if not isinstance(choices_raw, list) or not MIN_CHOICES <= len(choices_raw) <= MAX_CHOICES:
            count = len(choices_raw) if isinstance(choices_raw, list) else 0
            raise ValueError(f"{where} must have {MIN_CHOICES}–{MAX_CHOICES} [[question.choice]] entries; got {count}")
        choices = []
        for c_index, c in enumerate(choices_raw):
            at = f"{where}, choice {LETTERS[c_index]}"
            _keys(c, {"text", "why", "right"}, at)
            right = c.get("right", False)
            if not isinstance(right, bool):
                raise ValueError(f"{at}: right must be true or false; got {right!r}")
            choices.append(Choice(_string(c.get("text"), f"{at}: text"), _string(c.get("why"), f"{at}: why"), right))
        rights = sum(c.right for c in choices)
        if rights != 1:
            raise ValueError(f"{where} must have exactly one choice with right = true; got {rights}")
        texts = [c.text for c in choices]
        if len(set(texts)) != len(texts):
            raise ValueError(f"{where} has two choices with the same text")
        questions.append(Question(prompt, tuple(choices)))
    return Quiz(Path(name).stem, tuple(questions))


def stems() -> list[str]:
    """The notebooks that have a quiz, by file stem."""
    return sorted(p.stem for p in QUIZ_DIR.glob("*.toml"))


def load(stem: str, *, language: str | None = None) -> Quiz:
    """The quiz of ``notebooks/<stem>.ipynb``, read from ``quizzes/<stem>.toml`` and checked (see :func:`parse`),
    in ``language`` (default: the course's, :func:`lmcourse.language.current`)."""
    if not isinstance(stem, str) or stem not in stems():
        raise ValueError(f"stem must name a notebook with a quiz, one of {stems()}; got {stem!r}")
    path = QUIZ_DIR / f"{stem}.toml"
    quiz = parse(path.read_text(encoding="utf-8"), name=path.name)

    def tr(text: str) -> str:
        return translate(text, language)

    return Quiz(quiz.stem, tuple(Question(tr(q.prompt), tuple(Choice(tr(c.text), tr(c.why), c.right)
                                                                for c in q.choices)) for q in quiz.questions))


def to_markdown(quiz: Quiz, *, answers: bool, language: str | None = None) -> str:
    """The quiz as Markdown: numbered questions with lettered choices; with ``answers``, the right
    letter of each question and the explanation of every choice (for a teacher's speaker notes)."""
    if not isinstance(quiz, Quiz):
        raise ValueError(f"quiz must be a Quiz (from quiz.load); got {type(quiz).__name__}")
    lines = []
    for number, q in enumerate(quiz.questions, start=1):
        if answers:
            lines.append(translate(f"**{number}. Answer: {LETTERS[q.answer]}.** {q.choices[q.answer].why}", language))
            lines += [f"- {LETTERS[i]}: {c.why}" for i, c in enumerate(q.choices) if not c.right]
        else:
            lines.append(f"**{number}.** {q.prompt}")
            lines += [f"- **{LETTERS[i]}.** {c.text}" for i, c in enumerate(q.choices)]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _html(text: str) -> str:
    """The quiz's small Markdown (``code``, **bold**, *italic*) as HTML; $math$ is left for MathJax."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", out)
    return re.sub(r"(?<![*\w])\*([^*\s][^*]*)\*(?![*\w])", r"<i>\1</i>", out)


RIGHT, WRONG = "#1b7f3b", "#b3261e"


def widget(quiz: Quiz):
    """The quiz as an ipywidgets box: per question, its prompt, a button per choice and the
    explanation of the last choice clicked; a tally at the bottom."""
    import ipywidgets as w

    if not isinstance(quiz, Quiz):
        raise ValueError(f"quiz must be a Quiz (from quiz.load); got {type(quiz).__name__}")
    first_try: dict[int, bool] = {}
    tally = w.HTML()

    def update_tally() -> None:
        right = sum(first_try.values())
        tally.value = translate(f"<b>{len(first_try)} of {len(quiz.questions)}</b> answered; "
                                f"<b>{right}</b> right on the first try.")

    blocks = []
    for number, q in enumerate(quiz.questions):
        feedback = w.HTMLMath(layout=w.Layout(margin="0 0 0 3.2em"))
        buttons = []

        def pick(button, number=number, q=q, feedback=feedback, buttons=buttons) -> None:
            index = buttons.index(button)
            choice = q.choices[index]
            first_try.setdefault(number, choice.right)
            button.button_style = "success" if choice.right else "danger"
            mark, colour = (translate("✔ Right"), RIGHT) if choice.right else (translate("✘ Not this one"), WRONG)
            feedback.value = (f'<span style="color:{colour}"><b>{mark} ({LETTERS[index]}).</b></span> '
                              f"{_html(choice.why)}")
            update_tally()

        rows = []
        for index, choice in enumerate(q.choices):
            button = w.Button(description=LETTERS[index], layout=w.Layout(width="2.6em", flex="0 0 auto"),
                              tooltip=translate(f"answer {LETTERS[index]}"))
            button.on_click(pick)
            buttons.append(button)
            rows.append(w.HBox([button, w.HTMLMath(_html(choice.text), layout=w.Layout(margin="0 0 0 0.6em"))],
                               layout=w.Layout(align_items="center")))
        prompt = w.HTMLMath(f"<b>{number + 1}.</b> {_html(q.prompt)}")
        blocks.append(w.VBox([prompt, *rows, feedback], layout=w.Layout(margin="0 0 1em 0")))
    update_tally()
    return _box_class()([*blocks, tally], quiz=quiz)


@functools.cache
def _box_class():
    import ipywidgets as w

    class QuizBox(w.VBox):
        """A VBox that also carries its questions as text and HTML, for viewers without widgets."""

        def __init__(self, children, *, quiz: Quiz):
            super().__init__(children)
            self.quiz = quiz

        def _repr_mimebundle_(self, **kwargs):
            bundle = super()._repr_mimebundle_(**kwargs) or {}
            bundle["text/plain"] = to_markdown(self.quiz, answers=False)
            bundle["text/html"] = static_html(self.quiz)
            return bundle

    return QuizBox


def static_html(quiz: Quiz, *, language: str | None = None) -> str:
    """The questions and choices as HTML, without the answers: what a viewer without widgets shows."""
    parts = []
    for number, q in enumerate(quiz.questions, start=1):
        items = "".join(f"<li><b>{LETTERS[i]}.</b> {_html(c.text)}</li>" for i, c in enumerate(q.choices))
        parts.append(f'<p><b>{number}.</b> {_html(q.prompt)}</p><ul style="list-style:none">{items}</ul>')
    run_it = translate("Run the cell in JupyterLab to answer.", language)
    return "<div>" + "".join(parts) + f"<p><i>{run_it}</i></p></div>"


def show(stem: str):
    """The quiz of notebook ``stem`` as a widget: make it a cell's last line to see it."""
    return widget(load(stem))
