"""Checkpoints: exact resume, safe formats, atomic writes, and refusing the wrong model."""

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from lmcourse import checkpoint as ckpt
from lmcourse.device import set_seed


@dataclass
class TinyConfig:
    vocab: int = 11
    width: int = 8


class Tiny(nn.Module):
    """Embedding + linear head sharing the embedding matrix (tied weights)."""

    def __init__(self, c: TinyConfig):
        super().__init__()
        self.embed = nn.Embedding(c.vocab, c.width)
        self.mix = nn.Linear(c.width, c.width)
        self.head = nn.Linear(c.width, c.vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, x):
        return self.head(torch.tanh(self.mix(self.embed(x))))


def _setup(config=None):
    model = Tiny(config or TinyConfig())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    return model, opt, sched


def _train(model, opt, sched, gen, steps):
    for _ in range(steps):
        x = torch.randint(0, 11, (4, 5), generator=gen)
        noise = torch.randn(())  # uses the global generator too, so its state must be restored
        loss = nn.functional.cross_entropy(model(x).flatten(0, 1), x.flatten()) + 0 * noise
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()


def test_resume_is_bit_exact(tmp_path):
    set_seed(0)
    model_a, opt_a, sched_a = _setup()
    gen_a = torch.Generator().manual_seed(1)
    _train(model_a, opt_a, sched_a, gen_a, 10)

    set_seed(0)
    model_b, opt_b, sched_b = _setup()
    gen_b = torch.Generator().manual_seed(1)
    _train(model_b, opt_b, sched_b, gen_b, 5)
    ckpt.save_checkpoint(tmp_path / "ck", model_b, optimizer=opt_b, scheduler=sched_b, step=5,
                         config=TinyConfig(), generator=gen_b)
    torch.manual_seed(12345)  # scramble everything a resumed run must restore

    model_c, opt_c, sched_c = _setup()
    gen_c = torch.Generator()
    info = ckpt.load_checkpoint(tmp_path / "ck", model_c, optimizer=opt_c, scheduler=sched_c,
                                config=TinyConfig(), generator=gen_c)
    assert info["step"] == 5
    _train(model_c, opt_c, sched_c, gen_c, 5)
    for (name, a), (_, c) in zip(model_a.state_dict().items(), model_c.state_dict().items()):
        assert torch.equal(a, c), name
    assert model_c.head.weight is model_c.embed.weight, "tied weights must stay tied after loading"


def test_state_file_loads_with_weights_only(tmp_path):
    model, opt, sched = _setup()
    ckpt.save_checkpoint(tmp_path, model, optimizer=opt, scheduler=sched, config=TinyConfig())
    state = torch.load(tmp_path / ckpt.STATE_FILE, weights_only=True)
    assert state["config"] == {"vocab": 11, "width": 8}
    assert (tmp_path / ckpt.MODEL_FILE).read_bytes()[:8] != b"PK\x03\x04"  # not a pickle zip


def test_a_checkpoint_of_another_config_is_refused(tmp_path):
    model, _, _ = _setup()
    ckpt.save_checkpoint(tmp_path, model, config=TinyConfig())
    other = Tiny(TinyConfig(width=16))
    with pytest.raises(ValueError,
                       match=r"config must match the checkpoint's; differing fields \(saved, given\): width=8/16"):
        ckpt.load_checkpoint(tmp_path, other, config=TinyConfig(width=16))


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model, _, _ = _setup()
    ckpt.save_checkpoint(tmp_path, model, step=1)
    before = (tmp_path / ckpt.STATE_FILE).read_bytes()

    def crash(obj, f):
        open(f, "wb").write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt.torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(tmp_path, model, step=2)
    assert (tmp_path / ckpt.STATE_FILE).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [ckpt.PREVIOUS_STATE, ckpt.MODEL_FILE, ckpt.STATE_FILE]
    assert ckpt.load_checkpoint(tmp_path, model)["step"] == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"step": -1}, "step must be an int >= 0; got -1"),
    ({"config": [1, 2]}, "config must be a dataclass, a dict or None"),
])
def test_bad_save_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ckpt.save_checkpoint(tmp_path, _setup()[0], **kwargs)


def test_loading_from_a_folder_without_a_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="folder must hold a checkpoint"):
        ckpt.load_checkpoint(tmp_path, _setup()[0])


def test_asking_for_state_that_was_not_saved(tmp_path):
    model, opt, _ = _setup()
    ckpt.save_checkpoint(tmp_path, model)
    with pytest.raises(ValueError, match="optimizer was given, but the checkpoint saved no optimizer state"):
        ckpt.load_checkpoint(tmp_path, model, optimizer=opt)


def _saved_pair(folder, step, seed):
    """A model saved at ``step`` with weights drawn from ``seed``; returns its state dict (cloned)."""
    torch.manual_seed(seed)
    model, opt, sched = _setup()
    ckpt.save_checkpoint(folder, model, optimizer=opt, scheduler=sched, step=step, config=TinyConfig())
    return {k: v.clone() for k, v in model.state_dict().items()}


def _loads_as(folder, weights, step):
    model, opt, sched = _setup()
    info = ckpt.load_checkpoint(folder, model, optimizer=opt, scheduler=sched, config=TinyConfig())
    assert info["step"] == step
    for name, t in weights.items():
        assert torch.equal(model.state_dict()[name], t), name


def test_a_save_that_fails_writing_the_weights_leaves_the_old_pair(tmp_path, monkeypatch):
    old = _saved_pair(tmp_path, 1, seed=0)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "save_model", crash)
    with pytest.raises(OSError, match="disk full"):
        _saved_pair(tmp_path, 2, seed=1)
    monkeypatch.undo()
    _loads_as(tmp_path, old, 1)


def test_a_save_stopped_between_its_two_renames_still_loads_as_the_old_pair(tmp_path, monkeypatch):
    old = _saved_pair(tmp_path, 1, seed=0)
    real_replace, calls = ckpt.os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if Path(dst).name == ckpt.MODEL_FILE:                 # the state is already the new one
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(ckpt.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        _saved_pair(tmp_path, 2, seed=1)
    monkeypatch.undo()
    assert torch.load(tmp_path / ckpt.STATE_FILE, weights_only=True)["step"] == 2   # a mix on disk…
    _loads_as(tmp_path, old, 1)                                                     # …that loads as the old pair
    new = _saved_pair(tmp_path, 3, seed=2)                    # and the next save completes normally
    _loads_as(tmp_path, new, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == [ckpt.MODEL_FILE, ckpt.STATE_FILE]


def test_a_completed_save_replaces_the_pair(tmp_path):
    _saved_pair(tmp_path, 1, seed=0)
    new = _saved_pair(tmp_path, 2, seed=1)
    _loads_as(tmp_path, new, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [ckpt.MODEL_FILE, ckpt.STATE_FILE]


class Wider(Tiny):
    """Tiny with one extra parameter, to make checkpoints with an unexpected or a missing key."""

    def __init__(self, c: TinyConfig):
        super().__init__(c)
        self.scale = nn.Parameter(torch.ones(c.width))


def _break_state_with_other_model(folder):
    other = folder.parent / "other"
    model, opt, sched = _setup(TinyConfig(width=16))
    model(torch.zeros(1, 2, dtype=torch.long)).sum().backward()
    opt.step()
    ckpt.save_checkpoint(other, model, optimizer=opt, scheduler=sched)
    (folder / ckpt.STATE_FILE).write_bytes((other / ckpt.STATE_FILE).read_bytes())


def _save_other(folder, model):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    ckpt.save_checkpoint(folder, model, optimizer=opt, scheduler=torch.optim.lr_scheduler.StepLR(opt, 3))


def _cut(path, keep):
    path.write_bytes(path.read_bytes()[:keep])


@pytest.mark.parametrize("spoil, message", [
    (lambda f: _save_other(f, Tiny(TinyConfig(width=16))), r"embed.weight: file \(11, 16\) vs model \(11, 8\)"),
    (lambda f: _save_other(f, Tiny(TinyConfig()).double()), r"embed.weight: file torch.float64 vs model torch.float32"),
    (lambda f: _save_other(f, Wider(TinyConfig())), r"unexpected keys \['scale'\]"),
    (lambda f: _cut(f / ckpt.MODEL_FILE, 200), r"model.safetensors cannot be read as safetensors"),
    (lambda f: (f / ckpt.MODEL_FILE).write_bytes(b"\x00garbage" * 40), r"model.safetensors cannot be read"),
    (lambda f: _cut(f / ckpt.STATE_FILE, 100), r"names a state file that neither state.pt nor .state.pt.prev is"),
    (_break_state_with_other_model, r"names a state file that neither"),
], ids=["wrong shape", "wrong dtype", "extra key", "truncated weights", "garbage weights",
        "truncated state", "state.pt of another model"])
def test_a_failed_load_leaves_model_optimizer_and_scheduler_unchanged(tmp_path, spoil, message):
    folder = tmp_path / "ck"
    _saved_pair(folder, 4, seed=0)
    spoil(folder)
    torch.manual_seed(9)
    model, opt, sched = _setup()
    model(torch.zeros(1, 2, dtype=torch.long)).sum().backward()
    opt.step()
    sched.step()
    before = ({k: v.clone() for k, v in model.state_dict().items()}, str(opt.state_dict()), sched.state_dict())
    with pytest.raises(ValueError, match=message):
        ckpt.load_checkpoint(folder, model, optimizer=opt, scheduler=sched)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before[0].items())
    assert str(opt.state_dict()) == before[1] and sched.state_dict() == before[2]


def test_a_checkpoint_missing_a_key_is_refused_and_the_model_unchanged(tmp_path):
    ckpt.save_checkpoint(tmp_path, Tiny(TinyConfig()))
    model = Wider(TinyConfig())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"model.safetensors does not fit Wider: missing keys \['scale'\]"):
        ckpt.load_checkpoint(tmp_path, model)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())


def test_a_legacy_state_of_another_model_is_refused_before_the_weights_are_copied(tmp_path):
    """Files without the pair record (older checkpoints) still get the optimizer check."""
    model, opt, _ = _setup()
    ckpt.save_checkpoint(tmp_path / "a", model)
    other, other_opt, _ = _setup(TinyConfig(width=16))
    other(torch.zeros(1, 2, dtype=torch.long)).sum().backward()
    other_opt.step()
    ckpt.save_checkpoint(tmp_path / "b", other, optimizer=other_opt)
    from safetensors.torch import load_file, save_file
    save_file(load_file(tmp_path / "a" / ckpt.MODEL_FILE), tmp_path / "a" / ckpt.MODEL_FILE)   # no metadata
    (tmp_path / "a" / ckpt.STATE_FILE).write_bytes((tmp_path / "b" / ckpt.STATE_FILE).read_bytes())
    torch.manual_seed(3)
    target, target_opt, _ = _setup()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(ValueError, match=r"optimizer state 0.exp_avg: file \(11, 16\) vs parameter \(11, 8\)"):
        ckpt.load_checkpoint(tmp_path / "a", target, optimizer=target_opt)
    assert all(torch.equal(target.state_dict()[k], v) for k, v in before.items())


def test_read_state_gives_the_paired_state_without_touching_the_model(tmp_path, monkeypatch):
    _saved_pair(tmp_path, 1, seed=0)
    real_replace = ckpt.os.replace

    def replace(src, dst):
        if Path(dst).name == ckpt.MODEL_FILE:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(ckpt.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        _saved_pair(tmp_path, 2, seed=1)
    assert ckpt.read_state(tmp_path)["step"] == 1           # the state the weights on disk belong to
