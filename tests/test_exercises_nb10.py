"""Checkers of notebook 10 accept the notebook's own solutions and catch the usual mistakes."""

import math

import pytest

from lmcourse.exercises import nb10_training_like_the_pros as ex
from solutions import solution_namespace


@pytest.fixture(scope="module")
def solved():
    return solution_namespace("10_training_like_the_pros", setup="import math\nfrom lmcourse.exercises import nb10_training_like_the_pros as ex")


def test_reference_solutions_pass(solved):
    assert ex.check_lr_at(solved["lr_at"]).passed
    assert ex.check_split_decay(solved["split_decay"]).passed


def _warm(step, max_lr, warmup):
    return max_lr * (step + 1) / warmup


@pytest.mark.parametrize("wrong, hint", [
    (lambda s, hi, lo, w, t: hi * s / w if s < w else lo + (hi - lo) * 0.5 * (1 + math.cos(math.pi * min((s - w) / (t - w), 1))),
     "warmup starts at 0"),
    (lambda s, hi, lo, w, t: _warm(s, hi, w) if s < w else hi * 0.5 * (1 + math.cos(math.pi * min((s - w) / (t - w), 1))),
     "ends at 0, not at min_lr"),
    (lambda s, hi, lo, w, t: _warm(s, hi, w) if s < w else lo + (hi - lo) * 0.5 * (1 + math.cos(math.pi * min(s / t, 1))),
     "starts at step 0 instead of where the warmup ends"),
    (lambda s, hi, lo, w, t: _warm(s, hi, w) if s < w else hi - (hi - lo) * min((s - w) / (t - w), 1),
     "a straight line"),
    (lambda s, hi, lo, w, t: _warm(s, hi, w) if s < w else lo + (hi - lo) * math.cos(math.pi * min((s - w) / (t - w), 1)),
     "turns negative halfway"),
])
def test_lr_at_mistakes_get_their_hint(wrong, hint):
    result = ex.check_lr_at(wrong)
    assert not result.passed and hint in result.mistake


def _names(model):
    return [n for n, _ in model.named_parameters()]


@pytest.mark.parametrize("wrong, hint", [
    (lambda m: (_names(m), []), "everything is decayed"),
    (lambda m: ([n for n in _names(m) if n.endswith("weight")], [n for n in _names(m) if n.endswith("bias")]),
     "choosing by the name 'weight'"),
    (lambda m: ([n for n, p in m.named_parameters() if p.dim() < 2], [n for n, p in m.named_parameters() if p.dim() >= 2]),
     "swapped"),
    (lambda m: ([n for n, p in m.named_parameters() if p.dim() >= 2 and "emb" not in n and "wte" not in n
                 and "wpe" not in n],
                [n for n, p in m.named_parameters() if p.dim() < 2 or "emb" in n or "wte" in n or "wpe" in n]),
     "embeddings are matrices too"),
])
def test_split_decay_mistakes_get_their_hint(wrong, hint):
    result = ex.check_split_decay(wrong)
    assert not result.passed and hint in result.mistake


def test_checkers_report_unfinished_and_non_callable_answers():
    def todo(*args):
        raise NotImplementedError
    assert "not written yet" in ex.check_lr_at(todo).message
    assert not ex.check_split_decay("split_decay").passed
