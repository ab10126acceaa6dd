"""lmcourse._checks: one wording for every argument error, and each check lets good values through."""
import math

import numpy as np
import pytest
import torch

from lmcourse._checks import (
    ArgumentError,
    bool_mask,
    finite_tensor,
    integer,
    number,
    one_of,
    probability,
    tensor,
    token_ids,
)


def test_good_values_pass_through_unchanged():
    assert integer("n", 3, min=1) == 3 and integer("n", np.int64(4)) == 4
    assert number("lr", 1e-3, min=0, min_open=True) == 1e-3 and number("x", 2) == 2.0
    assert probability("p", 0.0) == 0.0 and probability("p", 1) == 1.0
    assert one_of("schedule", "cosine", ("cosine", "constant")) == "cosine"
    x = torch.zeros(2, 3, dtype=torch.long)
    assert tensor("idx", x, shape=("B", "T"), dtype="int") is x
    assert token_ids("idx", x, 5) is x and token_ids("idx", torch.zeros(0, dtype=torch.long), 5).numel() == 0
    assert finite_tensor("x", torch.ones(3)).sum() == 3
    assert bool_mask("mask", torch.ones(2, 2, dtype=torch.bool)).all()


@pytest.mark.parametrize("call, message", [
    (lambda: integer("steps", True, min=1), "steps must be an int >= 1; got True"),
    (lambda: integer("steps", 2.0, min=1), "steps must be an int >= 1; got 2.0"),
    (lambda: integer("steps", 0, min=1), "steps must be an int >= 1; got 0"),
    (lambda: integer("k", 9, min=1, max=8), "k must be an int in [1, 8]; got 9"),
    (lambda: integer("k", "3"), "k must be an int; got '3'"),
    (lambda: number("lr", math.nan, min=0, min_open=True), "lr must be a finite number > 0; got nan"),
    (lambda: number("lr", math.inf), "lr must be a finite number; got inf"),
    (lambda: number("lr", 0.0, min=0, min_open=True), "lr must be a finite number > 0; got 0.0"),
    (lambda: number("t", False), "t must be a finite number; got False"),
    (lambda: number("beta", 1.0, min=0, max=1, max_open=True), "beta must be a finite number in [0, 1); got 1.0"),
    (lambda: probability("p", 1.5), "p must be a finite number in [0, 1]; got 1.5"),
    (lambda: probability("p", float("nan")), "p must be a finite number in [0, 1]; got nan"),
    (lambda: one_of("schedule", "cosin", ("cosine", "step")),
     "schedule must be one of ('cosine', 'step'); got 'cosin'"),
    (lambda: one_of("schedule", ["x"], {"cosine"}), "schedule must be one of"),
    (lambda: tensor("idx", [1, 2]), "idx must be a torch.Tensor; got list"),
    (lambda: tensor("idx", torch.zeros(3), ndim=2), "idx must be a 2-d tensor; got shape (3,)"),
    (lambda: tensor("x", torch.zeros(3), ndim=(2, 3)), "x must be a tensor with 2 or 3 dimensions; got shape (3,)"),
    (lambda: tensor("idx", torch.zeros(2, 3), dtype="int"), "idx must be an integer tensor; got dtype torch.float32"),
    (lambda: tensor("x", torch.zeros(2, dtype=torch.long), dtype="float"), "x must be a floating-point tensor"),
    (lambda: tensor("x", torch.zeros(2), dtype=torch.float64),
     "x must be a torch.float64 tensor; got dtype torch.float32"),
    (lambda: tensor("x", torch.zeros(2, 4), shape=(None, 3)), "x must be of shape (?, 3); got shape (2, 4)"),
    (lambda: tensor("q", torch.zeros(2, 4, 8), shape=("B", "T", "C")), None),
    (lambda: token_ids("idx", torch.tensor([[1, 70]]), 65),
     "idx must be token ids in [0, 65) (the vocabulary size); got ids from 1 to 70"),
    (lambda: token_ids("idx", torch.tensor([-1]), 65), "got ids from -1 to -1"),
    (lambda: token_ids("idx", torch.tensor([1.0]), 65), "idx must be an integer tensor; got dtype torch.float32"),
    (lambda: finite_tensor("x", torch.tensor([1.0, math.nan, math.inf])),
     "x must be finite (no NaN or inf); got 2 non-finite values"),
    (lambda: bool_mask("mask", torch.ones(2, 2)), "mask must be a bool tensor (True = may attend)"),
])
def test_bad_values_name_the_argument_and_what_came(call, message):
    if message is None:       # a check that must pass: the first use of a name binds it
        call()
        return
    with pytest.raises(ArgumentError) as info:
        call()
    assert message in str(info.value)


def test_named_dimensions_must_agree_across_calls():
    sizes = {}
    tensor("q", torch.zeros(2, 5, 8), shape=("B", "T", "C"), sizes=sizes)
    with pytest.raises(ArgumentError, match=r"k must be of shape \(B, S, C\) with B=2, C=8; got shape \(3, 4, 8\)"):
        tensor("k", torch.zeros(3, 4, 8), shape=("B", "S", "C"), sizes=sizes)
    with pytest.raises(ArgumentError, match=r"x must be of shape \(B, B\) with B=2; got shape \(2, 3\)"):
        tensor("x", torch.zeros(2, 3), shape=("B", "B"))


def test_an_argument_error_is_both_a_value_and_a_type_error():
    with pytest.raises(ValueError):
        integer("n", "3")
    with pytest.raises(TypeError):
        integer("n", "3")


def test_the_message_shows_the_value_as_given():
    with pytest.raises(ArgumentError, match=r"temperature must be a finite number > 0; got 0$"):
        number("temperature", 0, min=0, min_open=True)
