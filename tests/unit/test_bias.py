"""WEAT in lmcourse.bias: effect size by hand and by definition, permutation p-value properties."""

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lmcourse import bias
from lmcourse.bias import associations, weat_effect_size, weat_p_value


def _hand_example():
    X, Y = torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    A, B = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    return X, Y, A, B


def test_effect_size_matches_a_hand_computed_example():
    # s(x) = (1, 0), s(y) = (-1, 0): mean difference 1, sample std of (1, 0, -1, 0) = sqrt(2/3)
    X, Y, A, B = _hand_example()
    assert associations(X, A, B).tolist() == pytest.approx([1.0, 0.0])
    assert weat_effect_size(X, Y, A, B) == pytest.approx(1 / math.sqrt(2 / 3))
    # the p-value's statistic
    assert float(associations(X, A, B).sum() - associations(Y, A, B).sum()) == pytest.approx(2.0)


def _numpy_weat(X, Y, A, B):
    def unit(M):
        return M / np.linalg.norm(M, axis=1, keepdims=True)

    X, Y, A, B = (unit(np.asarray(M, dtype=float)) for M in (X, Y, A, B))

    def s(W):
        return (W @ A.T).mean(1) - (W @ B.T).mean(1)

    sx, sy = s(X), s(Y)
    return (sx.mean() - sy.mean()) / np.concatenate([sx, sy]).std(ddof=1)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 7), st.integers(2, 12))
def test_effect_size_matches_a_numpy_reference_on_random_vectors(seed, n, d):
    g = torch.Generator().manual_seed(seed)
    X, Y, A, B = (torch.randn(k, d, generator=g) for k in (n, n + 1, 3, 4))
    assert weat_effect_size(X, Y, A, B) == pytest.approx(_numpy_weat(X, Y, A, B), rel=1e-9, abs=1e-9)


def test_effect_size_flips_sign_when_targets_or_attributes_swap_and_ignores_scale():
    g = torch.Generator().manual_seed(1)
    X, Y, A, B = (torch.randn(5, 8, generator=g) for _ in range(4))
    d = weat_effect_size(X, Y, A, B)
    assert weat_effect_size(Y, X, A, B) == pytest.approx(-d)
    assert weat_effect_size(X, Y, B, A) == pytest.approx(-d)
    assert weat_effect_size(3 * X, 0.5 * Y, 7 * A, B) == pytest.approx(d)   # cosine: lengths do not matter


def test_exact_p_value_counts_all_splits_including_the_observed_one():
    g = torch.Generator().manual_seed(2)
    X, Y, A, B = (torch.randn(4, 6, generator=g) for _ in range(4))
    s = associations(torch.cat([X, Y]), A, B)
    observed = float(s[:4].sum() - s[4:].sum())
    stats = [float(s[list(c)].sum() * 2 - s.sum()) for c in itertools.combinations(range(8), 4)]
    expected = sum(t >= observed - 1e-12 for t in stats) / len(stats)
    assert weat_p_value(X, Y, A, B, n_permutations=100) == pytest.approx(expected)   # 70 splits <= 100: exact
    assert expected >= 1 / 70


def test_p_value_is_small_for_a_planted_association_and_large_for_the_reverse():
    g = torch.Generator().manual_seed(3)
    A, B = torch.randn(6, 10, generator=g), torch.randn(6, 10, generator=g)
    X = A.mean(0) + 0.3 * torch.randn(8, 10, generator=g)          # X built near A
    Y = B.mean(0) + 0.3 * torch.randn(8, 10, generator=g)          # Y built near B
    assert weat_p_value(X, Y, A, B, n_permutations=2000) < 0.01
    assert weat_p_value(Y, X, A, B, n_permutations=2000) > 0.99


def test_sampled_p_value_is_never_zero_and_is_seeded():
    g = torch.Generator().manual_seed(4)
    A, B = torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g)
    X, Y = A.mean(0) + 0.1 * torch.randn(12, 5, generator=g), B.mean(0) + 0.1 * torch.randn(12, 5, generator=g)
    p = weat_p_value(X, Y, A, B, n_permutations=500, seed=1)
    assert p == pytest.approx(1 / 501)
    assert weat_p_value(X, Y, A, B, n_permutations=500, seed=1) == p


def test_p_values_are_roughly_uniform_when_there_is_no_association():
    ps = []
    for seed in range(200):
        g = torch.Generator().manual_seed(seed)
        X, Y, A, B = (torch.randn(5, 8, generator=g) for _ in range(4))
        ps.append(weat_p_value(X, Y, A, B, n_permutations=300))   # 252 splits: exact
    ps = np.array(ps)
    assert 0.02 <= (ps <= 0.1).mean() <= 0.2 and 0.4 <= np.median(ps) <= 0.6


def test_course_word_lists_have_equal_sizes_and_no_overlap():
    assert len(bias.MALE_TERMS) == len(bias.FEMALE_TERMS) and len(bias.NOUNS_1) == len(bias.NOUNS_2)
    lists = [bias.MALE_TERMS, bias.FEMALE_TERMS, bias.WAR_WORDS, bias.HOME_WORDS, bias.NOUNS_1, bias.NOUNS_2]
    words = [w for ws in lists for w in ws]
    assert len(words) == len(set(words))


@pytest.mark.parametrize("call, fragment", [
    (lambda X, Y, A, B: weat_effect_size(X, Y, A[:, :2], B), "A must be of shape (?, d) with d=3; got shape (3, 2)"),
    (lambda X, Y, A, B: weat_effect_size(X, Y, torch.zeros(0, 3), B), "A must be a non-empty (n, d) tensor"),
    (lambda X, Y, A, B: weat_effect_size(X[0], Y, A, B), "X must be a 2-d tensor (n, d); got shape (3,)"),
    (lambda X, Y, A, B: weat_effect_size([[1.0]], Y, A, B), "X must be a torch.Tensor; got list"),
    (lambda X, Y, A, B: weat_effect_size(X, Y, A, B.index_fill(0, torch.tensor([1]), float("nan"))),
     "B must be finite (no NaN or inf); got 3 non-finite values"),
    (lambda X, Y, A, B: weat_p_value(X, Y, A, B, n_permutations=10.0), "n_permutations must be an int >= 1; got 10.0"),
    (lambda X, Y, A, B: weat_effect_size(X[:1], Y[:1], A, B), "at least 3 words"),
    (lambda X, Y, A, B: weat_p_value(X, Y[:2], A, B), "X and Y must have the same number of words"),
    (lambda X, Y, A, B: weat_p_value(X, Y, A, B, n_permutations=0), "n_permutations must be an int >= 1; got 0"),
])
def test_bad_input_raises_a_clear_error(call, fragment):
    X, Y, A, B = (torch.randn(3, 3) for _ in range(4))
    with pytest.raises(ValueError) as err:
        call(X, Y, A, B)
    assert fragment in str(err.value)
