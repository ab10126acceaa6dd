import pytest
import torch

from lmcourse._checks import ArgumentError
from lmcourse.batches import get_batch, split_ids


def test_split_keeps_order_and_puts_the_tail_in_validation():
    train, val = split_ids(list(range(100)), val_fraction=0.1)
    assert train.tolist() == list(range(90)) and val.tolist() == list(range(90, 100))
    assert train.dtype == torch.long


def test_batch_targets_are_inputs_shifted_by_one():
    data = torch.arange(1000)
    x, y = get_batch(data, 8, 16, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 16)
    assert torch.equal(y, x + 1)  # data[i] == i, so the next token is x + 1
    assert int(y.max()) <= 999


def test_batches_repeat_with_the_same_seed_and_cover_the_last_token():
    data = torch.arange(12)
    a = get_batch(data, 4, 5, generator=torch.Generator().manual_seed(1))
    b = get_batch(data, 4, 5, generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    _, y = get_batch(data, 500, 11, generator=torch.Generator().manual_seed(0))
    assert int(y.max()) == 11  # with block_size = len - 1 every batch ends on the last token


@pytest.mark.parametrize("ids, frac, fragment", [
    ([1, 2, 3], 1.5, "val_fraction must be a finite number in (0, 1); got 1.5"),
    ([1, 2, 3], float("nan"), "val_fraction must be a finite number in (0, 1); got nan"),
    ([1, 2, 3], True, "val_fraction must be a finite number in (0, 1); got True"),
    ([[1, 2], [3, 4]], 0.5, "ids must be a 1-d tensor; got shape (2, 2)"),
    ([1.0, 2.0, 3.5] * 10, 0.5, "ids must be an integer tensor; got dtype torch.float32"),
    (torch.zeros(2, 3, dtype=torch.long), 0.5, "ids must be a 1-d tensor; got shape (2, 3)"),
    (torch.rand(30), 0.5, "ids must be an integer tensor; got dtype torch.float32"),
    ([1, 2, 3], 0.1, "too short to split"),
])
def test_split_bad_input(ids, frac, fragment):
    with pytest.raises(ArgumentError) as err:
        split_ids(ids, frac)
    assert fragment in str(err.value)


@pytest.mark.parametrize("data, B, T, fragment", [
    (torch.arange(10), 0, 4, "batch_size must be an int >= 1; got 0"),
    (torch.arange(10), 2, 2.0, "block_size must be an int >= 1; got 2.0"),
    (torch.arange(10), 2, 10, "data must hold at least block_size+1=11 ids; got 10"),
    (torch.zeros(2, 5, dtype=torch.long), 2, 2, "data must be a 1-d tensor; got shape (2, 5)"),
    (torch.rand(10), 2, 2, "data must be an integer tensor; got dtype torch.float32"),
    ([1, 2, 3, 4], 1, 2, "data must be a torch.Tensor; got list"),
])
def test_get_batch_bad_input(data, B, T, fragment):
    with pytest.raises(ArgumentError) as err:
        get_batch(data, B, T)
    assert fragment in str(err.value)
