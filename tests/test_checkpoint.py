"""Checkpoints: exact resume, safe formats, atomic writes, and refusing the wrong model."""

from dataclasses import dataclass

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


def _setup(config=TinyConfig()):
    model = Tiny(config)
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
    with pytest.raises(ValueError, match=r"config must match the checkpoint's; differing fields \(saved, given\): width=8/16"):
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
    assert sorted(p.name for p in tmp_path.iterdir()) == [ckpt.MODEL_FILE, ckpt.STATE_FILE]


@pytest.mark.parametrize("kwargs, message", [
    ({"step": -1}, "step must be an integer >= 0"),
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
