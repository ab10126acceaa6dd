"""Semantic search: find the documents whose meaning is closest to a question.

Every document and every question becomes a unit vector (a sentence embedding, notebook 12
uses MiniLM's); the score of a document is the cosine similarity — for unit vectors, just a
dot product — and the answer is the ``k`` best scores:

    scores = queries (Q, C) @ docs.T (C, N)  ->  (Q, N)  ->  top-k per row

The corpus the course searches ships with Python itself: :func:`python_doc_topics` reads the
reference-manual topics behind ``help("for")`` from ``pydoc_data.topics``. :data:`QUESTIONS`
is a small set of questions written for this course, each with the topics that answer it,
and :func:`recall_at_k` measures how often a right topic is among the first k results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

from ._checks import ArgumentError, integer

# (question, topics that answer it), written for the course; topic names are pydoc's.
QUESTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("how do I loop over the items of a list?", ("for",)),
    ("how do I repeat something until a condition becomes false?", ("while",)),
    ("how do I stop a loop early?", ("break",)),
    ("how do I skip the rest of this loop iteration and go to the next one?", ("continue",)),
    ("how do I catch an exception and handle the error?", ("try", "exceptions")),
    ("how do I signal an error myself?", ("raise",)),
    ("how do I define my own function with parameters?", ("function",)),
    ("how do I write a small anonymous function in one expression?", ("lambda",)),
    ("how do I give a value back from a function?", ("return",)),
    ("how do I make a generator that produces values one at a time?", ("yield",)),
    ("how do I define a new class?", ("class",)),
    ("how do I use code from another module?", ("import",)),
    ("how do I check that a condition holds while debugging my program?", ("assert",)),
    ("how do I run code only when a condition is true, otherwise something else?", ("if",)),
    ("how do I open a file so it is closed automatically afterwards?", ("with", "context-managers")),
    ("how do I delete a variable or remove an item?", ("del",)),
    ("how do I change a variable of the enclosing function from a nested function?", ("nonlocal",)),
    ("how do I format numbers and text inside a string?", ("formatstrings", "string-methods")),
    ("what methods do strings have, such as split, join and strip?", ("string-methods",)),
    ("how do I take a part of a list by start and end position?", ("slicings", "typesseq")),
    ("how do I check whether a value is contained in a list?", ("in",)),
    ("which objects count as true or false in a condition?", ("truth", "booleans")),
    ("how do I write a statement that does nothing?", ("pass",)),
    ("how do I step through my program line by line to find a bug?", ("debugger",)),
)


def python_doc_topics(max_chars: int = 400) -> dict[str, str]:
    """``{topic: passage}`` from Python's own reference manual (``pydoc_data.topics``).

    The passage is the topic's heading and the start of its text, cut to ``max_chars``
    characters at a word boundary. A text filed under several names (pydoc files ``else``
    under the ``if`` statement) is kept once, under the name its heading quotes.
    """
    from pydoc_data.topics import topics

    integer("max_chars", max_chars, min=20)
    names_of: dict[str, list[str]] = {}
    for name in sorted(topics):
        names_of.setdefault(topics[name], []).append(name)
    passages = {}
    for text, names in names_of.items():
        heading = text.strip().splitlines()[0]
        name = next((n for n in names if f'"{n}"' in heading), names[0])   # "else" lives under "if"
        lines = [line.strip() for line in text.strip().splitlines()]
        body = " ".join(line for line in lines[1:] if line and set(line) != {"*"})
        passage = f"{lines[0]}. {body}"
        passages[name] = passage if len(passage) <= max_chars else passage[:max_chars].rsplit(" ", 1)[0]
    return dict(sorted(passages.items()))


def cosine_top_k(queries: torch.Tensor, docs: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` most similar documents for each query: (Q, C), (N, C) -> scores (Q, k), indices (Q, k).

    Vectors are L2-normalised here, so any embeddings work; scores are cosine similarities,
    best first.
    """
    if queries.ndim != 2 or docs.ndim != 2 or queries.shape[1] != docs.shape[1]:
        raise ValueError(f"queries and docs must be (Q, C) and (N, C) with the same C; "
                         f"got {tuple(queries.shape)} and {tuple(docs.shape)}")
    if integer("k", k, min=1) > docs.shape[0]:
        raise ArgumentError(f"k must be at most the number of documents ({docs.shape[0]}); got {k}")
    scores = F.normalize(queries, dim=-1) @ F.normalize(docs, dim=-1).T   # (Q, C) @ (C, N) -> (Q, N)
    return scores.topk(k, dim=-1)


def _embed_sorted(texts: Sequence[str], embed: Callable[[Sequence[str]], torch.Tensor]) -> torch.Tensor:
    """Embed texts shortest first (batches of similar length waste less padding), in the original order."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = embed([texts[i] for i in order])
    out = torch.empty_like(vectors)
    out[order] = vectors
    return out


class SemanticIndex:
    """Documents embedded once, searched by meaning: ``index.search("question", k) -> [(name, score)]``.

    ``documents`` is ``{name: text}``; ``embed`` maps a list of texts to (N, C) vectors
    (default: :func:`lmcourse.pretrained.sentence_embeddings`).
    """

    def __init__(self, documents: Mapping[str, str], embed: Callable[[Sequence[str]], torch.Tensor] | None = None):
        if not isinstance(documents, Mapping) or len(documents) == 0:
            raise ValueError(f"documents must be a non-empty mapping {{name: text}}; got {type(documents).__name__} "
                             f"of length {len(documents) if hasattr(documents, '__len__') else '?'}")
        if embed is None:
            from .pretrained import sentence_embeddings as embed
        self.embed = embed
        self.names = list(documents)
        self.vectors = _embed_sorted([documents[n] for n in self.names], embed)   # (N, C)

    def __len__(self) -> int:
        return len(self.names)

    def search_many(self, queries: Sequence[str], k: int = 3) -> list[list[tuple[str, float]]]:
        """For each query, the ``k`` best ``(name, cosine similarity)`` pairs, best first."""
        if isinstance(queries, str) or len(queries) == 0:
            raise ValueError(f"queries must be a non-empty list of strings; got {queries!r:.60}")
        scores, idx = cosine_top_k(self.embed(list(queries)), self.vectors, k)
        return [[(self.names[i], s) for i, s in zip(row_i.tolist(), row_s.tolist())]
                for row_i, row_s in zip(idx, scores)]

    def search(self, query: str, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` documents closest in meaning to ``query``, as ``(name, score)``, best first."""
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"query must be a non-empty string; got {query!r}")
        return self.search_many([query], k)[0]


def recall_at_k(ranked: Sequence[Sequence[str]], relevant: Sequence[Sequence[str]], k: int) -> float:
    """Share of queries with at least one relevant name among their first ``k`` ranked names."""
    if len(ranked) != len(relevant) or len(ranked) == 0:
        raise ValueError(f"ranked and relevant must be non-empty and of the same length; "
                         f"got {len(ranked)} and {len(relevant)}")
    integer("k", k, min=1)
    hits = sum(bool(set(r[:k]) & set(rel)) for r, rel in zip(ranked, relevant))
    return hits / len(ranked)
