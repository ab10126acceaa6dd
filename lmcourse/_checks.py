"""Argument checks for the functions a learner calls, in one wording: ``"<arg> must be …; got …"``.

A check names the argument, says what was expected and shows what came, so a wrong call fails at
the door with a sentence instead of deep inside PyTorch (or, worse, not at all: ``steps=True``,
``lr=nan`` or token id 70 in a 65-token vocabulary would otherwise run and give nonsense).
Every check returns the value it checked, so it can be used inline::

    self.n_layer = integer("n_layer", n_layer, min=1)

Checks live at the entry points (configs, models' ``forward``, ``generate``, ``train``, loaders,
metrics); the internal helpers those call trust their callers and do not check again.
:class:`ArgumentError` is both a ``ValueError`` and a ``TypeError``, so ``except ValueError``
catches a wrong type as well as a wrong value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, MutableMapping
from numbers import Integral, Real

import torch


class ArgumentError(ValueError, TypeError):
    """A bad argument to a public lmcourse function; the message names it and what was expected."""


def _fail(name: str, expected: str, got) -> ArgumentError:
    return ArgumentError(f"{name} must be {expected}; got {got}")


def _interval(low, high, low_open: bool = False, high_open: bool = False) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return ""


def integer(name: str, value, *, min: int | None = None, max: int | None = None) -> int:
    """``value`` as an ``int`` (a Python or NumPy integer, not a bool, not a float), within ``[min, max]``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise _fail(name, f"an int {_interval(min, max)}".rstrip(), repr(value))
    value = int(value)
    if (min is not None and value < min) or (max is not None and value > max):
        raise _fail(name, f"an int {_interval(min, max)}", repr(value))
    return value


def number(name: str, value, *, min: float | None = None, max: float | None = None,
           min_open: bool = False, max_open: bool = False) -> float:
    """``value`` as a finite ``float`` (an int or float, not a bool, not NaN or ±inf), within the bounds;
    ``min_open``/``max_open`` exclude the bound itself (``min=0, min_open=True`` means > 0)."""
    expected = f"a finite number {_interval(min, max, min_open, max_open)}".rstrip()
    if isinstance(value, bool) or not isinstance(value, Real):
        raise _fail(name, expected, repr(value))
    x = float(value)
    if (not math.isfinite(x) or (min is not None and (x < min or (min_open and x == min)))
            or (max is not None and (x > max or (max_open and x == max)))):
        raise _fail(name, expected, repr(value))  # the value as given: 0, not 0.0
    return x


def probability(name: str, value) -> float:
    """A number in [0, 1]."""
    return number(name, value, min=0, max=1)


def one_of(name: str, value, choices: Iterable):
    """``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    try:
        ok = value in choices
    except TypeError:  # an unhashable value against a set-like collection
        ok = False
    if not ok:
        raise _fail(name, f"one of {choices}", repr(value))
    return value


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def tensor(name: str, x, *, ndim: int | Iterable[int] | None = None, dtype: str | torch.dtype | None = None,
           shape: tuple | None = None, sizes: MutableMapping[str, int] | None = None) -> torch.Tensor:
    """``x`` if it is a tensor of the expected kind.

    ``ndim`` is one number of dimensions or several allowed ones. ``dtype`` is a ``torch.dtype`` or a
    kind: ``"int"`` (any integer dtype), ``"float"`` (any floating dtype) or ``"bool"``. ``shape`` gives
    each dimension as an int, ``None`` (any size) or a name such as ``"B"``: a name must have the same
    size wherever it appears, in this tensor and in earlier calls that share the ``sizes`` dict::

        sizes = {}
        tensor("q", q, shape=("B", "T", "C"), sizes=sizes)
        tensor("k", k, shape=("B", "S", "C"), sizes=sizes)   # same B and C as q
    """
    if not isinstance(x, torch.Tensor):
        raise _fail(name, "a torch.Tensor", type(x).__name__)
    if shape is not None:
        ndim = len(shape)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            if len(allowed) == 1:
                what = f"a {allowed[0]}-d tensor"
            else:
                what = f"a tensor with {' or '.join(map(str, allowed))} dimensions"
            if shape is not None:
                what += " " + _shape_text(shape)
            raise _fail(name, what, f"shape {tuple(x.shape)}")
    if dtype is not None:
        kinds = {"int": (lambda d: not d.is_floating_point and not d.is_complex and d != torch.bool,
                         "an integer tensor"),
                 "float": (lambda d: d.is_floating_point, "a floating-point tensor"),
                 "bool": (lambda d: d == torch.bool, "a bool tensor")}
        if isinstance(dtype, str):
            ok, what = kinds[one_of("dtype", dtype, kinds)]
        else:
            ok, what = (lambda d: d == dtype), f"a {dtype} tensor"
        if not ok(x.dtype):
            raise _fail(name, what, f"dtype {x.dtype}")
    if shape is not None:
        sizes = {} if sizes is None else sizes
        for dim, want in enumerate(shape):
            have = x.shape[dim]
            expected = sizes.get(want, None) if isinstance(want, str) else want
            if expected is not None and have != expected:
                known = {d: sizes[d] for d in shape if isinstance(d, str) and d in sizes}
                given = f" with {', '.join(f'{k}={v}' for k, v in known.items())}" if known else ""
                raise _fail(name, f"of shape {_shape_text(shape)}{given}", f"shape {tuple(x.shape)}")
            if isinstance(want, str):
                sizes.setdefault(want, have)
    return x


def token_ids(name: str, ids, vocab_size: int, *, ndim: int | Iterable[int] | None = None) -> torch.Tensor:
    """``ids`` if it is an integer tensor whose values all lie in ``[0, vocab_size)``."""
    tensor(name, ids, ndim=ndim, dtype="int")
    if ids.numel():
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= vocab_size:
            raise _fail(name, f"token ids in [0, {vocab_size}) (the vocabulary size)",
                        f"ids from {low} to {high}")
    return ids


def finite_tensor(name: str, x: torch.Tensor) -> torch.Tensor:
    """``x`` if it holds no NaN or ±inf."""
    tensor(name, x)
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise _fail(name, "finite (no NaN or inf)", f"{bad} non-finite value{'s' if bad != 1 else ''}")
    return x


def bool_mask(name: str, mask) -> torch.Tensor:
    """``mask`` if it is a bool tensor; a 0/1 float or int mask is refused with how to make a bool one."""
    if isinstance(mask, torch.Tensor) and mask.dtype != torch.bool:
        raise _fail(name, "a bool tensor (True = may attend); build one with `mask.bool()` or a comparison",
                    f"dtype {mask.dtype}")
    return tensor(name, mask, dtype="bool")
