"""Notebook 03's checkers beyond their Mistakes: the package's and torch's answers, and answers of another kind."""

import torch

from lmcourse.embeddings import Vocabulary, analogy, cosine_matrix
from lmcourse.embeddings import skipgram_pairs as lmcourse_pairs
from lmcourse.exercises import nb03_word_embeddings as ex


def test_check_cosine_similarity_accepts_torch_and_lmcourse_and_a_0d_tensor():
    assert ex.check_cosine_similarity(lambda u, v: torch.nn.functional.cosine_similarity(u, v, dim=0).item()).passed
    assert ex.check_cosine_similarity(lambda u, v: cosine_matrix(u[None], v[None])[0, 0]).passed
    assert ex.check_cosine_similarity(lambda u, v: u @ v / (u.norm() * v.norm())).passed


def test_check_skipgram_pairs_accepts_lmcourses_pairs():
    assert ex.check_skipgram_pairs(lambda ids, w: lmcourse_pairs(ids, w).tolist()).passed


def test_check_solve_analogy_accepts_lmcourses_analogy():
    assert ex.check_solve_analogy(
        lambda E, itos, a, b, c: analogy(E, Vocabulary(list(itos), [1] * len(itos)), a, b, c)[0]).passed


def test_an_analogy_on_unnormalised_vectors_that_keeps_the_question_words_gets_the_exclusion_hint():
    def no_exclusion(E, itos, a, b, c):
        ia, ib, ic = (itos.index(w) for w in (a, b, c))
        return itos[int((E @ (E[ib] - E[ia] + E[ic])).argmax())]
    assert "Exclude the three question words" in ex.check_solve_analogy(no_exclusion).mistake
