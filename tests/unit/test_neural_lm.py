import re

import pytest
import torch
import torch.nn.functional as F

from lmcourse._checks import ArgumentError
from lmcourse.neural_lm import NPLM, BigramLM, NPLMConfig


def test_untrained_bigram_is_uniform_so_loss_is_log_vocab():
    model = BigramLM(10)
    x = torch.randint(10, (3, 7))
    logits, loss = model(x, x)
    assert logits.shape == (3, 7, 10)
    assert loss.item() == pytest.approx(torch.log(torch.tensor(10.0)).item())


def test_bigram_learns_the_counted_probabilities():
    torch.manual_seed(0)
    data = torch.randint(4, (1, 2000))
    data[0, 1::2] = (data[0, ::2] + 1) % 4  # every even position is followed by its successor
    model = BigramLM(4)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(300):
        _, loss = model(data[:, :-1], data[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    counts = torch.zeros(4, 4)
    counts.index_put_((data[0, :-1], data[0, 1:]), torch.ones(1999), accumulate=True)
    expected = counts / counts.sum(1, keepdim=True)
    assert torch.allclose(F.softmax(model.logits_table.weight, -1), expected, atol=0.02)


def test_nplm_matches_bengios_equation_on_random_input():
    torch.manual_seed(0)
    cfg = NPLMConfig(vocab_size=11, context=3, n_embd=4, n_hidden=8, direct=True)
    model = NPLM(cfg)
    idx = torch.randint(11, (2, 6))
    logits, _ = model(idx)
    assert logits.shape == (2, 4, 11)
    b, t = 1, 2  # predicts the token after idx[b, t+2] from idx[b, t:t+3]
    x = model.embed.weight[idx[b, t:t + 3]].reshape(-1)
    y = model.out.bias + model.direct.weight @ x + model.out.weight @ torch.tanh(
        model.hidden.bias + model.hidden.weight @ x)
    assert torch.allclose(logits[b, t], y, atol=1e-6)


def test_nplm_loss_uses_only_positions_with_a_full_context():
    torch.manual_seed(1)
    model = NPLM(NPLMConfig(vocab_size=7, context=2))
    x, y = torch.randint(7, (3, 5)), torch.randint(7, (3, 5))
    logits, loss = model(x, y)
    assert torch.allclose(loss, F.cross_entropy(logits.reshape(-1, 7), y[:, 1:].reshape(-1)))


@pytest.mark.parametrize("make, idx, fragment", [
    (lambda: BigramLM(5), torch.tensor([1, 2]), "idx must be a 2-d tensor (B, T); got shape (2,)"),
    (lambda: BigramLM(5), torch.tensor([[1.0, 2.0]]), "idx must be an integer tensor; got dtype torch.float32"),
    (lambda: BigramLM(5), torch.tensor([[1, 5]]),
     "idx must be token ids in [0, 5) (the vocabulary size); got ids from 1 to 5"),
    (lambda: BigramLM(5), torch.tensor([[-1, 2]]),
     "idx must be token ids in [0, 5) (the vocabulary size); got ids from -1 to 2"),
    (lambda: NPLM(NPLMConfig(5, context=3)), torch.tensor([[1, 2]]), "idx must hold at least 3 tokens per row"),
])
def test_bad_idx_raises(make, idx, fragment):
    with pytest.raises(ArgumentError) as err:
        make()(idx)
    assert fragment in str(err.value)


@pytest.mark.parametrize("model", [BigramLM(5), NPLM(NPLMConfig(5, context=2))], ids=["bigram", "nplm"])
def test_targets_of_another_shape_than_idx_are_refused(model):
    with pytest.raises(ArgumentError,
                       match=re.escape("targets must be of shape (B, T) with B=2, T=4; got shape (2, 3)")):
        model(torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ArgumentError, match="targets must be an integer tensor; got dtype torch.float32"):
        model(torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 4))


@pytest.mark.parametrize("kwargs, fragment", [
    ({"vocab_size": 0}, "vocab_size must be an int >= 1; got 0"),
    ({"vocab_size": 5, "context": 0}, "context must be an int >= 1; got 0"),
    ({"vocab_size": 5, "n_hidden": 2.5}, "n_hidden must be an int >= 1; got 2.5"),
    ({"vocab_size": 5, "n_embd": True}, "n_embd must be an int >= 1; got True"),
])
def test_bad_config_raises(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        NPLMConfig(**kwargs)
    if kwargs == {"vocab_size": 0}:
        with pytest.raises(ValueError, match=fragment):
            BigramLM(0)
