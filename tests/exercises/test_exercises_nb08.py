"""Notebook 08's checkers beyond their Mistakes: the package's answers, a crash on the empty output, unfinished code."""

import math

import torch

from lmcourse.exercises import nb08_translation as ex
from lmcourse.metrics import brevity_penalty as package_brevity_penalty
from solutions import solution_namespace


def test_package_brevity_penalty_passes_the_checker():
    assert ex.check_brevity_penalty(package_brevity_penalty).passed


def test_brevity_penalty_crash_on_empty_output_names_the_case():
    result = ex.check_brevity_penalty(lambda c, r: 1.0 if c >= r else math.exp(1 - r / c))
    assert not result.passed and "empty output" in result.failed_case and "ZeroDivisionError" in result.message


def test_the_notebooks_beam_step_is_the_first_step_of_the_package_beam_search():
    from lmcourse.decoding import beam_search

    beam_step = solution_namespace("08_translation")["beam_step"]
    g = torch.Generator().manual_seed(0)
    lp = torch.log_softmax(torch.randn(1, 9, generator=g), -1)
    scores, parent, token = beam_step(torch.tensor([0.0]), lp, 3)
    result = beam_search(lambda t, b: lp.expand(t.shape[0], -1), torch.tensor([[1]]), beam_size=3,
                         max_new_tokens=1, eos_id=0)
    assert torch.equal(result.beams[0, :, 1], token) and torch.allclose(result.beam_log_probs[0], scores)
