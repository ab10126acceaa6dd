"""Federated averaging (lmcourse.federated): the server's weighted average, local SGD,
and FedAvg = gradient averaging."""

import copy

import pytest
import torch

from lmcourse.federated import average_weights, fedavg_round, local_update
from lmcourse.gpt import GPT, GPTConfig


def _tiny_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8))


def _fixed_batch(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(11, (4, 8), generator=g)
    return lambda: (x, torch.roll(x, -1, dims=1))


def test_average_weights_equals_the_hand_computed_weighted_mean():
    a = {"w": torch.tensor([1.0, 2.0]), "b": torch.tensor(0.0), "n": torch.tensor(3)}
    b = {"w": torch.tensor([3.0, 6.0]), "b": torch.tensor(4.0), "n": torch.tensor(3)}
    out = average_weights([a, b], weights=[100, 300])          # client sizes 100 and 300: shares 1/4, 3/4
    assert torch.allclose(out["w"], torch.tensor([0.25 * 1 + 0.75 * 3, 0.25 * 2 + 0.75 * 6]))
    assert torch.allclose(out["b"], torch.tensor(3.0))
    assert out["n"].item() == 3 and out["n"].dtype == torch.long
    plain = average_weights([a, b])
    assert torch.allclose(plain["w"], torch.tensor([2.0, 4.0]))


def test_average_weights_of_identical_models_is_that_model():
    state = _tiny_gpt().state_dict()
    out = average_weights([state, copy.deepcopy(state), copy.deepcopy(state)], weights=[1, 5, 2])
    assert all(torch.allclose(out[k], state[k], atol=1e-7) for k in state)


def test_local_update_leaves_the_global_model_unchanged_and_lowers_the_client_loss():
    model = _tiny_gpt()
    before = copy.deepcopy(model.state_dict())
    batch = _fixed_batch(1)
    state = local_update(model, batch, steps=20, lr=0.5)
    assert all(torch.equal(model.state_dict()[k], before[k]) for k in before)
    trained = _tiny_gpt()
    trained.load_state_dict(state)
    assert trained(*batch())[1] < model(*batch())[1]


def test_one_local_sgd_step_per_round_equals_one_step_on_the_averaged_gradient():
    # FedAvg with one local step = gradient averaging = what DDP does every step.
    model, reference = _tiny_gpt(), _tiny_gpt()
    clients = [_fixed_batch(s) for s in (1, 2, 3)]
    sizes = [1, 2, 5]
    fedavg_round(model, clients, steps=1, lr=0.1, weights=sizes)
    grads = []
    for c in clients:
        reference.zero_grad()
        reference(*c())[1].backward()
        grads.append({n: p.grad.clone() for n, p in reference.named_parameters()})
    with torch.no_grad():
        for n, p in reference.named_parameters():
            p -= 0.1 * sum(s / sum(sizes) * g[n] for s, g in zip(sizes, grads))
    ours, theirs = model.state_dict(), reference.state_dict()
    assert all(torch.allclose(ours[k], theirs[k], atol=1e-6) for k in ours)


def test_local_update_with_grad_clip_takes_steps_no_longer_than_lr_times_the_clip():
    model = _tiny_gpt()
    state = local_update(model, _fixed_batch(2), steps=1, lr=1.0, grad_clip=1e-3)
    moved = torch.sqrt(sum(((state[n] - p.detach()) ** 2).sum() for n, p in model.named_parameters()))
    assert 0 < moved <= 1e-3 * (1 + 1e-4)


def test_fedavg_round_returns_what_each_client_sent():
    model = _tiny_gpt()
    clients = [_fixed_batch(s) for s in (4, 5)]
    start = copy.deepcopy(model)
    states = fedavg_round(model, clients, steps=3, lr=0.2)
    assert len(states) == 2
    expected = [local_update(start, c, steps=3, lr=0.2) for c in clients]
    assert all(torch.allclose(s[k], e[k]) for s, e in zip(states, expected) for k in s)


@pytest.mark.parametrize("call, fragment", [
    (lambda: average_weights([]), "states must be a non-empty list"),
    (lambda: average_weights({"w": torch.zeros(1)}), "states must be a non-empty list"),
    (lambda: average_weights([{"w": torch.zeros(1)}, {"v": torch.zeros(1)}]), "same keys"),
    (lambda: average_weights([{"w": torch.zeros(1)}, {"w": torch.zeros(2)}]), "same shapes"),
    (lambda: average_weights([{"w": torch.zeros(1)}] * 2, weights=[1]), "one number per client"),
    (lambda: average_weights([{"w": torch.zeros(1)}] * 2, weights=[1, -1]),
     r"weights\[1\] must be a finite number >= 0; got -1"),
    (lambda: average_weights([{"w": torch.zeros(1)}] * 2, weights=[float("nan"), 1]),
     r"weights\[0\] must be a finite number >= 0; got nan"),
    (lambda: average_weights([{"w": torch.zeros(1)}] * 2, weights=[1, float("inf")]),
     r"weights\[1\] must be a finite number >= 0; got inf"),
    (lambda: average_weights([{"w": torch.zeros(1)}] * 2, weights=[0, 0]), "must not all be 0"),
    (lambda: average_weights([{"n": torch.tensor(1)}, {"n": torch.tensor(2)}]), "integer buffers"),
    (lambda: local_update(_tiny_gpt(), _fixed_batch(0), steps=0, lr=0.1), "steps must be an int >= 1; got 0"),
    (lambda: local_update(_tiny_gpt(), _fixed_batch(0), steps=1, lr=0), "lr must be a finite number > 0; got 0"),
    (lambda: local_update(_tiny_gpt(), _fixed_batch(0), steps=1, lr=float("inf")),
     "lr must be a finite number > 0; got inf"),
    (lambda: fedavg_round(_tiny_gpt(), [_fixed_batch(0)], steps=1, lr=float("nan")),
     "lr must be a finite number > 0; got nan"),
    (lambda: fedavg_round(_tiny_gpt(), [_fixed_batch(0)], steps=1, lr=0.1, weights=[float("nan")]),
     r"weights\[0\] must be a finite"),
    (lambda: local_update(_tiny_gpt(), _fixed_batch(0), steps=1, lr=0.1, grad_clip=0),
     "grad_clip must be a finite number > 0"),
    (lambda: fedavg_round(_tiny_gpt(), [], steps=1, lr=0.1), "clients must be a non-empty list"),
    (lambda: fedavg_round(_tiny_gpt(), [1, 2], steps=1, lr=0.1), "clients must be callables"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()
