"""Checkers of notebook 08 accept the notebook's own solutions and catch the usual mistakes."""

import math

import pytest
import torch

from lmcourse.exercises import nb08_translation as ex
from lmcourse.metrics import brevity_penalty as package_brevity_penalty
from solutions import solution_namespace


@pytest.fixture(scope="module")
def solved():
    return solution_namespace("08_translation", setup="import math, torch\n"
                                                      "from lmcourse.exercises import nb08_translation as ex")


def test_reference_solutions_pass(solved):
    assert ex.check_brevity_penalty(solved["brevity_penalty"]).passed
    assert ex.check_beam_step(solved["beam_step"]).passed


def test_package_brevity_penalty_passes_the_checker():
    assert ex.check_brevity_penalty(package_brevity_penalty).passed


@pytest.mark.parametrize("wrong, hint", [
    (lambda c, r: 1.0 if c >= r else math.exp(1 - c / r), "upside down"),
    (lambda c, r: math.exp(1 - r / c) if c else 0.0, "must get exactly 1"),
    (lambda c, r: 1.0 if c >= r else (1 - r / c if c else 0.0), "exponential is missing"),
    (lambda c, r: 1.0 if c >= r else (math.exp(1 - r / c) if c else 1.0), "empty output must score 0"),
])
def test_brevity_penalty_mistakes_get_their_hint(wrong, hint):
    result = ex.check_brevity_penalty(wrong)
    assert not result.passed and hint in (result.mistake or "")


def test_brevity_penalty_crash_on_empty_output_names_the_case():
    result = ex.check_brevity_penalty(lambda c, r: 1.0 if c >= r else math.exp(1 - r / c))
    assert not result.passed and "empty output" in result.failed_case and "ZeroDivisionError" in result.message


def test_unfinished_exercise_is_reported_not_raised():
    def todo(*args):
        raise NotImplementedError
    assert "not written yet" in ex.check_beam_step(todo).message


def _flat(s, lp, k):
    return (s[:, None] + lp).flatten().topk(k)


@pytest.mark.parametrize("wrong, hint", [
    (lambda s, lp, k: (lambda t, f: (t, f // lp.shape[-1], f % lp.shape[-1]))(*lp.flatten().topk(k)), "running score"),
    (lambda s, lp, k: (lambda best, tok: (lambda t, p: (t, p, tok[p]))(*(s + best).topk(k)))(*lp.max(-1)),
     "best token of each beam"),
    (lambda s, lp, k: (lambda t, f: (t, f // lp.shape[-1], f))(*_flat(s, lp, k)), "flat index into K·V"),
    (lambda s, lp, k: (lambda t, f: (t, f % lp.shape[-1], f // lp.shape[-1]))(*_flat(s, lp, k)), "swapped"),
    (lambda s, lp, k: (lambda t, f: (t, f // lp.shape[-1], f % lp.shape[-1]))(*_flat(s, lp.exp(), k)),
     "probabilities were added to log-scores"),
])
def test_beam_step_mistakes_get_their_hint(wrong, hint):
    result = ex.check_beam_step(wrong)
    assert not result.passed and hint in (result.mistake or "")


def test_beam_step_matches_the_first_step_of_the_package_beam_search(solved):
    from lmcourse.decoding import beam_search
    g = torch.Generator().manual_seed(0)
    lp = torch.log_softmax(torch.randn(1, 9, generator=g), -1)
    scores, parent, token = solved["beam_step"](torch.tensor([0.0]), lp, 3)
    result = beam_search(lambda t, b: lp.expand(t.shape[0], -1), torch.tensor([[1]]), beam_size=3,
                         max_new_tokens=1, eos_id=0)
    assert torch.equal(result.beams[0, :, 1], token) and torch.allclose(result.beam_log_probs[0], scores)
