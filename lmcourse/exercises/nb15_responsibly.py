"""Checkers for notebook 15: exposure from a rank, an e-mail scrubber, and the WEAT effect size."""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F

from ..bias import weat_effect_size as _weat_effect_size
from ..privacy import PII_PATTERNS
from .checking import Case, Mistake, Result, check_function

# ----------------------------------------------------------------------------- exercise 1: exposure

_EXPOSURE_CASES = [
    Case((1, 1024), label="rank=1 of n_candidates=1024 (the canary is the most likely secret)"),
    Case((1024, 1024), label="rank=1024 of 1024 (the least likely)"),
    Case((3, 1000), label="rank=3 of 1000"),
    Case((500, 10_000), label="rank=500 of 10000"),
]


def _exposure(rank, n_candidates):
    return math.log2(n_candidates) - math.log2(rank)


def check_exposure(exposure) -> Result:
    """``exposure(rank, n_candidates)`` must return ``log2(n_candidates) - log2(rank)``, in bits."""
    return check_function(exposure, _exposure, _EXPOSURE_CASES, name="check_exposure", mistakes=[
        Mistake(lambda r, n: math.log2(r) - math.log2(n),
                "the sign is flipped: exposure is log2(n_candidates) - log2(rank), so the most likely "
                "secret (rank 1) has the highest exposure, not the lowest."),
        Mistake(lambda r, n: math.log(n) - math.log(r),
                "you used the natural logarithm; exposure is counted in bits, so use math.log2."),
        Mistake(lambda r, n: math.log2(n - r + 1),
                "you counted the rank from the wrong end: rank 1 is the *most* likely candidate "
                "(lowest log-perplexity), and exposure = log2(n) - log2(rank)."),
        Mistake(lambda r, n: n / r,
                "that is the ratio n_candidates / rank; exposure is its base-2 logarithm."),
    ])


# ----------------------------------------------------------------------------- exercise 2: e-mail scrubber

_EMAIL_CASES = [
    Case(("write to ada@example.com",), label="'write to ada@example.com'"),
    Case(("ada@example.com, bob.smith+news@mail.example.org.",),
         label="'ada@example.com, bob.smith+news@mail.example.org.' (punctuation after the addresses)"),
    Case(("no address here: a lone @ sign, a@b and user at example dot com",),
         label="'no address here: a lone @ sign, a@b and user at example dot com'"),
    Case(("张三的邮箱是zhang_san@163.com。",), label="'张三的邮箱是zhang_san@163.com。' (Chinese text around it)"),
    Case(("Email: a.b@sub.domain.co.uk!",), label="'Email: a.b@sub.domain.co.uk!'"),
]


def _scrub_emails(text):
    return PII_PATTERNS["email"].sub("[EMAIL]", text)


def check_scrub_emails(scrub_emails) -> Result:
    """``scrub_emails(text)`` must replace every e-mail address in ``text`` with ``"[EMAIL]"`` and nothing else."""
    return check_function(scrub_emails, _scrub_emails, _EMAIL_CASES, name="check_scrub_emails", mistakes=[
        Mistake(lambda t: re.sub(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*", "[EMAIL]", t),
                "'a@b' is not an address: a domain needs a dot and a top-level domain of at least two "
                r"letters, e.g. end with \.[A-Za-z]{2,}."),
        Mistake(lambda t: re.sub(r"\S+@\S+", "[EMAIL]", t),
                r"\S+ also swallowed the punctuation after the address (the comma, the full stop). "
                "End the pattern with the domain: name parts joined by dots, then a top-level domain of letters."),
        Mistake(lambda t: re.sub(r"\w+@\w+\.\w+", "[EMAIL]", t),
                "only part of 'bob.smith+news@mail.example.org' was replaced: the part before @ may hold "
                "dots, '+' and '-', and the domain may have several dots."),
    ])


# ----------------------------------------------------------------------------- exercise 3: WEAT effect size

def _weat_cases():
    g = torch.Generator().manual_seed(15)
    cases = [Case((torch.tensor([[2.0, 0.0], [1.0, 0.2]]), torch.tensor([[0.0, 3.0], [0.5, 1.0]]),
                   torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])),
                  label="X=[[2,0],[1,0.2]], Y=[[0,3],[0.5,1]], A=[[1,0]], B=[[0,1]]")]
    for n, d in ((4, 5), (6, 8)):
        X, Y, A, B = (torch.randn(k, d, generator=g) * 3 for k in (n, n, 5, 7))
        cases.append(Case((X, Y, A, B), label=f"random X, Y ({n} words), A (5), B (7), d={d}"))
    return cases


_WEAT_CASES = _weat_cases()


def _assoc(W, A, B, sim):
    return sim(W, A).mean(1) - sim(W, B).mean(1)


def _cos(U, V):
    return F.normalize(U.double(), dim=-1) @ F.normalize(V.double(), dim=-1).T


def _dot(U, V):
    return U.double() @ V.double().T


def _effect(X, Y, A, B, sim=_cos, unbiased=True, normalise=True):
    sx, sy = _assoc(X, A, B, sim), _assoc(Y, A, B, sim)
    diff = sx.mean() - sy.mean()
    return float(diff / torch.cat([sx, sy]).std(unbiased=unbiased)) if normalise else float(diff)


def check_weat_effect_size(weat_effect_size) -> Result:
    """``weat_effect_size(X, Y, A, B)`` must return WEAT's effect size (cosine similarities, sample std over X ∪ Y)."""
    return check_function(weat_effect_size, _weat_effect_size, _WEAT_CASES, name="check_weat_effect_size",
                          rtol=1e-5, mistakes=[
        Mistake(lambda X, Y, A, B: _effect(X, Y, A, B, unbiased=False),
                "you used the population standard deviation (divide by n). WEAT uses the sample standard "
                "deviation of s(w, A, B) over X ∪ Y: torch.std's default (unbiased=True, divide by n - 1)."),
        Mistake(lambda X, Y, A, B: _effect(X, Y, A, B, normalise=False),
                "that is the difference of the mean associations; the effect size divides it by the "
                "standard deviation of s(w, A, B) over all target words X ∪ Y."),
        Mistake(lambda X, Y, A, B: _effect(X, Y, A, B, sim=_dot),
                "you used dot products; WEAT compares directions with the cosine similarity, so normalise "
                "every vector to length 1 first (long vectors would otherwise dominate)."),
        Mistake(lambda X, Y, A, B: _effect(Y, X, A, B),
                "the sign is flipped: the effect size is mean_x s(x) - mean_y s(y), X first."),
    ])
