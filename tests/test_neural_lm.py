import pytest
import torch
import torch.nn.functional as F

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
    (lambda: BigramLM(5), torch.tensor([1, 2]), "must be a \\(B, T\\) tensor"),
    (lambda: BigramLM(5), torch.tensor([[1.0, 2.0]]), "torch.long"),
    (lambda: BigramLM(5), torch.tensor([[1, 5]]), "ids in \\[0, 5\\)"),
    (lambda: NPLM(NPLMConfig(5, context=3)), torch.tensor([[1, 2]]), "at least 3 tokens"),
])
def test_bad_idx_raises(make, idx, fragment):
    with pytest.raises(ValueError, match=fragment):
        make()(idx)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"vocab_size": 0}, "vocab_size must be an integer >= 1"),
    ({"vocab_size": 5, "context": 0}, "context must be an integer >= 1"),
    ({"vocab_size": 5, "n_hidden": 2.5}, "n_hidden must be an integer >= 1"),
])
def test_bad_config_raises(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        NPLMConfig(**kwargs)
    if kwargs == {"vocab_size": 0}:
        with pytest.raises(ValueError, match=fragment):
            BigramLM(0)
