import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lmcourse._checks import ArgumentError
from lmcourse.decoding import beam_search, greedy_search, length_penalty_factor


def _sequence_log_prob(next_log_probs, prefix, continuation, *, eos_id):
    """The oracle: the model's total log-probability of ``continuation`` (B, n) after ``prefix``, up to its first eos,
    scored token by token with the same function the searches call."""
    total = torch.zeros(prefix.shape[0])
    alive = torch.ones(prefix.shape[0], dtype=torch.bool)
    tokens, batch_index = prefix, torch.arange(prefix.shape[0])
    for j in range(continuation.shape[1]):
        tok = continuation[:, j]
        logp = next_log_probs(tokens, batch_index)
        total += torch.where(alive, logp.gather(1, tok[:, None]).squeeze(1), 0.0)
        alive = alive & (tok != eos_id)
        tokens = torch.cat([tokens, tok[:, None]], dim=1)
    return total


def _random_model(seed: int, vocab: int = 6, width: int = 8, sharpness: float = 3.0):
    """A tiny random recurrent "language model": next_log_probs(tokens, batch_index) -> (N, V)."""
    g = torch.Generator().manual_seed(seed)
    emb, rec = torch.randn(vocab, width, generator=g), torch.randn(width, width, generator=g)
    out = torch.randn(width, vocab, generator=g) * sharpness
    bias = torch.randn(4, width, generator=g)          # one per input row: a stand-in for a source sentence

    def next_log_probs(tokens, batch_index):
        h = bias[batch_index]
        for t in range(tokens.shape[1]):
            h = torch.tanh(h @ rec + emb[tokens[:, t]])
        return torch.log_softmax(h @ out, dim=-1)

    return next_log_probs


_PREFIX = torch.tensor([[1], [2], [3], [1]])


def _toy(names=("<eos>", "A", "B", "x", "y")):
    def fn(tokens, batch_index):
        table = {(): [0, .6, .4, 0, 0], ("A",): [0, 0, 0, .5, .5], ("B",): [0, 0, 0, 1, 0]}
        rows = [table.get(tuple(names[i] for i in t[1:].tolist()), [1, 0, 0, 0, 0]) for t in tokens]
        return torch.tensor(rows).clamp_min(1e-9).log()
    return fn


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_beam_search_with_one_beam_is_greedy_search(seed):
    fn = _random_model(seed)
    greedy = greedy_search(fn, _PREFIX, max_new_tokens=8, eos_id=0)
    beam = beam_search(fn, _PREFIX, beam_size=1, max_new_tokens=8, eos_id=0)
    assert torch.equal(greedy.tokens, beam.tokens)
    assert torch.allclose(greedy.log_probs, beam.log_probs)


@pytest.mark.parametrize("beam_size", [2, 3, 5])
def test_beam_search_never_scores_below_greedy_on_random_small_models(beam_size):
    for seed in range(60):
        fn = _random_model(seed)
        greedy = greedy_search(fn, _PREFIX, max_new_tokens=8, eos_id=0)
        beam = beam_search(fn, _PREFIX, beam_size=beam_size, max_new_tokens=8, eos_id=0)
        assert (beam.log_probs >= greedy.log_probs - 1e-5).all(), f"seed {seed}"


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), beam_size=st.integers(1, 4))
def test_reported_log_probs_equal_the_models_log_prob_of_the_output(seed, beam_size):
    fn = _random_model(seed)
    for result in (greedy_search(fn, _PREFIX, max_new_tokens=7, eos_id=0),
                   beam_search(fn, _PREFIX, beam_size=beam_size, max_new_tokens=7, eos_id=0)):
        again = _sequence_log_prob(fn, _PREFIX, result.tokens[:, 1:], eos_id=0)
        assert torch.allclose(again, result.log_probs, atol=1e-5)


def test_beam_search_finds_the_better_sequence_greedy_misses():
    start = torch.tensor([[0]])
    greedy = greedy_search(_toy(), start, max_new_tokens=4, eos_id=0)
    beam = beam_search(_toy(), start, beam_size=2, max_new_tokens=4, eos_id=0)
    assert greedy.tokens[0, 1:3].tolist() == [1, 3] and greedy.log_probs.exp().item() == pytest.approx(0.3)
    assert beam.tokens[0, 1:3].tolist() == [2, 3] and beam.log_probs.exp().item() == pytest.approx(0.4)


def test_searches_stop_at_eos_and_pad_after_it():
    fn = _random_model(7)
    for result in (greedy_search(fn, _PREFIX, max_new_tokens=12, eos_id=0, pad_id=5),
                   beam_search(fn, _PREFIX, beam_size=3, max_new_tokens=12, eos_id=0, pad_id=5)):
        for row, n in zip(result.tokens[:, 1:].tolist(), result.lengths.tolist()):
            if 0 in row:
                first = row.index(0)
                assert n == first + 1 and set(row[first + 1:]) <= {5}
            else:
                assert n == len(row)


def test_search_is_batch_aware_rows_do_not_interact():
    fn = _random_model(3)
    together = beam_search(fn, _PREFIX, beam_size=3, max_new_tokens=8, eos_id=0)
    for i in range(_PREFIX.shape[0]):
        def one_row(tokens, batch_index, i=i):
            return fn(tokens, torch.full_like(batch_index, i))
        alone = beam_search(one_row, _PREFIX[i:i + 1], beam_size=3, max_new_tokens=8, eos_id=0)
        n = alone.tokens.shape[1]
        assert torch.equal(together.tokens[i, :n], alone.tokens[0])
        assert together.log_probs[i].item() == pytest.approx(alone.log_probs[0].item(), abs=1e-5)


def test_length_penalty_lets_a_longer_hypothesis_win():
    # from <s>: eos now with p=0.5, or "A" (0.5) then eos (0.9): total 0.45 over 2 tokens.
    def fn(tokens, batch_index):
        rows = [[0.5, 0.5, 1e-9] if t.shape[0] == 1 else [0.9, 0.05, 0.05] for t in tokens]
        return torch.tensor(rows).log()
    start = torch.tensor([[2]])
    short = beam_search(fn, start, beam_size=2, max_new_tokens=3, eos_id=0, length_penalty=0.0)
    long = beam_search(fn, start, beam_size=2, max_new_tokens=3, eos_id=0, length_penalty=2.0)
    assert short.lengths.item() == 1 and long.lengths.item() == 2
    assert length_penalty_factor(torch.tensor([1]), 0.0).item() == 1.0


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(prefix=torch.tensor([1, 2])), "prefix must be a 2-d tensor; got shape (2,)"),
    (dict(prefix=torch.zeros(2, 1)), "prefix must be an integer tensor; got dtype torch.float32"),
    (dict(prefix=torch.zeros(2, 0, dtype=torch.long)), "prefix must hold at least one token per row"),
    (dict(prefix=torch.tensor([[1], [-1]])), "prefix must be token ids >= 0; got ids from -1 to 1"),
    (dict(max_new_tokens=0), "max_new_tokens must be an int >= 1; got 0"),
    (dict(max_new_tokens=True), "max_new_tokens must be an int >= 1; got True"),
    (dict(eos_id=-1), "eos_id must be an int >= 0; got -1"),
    (dict(eos_id=6), "eos_id must be an int in [0, 5]; got 6"),
    (dict(eos_id=1.0), "eos_id must be an int >= 0; got 1.0"),
    (dict(pad_id=-1), "pad_id must be an int >= 0; got -1"),
    (dict(pad_id=6), "pad_id must be an int in [0, 5]; got 6"),
    (dict(beam_size=0), "beam_size must be an int >= 1; got 0"),
    (dict(length_penalty=-0.5), "length_penalty must be a finite number >= 0; got -0.5"),
    (dict(length_penalty=float("nan")), "length_penalty must be a finite number >= 0; got nan"),
    (dict(length_penalty=float("inf")), "length_penalty must be a finite number >= 0; got inf"),
])
def test_beam_search_rejects_bad_arguments(kwargs, fragment):
    args = dict(prefix=_PREFIX, beam_size=2, max_new_tokens=4, eos_id=0)
    args.update(kwargs)
    with pytest.raises(ArgumentError) as err:
        beam_search(_random_model(0), args.pop("prefix"), **args)
    assert fragment in str(err.value)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(eos_id=6), "eos_id must be an int in [0, 5]; got 6"),
    (dict(eos_id=0, pad_id=-2), "pad_id must be an int >= 0; got -2"),
    (dict(eos_id=0, pad_id=9), "pad_id must be an int in [0, 5]; got 9"),
    (dict(eos_id=0, prefix=torch.tensor([[1], [6], [0], [0]])),
     "prefix must be token ids in [0, 6) (the vocabulary size)"),
])
def test_greedy_search_checks_special_ids_against_the_vocabulary(kwargs, fragment):
    prefix = kwargs.pop("prefix", _PREFIX)
    uniform = lambda tokens, batch_index: torch.full((tokens.shape[0], 6), -math.log(6))  # noqa: E731
    with pytest.raises(ArgumentError) as err:
        greedy_search(uniform, prefix, max_new_tokens=3, **kwargs)
    assert fragment in str(err.value)


def test_search_rejects_a_log_prob_function_of_the_wrong_shape():
    with pytest.raises(ValueError, match="next_log_probs must return \\(4, vocab_size\\)"):
        greedy_search(lambda tokens, bi: torch.zeros(6), _PREFIX, max_new_tokens=3, eos_id=0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_searches_refuse_log_probs_holding_nan_or_plus_inf(bad):
    def fn(tokens, batch_index):
        out = torch.log_softmax(torch.zeros(tokens.shape[0], 6), dim=-1)
        out[0, 2] = bad
        return out
    for search in (lambda: greedy_search(fn, _PREFIX, max_new_tokens=3, eos_id=0),
                   lambda: beam_search(fn, _PREFIX, beam_size=2, max_new_tokens=3, eos_id=0)):
        with pytest.raises(ArgumentError, match="next_log_probs must return log-probabilities without NaN or \\+inf"):
            search()


def test_searches_accept_minus_inf_log_probs_for_impossible_tokens():
    def fn(tokens, batch_index):
        out = torch.log_softmax(torch.arange(6.0).expand(tokens.shape[0], 6), dim=-1).clone()
        out[:, 5] = float("-inf")
        return out
    assert greedy_search(fn, _PREFIX, max_new_tokens=2, eos_id=0).tokens[:, 1:].tolist() == [[4, 4]] * 4
