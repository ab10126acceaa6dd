"""The notebook-03 checkers accept the reference solutions and name the typical mistakes."""

import pytest
import torch

from lmcourse.embeddings import cosine_matrix
from lmcourse.embeddings import skipgram_pairs as lmcourse_pairs
from lmcourse.exercises import nb03_word_embeddings as ex
from solutions import solution_namespace


@pytest.fixture(scope="module")
def solved():
    return solution_namespace("03_word_embeddings", setup="import torch\n"
                                                           "from lmcourse.exercises import nb03_word_embeddings as ex")


def test_reference_solutions_pass(solved):
    assert ex.check_cosine_similarity(solved["cosine_similarity"]).passed
    assert ex.check_skipgram_pairs(solved["skipgram_pairs_ex"]).passed
    assert ex.check_solve_analogy(solved["solve_analogy"]).passed


def test_check_cosine_similarity_accepts_the_reference_and_torch():
    assert ex.check_cosine_similarity(lambda u, v: float(u @ v / (u.norm() * v.norm()))).passed
    assert ex.check_cosine_similarity(lambda u, v: torch.nn.functional.cosine_similarity(u, v, dim=0).item()).passed
    assert ex.check_cosine_similarity(lambda u, v: cosine_matrix(u[None], v[None])[0, 0]).passed


def test_check_cosine_similarity_names_the_plain_dot_product():
    result = ex.check_cosine_similarity(lambda u, v: float(u @ v))
    assert not result.passed and "dot product" in result.mistake


def test_check_cosine_similarity_names_the_cosine_distance():
    result = ex.check_cosine_similarity(lambda u, v: 1 - float(u @ v / (u.norm() * v.norm())))
    assert not result.passed and "distance" in result.mistake


def test_check_cosine_similarity_names_dividing_by_one_length():
    result = ex.check_cosine_similarity(lambda u, v: float(u @ v / u.norm()))
    assert not result.passed and "length of u only" in result.mistake


def test_check_cosine_similarity_names_dividing_by_the_squared_lengths():
    result = ex.check_cosine_similarity(lambda u, v: float(u @ v / (u.norm() * v.norm()) ** 2))
    assert not result.passed and "squared lengths" in result.mistake


def _pairs(ids, window):
    return [(c, ids[j]) for i, c in enumerate(ids)
            for j in range(max(0, i - window), min(len(ids), i + window + 1)) if j != i]


def test_check_skipgram_pairs_accepts_the_reference_and_lmcourse():
    assert ex.check_skipgram_pairs(_pairs).passed
    assert ex.check_skipgram_pairs(lambda ids, w: lmcourse_pairs(ids, w).tolist()).passed


def test_check_skipgram_pairs_names_pairing_a_word_with_itself():
    def wrong(ids, window):
        return [(c, ids[j]) for i, c in enumerate(ids) for j in range(max(0, i - window), min(len(ids), i + window + 1))]
    result = ex.check_skipgram_pairs(wrong)
    assert not result.passed and "not its own context" in result.mistake


def test_check_skipgram_pairs_names_a_window_one_too_short():
    def wrong(ids, window):
        return [(c, ids[j]) for i, c in enumerate(ids) for j in range(max(0, i - window), min(len(ids), i + window))
                if j != i]
    result = ex.check_skipgram_pairs(wrong)
    assert not result.passed and "one word too short" in result.mistake


def test_check_skipgram_pairs_names_right_context_only():
    def wrong(ids, window):
        return [(c, ids[j]) for i, c in enumerate(ids) for j in range(i + 1, min(len(ids), i + window + 1))]
    result = ex.check_skipgram_pairs(wrong)
    assert not result.passed and "both" in result.mistake


def test_check_skipgram_pairs_names_swapped_pairs():
    result = ex.check_skipgram_pairs(lambda ids, w: [(b, a) for a, b in _pairs(ids, w)])
    assert not result.passed and "wrong way round" in result.mistake


def _solve(E, itos, a, b, c):
    En = torch.nn.functional.normalize(E, dim=1)
    ia, ib, ic = (itos.index(w) for w in (a, b, c))
    sims = En @ torch.nn.functional.normalize(En[ib] - En[ia] + En[ic], dim=0)
    sims[[ia, ib, ic]] = -float("inf")
    return itos[int(sims.argmax())]


def test_check_solve_analogy_accepts_the_reference_and_lmcourse():
    from lmcourse.embeddings import Vocabulary, analogy

    assert ex.check_solve_analogy(_solve).passed
    assert ex.check_solve_analogy(
        lambda E, itos, a, b, c: analogy(E, Vocabulary(list(itos), [1] * len(itos)), a, b, c)[0]).passed


def test_check_solve_analogy_names_the_reversed_offset():
    result = ex.check_solve_analogy(lambda E, itos, a, b, c: _solve(E, itos, b, a, c))
    assert not result.passed and "a - b + c" in result.mistake


def test_check_solve_analogy_names_answers_that_are_question_words():
    def no_exclusion(E, itos, a, b, c):
        ia, ib, ic = (itos.index(w) for w in (a, b, c))
        target = E[ib] - E[ia] + E[ic]
        return itos[int((E @ target).argmax())]
    result = ex.check_solve_analogy(no_exclusion)
    assert not result.passed and "Exclude the three question words" in result.mistake


def test_check_solve_analogy_names_returning_the_row_number():
    result = ex.check_solve_analogy(lambda E, itos, a, b, c: itos.index(_solve(E, itos, a, b, c)))
    assert not result.passed and "return the word itself" in result.mistake
