"""Centrality summaries: PageRank is right on small graphs, off-topic sentences are left out."""

import pytest
import torch

from lmcourse.summarize import centrality, similarity_graph, split_sentences, summarize


def test_split_sentences_handles_english_and_chinese():
    assert split_sentences("One. Two? 三。四！Five!") == ["One.", "Two?", "三。", "四！", "Five!"]


def test_similarity_graph_is_symmetric_nonnegative_with_zero_diagonal():
    sim = similarity_graph(torch.randn(6, 5, generator=torch.Generator().manual_seed(0)))
    assert torch.allclose(sim, sim.T) and (sim >= 0).all() and (sim.diagonal() == 0).all()


def test_centrality_matches_power_iteration_of_networkx_formula():
    sim = similarity_graph(torch.randn(7, 4, generator=torch.Generator().manual_seed(1))).double()
    scores = centrality(sim, damping=0.85, iters=200)
    walk = sim / sim.sum(1, keepdim=True)
    assert torch.allclose(scores, 0.15 / 7 + 0.85 * walk.T @ scores, atol=1e-10)   # the PageRank fixed point
    assert scores.sum().item() == pytest.approx(1.0)


def test_centrality_of_a_symmetric_star_puts_the_hub_first():
    sim = torch.zeros(4, 4)
    sim[0, 1:] = sim[1:, 0] = 1.0
    assert int(centrality(sim).argmax()) == 0


def test_summary_keeps_on_topic_sentences_in_order():
    sentences = ["Cats purr.", "Cats sleep a lot.", "Tax forms are due.", "Cats chase mice."]

    def fake(texts):
        return torch.tensor([[0.0, 1.0] if "Tax" in t else [1.0, 0.1 * i] for i, t in enumerate(texts)])

    summary = summarize(sentences, k=2, embed=fake)
    assert "Tax forms are due." not in summary
    assert summary == sorted(summary, key=sentences.index)


def test_summary_with_minilm_drops_the_off_topic_sentence():
    text = ("The train left the station on time. The train was fast and quiet. "
            "Bananas are yellow. The train arrived in the city at noon.")
    assert "Bananas are yellow." not in summarize(text, k=2)


@pytest.mark.parametrize("call, fragment", [
    (lambda: summarize("", k=1), "at least one sentence"),
    (lambda: summarize(["a.", "b."], k=3, embed=lambda t: torch.eye(len(t))),
     "k must be at most the number of sentences (2); got 3"),
    (lambda: summarize(["a.", "b."], k=0, embed=lambda t: torch.eye(len(t))), "k must be an int >= 1; got 0"),
    (lambda: similarity_graph(torch.zeros(0, 3)), "vectors must be (N, C)"),
    (lambda: centrality(torch.zeros(2, 3)), "sim must be of shape (N, N) with N=2; got shape (2, 3)"),
    (lambda: centrality(torch.full((2, 2), float("nan"))), "sim must be finite"),
    (lambda: similarity_graph(torch.tensor([[1.0, float("inf")]])), "vectors must be finite"),
    (lambda: centrality(torch.zeros(2, 2), damping=1.0), "damping must be a finite number in"),
    (lambda: centrality(torch.zeros(2, 2), damping=float("nan")), "damping must be a finite number"),
    (lambda: split_sentences(None), "text must be a string"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        call()
