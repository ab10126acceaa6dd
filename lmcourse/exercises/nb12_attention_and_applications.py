"""Checkers for notebook 12: mean pooling with the padding mask, and cosine-similarity top-k retrieval."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..pretrained import mean_pool
from ..retrieval import cosine_top_k
from .checking import Case, Mistake, Result, check_function


def _pool_cases() -> list[Case]:
    g = torch.Generator().manual_seed(12)
    hidden = torch.randn(3, 5, 4, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])
    return [Case((hidden, mask), label="hidden (3, 5, 4), mask with 5, 3 and 1 real tokens"),
            Case((hidden[:1], mask[:1]), label="one text, no padding"),
            Case((torch.randn(2, 3, 2, generator=g), torch.tensor([[1, 1, 0], [1, 0, 0]])),
                 label="hidden (2, 3, 2), mask [[1, 1, 0], [1, 0, 0]]")]


def check_mean_pool(mean_pool_fn) -> Result:
    """``mean_pool(hidden (B, T, C), attention_mask (B, T))`` -> (B, C): the mean of the real tokens only."""
    return check_function(mean_pool_fn, mean_pool, _pool_cases(), name="check_mean_pool", mistakes=[
        Mistake(lambda h, m: h.mean(1),
                "you averaged over every position, padding included: multiply by the mask first, "
                "so padded positions add nothing."),
        Mistake(lambda h, m: (h * m.unsqueeze(-1)).sum(1) / h.shape[1],
                "the padding is zeroed but you divided by T, the padded length. Divide by the number of real "
                "tokens of each text: attention_mask.sum(1)."),
        Mistake(lambda h, m: (h * m.unsqueeze(-1)).sum(1),
                "this is the sum of the real token vectors; divide by how many there are to get the mean."),
        Mistake(lambda h, m: (h * m.unsqueeze(-1)).sum(1) / m.sum(),
                "you divided by the real tokens of the whole batch (attention_mask.sum()); each text has its "
                "own count: attention_mask.sum(1, keepdim=True)."),
    ])


def _top_k_cases() -> list[Case]:
    g = torch.Generator().manual_seed(7)
    docs = torch.randn(6, 4, generator=g)
    docs[2] *= 10.0                                 # a long vector: dot products favour it, cosine does not
    return [Case((docs[0] + 0.1 * torch.randn(4, generator=g), docs, 2), label="query near doc 0, 6 docs, k=2"),
            Case((docs[4] * 0.5, docs, 3), label="query = doc 4 scaled by 0.5, k=3 (doc 2 is a very long vector)"),
            Case((torch.randn(4, generator=g), docs, 6), label="random query, k = all 6 docs")]


def _top_k(query, docs, k):
    return cosine_top_k(query.unsqueeze(0), docs, k)[1][0].tolist()


def check_top_k(top_k) -> Result:
    """``top_k(query (C,), docs (N, C), k)`` -> list of the k document indices most cosine-similar, best first."""
    def dot(q, d, k):
        return (d @ q).topk(k).indices.tolist()

    def worst(q, d, k):
        return (F.normalize(d, dim=-1) @ F.normalize(q, dim=0)).topk(k, largest=False).indices.tolist()

    def unordered(q, d, k):
        return sorted((F.normalize(d, dim=-1) @ F.normalize(q, dim=0)).topk(k).indices.tolist())

    return check_function(top_k, _top_k, _top_k_cases(), name="check_top_k",
                          compare=lambda got, exp: list(got) == exp if hasattr(got, "__len__") else False,
                          mistakes=[
        Mistake(dot, "you ranked by the raw dot product: long vectors win whatever their direction. "
                     "Normalise query and documents to unit length first (F.normalize), then take the dot product."),
        Mistake(worst, "these are the k *least* similar documents: "
                       "take the largest scores (topk(k), or sort descending)."),
        Mistake(unordered, "the right documents, but sorted by index: "
                           "return them best first, in the order topk gives."),
    ])
