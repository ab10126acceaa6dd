"""lmcourse.positions: the sinusoidal table follows the paper's formula, RoPE encodes relative
position, and every module refuses sequences longer than its table."""

import math
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lmcourse._checks import ArgumentError
from lmcourse.attention import MultiHeadAttention
from lmcourse.positions import LearnedPositions, RotaryEmbedding, SinusoidalPositions, rotate_half, sinusoidal_table


def test_sinusoidal_table_matches_the_formula_entry_by_entry():
    table = sinusoidal_table(20, 8)
    for p in (0, 1, 7, 19):
        for i in range(4):
            angle = p / 10000 ** (2 * i / 8)
            assert table[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


@settings(max_examples=20, deadline=None)
@given(p=st.integers(0, 60), q=st.integers(0, 60), k=st.integers(0, 60))
def test_sinusoidal_similarity_depends_only_on_distance(p, q, k):
    table = sinusoidal_table(130, 32)
    assert (table[p] @ table[p + k]).item() == pytest.approx((table[q] @ table[q + k]).item(), abs=1e-3)


def test_sinusoidal_positions_add_the_table_with_an_offset():
    module = SinusoidalPositions(16, max_len=40)
    x = torch.randn(3, 10, 16)
    torch.testing.assert_close(module(x) - x, sinusoidal_table(40, 16)[:10].expand(3, 10, 16))
    torch.testing.assert_close(module(x, offset=5) - x, sinusoidal_table(40, 16)[5:15].expand(3, 10, 16))


def test_learned_positions_add_one_trainable_vector_per_position():
    module = LearnedPositions(12, 8)
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(module(x), x + module.embedding.weight[:5])
    module(x).sum().backward()
    assert module.embedding.weight.grad[:5].abs().sum() > 0 and module.embedding.weight.grad[5:].abs().sum() == 0


@settings(max_examples=25, deadline=None)
@given(m=st.integers(0, 90), n=st.integers(0, 90), shift=st.integers(0, 30))
def test_rope_scores_depend_only_on_relative_position(m, n, shift):
    torch.manual_seed(0)
    rope = RotaryEmbedding(8, max_len=128)
    q, k = torch.randn(8), torch.randn(8)

    def at(v, p):
        return rope(v[None], offset=p)[0]
    assert (at(q, m) @ at(k, n)).item() == pytest.approx((at(q, m + shift) @ at(k, n + shift)).item(), abs=1e-4)


def test_rope_keeps_lengths_leaves_position_zero_unchanged_and_matches_complex_rotation():
    rope = RotaryEmbedding(6, max_len=20, base=100.0)
    x = torch.randn(2, 3, 20, 6)
    y = rope(x)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(y[..., 0, :], x[..., 0, :])
    theta = 100.0 ** (-torch.arange(3).float() * 2 / 6)
    angle = torch.arange(20).float()[:, None] * theta
    z = torch.complex(x[..., :3], x[..., 3:]) * torch.polar(torch.ones_like(angle), angle)
    torch.testing.assert_close(y, torch.cat([z.real, z.imag], -1), atol=1e-5, rtol=1e-5)


def test_rotate_half_maps_halves_to_minus_second_then_first():
    assert rotate_half(torch.tensor([1.0, 2.0, 3.0, 4.0])).tolist() == [-3.0, -4.0, 1.0, 2.0]


def test_attention_without_positions_is_permutation_equivariant_and_with_positions_is_not():
    torch.manual_seed(0)
    mha, pos = MultiHeadAttention(16, 4), SinusoidalPositions(16, 32)
    x, perm = torch.randn(2, 7, 16), torch.randperm(7)
    with torch.no_grad():
        torch.testing.assert_close(mha(x[:, perm]), mha(x)[:, perm])
        assert not torch.allclose(mha(pos(x[:, perm])), mha(pos(x))[:, perm], atol=1e-4)


@pytest.mark.parametrize("module, x", [
    (SinusoidalPositions(8, max_len=10), torch.randn(1, 11, 8)),
    (LearnedPositions(10, 8), torch.randn(1, 11, 8)),
    (RotaryEmbedding(8, max_len=10), torch.randn(1, 2, 11, 8)),
])
def test_sequences_longer_than_the_table_are_refused(module, x):
    with pytest.raises(ValueError, match=r"sequence length 11 is longer than the positional table \(max_len=10\)"):
        module(x)


def test_offset_past_the_end_of_the_table_is_refused():
    with pytest.raises(ValueError, match=re.escape("sequence length 3 starting at position 8 is longer than the "
                                                   "positional table (offset + length = 11 > max_len=10)")):
        RotaryEmbedding(4, max_len=10)(torch.randn(3, 4), offset=8)


@pytest.mark.parametrize("module, x", [(SinusoidalPositions(8, max_len=10), torch.randn(1, 3, 8)),
                                       (LearnedPositions(10, 8), torch.randn(1, 3, 8)),
                                       (RotaryEmbedding(8, max_len=10), torch.randn(1, 2, 3, 8))])
def test_offsets_are_checked_at_every_positional_module(module, x):
    assert module(x, offset=7).shape == x.shape                            # rows 7, 8, 9: the last ones
    with pytest.raises(ArgumentError, match=re.escape("(offset + length = 11 > max_len=10)")):
        module(x, offset=8)
    for bad in (-1, 1.0, True):                                            # -1 would read the table from the end
        with pytest.raises(ArgumentError, match=re.escape(f"offset must be an int >= 0; got {bad!r}")):
            module(x, offset=bad)


@pytest.mark.parametrize("module, x", [(SinusoidalPositions(8), torch.zeros(1, 3, 8, dtype=torch.long)),
                                       (RotaryEmbedding(8), torch.zeros(3, 8, dtype=torch.long)),
                                       (LearnedPositions(10, 8), [[0.0] * 8])])
def test_non_float_inputs_are_refused(module, x):
    with pytest.raises(ArgumentError, match="x must be"):
        module(x)


@pytest.mark.parametrize("make, fragment", [
    (lambda: sinusoidal_table(10, 7), "d_model must be even"),
    (lambda: sinusoidal_table(0, 8), "max_len must be an int >= 1; got 0"),
    (lambda: sinusoidal_table(8, 8, base=float("nan")), "base must be a finite number > 0; got nan"),
    (lambda: RotaryEmbedding(8, base=0), "base must be a finite number > 0; got 0"),
    (lambda: RotaryEmbedding(8, max_len=True), "max_len must be an int >= 1; got True"),
    (lambda: RotaryEmbedding(5), "head_dim must be even"),
    (lambda: LearnedPositions(10, 0), "d_model must be an int >= 1; got 0"),
])
def test_bad_sizes_are_refused(make, fragment):
    with pytest.raises(ValueError, match=fragment):
        make()


@pytest.mark.parametrize("module, x, fragment", [
    (SinusoidalPositions(8), torch.randn(2, 5, 6), r"x must be \(B, T, d_model=8\); got \(2, 5, 6\)"),
    (LearnedPositions(10, 8), torch.randn(5, 8), r"x must be \(B, T, d_model=8\)"),
    (RotaryEmbedding(8), torch.randn(2, 5, 6), r"x must be \(..., T, head_dim=8\)"),
])
def test_inputs_of_the_wrong_width_are_refused(module, x, fragment):
    with pytest.raises(ValueError, match=fragment):
        module(x)
