"""An ablation ladder: from GPT-2's block to a LLaMA-style one, one config field per rung.

A ladder measures what each change of a recipe is worth: rung 0 is the starting model, and every
further rung is the previous rung's :class:`~lmcourse.gpt.GPTConfig` with exactly **one** field
changed. Trained on the same data, steps, schedule and seeds, two neighbouring rungs differ only by
that change, so their paired difference is its effect — on top of the rungs below it, in this
regime. Notebook 10 climbs :data:`MODERN_STEPS`, and ``benchmarks/shakespeare_char.py --modern``
trains its top rung at nanoGPT's size.

>>> [name for name, _ in climb(GPTConfig(bias=True))]
['GPT-2 block', 'no biases', 'rotary positions', 'RMSNorm', 'SwiGLU', 'grouped-query attention']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace

from ._checks import ArgumentError
from .gpt import GPTConfig

# (rung name, GPTConfig field, new value), in the order notebook 10 climbs them: nanoGPT's model
# (no biases) first, then rotary positions, then LLaMA's norm, MLP and attention.
MODERN_STEPS: tuple[tuple[str, str, object], ...] = (
    ("no biases", "bias", False),
    ("rotary positions", "position", "rope"),
    ("RMSNorm", "norm", "rmsnorm"),
    ("SwiGLU", "mlp", "swiglu"),
    ("grouped-query attention", "n_kv_head", 2),
)

_FIELDS = tuple(f.name for f in fields(GPTConfig))


def climb(base: GPTConfig, steps: Sequence[tuple[str, str, object]] = MODERN_STEPS,
          base_name: str = "GPT-2 block") -> list[tuple[str, GPTConfig]]:
    """The rungs of a ladder: ``[(base_name, base), (name_1, config_1), …]``, one more than ``steps``.

    ``steps`` holds ``(name, field, value)`` triples; rung i is rung i − 1 with ``field`` set to
    ``value`` (GPTConfig checks the new config as usual). A step whose field is not a GPTConfig
    field, or whose value is what the rung below already has (a rung that changes nothing), is
    refused: every rung must differ from its neighbour by exactly one field.
    """
    if not isinstance(base, GPTConfig):
        raise ArgumentError(f"base must be a GPTConfig; got {type(base).__name__}")
    rungs = [(base_name, base)]
    for i, step in enumerate(steps):
        if not (isinstance(step, tuple) and len(step) == 3 and isinstance(step[0], str)):
            raise ArgumentError(f"steps[{i}] must be a (name, field, value) tuple; got {step!r}")
        name, field, value = step
        below = rungs[-1][1]
        if field not in _FIELDS:
            raise ArgumentError(f"steps[{i}] field must be one of GPTConfig's fields {_FIELDS}; got {field!r}")
        if getattr(below, field) == value:
            raise ArgumentError(f"steps[{i}] ({name!r}) must change {field}, but the rung below already has "
                                f"{field}={value!r}; got a rung that changes nothing")
        rungs.append((name, replace(below, **{field: value})))
    return rungs

