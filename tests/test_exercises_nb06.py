"""Checkers of notebook 06 accept the notebook's own solutions and catch the usual head/position mistakes."""

import pytest
import torch

from lmcourse.exercises import nb06_multihead_attention as ex
from lmcourse.positions import sinusoidal_table
from solutions import solution_namespace


@pytest.fixture(scope="module")
def solved():
    return solution_namespace("06_multihead_attention", setup="import math, torch\n"
                                                               "from lmcourse.exercises import nb06_multihead_attention as ex")


def test_reference_solutions_pass(solved):
    assert ex.check_split_heads(solved["split_heads_ex"]).passed
    assert ex.check_sinusoidal_table(solved["sinusoidal_table_ex"]).passed


def test_package_table_passes_the_sinusoidal_checker():
    assert ex.check_sinusoidal_table(sinusoidal_table).passed


@pytest.mark.parametrize("wrong, hint", [
    (lambda x, n: x.reshape(x.shape[0], n, x.shape[1], x.shape[2] // n), "scrambled"),
    (lambda x, n: x.view(x.shape[0], x.shape[1], x.shape[2] // n, n).permute(0, 3, 1, 2), "strided"),
    (lambda x, n: x.view(x.shape[0], x.shape[1], n, x.shape[2] // n), "forgot to move the head axis"),
])
def test_split_heads_mistakes_get_their_hint(wrong, hint):
    result = ex.check_split_heads(wrong)
    assert not result.passed and hint in result.mistake


def _pe(n, d, exponent=lambda i, d: 2 * i / d, swap=False, start=0, halves=False):
    pos = torch.arange(start, start + n).float()[:, None]
    angle = pos / 10000 ** exponent(torch.arange(d // 2).float(), d)
    a, b = (torch.cos(angle), torch.sin(angle)) if swap else (torch.sin(angle), torch.cos(angle))
    if halves:
        return torch.cat([a, b], -1)
    return torch.stack([a, b], -1).reshape(n, d)


@pytest.mark.parametrize("wrong, hint", [
    (lambda n, d: _pe(n, d, swap=True), "swapped"),
    (lambda n, d: _pe(n, d, exponent=lambda i, d: i / d), "i counts the *pairs*"),
    (lambda n, d: _pe(n, d, exponent=lambda i, d: 2 * i / (d - 2)), "not d_model − 2"),
    (lambda n, d: _pe(n, d, halves=True), "interleaves"),
    (lambda n, d: _pe(n, d, start=1), "positions start at 0"),
    (lambda n, d: _pe(n, d, exponent=lambda i, d: -2 * i / d), "sign of the exponent"),
])
def test_sinusoidal_mistakes_get_their_hint(wrong, hint):
    result = ex.check_sinusoidal_table(wrong)
    assert not result.passed and hint in result.mistake
