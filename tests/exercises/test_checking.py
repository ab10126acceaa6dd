"""The exercise machinery: pass marks, specific hints, and never raising on a learner's bug."""

import numpy as np
import pytest
import torch

from lmcourse.exercises import Case, Mistake, Rule, check_function, check_rules, check_value, same

CASES = [Case((2, 3), label="(2, 3)"), Case((0, 5)), Case((4,), {"b": 1})]


def add(a, b):
    return a + b


def test_correct_function_passes_and_prints_a_pass_mark(capsys):
    result = check_function(add, add, CASES, name="check_add")
    assert result.passed and bool(result)
    assert capsys.readouterr().out.strip() == "✔ check_add: all 3 cases pass. Well done!"


def test_wrong_answer_names_the_case_expected_and_got(capsys):
    result = check_function(lambda a, b: a - b, add, CASES, name="check_add")
    out = capsys.readouterr().out
    assert not result.passed and result.failed_case == "(2, 3)"
    assert "wrong answer on case 1 of 3, input (2, 3)" in out
    assert "expected: 5" in out and "got:      -1" in out


def test_known_mistake_gives_its_hint():
    result = check_function(lambda a, b: a * b, add, CASES, name="check_add",
                            mistakes=[Mistake(lambda a, b: a - b, "you subtracted"),
                                      Mistake(lambda a, b: a * b, "you multiplied")])
    assert result.mistake == "you multiplied"
    assert "Hint: you multiplied" in result.message


def test_unfinished_function_is_reported_not_raised(capsys):
    def todo(a, b):
        raise NotImplementedError

    result = check_function(todo, add, CASES, name="check_add")
    assert not result.passed
    assert "not written yet" in capsys.readouterr().out


def test_crashing_function_is_reported_with_its_error(capsys):
    result = check_function(lambda a, b: a / 0, add, CASES, name="check_add")
    assert not result.passed
    assert "raised ZeroDivisionError" in capsys.readouterr().out


def test_passing_a_call_instead_of_a_function_is_explained():
    result = check_function(5, add, CASES, name="check_add")
    assert "expected a function, got 5" in result.message and "without calling it" in result.message


def test_learner_cannot_spoil_the_inputs_of_later_cases():
    data = [3, 1, 2]

    def sort_in_place(xs):
        xs.sort()
        return xs

    result = check_function(sort_in_place, sorted, [Case((data,)), Case((data,))], name="check_sort")
    assert result.passed and data == [3, 1, 2]


def test_tensors_compare_by_shape_then_values():
    t = torch.tensor([[1.0, 2.0]])
    assert same(t + 1e-7, t)
    assert not same(t.T, t)
    assert not same(t.tolist(), t)
    result = check_function(lambda x: x.T, lambda x: x, [Case((t,))], name="check_t")
    assert "shape (2, 1) instead of (1, 2)" in result.message


def test_mappings_report_missing_and_wrong_keys():
    result = check_function(lambda: {"a": 1}, lambda: {"a": 1, "b": 2}, [Case()], name="check_d")
    assert "missing keys ['b']" in result.message
    result = check_function(lambda: {"a": 1.5}, lambda: {"a": 1.0}, [Case()], name="check_d")
    assert "at key 'a': expected 1.0, got 1.5" in result.message


@pytest.mark.parametrize("answer, passed", [(0.5, True), (0.50000001, True), (0.25, False), (None, False)])
def test_check_value(answer, passed, capsys):
    result = check_value(answer, 0.5, name="half", hint="divide by two")
    assert result.passed is passed
    out = capsys.readouterr().out
    if answer == 0.25:
        assert "Hint: divide by two" in out
    if answer is None:
        assert "no answer yet" in out


EVEN = [Rule(lambda xs: None if isinstance(xs, list) else f"expected a list, got {type(xs).__name__}", "return a list"),
        Rule(lambda xs: next((f"{x} is odd" for x in xs if x % 2), None), "keep only the even numbers")]


def _evens(fn):
    return fn([1, 2, 3, 4])


def test_check_rules_passes_with_praise_and_gives_the_first_broken_rules_hint(capsys):
    praise = lambda xs: f"{len(xs)} even numbers kept."  # noqa: E731
    assert check_rules(lambda xs: [x for x in xs if x % 2 == 0], _evens, EVEN, name="evens", where="[1, 2, 3, 4]",
                       praise=praise).passed
    assert capsys.readouterr().out.strip() == "✔ evens: 2 even numbers kept."
    result = check_rules(lambda xs: xs, _evens, EVEN, name="evens", where="[1, 2, 3, 4]", praise=praise)
    assert result.message == "✘ evens: 1 is odd\n  Hint: keep only the even numbers"
    assert result.mistake == "keep only the even numbers" and result.failed_case == "[1, 2, 3, 4]"
    assert check_rules(lambda xs: 0, _evens, EVEN, name="evens", where="", praise=praise).mistake == "return a list"


def test_check_rules_reports_a_crash_an_unfinished_function_and_a_call_instead_of_a_function():
    def todo(xs):
        raise NotImplementedError

    kwargs = dict(name="evens", where="[1, 2, 3, 4]", praise=str, crash_hint="take one list")
    crashed = check_rules(lambda xs: xs[9], _evens, EVEN, **kwargs)
    assert crashed.message.startswith("✘ evens: on [1, 2, 3, 4] your function raised IndexError")
    assert crashed.mistake == "take one list"
    assert "not written yet" in check_rules(todo, _evens, EVEN, **kwargs).message
    assert "expected a function, got [2, 4]" in check_rules([2, 4], _evens, EVEN, **kwargs).message


_TOPK = torch.tensor([3.0, 1.0, 2.0]).topk(2)


@pytest.mark.parametrize("got, expected, says", [
    (torch.tensor([1, 2]), [1, 2], "expected a list, got a tensor (int64) (convert it with .tolist())"),
    ([1, 2], torch.tensor([1, 2]), "expected a tensor, got list"),
    (_TOPK, torch.tensor([0, 2]), "expected a tensor, got a topk pair (values, indices) — take the one you need"),
    (torch.tensor([1.0, 0.0]), torch.tensor([True, False]), "expected a bool mask"),
    (torch.tensor([True]), torch.tensor([1.0]), "expected a tensor of floating values (dtype float32), got dtype bool"),
    ("0.5", 0.5, "expected a number, got str '0.5' — a number written as text is not a number"),
    (True, 1, "expected an integer, got bool True"),
    (3.0, 3, "expected an integer, got float 3.0 (use // or int(...)"),
    (torch.tensor(0.5), 0.5, "expected a number, got a tensor (float32) (convert it with .item())"),
    (1, True, "expected True or False, got int 1"),
    ([1, "2"], [1, 2], "at position 1: expected an integer, got str '2'"),
    ({"a": [1.0]}, {"a": 1.0}, "at key 'a': expected a number, got list [1.0]"),
    ([1, 2], [1, 2, 3], "2 items instead of 3"),
    (torch.zeros(2, 3), torch.zeros(3, 2), "shape (2, 3) instead of (3, 2)"),
    (torch.zeros(2), (torch.zeros(2), torch.zeros(2)), "expected a tuple of 2 items, got a tensor (float32)"),
])
def test_an_answer_of_the_wrong_kind_is_refused_with_a_sentence_saying_what_came_back(got, expected, says, capsys):
    assert not same(got, expected)
    result = check_function(lambda: got, lambda: expected, [Case()], name="check_kind")
    assert not result.passed and says in result.message


def test_a_pair_of_tensors_is_shown_item_by_item_and_a_tensor_for_it_gets_no_tolist_advice():
    pair = (torch.zeros(2, 3), torch.ones(3))
    result = check_function(lambda: torch.zeros(2, 3), lambda: pair, [Case()], name="check_pair")
    assert "expected: (tensor of shape (2, 3), float32 [0, 0, 0, 0, 0, 0]; tensor of shape (3,)" in result.message
    assert ".tolist()" not in result.message


@pytest.mark.parametrize("got, expected", [
    (np.int64(3), 3), (3, np.int64(3)), (2, 2.0), (np.float32(0.5), 0.5), ((1, 2), [1, 2]), ([1, 2], (1, 2)),
    (torch.tensor([1.0], dtype=torch.float64), torch.tensor([1.0])), (torch.tensor([1], dtype=torch.int32),
                                                                     torch.tensor([1])),
    (np.bool_(True), True), ({"a": (1, 2)}, {"a": [1, 2]}), (float("nan"), float("nan")),
])
def test_a_right_answer_in_another_valid_form_passes(got, expected):
    assert same(got, expected)


def test_an_answer_that_breaks_every_comparison_and_its_own_repr_is_refused_quietly(capsys):
    class Odd:
        def __eq__(self, other):
            raise RuntimeError("no")

        def __repr__(self):
            raise RuntimeError("no repr either")

    result = check_function(lambda: Odd(), lambda: 1, [Case()], name="check_odd", compare=lambda g, e: g == e)
    assert not result.passed and "got:      <Odd object>" in result.message
