"""Semantic search over Python's docs: cosine top-k is right, recall@k on the course's questions is high."""

import pytest
import torch
import torch.nn.functional as F

from lmcourse.retrieval import QUESTIONS, SemanticIndex, cosine_top_k, python_doc_topics, recall_at_k


@pytest.fixture(scope="module")
def index():
    return SemanticIndex(python_doc_topics())


def test_recall_at_3_on_the_course_questions_is_above_threshold(index):
    ranked = [[n for n, _ in r] for r in index.search_many([q for q, _ in QUESTIONS], k=5)]
    relevant = [rel for _, rel in QUESTIONS]
    assert recall_at_k(ranked, relevant, 3) >= 0.8
    assert recall_at_k(ranked, relevant, 5) >= recall_at_k(ranked, relevant, 1) >= 0.5


def test_loop_question_finds_the_for_statement(index):
    assert index.search("how do I loop with an index?", k=3)[0][0] == "for"


def test_every_question_names_existing_topics():
    topics = python_doc_topics()
    assert len(QUESTIONS) >= 20
    assert all(set(rel) <= set(topics) for _, rel in QUESTIONS)


def test_topics_are_deduplicated_and_cut_at_a_word():
    topics = python_doc_topics(max_chars=120)
    assert "if" in topics and "else" not in topics          # pydoc stores the same text under both names
    assert all(len(p) <= 120 for p in topics.values())


def test_cosine_top_k_matches_brute_force_on_random_vectors():
    g = torch.Generator().manual_seed(0)
    queries, docs = torch.randn(5, 8, generator=g), torch.randn(20, 8, generator=g) * torch.rand(20, 1, generator=g)
    scores, idx = cosine_top_k(queries, docs, 4)
    full = F.cosine_similarity(queries[:, None, :], docs[None, :, :], dim=-1)
    assert torch.equal(idx, full.argsort(dim=-1, descending=True)[:, :4])
    assert torch.allclose(scores, full.gather(1, idx), atol=1e-6)


def test_index_order_is_independent_of_the_length_sorting():
    docs = {"a": "short", "b": "a much longer document than the first one", "c": "mid length text"}

    def fake(texts):
        return torch.tensor([[len(t), 1.0] for t in texts])

    index = SemanticIndex(docs, embed=fake)
    assert index.vectors[:, 0].tolist() == [len(docs[n]) for n in index.names]


def test_recall_at_k_counts_any_relevant_hit():
    assert recall_at_k([["a", "b"], ["c", "d"]], [["b"], ["x"]], 2) == 0.5
    assert recall_at_k([["a", "b"], ["c", "d"]], [["b"], ["x"]], 1) == 0.0


@pytest.mark.parametrize("call, fragment", [
    (lambda: cosine_top_k(torch.randn(2, 4), torch.randn(3, 4), 4),
     "k must be at most the number of documents \\(3\\); got 4"),
    (lambda: cosine_top_k(torch.randn(2, 4), torch.randn(3, 5), 1), "same C"),
    (lambda: SemanticIndex({}), "documents must be a non-empty mapping"),
    (lambda: recall_at_k([], [], 1), "non-empty"),
    (lambda: recall_at_k([["a"]], [["a"]], 0), "k must be an int >= 1; got 0"),
    (lambda: python_doc_topics(max_chars=5), "max_chars"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()


def test_search_rejects_empty_queries_and_k_beyond_the_corpus():
    index = SemanticIndex({"a": "x", "b": "y"}, embed=lambda texts: torch.randn(len(texts), 3))
    with pytest.raises(ValueError, match="query must be a non-empty string"):
        index.search("  ")
    with pytest.raises(ValueError, match="queries must be a non-empty list"):
        index.search_many([])
    with pytest.raises(ValueError, match="number of documents"):
        index.search("x", k=3)
