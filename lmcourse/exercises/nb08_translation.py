"""Checkers for notebook 08: the corpus brevity penalty with several references, one step of beam search, and
the whole beam search (finished hypotheses, a maximum length, length normalisation)."""

from __future__ import annotations

import math
import zlib

import torch

from ..decoding import beam_search as _package_beam_search
from ..metrics import brevity_penalty as _bp
from ..metrics import closest_ref_length
from .checking import Case, Mistake, Result, check_function

# --- Exercise 1: the brevity penalty of a corpus, with several references per sentence ---------------------------

_CORPUS_BP_CASES = [
    Case(([9], [[14, 6, 10]]), label="one sentence of 9 tokens, references of 14, 6 and 10 tokens (10 is closest)"),
    Case(([5, 12], [[8], [10]]), label="two sentences: 5 tokens (reference 8) and 12 tokens (reference 10)"),
    Case(([10], [[8, 12]]), label="10 tokens, references of 8 and 12 (a tie: both are 2 away)"),
    Case(([3, 20], [[6], [15]]), label="3 tokens (reference 6) and 20 tokens (reference 15): short, then long"),
    Case(([7, 4, 9], [[5, 9], [3, 7], [12, 6]]),
         label="three sentences of 7, 4, 9 tokens with references [5, 9], [3, 7], [12, 6] (ties in two)"),
    Case(((6, 8), ((6, 9), (8, 11))), label="tuples (6, 8) and ((6, 9), (8, 11)): every output as long as a reference"),
    Case(([0, 0], [[3], [4]]), label="two empty outputs (0 tokens), references 3 and 4"),
]


def _corpus_bp(hyp_lens, ref_lens):
    return _bp(sum(hyp_lens), sum(closest_ref_length(h, rs) for h, rs in zip(hyp_lens, ref_lens)))


def _mean_sentence_bp(hyp_lens, ref_lens):
    return sum(_bp(h, closest_ref_length(h, rs)) for h, rs in zip(hyp_lens, ref_lens)) / len(hyp_lens)


def check_corpus_brevity_penalty(corpus_brevity_penalty) -> Result:
    """``corpus_brevity_penalty(hyp_lens, ref_lens)``: output lengths (one int per sentence) and, per sentence, the
    lengths of its references -> BLEU's brevity penalty of the corpus, a float."""
    return check_function(corpus_brevity_penalty, _corpus_bp, _CORPUS_BP_CASES, name="check_corpus_brevity_penalty",
                          mistakes=[
        Mistake(_mean_sentence_bp,
                "you averaged one penalty per sentence. BLEU sums the lengths over the whole corpus first (c = all "
                "output tokens, r = all chosen reference lengths) and computes one penalty from the two totals, so "
                "a short sentence can be made up for by a long one."),
        Mistake(lambda h, r: _bp(sum(h), sum(min(rs) for rs in r)),
                "you took the shortest reference of each sentence; BLEU takes the one whose length is closest to "
                "the output's (the shorter one only on a tie)."),
        Mistake(lambda h, r: _bp(sum(h), sum(min(rs, key=lambda x: (abs(x - n), -x)) for n, rs in zip(h, r))),
                "on a tie (two references equally far from the output) BLEU takes the *shorter* one; you took the "
                "longer."),
        Mistake(lambda h, r: _bp(sum(h), sum(rs[0] for rs in r)),
                "you used each sentence's first reference; BLEU takes the reference length closest to the output's."),
        Mistake(lambda h, r: _bp(sum(h), round(sum(sum(rs) / len(rs) for rs in r))),
                "you averaged the reference lengths; BLEU takes, per sentence, the one closest to the output's "
                "length."),
        Mistake(lambda h, r: 1.0 if sum(h) >= sum(closest_ref_length(n, rs) for n, rs in zip(h, r)) else (
                    math.exp(1 - sum(h) / sum(closest_ref_length(n, rs) for n, rs in zip(h, r))) if sum(h) else 0.0),
                "the ratio is upside down: the penalty is exp(1 - r / c), which falls towards 0 as the output gets "
                "shorter (exp(1 - c / r) never drops below e^-1 ≈ 0.37)."),
    ])


# --- Exercise 2: one step of beam search --------------------------------------------------------------------------

def _beams(seed: int, k: int, v: int, first: bool = False):
    g = torch.Generator().manual_seed(seed)
    scores = -torch.rand(k, generator=g) * 3
    if first:
        scores = torch.tensor([0.0] + [float("-inf")] * (k - 1))
    log_probs = torch.log_softmax(torch.randn(k, v, generator=g) * 2, dim=-1)
    return scores, log_probs, k


_STEP_CASES = [
    Case(_beams(0, 3, 5), label="K=3 beams, V=5 tokens, random scores"),
    Case(_beams(1, 2, 7), label="K=2 beams, V=7 tokens"),
    Case(_beams(2, 4, 6, first=True), label="first step: scores [0, -inf, -inf, -inf] (one live beam)"),
    Case(_beams(3, 4, 9), label="K=4 beams, V=9 tokens"),
]


def _beam_step(scores, log_probs, k):
    v = log_probs.shape[-1]
    top, flat = (scores[:, None] + log_probs).flatten().topk(k)
    return top, flat // v, flat % v


def _per_beam_best(scores, log_probs, k):
    best, token = log_probs.max(-1)
    top, parent = (scores + best).topk(k)
    return top, parent, token[parent]


def check_beam_step(beam_step) -> Result:
    """``beam_step(scores (K,), log_probs (K, V), k)`` must return ``(new_scores, parent, token)``,
    each (k,), best first."""
    return check_function(beam_step, _beam_step, _STEP_CASES, name="check_beam_step", mistakes=[
        Mistake(lambda s, lp, k: _beam_step(torch.zeros_like(s), lp, k),
                "each candidate's score is its beam's running score plus the token's log-prob: "
                "scores[:, None] + log_probs. You ranked the new token's log-prob alone."),
        Mistake(_per_beam_best,
                "you kept only the best token of each beam. Beam search ranks all K·V extensions together, "
                "so one good beam may supply several of the new beams."),
        Mistake(lambda s, lp, k: (lambda t, f: (t, f // lp.shape[-1], f))(*(s[:, None] + lp).flatten().topk(k)),
                "token is the flat index into K·V candidates; the token id is flat % V (and the parent flat // V)."),
        Mistake(lambda s, lp, k: (lambda t, f: (t, f % lp.shape[-1], f // lp.shape[-1]))(
                    *(s[:, None] + lp).flatten().topk(k)),
                "parent and token are swapped: in the flattened (K, V) grid, parent = flat // V and token = flat % V."),
        Mistake(lambda s, lp, k: _beam_step(s, lp.exp(), k),
                "add log-probabilities (or multiply probabilities); here probabilities were added to log-scores."),
    ])


# --- Exercise 3: the whole beam search ----------------------------------------------------------------------------

class _Scorer:
    """A deterministic toy model: ``step(prefixes (N, t) long) -> (N, V) log-probs``, each row a function of its
    prefix alone. Rows follow ``table`` (generated tokens after <bos> -> probabilities) where it has the prefix,
    else a pseudo-random distribution seeded by the prefix, with <eos> growing likelier as the prefix grows."""

    def __init__(self, vocab: int, table: dict | None = None, seed: int = 0, eos_bias: float = 0.6,
                 eos_offset: float = 0.0, spread: float = 1.5):
        self.vocab, self.table, self.seed, self.spread = vocab, table or {}, seed, spread
        self.eos_bias, self.eos_offset = eos_bias, eos_offset

    def __call__(self, prefixes, batch_index=None):        # batch_index: what lmcourse.decoding passes
        if not isinstance(prefixes, torch.Tensor) or prefixes.ndim != 2 or prefixes.dtype != torch.long:
            what = (f"a {prefixes.ndim}-d {str(prefixes.dtype).replace('torch.', '')} tensor"
                    if isinstance(prefixes, torch.Tensor) else type(prefixes).__name__)
            raise TypeError(f"step(prefixes) takes a (N, t) tensor of token ids (torch.long), one row per live "
                            f"hypothesis, <bos> first; got {what}")
        return torch.stack([self._row(tuple(p)) for p in prefixes.tolist()])

    def _row(self, prefix: tuple) -> torch.Tensor:
        generated = prefix[1:]
        if generated in self.table:
            return torch.tensor(self.table[generated], dtype=torch.float32).log()
        g = torch.Generator().manual_seed(zlib.crc32(repr((self.seed, prefix)).encode()))
        logits = torch.randn(self.vocab, generator=g) * self.spread
        logits[0] += self.eos_offset + self.eos_bias * len(generated)   # <eos> is id 0 in every toy vocabulary
        return torch.log_softmax(logits, dim=-1)

    def __repr__(self) -> str:
        return f"toy model over {self.vocab} tokens"


_TWO_PATHS = {(): [0.01, 0.55, 0.44], (1,): [0.02, 0.49, 0.49], (2,): [0.02, 0.97, 0.01],
              (1, 1): [0.9, 0.05, 0.05], (1, 2): [0.9, 0.05, 0.05], (2, 1): [0.9, 0.05, 0.05],
              (2, 2): [0.9, 0.05, 0.05]}
# <eos> right away is the best hypothesis; continuing after a finished one would cost a lot (a flat row)
_EOS_FIRST = {(): [0.5, 0.3, 0.15, 0.05], (1,): [0.8, 0.1, 0.06, 0.04], (2,): [0.7, 0.2, 0.06, 0.04],
              (3,): [0.6, 0.2, 0.1, 0.1], (0,): [0.25, 0.25, 0.25, 0.25]}
# tokens 1 and 2 tie at the first step; both fit in a beam of 2, and the best answer goes through 1
_TIE = {(): [0.1, 0.4, 0.4, 0.1], (1,): [0.05, 0.05, 0.05, 0.85], (2,): [0.5, 0.2, 0.2, 0.1],
        (1, 3): [0.9, 0.04, 0.03, 0.03], (2, 0): [0.25] * 4, (2, 1): [0.6, 0.2, 0.1, 0.1],
        (2, 2): [0.6, 0.2, 0.1, 0.1], (1, 0): [0.25] * 4, (1, 1): [0.6, 0.2, 0.1, 0.1]}
# a short and a long hypothesis: which one wins depends on the length normalisation
_SHORT_LONG = {(): [0.35, 0.45, 0.2], (1,): [0.1, 0.89, 0.01], (1, 1): [0.1, 0.89, 0.01],
               (1, 1, 1): [0.95, 0.04, 0.01], (2,): [0.3, 0.4, 0.3], (2, 1): [0.4, 0.3, 0.3],
               (2, 2): [0.4, 0.3, 0.3], (1, 2): [0.5, 0.25, 0.25], (1, 1, 2): [0.5, 0.25, 0.25],
               (0,): [1 / 3] * 3}

# <eos> first is the most probable hypothesis, but a long one overtakes it once lengths are normalised
_LATE_WINNER = {(): [0.5, 0.3, 0.2], (1,): [0.03, 0.96, 0.01], (1, 1): [0.03, 0.96, 0.01],
                (1, 1, 1): [0.96, 0.02, 0.02], (2,): [0.4, 0.3, 0.3], (0,): [1 / 3] * 3}


def _search_case(step, k, max_len, alpha, label):
    return Case((step, 1, 0, k, max_len, alpha), label=f"{label} (bos=1, eos=0, k={k}, max_len={max_len}, "
                                                       f"alpha={alpha})")


_SEARCH_CASES = [
    _search_case(_Scorer(3, _TWO_PATHS), 2, 4, 0.0,
                 "greedy takes token 1 (0.55), after which everything is uncertain; token 2 (0.44) is followed by a "
                 "sure token"),
    _search_case(_Scorer(4, _EOS_FIRST), 3, 5, 0.0, "<eos> is the most likely first token (p = 0.5)"),
    _search_case(_Scorer(4, _TIE), 2, 4, 0.0, "tokens 1 and 2 tie at the first step (p = 0.4 each)"),
    _search_case(_Scorer(3, _SHORT_LONG), 3, 5, 0.0, "a short and a long hypothesis, no length normalisation"),
    _search_case(_Scorer(3, _SHORT_LONG), 3, 5, 1.0, "the same model with length normalisation"),
    _search_case(_Scorer(3, _LATE_WINNER), 2, 5, 2.0,
                 "<eos> first is the most probable hypothesis; a longer one wins once lengths are normalised"),
    _search_case(_Scorer(6, seed=3, eos_bias=0.0, eos_offset=-8.0), 3, 3, 0.0,
                 "a random model that almost never ends: nothing reaches <eos> by max_len"),
    _search_case(_Scorer(6, seed=1), 1, 6, 0.0, "a random model with a beam of 1 (greedy search)"),
    _search_case(_Scorer(5, seed=12, eos_bias=0.4), 3, 7, 2.0,
                 "a random model over 5 tokens, hypotheses of several lengths"),
    _search_case(_Scorer(5, seed=36, eos_bias=0.4), 3, 7, 2.0, "another random model over 5 tokens"),
]


def _beam_reference(step, bos, eos, k, max_len, alpha):
    """The package's beam search, as a (tokens, total log-prob) pair for one input."""
    result = _package_beam_search(step, torch.tensor([[bos]]), beam_size=k, max_new_tokens=max_len, eos_id=eos,
                                  length_penalty=alpha)
    n = int(result.lengths[0])
    return result.tokens[0, 1:1 + n].tolist(), float(result.log_probs[0])


def _gnmt(length, alpha):
    return ((5 + length) / 6) ** alpha


def _beam_variant(step, bos, eos, k, max_len, alpha, *, grow_finished=False, per_beam_best=False,
                  keep_k_live=False, norm=_gnmt, count_eos=True, rank_normalised=False, return_normalised=False):
    """A list-based beam search with one switch per typical mistake (all off = the right algorithm)."""
    def length(tokens):
        return len(tokens) - 1 - (0 if count_eos or tokens[-1] != eos else 1)

    def ranked(h):
        return h[1] / norm(length(h[0]), alpha)

    beams, done = [([bos], 0.0, False)], []
    for _ in range(max_len):
        live = [b for b in beams if grow_finished or not b[2]]
        if not live:
            break
        rows = step(torch.tensor([t for t, _, _ in live])).tolist()
        candidates = [] if grow_finished else [b for b in beams if b[2]]
        for (tokens, score, _), row in zip(live, rows):
            options = [max(range(len(row)), key=row.__getitem__)] if per_beam_best else range(len(row))
            candidates += [(tokens + [v], score + row[v], v == eos) for v in options]
        candidates.sort(key=ranked if rank_normalised else (lambda h: h[1]), reverse=True)
        if keep_k_live:
            done += [c for c in candidates[:k] if c[2]]
            beams = [c for c in candidates if not c[2]][:k]
            if len(done) >= k:
                break
        else:
            beams = candidates[:k]
    tokens, score, _ = max(done + beams, key=ranked)
    return tokens[1:], ranked((tokens, score, 0)) if return_normalised else score


def _variant(**flags):
    return lambda *args: _beam_variant(*args, **flags)


def check_beam_search(beam_search) -> Result:
    """``beam_search(step, bos, eos, k, max_len, alpha)`` -> ``(tokens, score)``: the best hypothesis's generated
    tokens (a list of ints, <bos> left out, <eos> last if it finished) and its total log-probability (a float)."""
    return check_function(beam_search, _beam_reference, _SEARCH_CASES, name="check_beam_search", mistakes=[
        Mistake(_variant(per_beam_best=True),
                "you extended each beam by its best token only. Every beam must be extended by *every* token and the "
                "k best of all those candidates kept, so one good beam may supply several new beams."),
        Mistake(_variant(grow_finished=True),
                "a hypothesis that has produced <eos> is finished: it must not be extended any more. Keep it in the "
                "beam with its score frozen, as one candidate among the extensions of the live ones."),
        Mistake(_variant(keep_k_live=True),
                "you moved finished hypotheses out of the beam and refilled it with k live ones (a variant some "
                "libraries use). Here, as in lmcourse.decoding.beam_search, a finished hypothesis keeps its slot and "
                "competes with the live extensions; the search stops when all k are finished or at max_len."),
        Mistake(_variant(norm=lambda n, a: 1.0),
                "the length normalisation is missing: choose the final answer by score / ((5 + length) / 6) ** alpha "
                "(length = generated tokens, <eos> included), not by the total log-probability."),
        Mistake(_variant(norm=lambda n, a: n ** a),
                "the length penalty is GNMT's ((5 + length) / 6) ** alpha, not length ** alpha."),
        Mistake(_variant(count_eos=False),
                "count <eos> in the length: a hypothesis's length is the number of generated tokens, <eos> included."),
        Mistake(_variant(rank_normalised=True),
                "rank the candidates by their total log-probability during the search; the length penalty is only "
                "used to choose the final answer among the k hypotheses left at the end."),
        Mistake(_variant(return_normalised=True),
                "return the total log-probability of the best hypothesis, not its length-normalised score (that "
                "one only decides which hypothesis is best)."),
    ])
