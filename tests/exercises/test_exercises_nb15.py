"""Notebook 15's checkers: the references agree with the package (lmcourse.privacy, lmcourse.federated), right
answers in another valid form pass, and wrong answers written here — apart from the checkers' own Mistake
lists — are refused without raising."""

import copy
import math
import re

import numpy as np
import torch

from lmcourse.exercises import nb15_responsibly as ex
from lmcourse.federated import average_weights
from lmcourse.privacy import canary_rank, exposure
from solutions import solution_namespace

# --- exercise 1: exposure(scores, index) ----------------------------------------------------------

def exposure_from_a_stable_sort(scores, index):
    # the canary's position in a sorted list: ties before it in the list are counted, ties after it are not
    order = sorted(range(len(scores)), key=lambda i: float(scores[i]))
    return math.log2(len(scores)) - math.log2(order.index(index) + 1)


def exposure_with_the_sign_flipped(scores, index):
    # log2 rank − log2 N: ≤ 0, and the most exposed secret gets the lowest value
    rank = int((scores <= scores[index]).sum())
    return math.log2(rank) - math.log2(len(scores))


def exposure_counting_only_the_better_ones(scores, index):
    # rank = number of strictly lower scores, without the canary itself: 0 for the best one, log2(0) fails
    rank = int((scores < scores[index]).sum())
    return math.log2(len(scores)) - math.log2(rank)


# --- exercise 2: scrub_emails(text) ---------------------------------------------------------------

def scrub_greedy_dots(text):
    # [\w.]+ on both sides also swallows a full stop that ends the sentence
    return re.sub(r"[\w.+-]+@[\w.-]+", "[EMAIL]", text)


def scrub_lowercase_only(text):
    # letters written as a-z only: an address with capitals is left alone
    return re.sub(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}", "[EMAIL]", text)


def scrub_words_with_an_at_sign(text):
    # replaces every whitespace-separated word that holds '@': punctuation and a@b go with it
    return " ".join("[EMAIL]" if "@" in word else word for word in text.split(" "))


# --- exercise 3: fedavg_round(global_state, client_datas, local_train) -----------------------------

def fedavg_returning_the_average_update(global_state, client_datas, local_train):
    # averages the clients' changes w_k − w but forgets to add them to the server's weights
    n = [len(d) for d in client_datas]
    states = [local_train(copy.deepcopy(global_state), d) for d in client_datas]
    return {k: sum(nk * (s[k] - v) for nk, s in zip(n, states)) / sum(n) if v.is_floating_point() else states[0][k]
            for k, v in global_state.items()}


def fedavg_written_into_the_servers_state(global_state, client_datas, local_train):
    # computes the right average, then writes it into global_state in place and returns that
    n = [len(d) for d in client_datas]
    states = [local_train(copy.deepcopy(global_state), d) for d in client_datas]
    for k, v in global_state.items():
        v.copy_(sum(nk * s[k] for nk, s in zip(n, states)) / sum(n) if v.is_floating_point() else states[0][k])
    return global_state


def fedavg_keeping_the_servers_counters(global_state, client_datas, local_train):
    # integer buffers copied from the server's old state, so num_batches_tracked never advances
    n = [len(d) for d in client_datas]
    states = [local_train(copy.deepcopy(global_state), d) for d in client_datas]
    return {k: sum(nk * s[k] for nk, s in zip(n, states)) / sum(n) if v.is_floating_point() else v.clone()
            for k, v in global_state.items()}


def fedavg_with_a_shallow_copy(global_state, client_datas, local_train):
    # dict(global_state) copies the dict but not its tensors: in-place training still reaches the server's state
    n = [len(d) for d in client_datas]
    states = [local_train(dict(global_state), d) for d in client_datas]
    return {k: sum(nk * s[k] for nk, s in zip(n, states)) / sum(n) if v.is_floating_point() else states[0][k]
            for k, v in global_state.items()}


WRONG_ANSWERS = {
    "check_exposure": [exposure_from_a_stable_sort, exposure_with_the_sign_flipped,
                       exposure_counting_only_the_better_ones],
    "check_scrub_emails": [scrub_greedy_dots, scrub_lowercase_only, scrub_words_with_an_at_sign],
    "check_fedavg_round": [fedavg_returning_the_average_update, fedavg_written_into_the_servers_state,
                           fedavg_keeping_the_servers_counters, fedavg_with_a_shallow_copy],
}


def test_the_notebooks_reference_solutions_pass_their_checkers():
    ns = solution_namespace("15_responsibly")
    assert ex.check_exposure(ns["exposure"]).passed
    assert ex.check_scrub_emails(ns["scrub_emails"]).passed
    assert ex.check_fedavg_round(ns["fedavg_round"]).passed


def test_the_exposure_reference_agrees_with_lmcourse_privacy():
    for case in ex._EXPOSURE_CASES:
        scores, index = case.args
        others = torch.cat([scores[:index], scores[index + 1:]])
        assert ex._exposure(scores, index) == exposure(canary_rank(float(scores[index]), others), len(scores))


def test_answers_in_another_valid_form_pass():
    def exposure_as_numpy(scores, index):                       # a NumPy float64 and a loop over plain floats
        values = scores.tolist()
        rank = sum(1 for s in values if s <= values[index])
        return np.log2(len(values)) - np.log2(rank)

    def fedavg_with_the_package(global_state, client_datas, local_train):   # lmcourse.federated's server step
        states = [local_train(copy.deepcopy(global_state), d) for d in client_datas]
        return average_weights(states, [len(d) for d in client_datas])

    assert ex.check_exposure(exposure_as_numpy).passed
    assert ex.check_fedavg_round(fedavg_with_the_package).passed


def test_scrub_emails_catches_a_scrubber_that_does_nothing():
    result = ex.check_scrub_emails(lambda t: t)
    assert not result.passed and result.failed_case.startswith("'write to")
