import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from lmcourse.batches import get_batch
from lmcourse.neural_lm import BigramLM
from lmcourse.train import History, TrainConfig, estimate_loss, train


class _Recorder:
    def __init__(self):
        self.calls = []

    def update(self, step, **values):
        self.calls.append((step, values))


def _batches(data, seed):
    gen = torch.Generator().manual_seed(seed)
    return lambda: get_batch(data, 8, 16, generator=gen)


def test_training_lowers_validation_loss_and_reports_to_the_plot():
    torch.manual_seed(0)
    data = torch.arange(2000) % 7  # a perfectly predictable cycle
    model, plot = BigramLM(7), _Recorder()
    history = train(model, _batches(data, 0), _batches(data, 1), TrainConfig(steps=50, lr=0.1, eval_every=20,
                                                                              eval_batches=2), plot=plot)
    assert isinstance(history, History)
    assert history.steps == [20, 40, 50] and [c[0] for c in plot.calls] == [20, 40, 50]
    assert history.val_loss[-1] < 0.5 * history.val_loss[0]
    assert len(history.grad_norm) == 50


def test_gradient_clipping_bounds_the_gradient_the_optimizer_sees():
    torch.manual_seed(0)
    data = torch.randint(7, (500,))
    model = BigramLM(7)
    with torch.no_grad():
        model.logits_table.weight.normal_(0, 30)  # huge logits: large gradients
    seen = []
    handle = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: seen.append(torch.cat([p.grad.flatten() for p in model.parameters()]).norm().item()))
    try:
        history = train(model, _batches(data, 0), _batches(data, 1),
                        TrainConfig(steps=3, grad_clip=1e-3, eval_batches=1))
    finally:
        handle.remove()
    assert all(n > 1e-3 for n in history.grad_norm)  # recorded before clipping
    assert len(seen) == 3 and all(n <= 1e-3 * (1 + 1e-4) for n in seen)


def test_estimate_loss_averages_batches_in_eval_mode_and_restores_mode():
    model = BigramLM(5)
    model.train()
    loss = estimate_loss(model, _batches(torch.arange(100) % 5, 0), 3)
    assert loss == pytest.approx(torch.log(torch.tensor(5.0)).item()) and model.training


@pytest.mark.parametrize("kwargs, fragment", [
    ({"steps": 0}, "steps must be an integer >= 1"),
    ({"steps": 5, "eval_every": 0}, "eval_every must be an integer >= 1"),
    ({"steps": 5, "lr": 0}, "lr must be > 0"),
    ({"steps": 5, "grad_clip": -1.0}, "grad_clip must be None or > 0"),
])
def test_bad_config_raises(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        TrainConfig(**kwargs)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="config must be a TrainConfig"):
        train(BigramLM(3), lambda: None, lambda: None, {"steps": 3})
    with pytest.raises(ValueError, match="n_batches must be an integer >= 1"):
        estimate_loss(BigramLM(3), lambda: None, 0)
