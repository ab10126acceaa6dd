"""Checkers for notebook 15: exposure from the candidates' scores, an e-mail scrubber, and one round of
federated averaging (FedAvg) on state dicts."""

from __future__ import annotations

import math
import re

import torch

from ..privacy import PII_PATTERNS
from .checking import Case, Mistake, Result, check_function, probed

# ----------------------------------------------------------------------------- exercise 1: exposure from scores

def _exposure(scores, index):
    scores = torch.as_tensor(scores, dtype=torch.float64)
    rank = int((scores <= scores[index]).sum())                            # the canary itself, and every tie, count
    return math.log2(len(scores)) - math.log2(rank)


def _scores(values):
    return torch.tensor(values, dtype=torch.float32)


_EXPOSURE_CASES = [
    Case((_scores([3.1, 2.5, 4.0, 3.3, 2.9, 5.2, 3.8, 4.4]), 1),
         label="8 scores, the canary (index 1) has the lowest: rank 1"),
    Case((_scores([2.0, 3.5, 1.5, 3.5, 0.5, 4.0]), 3),
         label="6 scores, the canary (index 3) ties with index 1: ties count against it"),
    Case((_scores([1.0, 2.0, 3.0, 9.0]), 3), label="4 scores, the canary (index 3) is the least likely: exposure 0"),
    Case((_scores([2.5] * 5), 2), label="5 equal scores (a model that cannot tell them apart), canary at index 2"),
    Case((_scores([6.0, 1.0, 7.0, 2.0, 8.0, 3.0, 9.0, 4.0, 0.5, 5.0]), 0),
         label="10 scores, the canary first at index 0, rank 7"),
]


def _strict(scores, index):
    scores = torch.as_tensor(scores, dtype=torch.float64)
    return math.log2(len(scores)) - math.log2(1 + int((scores < scores[index]).sum()))


def _from_the_top(scores, index):
    scores = torch.as_tensor(scores, dtype=torch.float64)
    return math.log2(len(scores)) - math.log2(int((scores >= scores[index]).sum()))


def _natural(scores, index):
    return _exposure(scores, index) * math.log(2)


def _others_only(scores, index):
    scores = torch.as_tensor(scores, dtype=torch.float64)
    return math.log2(len(scores) - 1) - math.log2(int((scores <= scores[index]).sum()))


def _tensor(scores, index):
    return torch.tensor(_exposure(scores, index))


def check_exposure(exposure) -> Result:
    """``exposure(scores, index)``: ``scores`` (N,) log-perplexities of all N candidates, the canary at ``index``;
    rank = #candidates scoring ≤ the canary (itself included), exposure = log2 N − log2 rank, a Python float."""
    return check_function(exposure, _exposure, _EXPOSURE_CASES, name="check_exposure", mistakes=[
        Mistake(_tensor, "the answer is a tensor; exposure is one number: return a Python float (.item(), or "
                         "compute the rank with int(...) and use math.log2)."),
        Mistake(_strict, "ties were counted in the canary's favour (<): a candidate the model likes exactly as much "
                         "is as good a guess, so rank = number of scores <= the canary's (Carlini et al.)."),
        Mistake(_from_the_top, "the rank was counted from the wrong end: a low log-perplexity means likely, so "
                               "rank 1 is the lowest score — count the scores <= the canary's."),
        Mistake(_natural, "the natural logarithm gives nats; exposure is counted in bits: math.log2."),
        Mistake(_others_only, "N is the number of all candidates, the canary included: log2(len(scores))."),
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
    Case(("Mail <Li.Lei@Example.COM>; cc: x_y@uni-mail.edu.cn or ada@localhost.",),
         label="'Mail <Li.Lei@Example.COM>; cc: x_y@uni-mail.edu.cn or ada@localhost.' (capitals, brackets, a "
               "hyphen in the domain, and no dot after localhost)"),
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


# ----------------------------------------------------------------------------- exercise 3: one FedAvg round
#
# The learner's fedavg_round(global_state, client_datas, local_train) is run through a probe with the
# checker's own local_train: a deterministic "training" that changes the state it receives *in place*
# (as a client training its copy does) and counts its steps in an integer buffer. The probe returns the
# new state and the global state as it is after the round, so modifying the server's state is caught.

def _local_train(state, data):
    """A client's training, deterministic: pull every float tensor towards its data, in place; count steps."""
    for value in state.values():
        if value.is_floating_point():
            value.mul_(0.5).add_(data.float().mean() * torch.ones_like(value) + 0.1 * value.sum())
        else:
            value.add_(3)                                                  # num_batches_tracked: 3 local steps
    return state


def _fedavg(global_state, client_datas, local_train):
    sizes = [len(d) for d in client_datas]
    states = [local_train({k: v.clone() for k, v in global_state.items()}, d) for d in client_datas]
    out = {}
    for key, value in global_state.items():
        if value.is_floating_point():
            out[key] = sum(n * s[key].double() for n, s in zip(sizes, states)).div(sum(sizes)).to(value.dtype)
        else:
            out[key] = states[0][key].clone()                              # counters agree: copy one
    return out


def _run_fedavg(fn, global_state, client_datas):
    new = fn(global_state, client_datas, _local_train)
    return {"new global state": new, "the server's state after the round": global_state}


def _fedavg_probe(fn):
    return probed(_run_fedavg, fn)


def _state(seed, buffer=False):
    g = torch.Generator().manual_seed(seed)
    state = {"linear.weight": torch.randn(3, 2, generator=g), "linear.bias": torch.randn(3, generator=g)}
    if buffer:
        state["norm.running_mean"] = torch.randn(3, generator=g)
        state["norm.num_batches_tracked"] = torch.tensor(7)                # an int64 counter
    return state


def _datas(*sizes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, generator=g) + 2 * k for k, n in enumerate(sizes)]


_FEDAVG_CASES = [
    Case((_state(1), _datas(3, 1)), label="2 clients holding 3 and 1 examples"),
    Case((_state(2), _datas(5)), label="1 client (holding 5 examples)"),
    Case((_state(3, buffer=True), _datas(2, 6, 4, seed=1)),
         label="3 clients holding 2, 6 and 4 examples; the state has a BatchNorm's running_mean and an int64 "
               "num_batches_tracked"),
    Case((_state(4), _datas(4, 4, 4, 4, seed=2)), label="4 clients of equal size"),
]


def _fedavg_with(*, weighted=True, copy_state=True, normalise=True, ints_averaged=False):
    def fedavg(global_state, client_datas, local_train):
        sizes = [len(d) if weighted else 1 for d in client_datas]
        start = (lambda: {k: v.clone() for k, v in global_state.items()}) if copy_state else (lambda: global_state)
        states = [local_train(start(), d) for d in client_datas]
        total = sum(sizes) if normalise else 1
        return {k: sum(n * s[k] for n, s in zip(sizes, states)) / total
                if (v.is_floating_point() or ints_averaged) else states[0][k].clone()
                for k, v in global_state.items()}
    return fedavg


def check_fedavg_round(fedavg_round) -> Result:
    """``fedavg_round(global_state, client_datas, local_train)``: each client trains a copy of the state,
    ``local_train(state, data) -> state``; return a new state, the average of the clients' states weighted by
    ``len(data)``, integer tensors kept as integers (copied from a client); ``global_state`` left unchanged."""
    learner = _fedavg_probe(fedavg_round)
    return check_function(learner, _fedavg_probe(_fedavg), _FEDAVG_CASES, name="check_fedavg_round", mistakes=[
        Mistake(_fedavg_probe(_fedavg_with(copy_state=False)),
                "every client trained the server's own state: local_train changes the state it gets in place, so "
                "client 2 started from client 1's weights and the server's state changed. Give each client a copy: "
                "{k: v.clone() for k, v in global_state.items()} (or copy.deepcopy)."),
        Mistake(_fedavg_probe(_fedavg_with(weighted=False)),
                "that is the plain mean over clients; FedAvg weights each client by its data, n_k / n with "
                "n_k = len(client_datas[k]), so a client with more examples counts more."),
        Mistake(_fedavg_probe(_fedavg_with(normalise=False)),
                "the weighted sum was not divided by the total number of examples: w = Σ (n_k / n) · w_k, "
                "with n = Σ n_k."),
        Mistake(_fedavg_probe(_fedavg_with(ints_averaged=True)),
                "an integer buffer (num_batches_tracked) came back as a float: average only floating-point tensors "
                "(value.is_floating_point()) and copy the integer ones from a client."),
    ])
