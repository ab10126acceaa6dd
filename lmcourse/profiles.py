"""Run profiles: one switch, ``LMCOURSE_PROFILE``, that sizes every notebook.

``ci`` makes each notebook finish in seconds under nbval, ``cpu`` (the default) is what a
learner runs on a laptop, ``gpu`` is the bigger, better run. This module is the only place
that reads the environment variable; every notebook asks :func:`get_profile` for its sizes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

ENV_VAR = "LMCOURSE_PROFILE"
DEFAULT = "cpu"

T = TypeVar("T")


@dataclass(frozen=True)
class Profile:
    """The sizes one profile gives the notebooks.

    The shared fields are the knobs most notebooks turn (how much data, how long to train,
    how big a model). Knobs only one notebook needs are chosen with :meth:`pick`, so they
    stay next to the code that uses them while still following this one switch.
    """

    name: str
    description: str
    data_fraction: float  # share of a corpus used for training (1.0 = all of it)
    train_steps: int      # optimizer steps for the main training run of a notebook
    eval_every: int       # evaluate every N steps
    eval_batches: int     # batches averaged for one validation estimate
    batch_size: int
    block_size: int       # context length in tokens
    n_layer: int
    n_head: int
    n_embd: int
    dropout: float

    def pick(self, *, ci: T, cpu: T, gpu: T | None = None) -> T:
        """Return the value given for this profile (``gpu`` defaults to the ``cpu`` value).

        >>> get_profile("ci").pick(ci=10, cpu=1000)
        10
        """
        if self.name == "ci":
            return ci
        if self.name == "gpu" and gpu is not None:
            return gpu
        return cpu


PROFILES: dict[str, Profile] = {
    "ci": Profile(
        name="ci",
        description="smallest sizes: every notebook runs in seconds under nbval",
        data_fraction=0.05, train_steps=60, eval_every=20, eval_batches=4,
        batch_size=16, block_size=32, n_layer=2, n_head=2, n_embd=32, dropout=0.0,
    ),
    "cpu": Profile(
        name="cpu",
        description="a learner's laptop: a few minutes at most per notebook",
        data_fraction=1.0, train_steps=2000, eval_every=200, eval_batches=20,
        batch_size=12, block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0,
    ),
    "gpu": Profile(
        name="gpu",
        description="one GPU: bigger models, longer training, better samples",
        data_fraction=1.0, train_steps=5000, eval_every=250, eval_batches=50,
        batch_size=64, block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2,
    ),
}


def get_profile(name: str | None = None) -> Profile:
    """Return the active :class:`Profile`.

    ``name`` wins if given; otherwise ``$LMCOURSE_PROFILE`` is read (default ``"cpu"``).
    An unknown name raises ``ValueError`` listing the valid ones.
    """
    source = "name"
    if name is None:
        name, source = os.environ.get(ENV_VAR, DEFAULT), ENV_VAR
    key = name.strip().lower()
    if key not in PROFILES:
        valid = ", ".join(PROFILES)
        raise ValueError(f"{source} must be one of {valid}; got {name!r}")
    return PROFILES[key]
