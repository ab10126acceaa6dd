"""Notebook 12's checkers beyond their Mistakes: the reference agrees with the package, other right answers
pass, and wrong answers written here (not taken from the checkers' own lists) are refused."""

import numpy as np
import torch
import torch.nn.functional as F

from lmcourse.exercises import nb12_attention_and_applications as ex
from lmcourse.qa import best_spans

# ---------------------------------------------------------------- wrong answers for check_extract_answers


def _spans(start, end, in_context, max_len):
    """Every (score, i, j) a decoder may consider, in start-major order."""
    T = start.shape[0]
    return [(float(start[i] + end[j]), i, j) for i in range(T) for j in range(i, min(i + max_len, T))
            if in_context[i] and in_context[j]]


def answers_of_the_first_passage_for_every_row(start_logits, end_logits, offsets, in_context, contexts, max_len=15):
    # cuts every row's span out of contexts[0] (a batch index forgotten)
    out = []
    for b in range(len(contexts)):
        spans = _spans(start_logits[b], end_logits[b], in_context[b], max_len)
        if not spans:
            out.append("")
            continue
        _, i, j = max(spans, key=lambda s: s[0])
        out.append(contexts[0][int(offsets[b, i, 0]):int(offsets[b, j, 1])])
    return out


def masked_argmax_start_and_end_separately(start_logits, end_logits, offsets, in_context, contexts, max_len=15):
    # masks the question out, but still takes the best start and the best end independently
    s = start_logits.masked_fill(~in_context, float("-inf")).argmax(-1)
    e = end_logits.masked_fill(~in_context, float("-inf")).argmax(-1)
    return [c[int(offsets[b, s[b], 0]):int(offsets[b, e[b], 1])] if in_context[b].any() else ""
            for b, c in enumerate(contexts)]


def best_end_after_the_best_start(start_logits, end_logits, offsets, in_context, contexts, max_len=15):
    # greedy: fixes the best start first, then the best end after it (not the best pair)
    out = []
    for b in range(len(contexts)):
        idx = torch.nonzero(in_context[b]).flatten().tolist()
        if not idx:
            out.append("")
            continue
        i = max(idx, key=lambda t: float(start_logits[b, t]))
        j = max((t for t in idx if i <= t < i + max_len), key=lambda t: float(end_logits[b, t]))
        out.append(contexts[b][int(offsets[b, i, 0]):int(offsets[b, j, 1])])
    return out


def max_len_ignored(start_logits, end_logits, offsets, in_context, contexts, max_len=15):
    # forgets the length limit altogether (any j >= i in the passage)
    out = []
    for b in range(len(contexts)):
        spans = _spans(start_logits[b], end_logits[b], in_context[b], start_logits.shape[1])
        _, i, j = max(spans, key=lambda s: s[0]) if spans else (0, None, None)
        out.append("" if i is None else contexts[b][int(offsets[b, i, 0]):int(offsets[b, j, 1])])
    return out


def token_positions_instead_of_text(start_logits, end_logits, offsets, in_context, contexts, max_len=15):
    # returns the (start, end) token indices, not the answer strings the exercise asks for
    s, e, _ = best_spans(start_logits, end_logits, in_context | ~in_context.any(-1, keepdim=True), max_len)
    return [(int(i), int(j)) for i, j in zip(s, e)]


# ---------------------------------------------------------------- wrong answers for check_top_k_allowed


def topk_on_the_masked_cosines(query, docs, allowed, k):
    # blocked documents get -inf, but topk breaks ties its own way and always returns min(k, N) indices
    scores = (F.normalize(docs, dim=-1) @ F.normalize(query, dim=0)).masked_fill(~allowed, float("-inf"))
    return scores.topk(min(k, len(docs))).indices.tolist()


def ranked_by_distance_not_cosine(query, docs, allowed, k):
    # nearest by Euclidean distance of the raw vectors: length counts, so the ranking is not the cosine one
    d = (docs - query).norm(dim=-1)
    return sorted((i for i in range(len(docs)) if allowed[i]), key=lambda i: (float(d[i]), i))[:k]


def indices_as_a_tensor(query, docs, allowed, k):
    # the right indices, but as a tensor where a list of ints is asked
    scores = F.normalize(docs, dim=-1) @ F.normalize(query, dim=0)
    keep = sorted((i for i in range(len(docs)) if allowed[i]), key=lambda i: (-float(scores[i]), i))[:k]
    return torch.tensor(keep, dtype=torch.long)


def blocked_documents_kept_and_allowed_ones_dropped(query, docs, allowed, k):
    # the mask read the wrong way round (True taken to mean "blocked")
    scores = F.normalize(docs, dim=-1) @ F.normalize(query, dim=0)
    return sorted((i for i in range(len(docs)) if not allowed[i]), key=lambda i: (-float(scores[i]), i))[:k]


WRONG_ANSWERS = {
    "check_extract_answers": [answers_of_the_first_passage_for_every_row, masked_argmax_start_and_end_separately,
                              best_end_after_the_best_start, max_len_ignored, token_positions_instead_of_text],
    "check_top_k_allowed": [topk_on_the_masked_cosines, ranked_by_distance_not_cosine, indices_as_a_tensor,
                            blocked_documents_kept_and_allowed_ones_dropped],
}


# ---------------------------------------------------------------- right answers in other forms, and the reference


def test_the_span_reference_agrees_with_lmcourse_best_spans_on_every_row_with_a_passage():
    for case in ex._span_cases():
        start, end, offsets, in_context, contexts = case.args
        max_len = case.kwargs["max_len"]
        rows = in_context.any(-1)
        s, e, _ = best_spans(start[rows], end[rows], in_context[rows], max_len)
        from_package = [contexts[b][int(offsets[b, i, 0]):int(offsets[b, j, 1])]
                        for b, i, j in zip(torch.nonzero(rows).flatten().tolist(), s, e)]
        assert [a for a, r in zip(ex._extract(*case.args, **case.kwargs), rows) if r] == from_package


def test_a_vectorised_decoder_returning_a_tuple_of_strings_passes():
    def vectorised(start_logits, end_logits, offsets, in_context, contexts, max_len=15):
        T = start_logits.shape[1]
        length = torch.arange(T)[None, :] - torch.arange(T)[:, None]                       # (T, T): j - i
        valid = (length >= 0) & (length < max_len) & in_context[:, :, None] & in_context[:, None, :]  # (B, T, T)
        scores = (start_logits[:, :, None] + end_logits[:, None, :]).masked_fill(~valid, float("-inf"))
        where = scores.flatten(1).argmax(-1)                                               # the first maximum
        return tuple(c[int(offsets[b, w // T, 0]):int(offsets[b, w % T, 1])] if valid[b].any() else ""
                     for b, (c, w) in enumerate(zip(contexts, where)))
    assert ex.check_extract_answers(vectorised).passed


def test_top_k_allowed_in_other_valid_forms_passes():
    def numpy_stable(query, docs, allowed, k):                 # np.int64 indices in a tuple, a stable sort
        scores = (F.normalize(docs, dim=-1) @ F.normalize(query, dim=0)).numpy()
        order = np.argsort(-scores, kind="stable")
        return tuple(i for i in order if allowed[i])[:k]

    def torch_stable(query, docs, allowed, k):
        scores = F.cosine_similarity(docs, query[None], dim=-1).masked_fill(~allowed, float("-inf"))
        order = torch.sort(scores, descending=True, stable=True).indices
        return [int(i) for i in order if allowed[i]][:k]
    assert ex.check_top_k_allowed(numpy_stable).passed
    assert ex.check_top_k_allowed(torch_stable).passed


def test_the_top_k_ties_are_exact_ties_under_every_way_of_computing_the_cosine():
    q = ex._top_k_cases()[0].args[0]
    ways = [F.normalize(ex._DOCS, dim=-1) @ F.normalize(q, dim=0), F.cosine_similarity(ex._DOCS, q[None], dim=-1),
            (ex._DOCS @ q) / (ex._DOCS.norm(dim=-1) * q.norm())]
    for scores in ways:
        assert scores[0] == scores[1] == scores[3]


def test_a_decoder_that_crashes_on_the_row_without_a_passage_is_told_where():
    def crashes(start_logits, end_logits, offsets, in_context, contexts, max_len=15):
        s, e, _ = best_spans(start_logits, end_logits, in_context, max_len)   # raises on a row with no passage
        return [c[int(offsets[b, s[b], 0]):int(offsets[b, e[b], 1])] for b, c in enumerate(contexts)]
    result = ex.check_extract_answers(crashes)
    assert not result.passed and "raised ValueError" in result.message and "no passage token" in result.message
