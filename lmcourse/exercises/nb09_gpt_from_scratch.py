"""Checkers for notebook 09: a sliding-window causal mask, the nucleus (top-p) filter, the GPT parameter count
with and without biases and shared key/value heads, and a KV cache whose buffers are allocated once."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, replace

import torch

from ..attention import sliding_window_mask
from ..gpt import GPT, GPTConfig, parameter_count
from ..sampling import top_p_filter
from .checking import Case, Mistake, Result, _say, check_function


def _same_tensor(got, expected) -> bool:
    return (isinstance(got, torch.Tensor) and got.dtype == expected.dtype and got.shape == expected.shape
            and torch.equal(got, expected))


def _window(t, w):
    i, j = torch.arange(t)[:, None], torch.arange(t)[None, :]
    return (j <= i) & (i - j < w)


def _window_both_sides(t, w):
    i, j = torch.arange(t)[:, None], torch.arange(t)[None, :]
    return (i - j).abs() < w


def check_window_mask(window_mask) -> Result:
    """``window_mask(T, w)`` must return the (T, T) bool mask with True where query i may see key j: j <= i and
    i - j < w (itself and the w - 1 keys before it)."""
    cases = [Case((5, 2), label="T = 5, w = 2 (each token sees itself and the one before)"),
             Case((4, 1), label="T = 4, w = 1 (each token sees only itself)"),
             Case((6, 3), label="T = 6, w = 3"),
             Case((3, 5), label="T = 3, w = 5 (a window longer than the sequence: plain causal)"),
             Case((1, 1), label="T = 1, w = 1")]
    return check_function(window_mask, lambda t, w: sliding_window_mask(t, window=w), cases, name="check_window_mask",
                          mistakes=[
        Mistake(lambda t, w: torch.ones(t, t, dtype=torch.bool).tril(),
                "that is the plain causal mask: the window is missing. Query i may see only keys i - w + 1 … i, "
                "so also require i - j < w."),
        Mistake(lambda t, w: _window(t, w + 1),
                "off by one: each query sees w + 1 keys. The window holds w keys, the query's own included: "
                "i - j < w, not i - j <= w."),
        Mistake(_window_both_sides,
                "your window looks both ways (|i - j| < w), so a token sees w - 1 keys of the future too. A causal "
                "window only looks back: j <= i as well."),
        Mistake(lambda t, w: _window(t, w).T,
                "the mask is transposed: row i is the query and column j the key; True where j <= i and i - j < w "
                "(below the diagonal), not above it."),
        Mistake(lambda t, w: ~_window(t, w),
                "the mask is inverted (True = blocked is the convention of nn.Transformer's masks); "
                "in this course True means 'may attend'."),
        Mistake(lambda t, w: _window(t, w).float(),
                "the pattern is right but the dtype is float: masks must be torch.bool "
                "(a comparison such as (j <= i) & (i - j < w) gives one), or masked_fill(~mask, …) will fail."),
    ])


def _top_p_cases():
    g = torch.Generator().manual_seed(9)
    return [
        Case((torch.tensor([0.5, 0.3, 0.15, 0.05]), 0.6),
             label="probs [0.5, 0.3, 0.15, 0.05], p = 0.6 (0.5 alone is < 0.6, so the nucleus has 2 tokens)"),
        Case((torch.tensor([0.05, 0.6, 0.1, 0.25]), 0.8), label="probs [0.05, 0.6, 0.1, 0.25] (not sorted), p = 0.8"),
        Case((torch.tensor([0.7, 0.2, 0.1]), 0.5), label="probs [0.7, 0.2, 0.1], p = 0.5 (the top token alone)"),
        Case((torch.softmax(torch.randn(3, 20, generator=g) * 2, -1), 0.9), label="a batch of probs (3, 20), p = 0.9"),
        Case((torch.softmax(torch.randn(2, 10, generator=g), -1), 1.0), label="probs (2, 10), p = 1.0 (keep all)"),
    ]


def _nucleus(probs, p):
    return top_p_filter(probs.log(), p).isfinite()


def _nucleus_keep_below(probs, p):
    """Wrong: keeps only tokens whose running total (including themselves) is <= p."""
    sorted_probs, order = probs.sort(-1, descending=True)
    keep = sorted_probs.cumsum(-1) <= p
    return keep.scatter(-1, order, keep)


def _nucleus_unsorted(probs, p):
    """Wrong: accumulates probabilities in vocabulary order instead of most-likely-first."""
    return probs.cumsum(-1) - probs < p


def _nucleus_sorted_positions(probs, p):
    """Wrong: builds the mask in sorted order and returns it without putting it back in vocabulary order."""
    sorted_probs, _ = probs.sort(-1, descending=True)
    return sorted_probs.cumsum(-1) - sorted_probs < p


def _nucleus_ascending(probs, p):
    """Wrong: sorts least likely first."""
    sorted_probs, order = probs.sort(-1)
    keep = sorted_probs.cumsum(-1) - sorted_probs < p
    return keep.scatter(-1, order, keep)


def check_top_p(nucleus) -> Result:
    """``nucleus(probs, p)``: probabilities (…, V) -> bool mask (…, V), True for the tokens top-p keeps."""
    return check_function(nucleus, _nucleus, _top_p_cases(), name="check_top_p", compare=_same_tensor, mistakes=[
        Mistake(_nucleus_keep_below,
                "you keep tokens while the running total is <= p, so you drop the token that *crosses* p "
                "(and keep nothing when the top token alone is above p). The nucleus is the smallest set "
                "with mass >= p: keep a token if the mass *before* it is still < p."),
        Mistake(_nucleus_sorted_positions,
                "your mask is in sorted order: put it back in vocabulary order with the indices from sort "
                "(keep.scatter(-1, order, keep))."),
        Mistake(_nucleus_unsorted,
                "you summed probabilities in vocabulary order; sort them, most likely first, before the cumsum."),
        Mistake(_nucleus_ascending,
                "you sorted least likely first; the nucleus starts from the *most* likely token (descending=True)."),
    ])


_CONFIGS = [
    GPTConfig(block_size=64, vocab_size=65, n_layer=4, n_head=4, n_embd=128),
    GPTConfig(block_size=1024, vocab_size=50257, n_layer=12, n_head=12, n_embd=768),
    GPTConfig(block_size=256, vocab_size=65, n_layer=6, n_head=6, n_embd=384, n_kv_head=2),
    GPTConfig(block_size=128, vocab_size=96, n_layer=3, n_head=4, n_embd=64, bias=False),
    GPTConfig(block_size=4096, vocab_size=32000, n_layer=32, n_head=32, n_embd=4096, n_kv_head=8, bias=False),
]


def _with_head(c):
    return parameter_count(c) + c.vocab_size * c.n_embd


def _no_positions(c):
    return parameter_count(c) - c.block_size * c.n_embd


def _mlp_width_c(c):
    return parameter_count(c) - c.n_layer * 6 * c.n_embd * c.n_embd


def _no_final_norm(c):
    return parameter_count(c) - (2 if c.bias else 1) * c.n_embd


def _kv_as_query_heads(c):
    return parameter_count(replace(c, n_kv_head=None))


def _bias_ignored(c):
    return parameter_count(replace(c, bias=True))


def _norm_bias_kept(c):
    return parameter_count(c) + (0 if c.bias else (2 * c.n_layer + 1) * c.n_embd)


def _k_and_v_one_width(c):
    hs = c.n_embd // c.n_head
    return parameter_count(c) - c.n_layer * (c.n_embd * c.kv_heads * hs + (c.kv_heads * hs if c.bias else 0))


def _describe(c):
    extra = (f", n_kv_head={c.n_kv_head}" if c.n_kv_head else "") + (", bias=False" if not c.bias else "")
    return (f"GPTConfig(n_layer={c.n_layer}, n_head={c.n_head}, n_embd={c.n_embd}, vocab_size={c.vocab_size}, "
            f"block_size={c.block_size}{extra})")


def check_parameter_count(count) -> Result:
    """``count(config)`` must give the number of parameters of ``GPT(config)`` (tied head counted once), for
    GPT-2's block with or without biases and with any number of key/value heads."""
    cases = [Case((c,), label=_describe(c)) for c in _CONFIGS]
    return check_function(count, parameter_count, cases, name="check_parameter_count", mistakes=[
        Mistake(_with_head, "you counted the output head separately; it is tied to the token embedding "
                            "(the same V×C matrix), so it adds nothing."),
        Mistake(_no_positions, "the learned position embedding (block_size × n_embd) is missing."),
        Mistake(_mlp_width_c, "the MLP is 4·C wide: C×4C + 4C×C = 8·C² weights, not 2·C²."),
        Mistake(_no_final_norm, "the final LayerNorm ln_f (2·C, or C without bias) is missing."),
        Mistake(_kv_as_query_heads,
                "with n_kv_head set, keys and values have only n_kv_head heads of head_dim = n_embd // n_head: "
                "c_attn maps C to C + 2·n_kv_head·head_dim (weights and, with bias, biases), not to 3C."),
        Mistake(_k_and_v_one_width,
                "c_attn makes queries, keys *and* values: C + 2·n_kv_head·head_dim outputs. You counted the "
                "key/value part once."),
        Mistake(_bias_ignored,
                "bias=False removes every bias: those of c_attn, c_proj and the two MLP layers, and the LayerNorms' "
                "biases (each LayerNorm keeps only its C weights)."),
        Mistake(_norm_bias_kept,
                "with bias=False the LayerNorms lose their bias too (LayerNorm(C, bias=False) has C parameters, "
                "not 2·C): every block's two and ln_f."),
    ])


# --- Exercise 4: a KV cache with buffers allocated once -------------------------------------------------------

@dataclass(frozen=True)
class _Scenario:
    """A tiny GPT, a batch of token ids, and the chunks they are fed in: a prefill, then steps."""

    n_layer: int
    n_head: int
    n_kv_head: int
    head_dim: int
    batch: int
    chunks: tuple
    max_len: int
    seed: int

    def __repr__(self) -> str:
        steps = ", ".join(map(str, self.chunks))
        return (f"batch {self.batch}, {self.n_layer} layers, {self.n_head} query heads, {self.n_kv_head} key/value "
                f"heads of {self.head_dim}, max_len {self.max_len}; tokens fed in chunks of {steps}, then one more")


_MODELS: dict = {}


def _model(s: _Scenario) -> GPT:
    key = (s.n_layer, s.n_head, s.n_kv_head, s.head_dim, s.seed)
    if key not in _MODELS:
        with torch.random.fork_rng():
            torch.manual_seed(s.seed)
            model = GPT(GPTConfig(block_size=12, vocab_size=13, n_layer=s.n_layer, n_head=s.n_head,
                                  n_embd=s.n_head * s.head_dim, n_kv_head=s.n_kv_head)).eval()
            with torch.no_grad():                   # large weights, so that a wrong key or value moves the logits
                for p in model.parameters():
                    p.normal_(0.0, 0.5)
        _MODELS[key] = model
    return _MODELS[key]


def _ids(s: _Scenario) -> torch.Tensor:
    g = torch.Generator().manual_seed(s.seed + 100)
    return torch.randint(0, 13, (s.batch, sum(s.chunks) + 1), generator=g)


def _through(model: GPT, new_ids: torch.Tensor, cache) -> torch.Tensor:
    """GPT.next_logits with any cache that has ``length``, ``update(layer, k, v)`` and ``advance(t)``."""
    x = model.wpe(model.wte(new_ids), offset=cache.length)             # (B, T_new, C)
    for layer, block in enumerate(model.blocks):
        x = block(x, cache, layer)                                      # attention calls cache.update(layer, k, v)
    cache.advance(new_ids.shape[1])
    return model.lm_head(model.ln_f(x[:, -1]))                          # (B, V)


def _shape(value):
    return tuple(value.shape) if isinstance(value, torch.Tensor) else f"{type(value).__name__}, not a tensor"


def _step_name(s: _Scenario, i: int, n: int, fed: int) -> str:
    what = "the prefill" if i == 0 else ("one token" if n == 1 else f"a chunk of {n}")
    return f"step {i + 1} ({what}, {fed} tokens in all)"


def _overflow_error(cache, s: _Scenario) -> str:
    """What updating a full cache with one more position raises: 'ValueError', another name, or 'nothing'."""
    one = torch.zeros(s.batch, s.n_kv_head, 1, s.head_dim)
    try:
        cache.update(0, one, one)
    except ValueError:
        return "ValueError"
    except Exception as err:  # a learner's cache may raise anything here; its name is the answer
        return type(err).__name__
    return "nothing"


def _uncached(s: _Scenario) -> dict:
    """What a right cache gives: the logits of the full recomputation after every chunk."""
    model, ids = _model(s), _ids(s)
    shape = (s.n_layer, s.batch, s.n_kv_head, s.max_len, s.head_dim)
    record, fed = {"cache.k and cache.v after __init__": (shape, shape)}, 0
    with torch.no_grad():
        for i, n in enumerate(s.chunks):
            fed += n
            record[f"{_step_name(s, i, n, fed)}: logits"] = model(ids[:, :fed])[0][:, -1]
            record[f"{_step_name(s, i, n, fed)}: cache.length"] = fed
    record[f"update with one more position than max_len={s.max_len}: raises"] = "ValueError"
    return record


class _Raised:
    """In a record: this step raised (equal to another _Raised of the same exception type)."""

    def __init__(self, err: Exception):
        self.name, self.message = type(err).__name__, str(err).splitlines()[0][:120] if str(err) else ""

    def __eq__(self, other) -> bool:
        return isinstance(other, _Raised) and other.name == self.name

    __hash__ = None

    def __repr__(self) -> str:
        return f"your cache raised {self.name}: {self.message}"


class _Driven:
    """A cache class made a function of one scenario, so that ``check_function`` can run it on every case."""

    def __init__(self, cache_class):
        self.cache_class, self.raised = cache_class, None

    def __call__(self, s: _Scenario) -> dict:
        model, ids = _model(s), _ids(s)
        cache = self.cache_class(s.n_layer, s.batch, s.n_kv_head, s.max_len, s.head_dim)
        record, fed = {"cache.k and cache.v after __init__": (_shape(cache.k), _shape(cache.v))}, 0
        with torch.no_grad():
            for i, n in enumerate(s.chunks):
                try:
                    logits = _through(model, ids[:, fed:fed + n], cache)
                except NotImplementedError:
                    raise
                except Exception as err:  # the step that raised is named in the record, the rest not run
                    record[f"{_step_name(s, i, n, fed + n)}: logits"] = _Raised(err)
                    self.raised = f"{_step_name(s, i, n, fed + n)}: {_Raised(err)!r}"
                    return record | {key: "not reached" for key in _uncached(s) if key not in record}
                fed += n
                record[f"{_step_name(s, i, n, fed)}: logits"] = logits
                record[f"{_step_name(s, i, n, fed)}: cache.length"] = cache.length
        record[f"update with one more position than max_len={s.max_len}: raises"] = _overflow_error(cache, s)
        return record

    def __repr__(self) -> str:
        return getattr(self.cache_class, "__name__", repr(self.cache_class))


_SCENARIOS = [
    _Scenario(n_layer=2, n_head=4, n_kv_head=4, head_dim=4, batch=2, chunks=(3, 1, 1, 1, 1, 1, 1, 1, 1, 1),
              max_len=12, seed=0),
    _Scenario(n_layer=2, n_head=2, n_kv_head=2, head_dim=3, batch=1, chunks=(1, 1, 1, 1, 1), max_len=5, seed=1),
    _Scenario(n_layer=3, n_head=4, n_kv_head=4, head_dim=2, batch=2, chunks=(2, 3, 1, 2), max_len=8, seed=2),
    _Scenario(n_layer=2, n_head=4, n_kv_head=1, head_dim=4, batch=3, chunks=(4, 1, 1), max_len=6, seed=3),
]


class _RightCache:
    def __init__(self, n_layer, batch_size, n_kv_head, max_len, head_dim):
        shape = (n_layer, batch_size, n_kv_head, max_len, head_dim)
        self.k, self.v, self.max_len, self.length = torch.zeros(shape), torch.zeros(shape), max_len, 0

    def _fits(self, t):
        if self.length + t > self.max_len:
            raise ValueError(f"max_len={self.max_len} positions; {self.length} filled, {t} more do not fit")

    def update(self, layer, k, v):
        self._fits(k.shape[2])
        start, end = self.length, self.length + k.shape[2]
        self.k[layer, :, :, start:end], self.v[layer, :, :, start:end] = k, v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]

    def advance(self, t):
        self.length += t


class _WholeBuffer(_RightCache):
    def update(self, layer, k, v):
        super().update(layer, k, v)
        return self.k[layer], self.v[layer]


class _NewOnly(_RightCache):
    def update(self, layer, k, v):
        super().update(layer, k, v)
        return k, v


class _AlwaysAtZero(_RightCache):
    def update(self, layer, k, v):
        self._fits(k.shape[2])
        t = k.shape[2]
        self.k[layer, :, :, :t], self.v[layer, :, :, :t] = k, v
        return self.k[layer, :, :, :self.length + t], self.v[layer, :, :, :self.length + t]


class _AdvancedPerLayer(_RightCache):
    def update(self, layer, k, v):
        keys, values = super().update(layer, k, v)
        self.length += k.shape[2]
        return keys, values

    def advance(self, t):
        pass


class _NoLimit(_RightCache):
    def _fits(self, t):
        pass


class _Concatenated:
    def __init__(self, n_layer, batch_size, n_kv_head, max_len, head_dim):
        self.k, self.v, self.max_len, self.length = [None] * n_layer, [None] * n_layer, max_len, 0

    def update(self, layer, k, v):
        if self.length + k.shape[2] > self.max_len:
            raise ValueError(f"max_len={self.max_len}")
        if self.k[layer] is not None:
            k, v = torch.cat((self.k[layer], k), dim=2), torch.cat((self.v[layer], v), dim=2)
        self.k[layer], self.v[layer] = k, v
        return k, v

    def advance(self, t):
        self.length += t


def check_kv_cache(cache_class) -> Result:
    """``cache_class(n_layer, batch_size, n_kv_head, max_len, head_dim)`` must build a cache with buffers ``k`` and
    ``v`` of that shape, a ``length``, ``update(layer, k, v)`` and ``advance(t)``, with which a GPT's logits equal
    the full recomputation's after a prefill and after every step, and that refuses to grow past ``max_len``."""
    driven = cache_class if isinstance(cache_class, _Driven) or not callable(cache_class) else _Driven(cache_class)
    cases = [Case((s,), label=repr(s)) for s in _SCENARIOS]
    with contextlib.redirect_stdout(io.StringIO()):       # printed below, with the step that raised if one did
        result = _check_cache(driven, cases)
    if not result.passed and isinstance(driven, _Driven) and driven.raised:
        result = Result(False, f"{result.message}\n  At {driven.raised}", result.failed_case, result.mistake)
    return _say(result)


def _check_cache(driven, cases) -> Result:
    return check_function(driven, _uncached, cases, name="check_kv_cache", rtol=1e-4, atol=1e-5, mistakes=[
        Mistake(_Driven(_Concatenated),
                "cache.k and cache.v must be allocated once, in __init__, as zeros of shape (n_layer, batch_size, "
                "n_kv_head, max_len, head_dim); update writes into them. Growing a list with torch.cat copies the "
                "whole cache at every step — what this exercise removes."),
        Mistake(_Driven(_WholeBuffer),
                "update returned the whole buffer, max_len positions, most of them still zeros: the new tokens then "
                "attend to empty slots. Return only the filled part, [:length + T]."),
        Mistake(_Driven(_NewOnly),
                "update returned only the new keys and values, so a new token sees no earlier one. Return every key "
                "and value of the layer so far, positions 0 … length + T - 1."),
        Mistake(_Driven(_AlwaysAtZero),
                "the new keys and values must go to positions length … length + T - 1; you wrote them at 0 … T - 1, "
                "over the earlier tokens'."),
        Mistake(_Driven(_AdvancedPerLayer),
                "length moved on inside update, once per layer, so the second layer wrote its keys after the first "
                "layer's new ones. Every layer writes at the same positions; only advance(T), called once after the "
                "last layer, moves length on."),
        Mistake(_Driven(_NoLimit),
                "a write past max_len must raise a ValueError that says the cache is full (max_len, length, how "
                "many new positions); without the check PyTorch raises a RuntimeError about sizes instead."),
    ])
