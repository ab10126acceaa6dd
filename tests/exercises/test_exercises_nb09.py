"""Notebook 09's checkers beyond their Mistakes: the package's answers, other valid forms of a right answer, and
wrong answers written here, independently of the checkers' own lists."""

import numpy as np
import torch

from lmcourse.attention import sliding_window_mask
from lmcourse.exercises import nb09_gpt_from_scratch as ex
from lmcourse.gpt import GPT, GPTConfig, KVCache, parameter_count
from lmcourse.sampling import top_p_filter
from lmcourse.transformer import count_parameters
from solutions import solution_namespace

# --- wrong answers, each with the plausible error it makes ----------------------------------------------------

def window_of_the_first_w_tokens(T, w):
    # keeps the first w keys of the text (an "attention sink" window) instead of the last w before the query
    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
    return (j <= i) & (j < w)


def window_as_integers(T, w):
    # the right pattern as 0/1 integers, not a bool mask
    return sliding_window_mask(T, window=w).long()


def window_from_the_wrong_difference(T, w):
    # j - i < w is always true below the diagonal, so this is the plain causal mask
    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
    return (j <= i) & (j - i < w)


def window_as_nested_lists(T, w):
    # builds the mask with Python lists and returns them
    return [[i - w < j <= i for j in range(T)] for i in range(T)]


def nucleus_is_top_two(probs, p):
    # top-k with a fixed k instead of a mass threshold
    return torch.zeros_like(probs, dtype=torch.bool).scatter(-1, probs.topk(2).indices, True)


def nucleus_as_a_float_mask(probs, p):
    # the right tokens, marked with 1.0 instead of True
    return top_p_filter(probs.log(), p).isfinite().float()


def nucleus_relative_to_the_top(probs, p):
    # a min-p rule: keeps tokens whose probability is at least (1 - p) times the top one's
    return probs >= (1 - p) * probs.max(-1, keepdim=True).values


def count_with_the_gpt2_formula(c):
    # §4's formula, 12C² + 13C per block, for every config: ignores bias=False and n_kv_head
    C = c.n_embd
    return c.vocab_size * C + c.block_size * C + c.n_layer * (12 * C * C + 13 * C) + 2 * C


def count_as_a_float(c):
    # the right number, computed with a / somewhere
    return parameter_count(c) / 1


def count_kv_heads_of_full_width(c):
    # takes each key/value head to be C wide instead of head_dim
    C, b = c.n_embd, 1 if c.bias else 0
    kv = c.kv_heads * C
    block = C * (C + 2 * kv) + b * (C + 2 * kv) + C * C + b * C + 8 * C * C + b * 5 * C + 2 * (C + b * C)
    return c.vocab_size * C + c.block_size * C + c.n_layer * block + C + b * C


class _Right:
    def __init__(self, n_layer, batch_size, n_kv_head, max_len, head_dim):
        shape = (n_layer, batch_size, n_kv_head, max_len, head_dim)
        self.k, self.v, self.max_len, self.length = torch.zeros(shape), torch.zeros(shape), max_len, 0

    def update(self, layer, k, v):
        start, end = self.length, self.length + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"max_len={self.max_len}: {self.length} filled, {k.shape[2]} more do not fit")
        self.k[layer, :, :, start:end], self.v[layer, :, :, start:end] = k, v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]

    def advance(self, t):
        self.length += t


class CacheThatForgetsEarlierSteps(_Right):
    # advance sets length to the newest chunk's size instead of adding it
    def advance(self, t):
        self.length = t


class CacheInFloat64(_Right):
    # allocates double precision "to be safe": the model's float32 queries then meet float64 keys
    def __init__(self, *sizes):
        super().__init__(*sizes)
        self.k, self.v = self.k.double(), self.v.double()


class CacheThatRaisesIndexError(_Right):
    # checks the limit but raises the wrong kind of error
    def update(self, layer, k, v):
        if self.length + k.shape[2] > self.max_len:
            raise IndexError("cache full")
        return super().update(layer, k, v)


class CacheReturningTheOldPositionsOnly(_Right):
    # returns the keys and values before the new ones: [:length] instead of [:length + T]
    def update(self, layer, k, v):
        super().update(layer, k, v)
        return self.k[layer, :, :, :self.length], self.v[layer, :, :, :self.length]


WRONG_ANSWERS = {
    "check_window_mask": [window_of_the_first_w_tokens, window_as_integers, window_from_the_wrong_difference,
                          window_as_nested_lists],
    "check_top_p": [nucleus_is_top_two, nucleus_as_a_float_mask, nucleus_relative_to_the_top],
    "check_parameter_count": [count_with_the_gpt2_formula, count_as_a_float, count_kv_heads_of_full_width],
    "check_kv_cache": [CacheThatForgetsEarlierSteps, CacheInFloat64, CacheThatRaisesIndexError,
                       CacheReturningTheOldPositionsOnly],
}


# --- the references are the real thing, and other valid forms pass ----------------------------------------------

def test_package_functions_pass_their_checkers():
    assert ex.check_window_mask(lambda T, w: sliding_window_mask(T, window=w)).passed
    assert ex.check_top_p(lambda probs, p: top_p_filter(probs.log(), p).isfinite()).passed
    assert ex.check_parameter_count(parameter_count).passed


def test_a_window_mask_from_tril_and_triu_passes():
    def window_mask(T, w):
        ones = torch.ones(T, T, dtype=torch.bool)
        return ones.tril() & ones.triu(diagonal=-(w - 1))
    assert ex.check_window_mask(window_mask).passed


def test_the_parameter_count_configs_agree_with_a_built_model():
    for c in ex._CONFIGS:
        if c.n_embd <= 384:                                   # building the large ones costs seconds
            assert count_parameters(GPT(c)) == parameter_count(c), c


def test_a_parameter_count_as_numpy_int_passes():
    assert ex.check_parameter_count(lambda c: np.int64(parameter_count(c))).passed


def test_the_package_kv_cache_with_a_limit_passes_the_checker():
    class PackageCache(KVCache):
        def __init__(self, n_layer, batch_size, n_kv_head, max_len, head_dim):
            super().__init__(GPTConfig(block_size=max_len, n_layer=n_layer, n_head=n_kv_head,
                                       n_embd=n_kv_head * head_dim), batch_size)

        def update(self, layer, k, v):
            if self.length + k.shape[2] > self.block_size:
                raise ValueError("the cache is full")
            return super().update(layer, k, v)
    assert ex.check_kv_cache(PackageCache).passed


def test_the_checkers_reference_is_the_full_recomputation_and_a_cache_gets_there():
    for s in ex._SCENARIOS:
        got, want = ex._Driven(_Right)(s), ex._uncached(s)
        assert got.keys() == want.keys()
        for key, value in want.items():
            if isinstance(value, torch.Tensor):
                assert torch.allclose(got[key], value, atol=1e-5), key
                assert value.abs().max() > 0.3, "the toy GPT's logits must be large enough to show a wrong cache"
            else:
                assert got[key] == value, key


def test_a_cache_keeping_keys_and_values_in_one_buffer_passes():
    class OneBuffer(_Right):
        def __init__(self, n_layer, batch_size, n_kv_head, max_len, head_dim):
            super().__init__(n_layer, batch_size, n_kv_head, max_len, head_dim)
            self.kv = torch.zeros(2, n_layer, batch_size, n_kv_head, max_len, head_dim)
            self.k, self.v = self.kv[0], self.kv[1]                 # views: one allocation
    assert ex.check_kv_cache(OneBuffer).passed


def test_the_notebooks_cache_generates_what_the_package_generates():
    Cache = solution_namespace("09_gpt_from_scratch")["Cache"]
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=16, vocab_size=11, n_layer=2, n_head=4, n_embd=16, n_kv_head=2)).eval()
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    cache, ids, new = Cache(2, 2, 2, 16, 4), prompt, prompt
    with torch.no_grad():
        for _ in range(10):
            new = ex._through(model, new, cache).argmax(-1, keepdim=True)
            ids = torch.cat((ids, new), dim=1)
    assert torch.equal(ids, model.generate(prompt, 10, greedy=True, use_cache=False))


def test_a_cache_checker_given_an_instance_says_it_wants_the_class():
    result = ex.check_kv_cache(_Right(1, 1, 1, 4, 2))
    assert not result.passed and "expected a function" in result.message


def test_unwritten_exercises_say_so():
    def todo(*args):
        raise NotImplementedError
    for checker in (ex.check_window_mask, ex.check_top_p, ex.check_parameter_count, ex.check_kv_cache):
        result = checker(todo)
        assert not result.passed and "not written yet" in result.message
