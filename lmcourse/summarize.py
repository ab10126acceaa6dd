"""Extractive summaries by sentence centrality: keep the sentences most like the rest of the text.

Embed every sentence, build the graph of cosine similarities between them, and score each
sentence by how central it is in that graph — here with PageRank on the similarity graph,
the idea of LexRank/TextRank (Erkan & Radev 2004; Mihalcea & Tarau 2004). A sentence that
many others resemble says what the text is about. The summary is the ``k`` most central
sentences, in their original order. Nothing is generated: every word comes from the text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ._checks import ArgumentError, finite_tensor, integer, number, tensor

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")


def split_sentences(text: str) -> list[str]:
    """Split on ., ! and ? followed by a space, and after 。！？ (Chinese needs no space)."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a string; got {type(text).__name__}")
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def similarity_graph(vectors: torch.Tensor) -> torch.Tensor:
    """(N, C) sentence vectors -> (N, N) cosine similarities, negatives clipped to 0, diagonal 0."""
    tensor("vectors", vectors, shape=("N", "C"), dtype="float")
    if vectors.shape[0] == 0:
        raise ArgumentError(f"vectors must be (N, C) with N >= 1; got {tuple(vectors.shape)}")
    finite_tensor("vectors", vectors)
    unit = F.normalize(vectors, dim=-1)
    sim = (unit @ unit.T).clamp(min=0.0)          # (N, C) @ (C, N) -> (N, N)
    return sim.fill_diagonal_(0.0)


def centrality(sim: torch.Tensor, damping: float = 0.85, iters: int = 100) -> torch.Tensor:
    """PageRank scores (N,) on a weighted graph (N, N): each sentence passes its score to the
    sentences it resembles, in proportion to the similarity. The scores sum to 1."""
    tensor("sim", sim, shape=("N", "N"))
    finite_tensor("sim", sim)
    number("damping", damping, min=0, max=1, max_open=True)
    integer("iters", iters, min=1)
    n = sim.shape[0]
    out_weight = sim.sum(1, keepdim=True)
    walk = torch.where(out_weight > 0, sim / out_weight.clamp(min=1e-12), torch.full_like(sim, 1.0 / n))
    score = torch.full((n,), 1.0 / n, dtype=sim.dtype)
    for _ in range(iters):
        score = (1 - damping) / n + damping * (walk.T @ score)   # rows of `walk` sum to 1
    return score / score.sum()


def summarize(text_or_sentences: str | Sequence[str], k: int = 3,
              embed: Callable[[Sequence[str]], torch.Tensor] | None = None) -> list[str]:
    """The ``k`` most central sentences of a text (or list of sentences), in their original order."""
    sentences = (split_sentences(text_or_sentences) if isinstance(text_or_sentences, str)
                 else list(text_or_sentences))
    if not sentences:
        raise ValueError("text must contain at least one sentence; got none")
    if integer("k", k, min=1) > len(sentences):
        raise ArgumentError(f"k must be at most the number of sentences ({len(sentences)}); got {k}")
    if embed is None:
        from .pretrained import sentence_embeddings as embed
    scores = centrality(similarity_graph(embed(sentences)))
    keep = sorted(scores.topk(k).indices.tolist())
    return [sentences[i] for i in keep]
