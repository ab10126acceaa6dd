"""Data-parallel training on 2 CPU processes (torchrun + gloo) equals one process on the global batch."""

import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from lmcourse.train_ddp import DDPRun, main, run


def test_two_processes_with_torchrun_match_one_process_on_the_global_batch(tmp_path):
    out = tmp_path / "ddp.safetensors"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "lmcourse.train_ddp", "--steps", "6", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "world_size=2" in done.stdout
    single = run(DDPRun(steps=6))
    ddp = load_file(out)
    for name, p in single.state_dict().items():
        if name in ddp:                                  # the tied head is stored once
            torch.testing.assert_close(ddp[name], p, rtol=1e-5, atol=1e-6, msg=name)


def test_the_global_batch_must_split_evenly_across_processes(monkeypatch):
    import lmcourse.train_ddp as train_ddp
    monkeypatch.setattr(train_ddp, "_setup", lambda: (0, 2, torch.device("cpu")))
    with pytest.raises(ValueError, match="global_batch must be divisible by the number of processes 2; got 7"):
        run(DDPRun(global_batch=7))


def test_the_command_line_runs_in_one_process_without_torchrun(tmp_path, capsys):
    main(["--steps", "2", "--out", str(tmp_path / "w.safetensors")])
    assert "world_size=1 steps=2" in capsys.readouterr().out and (tmp_path / "w.safetensors").is_file()
