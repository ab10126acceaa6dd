import sys
import types
import warnings

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from lmcourse.batches import get_batch
from lmcourse.gpt import GPT, GPTConfig
from lmcourse.neural_lm import BigramLM
from lmcourse.schedules import warmup_cosine_lambda
from lmcourse.train import (
    Callback,
    History,
    LivePlot,
    TrainConfig,
    configure_optimizer,
    estimate_loss,
    make_scheduler,
    param_groups,
    train,
)


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


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="config must be a TrainConfig"):
        train(BigramLM(3), lambda: None, lambda: None, {"steps": 3})
    with pytest.raises(ValueError, match="n_batches must be an int >= 1; got 0"):
        estimate_loss(BigramLM(3), lambda: None, 0)


# --- notebook 10: the full trainer -------------------------------------------------------------


def _gpt(dropout=0.1, n_embd=16):
    torch.manual_seed(0)
    return GPT(GPTConfig(block_size=16, vocab_size=11, n_layer=1, n_head=2, n_embd=n_embd, dropout=dropout))


def _data():
    return torch.randint(11, (400,), generator=torch.Generator().manual_seed(3))


def test_param_groups_decay_matrices_only_and_count_tied_weights_once():
    model = _gpt()
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])
    ids = [id(p) for p in decay["params"] + no_decay["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))   # the tied head appears once
    assert id(model.wte.weight) in ids and id(model.blocks[0].ln_1.weight) in {id(p) for p in no_decay["params"]}


def test_configure_optimizer_is_adamw_with_the_two_groups_and_betas():
    opt = configure_optimizer(_gpt(), TrainConfig(steps=5, weight_decay=0.2, betas=(0.9, 0.95)))
    assert isinstance(opt, torch.optim.AdamW)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.2, 0.0]
    assert opt.param_groups[0]["betas"] == (0.9, 0.95)


def test_history_lr_follows_the_cosine_and_step_schedules():
    data = _data()
    cfg = TrainConfig(steps=12, lr=1e-2, min_lr=1e-3, schedule="cosine", warmup_steps=3, eval_every=12, eval_batches=1)
    history = train(_gpt(0.0), _batches(data, 0), _batches(data, 1), cfg)
    rate = warmup_cosine_lambda(3, 12, 0.1)
    assert history.lr == pytest.approx([1e-2 * rate(s) for s in range(12)], rel=1e-12)
    cfg = TrainConfig(steps=7, lr=1e-2, schedule="step", step_size=3, gamma=0.5, eval_every=7, eval_batches=1)
    history = train(_gpt(0.0), _batches(data, 0), _batches(data, 1), cfg)
    assert history.lr == pytest.approx([1e-2] * 3 + [5e-3] * 3 + [2.5e-3])
    opt = configure_optimizer(_gpt(), cfg)
    assert isinstance(make_scheduler(opt, cfg), torch.optim.lr_scheduler.StepLR)


def _fixed_batches(data, batch, seed):
    gen = torch.Generator().manual_seed(seed)
    return [get_batch(data, batch, 8, generator=gen) for _ in range(6)]


def test_gradient_accumulation_equals_one_big_batch():
    data = _data()
    big = iter(_fixed_batches(data, 8, 0))
    halves = iter([(x[i:i + 4], y[i:i + 4]) for x, y in _fixed_batches(data, 8, 0) for i in (0, 4)])
    val = _batches(data, 1)
    a, b = _gpt(0.0), _gpt(0.0)
    h_a = train(a, lambda: next(big), val, TrainConfig(steps=6, lr=1e-2, grad_clip=0.5, eval_every=6, eval_batches=1))
    h_b = train(b, lambda: next(halves), val,
                TrainConfig(steps=6, lr=1e-2, grad_clip=0.5, accum_steps=2, eval_every=6, eval_batches=1))
    assert h_a.grad_norm == pytest.approx(h_b.grad_norm, rel=1e-4)
    assert h_a.train_loss == pytest.approx(h_b.train_loss, rel=1e-5)
    for p, q in zip(a.parameters(), b.parameters()):    # Adam magnifies float rounding of near-zero gradients
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-4)


def _resumable_run(tmp_path, **kwargs):
    data = _data()
    gen, val_gen = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    model = _gpt(dropout=0.1)                    # dropout: the global RNG must be restored too
    cfg = TrainConfig(steps=10, lr=1e-2, min_lr=1e-3, schedule="cosine", warmup_steps=2, grad_clip=0.5,
                      eval_every=3, eval_batches=2, save_every=5)
    history = train(model, lambda: get_batch(data, 4, 8, generator=gen),
                    lambda: get_batch(data, 4, 8, generator=val_gen), cfg, generator=gen, **kwargs)
    return model, history, cfg


def test_resume_from_a_checkpoint_is_bit_exact(tmp_path):
    straight, h_straight, _ = _resumable_run(tmp_path)
    torch.manual_seed(123)                       # a resumed run must not depend on the state it starts in
    _, _, _ = _resumable_run(tmp_path, checkpoint_dir=tmp_path / "ckpt", stop_after=5)
    resumed, h_resumed, _ = _resumable_run(tmp_path, resume_from=tmp_path / "ckpt")
    for (name, p), q in zip(straight.named_parameters(), resumed.parameters()):
        assert torch.equal(p, q), name
    assert h_straight.steps == h_resumed.steps   # (val batches differ: their generator is not checkpointed)
    assert h_straight.grad_norm == h_resumed.grad_norm and h_straight.lr == h_resumed.lr


def test_checkpoints_are_written_every_save_every_steps_and_at_the_end(tmp_path):
    from lmcourse.checkpoint import load_checkpoint
    _resumable_run(tmp_path, checkpoint_dir=tmp_path / "ckpt", stop_after=7)
    assert load_checkpoint(tmp_path / "ckpt", _gpt())["step"] == 7


def test_resume_refuses_another_model_or_training_config(tmp_path):
    _, _, saved_cfg = _resumable_run(tmp_path, checkpoint_dir=tmp_path / "ckpt", stop_after=5)
    data = _data()
    with pytest.raises(ValueError, match="config must match the checkpoint's; differing fields.*n_embd"):
        train(_gpt(n_embd=32), _batches(data, 0), _batches(data, 1), saved_cfg, resume_from=tmp_path / "ckpt")
    model = _gpt()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="config must match the checkpoint's training config.*lr=0.01/0.5"):
        train(model, _batches(data, 0), _batches(data, 1),
              TrainConfig(steps=10, lr=0.5, min_lr=1e-3, schedule="cosine", warmup_steps=2, grad_clip=0.5,
                          eval_every=3, eval_batches=2), resume_from=tmp_path / "ckpt")
    after = model.state_dict()   # the mismatch is found before a single weight is loaded
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_and_keeps_fp32_weights(precision, tmp_path):
    data = torch.arange(400) % 11
    model = _gpt(0.0)
    history = train(model, _batches(data, 0), _batches(data, 1),
                    TrainConfig(steps=30, lr=1e-2, precision=precision, eval_every=10, eval_batches=2),
                    checkpoint_dir=tmp_path / "ckpt")
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert history.val_loss[-1] < history.val_loss[0]
    scaler = torch.load(tmp_path / "ckpt" / "state.pt", weights_only=True)["extra"]["scaler"]
    assert ("scale" in scaler) == (precision == "fp16")      # fp16 keeps its GradScaler's state


def test_the_training_step_does_not_wait_for_the_device_every_step(monkeypatch):
    calls = []
    item = torch.Tensor.item
    monkeypatch.setattr(torch.Tensor, "item", lambda self: calls.append(1) or item(self))
    data = _data()
    history = train(_gpt(0.0), _batches(data, 0), _batches(data, 1),
                    TrainConfig(steps=20, eval_every=10, eval_batches=3))
    assert len(calls) == 2 and len(history.grad_norm) == 20    # one .item() per evaluation, none per step


class _FakeWriter:
    scalars = []

    def __init__(self, log_dir):
        self.log_dir = log_dir

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, step))

    def close(self):
        self.scalars.append(("closed", None))


def test_tensorboard_logging_writes_scalars_when_installed(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=_FakeWriter))
    data = _data()
    train(_gpt(0.0), _batches(data, 0), _batches(data, 1), TrainConfig(steps=4, eval_every=2, eval_batches=1),
          log_dir=tmp_path)
    assert ("loss/val", 2) in _FakeWriter.scalars and ("lr", 4) in _FakeWriter.scalars
    assert _FakeWriter.scalars[-1] == ("closed", None)


def test_tensorboard_logging_is_skipped_with_a_warning_when_missing(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)      # import fails like a missing package
    data = _data()
    with pytest.warns(UserWarning, match="tensorboard package is not installed"):
        history = train(_gpt(0.0), _batches(data, 0), _batches(data, 1),
                        TrainConfig(steps=2, eval_batches=1), log_dir=tmp_path)
    assert history.steps == [2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                      # no log_dir: no warning
        train(_gpt(0.0), _batches(data, 0), _batches(data, 1), TrainConfig(steps=2, eval_batches=1))


def test_progress_bar_shows_the_losses(capsys):
    data = _data()
    train(_gpt(0.0), _batches(data, 0), _batches(data, 1), TrainConfig(steps=4, eval_every=2, eval_batches=1,
                                                                       progress=True))
    err = capsys.readouterr().err
    assert "training" in err and "val=" in err


@pytest.mark.parametrize("kwargs, fragment", [
    ({"steps": 0}, "steps must be an int >= 1; got 0"),
    ({"steps": True}, "steps must be an int >= 1; got True"),
    ({"steps": 5, "eval_every": 0}, "eval_every must be an int >= 1"),
    ({"steps": 5, "accum_steps": 0}, "accum_steps must be an int >= 1"),
    ({"steps": 5, "warmup_steps": 5}, "warmup_steps must be < steps=5"),
    ({"steps": 5, "warmup_steps": -1}, "warmup_steps must be an int >= 0"),
    ({"steps": 5, "schedule": "linear"}, r"schedule must be one of \('constant', 'cosine', 'step'\)"),
    ({"steps": 5, "schedule": "step", "warmup_steps": 2}, "warmup_steps must be 0 with schedule='step'"),
    ({"steps": 5, "precision": "fp8"}, r"precision must be one of \('fp32', 'bf16', 'fp16'\)"),
    ({"steps": 5, "save_every": 0}, "save_every must be an int >= 1"),
    ({"steps": 5, "lr": 0}, "lr must be a finite number > 0; got 0"),
    ({"steps": 5, "lr": float("nan")}, "lr must be a finite number > 0; got nan"),
    ({"steps": 5, "lr": float("inf")}, "lr must be a finite number > 0; got inf"),
    ({"steps": 5, "min_lr": 1.0}, r"min_lr must be a finite number in \[0, 0.003\]; got 1.0"),
    ({"steps": 5, "min_lr": float("nan")}, "min_lr must be a finite number"),
    ({"steps": 5, "weight_decay": -0.1}, "weight_decay must be a finite number >= 0"),
    ({"steps": 5, "weight_decay": float("nan")}, "weight_decay must be a finite number >= 0; got nan"),
    ({"steps": 5, "grad_clip": -1.0}, "grad_clip must be a finite number > 0"),
    ({"steps": 5, "grad_clip": float("inf")}, "grad_clip must be a finite number > 0; got inf"),
    ({"steps": 5, "betas": (0.9, 1.5)}, r"betas\[1\] must be a finite number in \[0, 1\)"),
    ({"steps": 5, "betas": (float("nan"), 0.99)}, r"betas\[0\] must be a finite number in \[0, 1\); got nan"),
    ({"steps": 5, "betas": (0.9,)}, r"betas must be two numbers in \[0, 1\)"),
    ({"steps": 5, "gamma": 0}, r"gamma must be a finite number in \(0, 1\]"),
    ({"steps": 5, "gamma": float("nan")}, "gamma must be a finite number"),
])
def test_bad_trainer_config_raises(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        TrainConfig(**kwargs)


def test_bad_trainer_arguments_raise(tmp_path):
    data = _data()
    with pytest.raises(ValueError, match=r"stop_after must be an int in \[1, 5\]; got 6"):
        train(_gpt(), _batches(data, 0), _batches(data, 1), TrainConfig(steps=5), stop_after=6)
    with pytest.raises(ValueError, match="model must have trainable parameters"):
        param_groups(torch.nn.ReLU(), 0.1)
    with pytest.raises(FileNotFoundError, match="folder must hold a checkpoint"):
        train(_gpt(), _batches(data, 0), _batches(data, 1), TrainConfig(steps=5), resume_from=tmp_path)


def test_peak_memory_mib_reads_kib_on_linux_bytes_on_macos_and_psutil_on_windows(monkeypatch):
    from lmcourse.train import peak_memory_mib

    fake_resource = types.SimpleNamespace(RUSAGE_SELF=0,
                                          getrusage=lambda who: types.SimpleNamespace(ru_maxrss=3 * 2**20))
    monkeypatch.setitem(sys.modules, "resource", fake_resource)
    monkeypatch.setattr(sys, "platform", "linux")
    assert peak_memory_mib() == 3 * 1024                       # Linux: ru_maxrss is KiB
    monkeypatch.setattr(sys, "platform", "darwin")
    assert peak_memory_mib() == 3                              # macOS: the same field is bytes
    fake_psutil = types.SimpleNamespace(Process=lambda: types.SimpleNamespace(
        memory_info=lambda: types.SimpleNamespace(peak_wset=5 * 2**20)))
    monkeypatch.setitem(sys.modules, "psutil", fake_psutil)
    monkeypatch.setattr(sys, "platform", "win32")
    assert peak_memory_mib() == 5                              # Windows: psutil's peak working set
    monkeypatch.setitem(sys.modules, "psutil", None)           # psutil missing: unknown, not wrong
    assert peak_memory_mib() is None


def test_peak_memory_mib_of_this_process_is_plausible():
    from lmcourse.train import peak_memory_mib

    peak = peak_memory_mib()
    assert peak is None or 10 < peak < 1e6                     # torch alone needs tens of MiB


# --- the extension point: callbacks ---------------------------------------------------------------


class _Log(Callback):
    def __init__(self):
        self.events = []

    def on_step(self, step, history):
        self.events.append(("step", step))

    def on_eval(self, step, history):
        self.events.append(("eval", step, history.train_loss[-1], history.val_loss[-1], history.lr[-1]))

    def on_end(self, history):
        self.events.append(("end", len(history.steps)))


def _small_run(**kwargs):
    torch.manual_seed(0)
    data = torch.arange(400) % 7
    return train(BigramLM(7), _batches(data, 0), _batches(data, 1),
                 TrainConfig(steps=5, lr=0.1, eval_every=2, eval_batches=1), **kwargs)


def test_callbacks_hear_every_step_every_evaluation_and_the_end():
    log, seen = _Log(), []
    history = _small_run(callbacks=[log, lambda step, h: seen.append((step, h.val_loss[-1]))])
    assert [e[1] for e in log.events if e[0] == "step"] == [1, 2, 3, 4, 5]
    evals = [e for e in log.events if e[0] == "eval"]
    assert [e[1] for e in evals] == history.steps == [2, 4, 5]
    assert [e[2] for e in evals] == history.train_loss and [e[3] for e in evals] == history.val_loss
    assert [e[4] for e in evals] == [history.lr[s - 1] for s in history.steps]
    assert log.events[-1] == ("end", 3)
    assert seen == list(zip(history.steps, history.val_loss))          # a plain function is an on_eval


def test_callbacks_do_not_change_the_training_and_plot_is_short_for_a_live_plot_callback():
    plain = _small_run()
    by_keyword, by_callback = _Recorder(), _Recorder()
    with_plot = _small_run(plot=by_keyword)
    with_callback = _small_run(callbacks=[LivePlot(by_callback), _Log()])
    assert plain.train_loss == with_plot.train_loss == with_callback.train_loss
    assert plain.val_loss == with_plot.val_loss == with_callback.val_loss
    assert by_keyword.calls == by_callback.calls
    assert by_keyword.calls == [(s, {"train": t, "val": v})
                                for s, t, v in zip(plain.steps, plain.train_loss, plain.val_loss)]


def test_a_live_loss_plot_outside_a_notebook_prints_one_line_per_evaluation(capsys):
    from lmcourse.viz import LiveLossPlot

    history = _small_run(plot=LiveLossPlot(notebook=False))
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"step {s:>6} | train {t:.4f} | val {v:.4f}"
                     for s, t, v in zip(history.steps, history.train_loss, history.val_loss)]


def test_a_callback_that_is_neither_a_callback_nor_a_function_is_refused():
    with pytest.raises(ValueError, match=r"callbacks\[0\] must be a Callback or a function \(step, history\); got int"):
        _small_run(callbacks=[3])
    with pytest.raises(ValueError, match="callbacks must be a list of callbacks"):
        _small_run(callbacks=_Log())
