"""The machinery behind every self-checking exercise.

A checker runs the learner's function on several inputs, compares each answer with the
reference behaviour and prints either a pass mark or a hint that teaches: which input
failed, what was expected and what came back, and — when the answer matches a known
wrong implementation (a :class:`Mistake`) — what that mistake is. An answer that cannot be
compared with one reference (a random masking, say) is checked against rules (:class:`Rule`),
with :func:`check_rules`. A checker never raises because the learner's code is wrong or
unfinished: it prints, and returns a :class:`Result` you can test in code.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..language import translate


@dataclass(frozen=True)
class Case:
    """One input to try: positional ``args``, optional ``kwargs``, and a ``label`` to name it in hints."""

    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""

    def describe(self) -> str:
        if self.label:
            return self.label
        parts = [_short(a) for a in self.args] + [f"{k}={_short(v)}" for k, v in self.kwargs.items()]
        return "(" + ", ".join(parts) + ")"


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: a function that makes the mistake, and the hint to give when it matches."""

    fn: Callable[..., Any]
    hint: str


@dataclass(frozen=True)
class Rule:
    """A property every right answer has: ``broken(answer)`` returns what is wrong (a sentence), or None."""

    broken: Callable[[Any], str | None]
    hint: str


@dataclass(frozen=True)
class Result:
    """What a checker found. Truthy when every case passed; ``message`` is what was printed."""

    passed: bool
    message: str
    failed_case: str | None = None
    mistake: str | None = None

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message

    def _ipython_display_(self) -> None:
        """The checker already printed the message; showing the object again would repeat it."""


def _short(value: Any, limit: int = 60) -> str:
    try:
        return _shorten(value, limit)
    except Exception:  # a learner's object that cannot even be shown is still named
        return f"<{type(value).__name__} object>"


def _shorten(value: Any, limit: int) -> str:
    if isinstance(value, torch.Tensor):
        head = value.detach().flatten()[:6].tolist()
        shown = ", ".join(f"{x:.4g}" if isinstance(x, float) else str(x) for x in head)
        more = ", …" if value.numel() > 6 else ""
        return f"tensor of shape {tuple(value.shape)}, {str(value.dtype).replace('torch.', '')} [{shown}{more}]"
    if isinstance(value, np.ndarray):
        return _short(torch.from_numpy(np.ascontiguousarray(value)))
    if isinstance(value, (list, tuple)) and any(isinstance(v, (torch.Tensor, np.ndarray)) for v in value):
        shown = [_short(v, limit) for v in value[:4]]
        more = ", …" if len(value) > 4 else ""
        ends = "[]" if isinstance(value, list) else "()"
        return ends[0] + "; ".join(shown) + more + ends[1]
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _as_array(value: Any) -> np.ndarray | None:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    if isinstance(value, np.ndarray):
        return value.astype(float)
    return None


def _dtype_family(dtype: Any) -> str:
    """``bool``, ``integer``, ``floating`` or ``complex``: the kinds of element a checker tells apart."""
    if isinstance(dtype, torch.dtype):
        if dtype == torch.bool:
            return "bool"
        if dtype.is_complex:
            return "complex"
        return "floating" if dtype.is_floating_point else "integer"
    kind = np.dtype(dtype).kind
    return {"b": "bool", "i": "integer", "u": "integer", "f": "floating", "c": "complex"}.get(kind, str(dtype))


def _type_name(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor ({str(value.dtype).replace('torch.', '')})"
    if isinstance(value, np.ndarray):
        return f"a NumPy array ({value.dtype})"
    if _fields(value):  # torch.return_types.topk, a namedtuple
        return f"a {type(value).__name__} pair ({', '.join(_fields(value))})"
    return f"{type(value).__name__} {_short(value, 30)}"


def _fields(value: Any) -> tuple[str, ...]:
    """The field names of a named tuple or of torch's ``return_types`` (``topk``, ``max``…), else ()."""
    if not isinstance(value, tuple):
        return ()
    return tuple(getattr(value, "_fields", None) or getattr(type(value), "__match_args__", None) or ())


def _numbers_only(value: Any) -> bool:
    """True for a (nested) list or tuple that holds plain numbers only: what ``.tolist()`` gives."""
    if isinstance(value, (list, tuple)):
        return all(_numbers_only(v) for v in value)
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


_INTEGERS = (int, np.integer)
_REALS = (int, float, np.integer, np.floating)


def _kind_mismatch(got: Any, expected: Any) -> str | None:
    """Why ``got`` is not the *kind* of answer ``expected`` is (a sentence), or None when it is.

    Valid other forms pass: an ``np.int64`` for an int, an int for a float, a tuple for a list,
    a float64 tensor for a float32 one. What a learner must fix is named, never coerced: a tensor
    where a list is asked, a float mask where a bool mask is asked, a number written as a string.
    """
    if isinstance(expected, torch.Tensor) or isinstance(expected, np.ndarray):
        want = "a tensor" if isinstance(expected, torch.Tensor) else "a NumPy array"
        if type(got) is not type(expected) and not (isinstance(got, np.ndarray) and isinstance(expected, np.ndarray)):
            extra = ""
            if _fields(got):
                extra = f" — take the one you need, e.g. .{_fields(got)[-1]}"
            elif isinstance(got, (list, tuple)):
                extra = " (build it with torch.tensor(...) or torch.stack(...))" if want == "a tensor" else ""
            elif isinstance(got, torch.Tensor):
                extra = " (use .numpy())"
            return f"expected {want}, got {_type_name(got)}{extra}"
        want_kind, got_kind = _dtype_family(expected.dtype), _dtype_family(got.dtype)
        if want_kind != got_kind:
            if want_kind == "bool":
                return (f"expected a bool mask (True/False, e.g. from a comparison such as x > 0), got dtype "
                        f"{str(got.dtype).replace('torch.', '')}: 0s and 1s are not a bool mask")
            return (f"expected {want} of {want_kind} values (dtype {str(expected.dtype).replace('torch.', '')}), "
                    f"got dtype {str(got.dtype).replace('torch.', '')}")
        return None
    if isinstance(got, (torch.Tensor, np.ndarray)):
        scalar = isinstance(expected, _REALS) or isinstance(expected, (bool, np.bool_))
        if scalar:
            return f"expected a number, got {_type_name(got)} (convert it with .item())"
        if isinstance(expected, (list, tuple)) and _numbers_only(expected):
            return f"expected a {type(expected).__name__}, got {_type_name(got)} (convert it with .tolist())"
        size = f" of {len(expected)} items" if isinstance(expected, (list, tuple)) else ""
        return f"expected a {type(expected).__name__}{size}, got {_type_name(got)}"
    if isinstance(expected, (bool, np.bool_)):
        return None if isinstance(got, (bool, np.bool_)) else f"expected True or False, got {_type_name(got)}"
    if isinstance(expected, _INTEGERS):
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, _INTEGERS):
            hint = " (use // or int(...) where the answer is a whole number)" if isinstance(got, float) else ""
            return f"expected an integer, got {_type_name(got)}{hint}"
        return None
    if isinstance(expected, _REALS):
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, _REALS):
            hint = " — a number written as text is not a number" if isinstance(got, str) else ""
            return f"expected a number, got {_type_name(got)}{hint}"
        return None
    if isinstance(expected, str):
        return None if isinstance(got, str) else f"expected a string, got {_type_name(got)}"
    if isinstance(expected, Mapping):
        return None if isinstance(got, Mapping) else f"expected a dict, got {_type_name(got)}"
    if isinstance(expected, (set, frozenset)):
        return None if isinstance(got, (set, frozenset)) else f"expected a set, got {_type_name(got)}"
    if isinstance(expected, (list, tuple)):
        if isinstance(got, (list, tuple)) and (not _fields(got) or _fields(expected)):
            return None
        return f"expected a {type(expected).__name__}, got {_type_name(got)}"
    if expected is None:
        return None if got is None else f"expected None, got {_type_name(got)}"
    return None


def same(got: Any, expected: Any, *, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    """Equality the way a checker means it: the same kind of answer (see :func:`_kind_mismatch`),
    then tensors/arrays by shape and allclose, floats by isclose, mappings and sequences element
    by element, anything else by ``==``."""
    try:
        if _kind_mismatch(got, expected):
            return False
        exp_arr = _as_array(expected)
        if exp_arr is not None:
            got_arr = _as_array(got)
            return got_arr.shape == exp_arr.shape and bool(np.allclose(got_arr, exp_arr, rtol=rtol, atol=atol,
                                                                       equal_nan=True))
        if isinstance(expected, (float, np.floating)):
            return math.isclose(float(got), float(expected), rel_tol=rtol, abs_tol=atol) or (
                math.isnan(float(got)) and math.isnan(float(expected)))
        if isinstance(expected, Mapping):
            return set(got) == set(expected) and all(same(got[k], expected[k], rtol=rtol, atol=atol) for k in expected)
        if isinstance(expected, (list, tuple)):
            return len(got) == len(expected) and all(same(g, e, rtol=rtol, atol=atol) for g, e in zip(got, expected))
        return bool(got == expected)
    except Exception:  # comparisons of odd types must not crash the checker
        return False


def _difference(got: Any, expected: Any) -> str:
    """A short sentence on *how* ``got`` differs, when that is more useful than both values."""
    try:
        return _how_different(got, expected)
    except Exception:  # an answer of an odd type must not crash the checker that describes it
        return ""


def _how_different(got: Any, expected: Any) -> str:
    kind = _kind_mismatch(got, expected)
    if kind:
        return kind
    exp_arr, got_arr = _as_array(expected), _as_array(got)
    if exp_arr is not None:
        if got_arr.shape != exp_arr.shape:
            return f"shape {tuple(got_arr.shape)} instead of {tuple(exp_arr.shape)}"
        with np.errstate(invalid="ignore"):  # inf - inf where both agree is no difference
            gap = np.where(got_arr == exp_arr, 0.0, np.abs(got_arr - exp_arr))
        return f"largest difference {np.max(gap):.3g}"
    if isinstance(expected, Mapping):
        missing, extra = set(expected) - set(got), set(got) - set(expected)
        if missing or extra:
            return (f"missing keys {_short(sorted(missing, key=repr))}" if missing else "") + \
                   ("; " if missing and extra else "") + \
                   (f"unexpected keys {_short(sorted(extra, key=repr))}" if extra else "")
        wrong = next(k for k in expected if not same(got[k], expected[k]))
        inner = _how_different(got[wrong], expected[wrong])
        return f"at key {wrong!r}: " + (inner or f"expected {_short(expected[wrong])}, got {_short(got[wrong])}")
    if isinstance(expected, (list, tuple)):
        if len(got) != len(expected):
            return f"{len(got)} items instead of {len(expected)}"
        wrong = next(i for i, (g, e) in enumerate(zip(got, expected)) if not same(g, e))
        inner = _how_different(got[wrong], expected[wrong])
        return f"at position {wrong}: " + (inner or f"expected {_short(expected[wrong])}, got {_short(got[wrong])}")
    return ""


def _agrees(compare: Callable[[Any, Any], bool], got: Any, expected: Any) -> bool:
    """``compare(got, expected)``, where an answer that makes the comparison raise simply does not agree."""
    try:
        return bool(compare(got, expected))
    except Exception:
        return False


def _say(result: Result) -> Result:
    """Print the result's message in the course's language (:mod:`lmcourse.language`) and return it
    with that message."""
    message = translate(result.message)
    if message != result.message:
        result = Result(result.passed, message, result.failed_case, result.mistake)
    print(result.message)
    return result


class _Probe:
    """A learner's answer (a class or a function) seen through a scenario runner: ``probe(*case.args)``
    is ``run(answer, *case.args)``, the plain facts a checker compares."""

    def __init__(self, run: Callable[..., Any], answer: Any):
        self.run, self.answer = run, answer

    def __call__(self, *args):
        return self.run(self.answer, *args)


def probed(run: Callable[..., Any], answer: Any) -> Any:
    """``answer`` wrapped so that :func:`check_function` can call it like a function, when what the learner
    writes is a class or a function whose use takes several steps (build a layer, train it, merge it).

    ``run(answer, *args)`` does those steps and returns facts to compare. A probe, or a non-callable answer
    (which the core then refuses with its own message), is returned unchanged, so a checker may be handed a
    wrong answer already probed (a :class:`Mistake` built from ``run`` and a wrong class).
    """
    if isinstance(answer, _Probe) or not callable(answer):
        return answer
    return _Probe(run, answer)


def _not_a_function(name: str, learner: Any) -> Result:
    return _say(Result(False, f"✘ {name}: expected a function, got {_short(learner)}. "
                              "Pass the function itself, without calling it (no parentheses)."))


def _not_written(name: str, failed_case: str | None = None) -> Result:
    return _say(Result(False, f"✘ {name}: not written yet — replace `raise NotImplementedError` "
                              "with your code, run the cell, then run this check again.", failed_case=failed_case))


def check_function(learner: Callable[..., Any], reference: Callable[..., Any], cases: Sequence[Case], *,
                   name: str, mistakes: Sequence[Mistake] = (), rtol: float = 1e-4, atol: float = 1e-6,
                   compare: Callable[[Any, Any], bool] | None = None) -> Result:
    """Run ``learner`` and ``reference`` on every case; print a pass mark or a specific hint.

    Each case's inputs are deep-copied for each call, so a function that modifies its
    input cannot spoil the comparison. ``mistakes`` are tried in order on the first
    failing case; the first one that reproduces the learner's answer supplies the hint.
    """
    if not callable(learner):
        return _not_a_function(name, learner)
    compare = compare or (lambda got, exp: same(got, exp, rtol=rtol, atol=atol))
    for index, case in enumerate(cases, start=1):
        where = f"case {index} of {len(cases)}, input {case.describe()}"
        expected = reference(*copy.deepcopy(case.args), **copy.deepcopy(dict(case.kwargs)))
        try:
            got = learner(*copy.deepcopy(case.args), **copy.deepcopy(dict(case.kwargs)))
        except NotImplementedError:
            return _not_written(name, case.describe())
        except Exception as err:  # the learner's bug is reported, not raised
            return _say(Result(False, f"✘ {name}: on {where} your function raised "
                                      f"{type(err).__name__}: {err}", failed_case=case.describe()))
        if _agrees(compare, got, expected):
            continue
        lines = [f"✘ {name}: wrong answer on {where}.",
                 f"  expected: {_short(expected)}", f"  got:      {_short(got)}"]
        diff = _difference(got, expected)
        if diff:
            lines.append(f"  ({diff})")
        for mistake in mistakes:
            try:
                wrong = mistake.fn(*copy.deepcopy(case.args), **copy.deepcopy(dict(case.kwargs)))
            except Exception:
                continue
            if _agrees(compare, got, wrong):
                lines.append(f"  Hint: {mistake.hint}")
                return _say(Result(False, "\n".join(lines), failed_case=case.describe(), mistake=mistake.hint))
        return _say(Result(False, "\n".join(lines), failed_case=case.describe()))
    return _say(Result(True, f"✔ {name}: all {len(cases)} cases pass. Well done!"))


def check_value(got: Any, expected: Any, *, name: str, hint: str = "", rtol: float = 1e-4,
                atol: float = 1e-6) -> Result:
    """Compare one answer with the expected value; print a pass mark or ``hint``."""
    if got is None or got is Ellipsis:
        return _say(Result(False, f"✘ {name}: no answer yet — replace the placeholder with your value."))
    if same(got, expected, rtol=rtol, atol=atol):
        return _say(Result(True, f"✔ {name}: correct."))
    lines = [f"✘ {name}: not quite.", f"  expected: {_short(expected)}", f"  got:      {_short(got)}"]
    if hint:
        lines.append(f"  Hint: {hint}")
    return _say(Result(False, "\n".join(lines)))


def check_rules(learner: Callable[..., Any], run: Callable[[Callable[..., Any]], Any], rules: Sequence[Rule], *,
                name: str, where: str, praise: Callable[[Any], str], crash_hint: str = "") -> Result:
    """Check an answer that has no single right value (a random masking) by the properties it must have.

    ``run(learner)`` calls the learner on ``where`` (the input, named in messages) and returns its
    answer; the rules are tried in order, each may assume the ones before it hold, and the first
    one ``broken`` gives its hint. When none is, ``praise(answer)`` says what was right.
    """
    if not callable(learner):
        return _not_a_function(name, learner)
    try:
        answer = run(learner)
    except NotImplementedError:
        return _not_written(name)
    except Exception as err:  # the learner's bug is reported, not raised
        hint = f"\n  Hint: {crash_hint}" if crash_hint else ""
        return _say(Result(False, f"✘ {name}: on {where} your function raised {type(err).__name__}: {err}{hint}",
                           failed_case=where, mistake=crash_hint or None))
    for rule in rules:
        what = rule.broken(answer)
        if what:
            return _say(Result(False, f"✘ {name}: {what}\n  Hint: {rule.hint}", failed_case=where, mistake=rule.hint))
    return _say(Result(True, f"✔ {name}: {praise(answer)}"))
