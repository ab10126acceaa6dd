import pytest
import torch

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
    ([1, 2, 3], 1.5, "val_fraction must be a number in"),
    ([[1, 2], [3, 4]], 0.5, "1-D sequence"),
    ([1, 2, 3], 0.1, "too short to split"),
])
def test_split_bad_input(ids, frac, fragment):
    with pytest.raises(ValueError, match=fragment):
        split_ids(ids, frac)


@pytest.mark.parametrize("data, B, T, fragment", [
    (torch.arange(10), 0, 4, "batch_size must be an integer >= 1"),
    (torch.arange(10), 2, 2.0, "block_size must be an integer >= 1"),
    (torch.arange(10), 2, 10, "at least block_size\\+1=11"),
    (torch.zeros(2, 5, dtype=torch.long), 2, 2, "1-D tensor"),
    ([1, 2, 3, 4], 1, 2, "1-D tensor"),
])
def test_get_batch_bad_input(data, B, T, fragment):
    with pytest.raises(ValueError, match=fragment):
        get_batch(data, B, T)
