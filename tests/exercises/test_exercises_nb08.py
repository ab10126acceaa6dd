"""Notebook 08's checkers beyond their Mistakes: agreement with sacrebleu and the package's beam search, other
valid forms of a right answer, and wrong answers written here, independently of the checkers' own lists."""

import math

import numpy as np
import pytest
import torch

from lmcourse.decoding import beam_search as package_beam_search
from lmcourse.exercises import nb08_translation as ex
from solutions import solution_namespace

# --- wrong answers, each with the plausible error it makes ----------------------------------------------------

def bp_from_the_longest_reference(hyp_lens, ref_lens):
    # reads "closest" as "the most demanding": the longest reference of every sentence
    c, r = sum(hyp_lens), sum(max(rs) for rs in ref_lens)
    return 1.0 if c >= r else (math.exp(1 - r / c) if c else 0.0)


def bp_that_also_rewards_long_outputs(hyp_lens, ref_lens):
    # forgets the "1 if c >= r" branch, so a long output gets a penalty above 1
    c = sum(hyp_lens)
    r = sum(min(rs, key=lambda n: (abs(n - h), n)) for h, rs in zip(hyp_lens, ref_lens))
    return math.exp(1 - r / c) if c else 0.0


def bp_of_an_empty_output_is_one(hyp_lens, ref_lens):
    # treats "nothing to compare" as "no penalty"
    c = sum(hyp_lens)
    r = sum(min(rs, key=lambda n: (abs(n - h), n)) for h, rs in zip(hyp_lens, ref_lens))
    return 1.0 if c >= r or c == 0 else math.exp(1 - r / c)


def bp_as_text(hyp_lens, ref_lens):
    # formats the number for printing and returns the string
    c = sum(hyp_lens)
    r = sum(min(rs, key=lambda n: (abs(n - h), n)) for h, rs in zip(hyp_lens, ref_lens))
    return f"{1.0 if c >= r else (math.exp(1 - r / c) if c else 0.0):.4f}"


def beam_step_smallest_first(scores, log_probs, k):
    # topk(largest=False): keeps the k *worst* extensions
    v = log_probs.shape[-1]
    top, flat = (scores[:, None] + log_probs).flatten().topk(k, largest=False)
    return top, flat // v, flat % v


def beam_step_in_probabilities(scores, log_probs, k):
    # ranks right, but returns the new scores as probabilities instead of log-probabilities
    v = log_probs.shape[-1]
    top, flat = (scores[:, None] + log_probs).flatten().topk(k)
    return top.exp(), flat // v, flat % v


def beam_step_returns_topk_pair(scores, log_probs, k):
    # returns topk's (values, indices) pair and forgets to split the flat index
    return (scores[:, None] + log_probs).flatten().topk(k)


def _search(step, bos, eos, k, max_len, alpha, *, steps=None, keep_bos=False, first_finished=False, as_tensor=False):
    """A beam search written for these tests, with switches for the wrong answers below."""
    beams = [([bos], 0.0, False)]
    for _ in range(max_len if steps is None else steps(max_len)):
        live = [b for b in beams if not b[2]]
        if not live:
            break
        rows = step(torch.tensor([b[0] for b in live])).tolist()
        pool = [b for b in beams if b[2]] + [(t + [v], s + row[v], v == eos) for (t, s, _), row in zip(live, rows)
                                              for v in range(len(row))]
        beams = sorted(pool, key=lambda b: -b[1])[:k]
        if first_finished and beams[0][2]:
            break
    best = max(beams, key=lambda b: b[1] / ((5 + len(b[0]) - 1) / 6) ** alpha)
    tokens = best[0] if keep_bos else best[0][1:]
    return (torch.tensor(tokens) if as_tensor else tokens), best[1]


def beam_search_tokens_as_a_tensor(step, bos, eos, k, max_len, alpha=0.0):
    # right search, but the tokens come back as a tensor where a list of ints is asked
    return _search(step, bos, eos, k, max_len, alpha, as_tensor=True)


def beam_search_keeps_bos(step, bos, eos, k, max_len, alpha=0.0):
    # returns the whole sequence, <bos> included
    return _search(step, bos, eos, k, max_len, alpha, keep_bos=True)


def beam_search_stops_when_the_best_is_finished(step, bos, eos, k, max_len, alpha=0.0):
    # stops as soon as the top hypothesis has finished, though live ones may still overtake it after normalisation
    return _search(step, bos, eos, k, max_len, alpha, first_finished=True)


def beam_search_one_step_short(step, bos, eos, k, max_len, alpha=0.0):
    # off by one in the loop: max_len - 1 steps
    return _search(step, bos, eos, k, max_len, alpha, steps=lambda n: n - 1)


WRONG_ANSWERS = {
    "check_corpus_brevity_penalty": [bp_from_the_longest_reference, bp_that_also_rewards_long_outputs,
                                     bp_of_an_empty_output_is_one, bp_as_text],
    "check_beam_step": [beam_step_smallest_first, beam_step_in_probabilities, beam_step_returns_topk_pair],
    "check_beam_search": [beam_search_tokens_as_a_tensor, beam_search_keeps_bos,
                          beam_search_stops_when_the_best_is_finished, beam_search_one_step_short],
}


# --- the references are the real thing, and other valid forms pass ----------------------------------------------

def test_the_corpus_brevity_penalty_is_sacrebleus():
    sacrebleu = pytest.importorskip("sacrebleu")
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(1, 5))
        hyp_lens = [int(x) for x in rng.integers(1, 15, n)]
        ref_lens = [[int(x) for x in rng.integers(1, 15, 2)] for _ in range(n)]
        words = lambda m: " ".join(["a"] * m)                                   # noqa: E731
        bleu = sacrebleu.metrics.BLEU(tokenize="none").corpus_score(
            [words(h) for h in hyp_lens], [[words(rs[i]) for rs in ref_lens] for i in range(2)])
        assert math.isclose(ex._corpus_bp(hyp_lens, ref_lens), bleu.bp, rel_tol=1e-9)


def test_a_numpy_corpus_brevity_penalty_passes():
    def corpus_bp(hyp_lens, ref_lens):                    # np.int64 lengths, np.float64 answer
        h = np.asarray(hyp_lens)
        r = np.array([min(rs, key=lambda n: (abs(n - x), n)) for x, rs in zip(h, ref_lens)])
        c, r = h.sum(), r.sum()
        return np.float64(1.0) if c >= r else (np.exp(1 - r / c) if c else np.float64(0.0))
    assert ex.check_corpus_brevity_penalty(corpus_bp).passed


def test_the_notebooks_beam_step_is_the_first_step_of_the_package_beam_search():
    beam_step = solution_namespace("08_translation")["beam_step"]
    g = torch.Generator().manual_seed(0)
    lp = torch.log_softmax(torch.randn(1, 9, generator=g), -1)
    scores, parent, token = beam_step(torch.tensor([0.0]), lp, 3)
    result = package_beam_search(lambda t, b: lp.expand(t.shape[0], -1), torch.tensor([[1]]), beam_size=3,
                                 max_new_tokens=1, eos_id=0)
    assert torch.equal(result.beams[0, :, 1], token) and torch.allclose(result.beam_log_probs[0], scores)


def test_the_notebooks_beam_search_equals_the_package_on_random_models():
    beam_search = solution_namespace("08_translation")["beam_search"]
    for seed in range(40):
        step = ex._Scorer(5 + seed % 3, seed=seed, eos_bias=0.5)
        args = (step, 1, 0, 1 + seed % 4, 3 + seed % 5, (0.0, 0.6, 1.5)[seed % 3])
        tokens, score = beam_search(*args)
        want_tokens, want_score = ex._beam_reference(*args)
        assert tokens == want_tokens and math.isclose(score, want_score, rel_tol=1e-5)


def test_a_beam_search_returning_a_tuple_and_a_numpy_score_passes():
    beam_search = solution_namespace("08_translation")["beam_search"]

    def other_form(*args):
        tokens, score = beam_search(*args)
        return tuple(np.int64(t) for t in tokens), np.float64(score)
    assert ex.check_beam_search(other_form).passed


def test_a_beam_search_that_hands_the_model_a_list_is_told_to_pass_a_tensor():
    beam_search = solution_namespace("08_translation")["beam_search"]

    def with_lists(step, *args):
        return beam_search(lambda prefixes: step(prefixes.tolist()), *args)
    result = ex.check_beam_search(with_lists)
    assert not result.passed and "TypeError" in result.message and "torch.long" in result.message


def test_the_toy_model_gives_each_prefix_the_same_log_probs_alone_or_in_a_batch():
    step = ex._Scorer(6, seed=2)
    both = step(torch.tensor([[1, 3], [1, 4]]))
    assert torch.equal(both[1], step(torch.tensor([[1, 4]]))[0])
    assert torch.allclose(both.exp().sum(-1), torch.ones(2))
