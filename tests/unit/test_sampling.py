"""lmcourse.sampling: filters keep exactly what they promise, and bad arguments are refused clearly."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lmcourse._checks import ArgumentError
from lmcourse.sampling import (
    apply_temperature,
    filter_logits,
    greedy,
    next_token_probs,
    sample_next,
    top_k_filter,
    top_p_filter,
)


def _logits(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * 2


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), v=st.integers(1, 40), k=st.integers(1, 50))
def test_top_k_keeps_exactly_k_of_the_largest(seed, v, k):
    logits = _logits(seed, 3, v)
    kept = top_k_filter(logits, k).isfinite()
    assert (kept.sum(-1) == min(k, v)).all()
    smallest_kept = logits.masked_fill(~kept, math.inf).min(-1).values
    largest_dropped = logits.masked_fill(kept, -math.inf).max(-1).values
    assert (smallest_kept >= largest_dropped).all()
    assert torch.equal(top_k_filter(logits, k)[kept], logits[kept])      # survivors keep their logits


def test_top_k_keeps_exactly_k_even_with_ties():
    logits = torch.tensor([[1.0, 2.0, 2.0, 2.0, 0.0]])
    assert top_k_filter(logits, 2).isfinite().sum().item() == 2


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), v=st.integers(1, 30), p=st.floats(0.01, 1.0))
def test_top_p_keeps_the_smallest_set_with_mass_at_least_p(seed, v, p):
    logits = _logits(seed, 2, v)
    kept = top_p_filter(logits, p).isfinite()
    probs = torch.softmax(logits, -1)
    for row in range(2):
        sorted_probs = probs[row].sort(descending=True).values
        n = int(kept[row].sum())
        # the kept tokens are the n most likely ones ...
        assert math.isclose(probs[row][kept[row]].sum().item(), sorted_probs[:n].sum().item(), rel_tol=1e-5)
        # ... their mass reaches p (up to float rounding), and one fewer would not
        assert sorted_probs[:n].sum().item() >= p - 1e-5 or n == v
        assert n == 1 or sorted_probs[:n - 1].sum().item() < p


def test_top_p_worked_example():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = probs.log()
    assert top_p_filter(logits, 0.5).isfinite().tolist() == [True, False, False, False]
    assert top_p_filter(logits, 0.6).isfinite().tolist() == [True, True, False, False]   # 0.5 < 0.6: add the next
    assert top_p_filter(logits, 0.9).isfinite().tolist() == [True, True, True, False]
    assert top_p_filter(logits, 1.0).isfinite().all()


def test_top_p_restores_vocabulary_order():
    logits = torch.tensor([[0.0, 5.0, 1.0, 4.0]])
    assert top_p_filter(logits, 0.95).isfinite().tolist() == [[False, True, False, True]]


def test_temperature_scales_logits_and_changes_entropy_the_right_way():
    def entropy(scores):
        return -(torch.softmax(scores, -1) * torch.log_softmax(scores, -1)).sum().item()

    logits = _logits(0, 50)
    assert torch.allclose(apply_temperature(logits, 0.5), logits * 2)
    assert entropy(apply_temperature(logits, 0.5)) < entropy(logits) < entropy(apply_temperature(logits, 2.0))


def test_filter_logits_applies_temperature_then_top_k_then_top_p():
    logits = _logits(1, 4, 30)
    expected = top_p_filter(top_k_filter(logits / 0.7, 10), 0.8)
    assert torch.equal(filter_logits(logits, 0.7, 10, 0.8), expected)
    probs = next_token_probs(logits, 0.7, 10, 0.8)
    assert torch.allclose(probs.sum(-1), torch.ones(4)) and ((probs > 0) == expected.isfinite()).all()


def test_greedy_is_the_argmax_and_ignores_sampling_settings():
    logits = _logits(2, 5, 20)
    assert torch.equal(greedy(logits), logits.argmax(-1, keepdim=True))
    assert torch.equal(sample_next(logits, 3.0, 5, 0.5, greedy=True), logits.argmax(-1, keepdim=True))


def test_sample_next_only_draws_allowed_tokens_and_is_seeded():
    logits = _logits(3, 4, 30)
    allowed = top_k_filter(logits, 3).isfinite()
    draws = torch.cat([sample_next(logits, top_k=3, generator=torch.Generator().manual_seed(s)) for s in range(50)], 1)
    assert allowed.gather(1, draws).all()
    a = sample_next(logits, top_p=0.9, generator=torch.Generator().manual_seed(7))
    b = sample_next(logits, top_p=0.9, generator=torch.Generator().manual_seed(7))
    assert a.shape == (4, 1) and torch.equal(a, b)


def test_sample_frequencies_follow_the_filtered_distribution():
    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0]])
    g = torch.Generator().manual_seed(0)
    probs = next_token_probs(logits, temperature=0.8)
    draws = torch.multinomial(probs.expand(1, -1), 20000, replacement=True, generator=g)
    counts = torch.bincount(draws.flatten(), minlength=4) / 20000
    assert torch.allclose(counts, probs[0], atol=0.02)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"temperature": 0.0}, "temperature must be a number > 0"),
    ({"temperature": -1.0}, "temperature must be a number > 0"),
    ({"top_k": 0}, "top_k must be None or an integer >= 1"),
    ({"top_k": 2.5}, "top_k must be None or an integer >= 1"),
    ({"top_p": 0.0}, "top_p must be None or a number in (0, 1]"),
    ({"top_p": 1.5}, "top_p must be None or a number in (0, 1]"),
    ({"temperature": float("nan")}, "temperature must be a number > 0"),
    ({"temperature": float("inf")}, "temperature must be a finite number; got inf"),
    ({"temperature": True}, "temperature must be a number > 0"),
    ({"top_k": True}, "top_k must be None or an integer >= 1; got True"),
    ({"top_p": float("nan")}, "top_p must be None or a number in (0, 1]; got nan"),
])
def test_bad_sampling_arguments_are_refused(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace("]", r"\]")):
        sample_next(_logits(0, 1, 5), **kwargs)


def test_filters_refuse_bad_values_and_non_float_logits():
    with pytest.raises(ValueError, match="top_k must be"):
        top_k_filter(_logits(0, 5), 0)
    with pytest.raises(ValueError, match="top_p must be"):
        top_p_filter(_logits(0, 5), 1.01)
    with pytest.raises(ValueError, match="temperature must be"):
        apply_temperature(_logits(0, 5), 0)
    with pytest.raises(ValueError, match="logits must be a floating-point tensor"):
        greedy(torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"logits must be a 2-d tensor \(B, V\); got shape \(5,\)"):
        sample_next(_logits(0, 5))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
@pytest.mark.parametrize("call", [greedy, lambda x: apply_temperature(x, 1.0), lambda x: top_k_filter(x, 2),
                                  lambda x: top_p_filter(x, 0.9), filter_logits, sample_next])
def test_logits_holding_nan_or_plus_inf_are_refused(call, bad):
    logits = _logits(0, 2, 5)
    logits[1, 3] = bad
    message = r"logits must hold no NaN or \+inf \(-inf marks a ruled-out token\); got 1 such value$"
    with pytest.raises(ArgumentError, match=message):
        call(logits)


def test_minus_inf_logits_pass_through_the_filters():
    logits = _logits(0, 2, 5)
    logits[:, 0] = float("-inf")
    probs = next_token_probs(logits, top_k=3, top_p=0.9)
    assert (probs[:, 0] == 0).all() and torch.allclose(probs.sum(-1), torch.ones(2))
