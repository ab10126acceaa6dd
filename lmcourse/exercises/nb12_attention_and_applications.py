"""Checkers for notebook 12: decoding the answer span of an extractive QA reader, and filtered cosine top-k."""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F

from .checking import Case, Mistake, Result, check_function

# ---------------------------------------------------------------- Exercise 1: the answer span, as characters


def _encode(question: str, context: str, pad_to: int) -> tuple[list[tuple[int, int]], list[bool]]:
    """``[CLS] question [SEP] passage [SEP] [PAD]…`` as a tokenizer lays it out: (offsets, in_context).

    Words and punctuation are the tokens; a question token's offsets point into the question, a passage
    token's into the passage, special and padding tokens have (0, 0) — as ``return_offsets_mapping`` gives.
    """
    words = [(m.start(), m.end()) for m in re.finditer(r"\w+|[^\w\s]", question)]
    passage = [(m.start(), m.end()) for m in re.finditer(r"\w+|[^\w\s]", context)]
    offsets = [(0, 0)] + words + [(0, 0)] + passage + [(0, 0)]
    in_context = [False] * (len(words) + 2) + [True] * len(passage) + [False]
    pad = pad_to - len(offsets)
    if pad < 0:
        raise ValueError(f"pad_to must be at least {len(offsets)}; got {pad_to}")
    return offsets + [(0, 0)] * pad, in_context + [False] * pad


BRIDGE = "The Sazen Bridge was designed by Pavel Lindqvist and opened by Anton Weber in 1852."
FESTIVAL = "The Lisdo Festival was first held in 1708 by Clara Vale, a baker from Ostor."


def _qa_inputs(rows: list[tuple[str, str, dict[str, float], dict[str, float]]], pad_to: int, seed: int):
    """Logits for each (question, passage) row: small noise, plus the bumps named by token text.

    A bump's key is ``"c:word"`` (that word in the passage), ``"q:word"`` (in the question) or ``"sep"``
    (the final [SEP]); the same word twice in the passage gets the bump at both places.
    """
    g = torch.Generator().manual_seed(seed)
    starts, ends, offsets, masks, contexts = [], [], [], [], []
    for question, context, start_bumps, end_bumps in rows:
        offs, mask = _encode(question, context, pad_to)
        texts = [("c:" + context[a:b]) if m else ("q:" + question[a:b]) for (a, b), m in zip(offs, mask)]
        n_question = mask.index(True) - 2
        texts[0] = "cls"
        texts[n_question + 1] = "sep1"
        texts[mask.index(True) + sum(mask)] = "sep"
        for t in range(mask.index(True) + sum(mask) + 1, pad_to):
            texts[t] = "pad"
        row = []
        for bumps in (start_bumps, end_bumps):
            logits = torch.randn(pad_to, generator=g) * 0.1
            for t, text in enumerate(texts):
                logits[t] += bumps.get(text, 0.0)
            row.append(logits)
        starts.append(row[0])
        ends.append(row[1])
        offsets.append(offs)
        masks.append(mask)
        contexts.append(context)
    return (torch.stack(starts), torch.stack(ends), torch.tensor(offsets), torch.tensor(masks), contexts)


def _integer_inputs(start: list[float], end: list[float], context: str, question: str):
    """One row with exact logits (given for the passage tokens; -5 elsewhere), so that ties are exact ties."""
    offs, mask = _encode(question, context, len(start) + len(question.split()) + 6)
    s, e = torch.full((len(offs),), -5.0), torch.full((len(offs),), -5.0)
    first = mask.index(True)
    s[first:first + len(start)] = torch.tensor(start)
    e[first:first + len(end)] = torch.tensor(end)
    return s[None], e[None], torch.tensor([offs]), torch.tensor([mask]), [context]


def _span_cases() -> list[Case]:
    who = "Who designed the Sazen Bridge?"
    after = _qa_inputs([(who, BRIDGE, {"c:Pavel": 3.0, "c:Anton": 4.0}, {"c:Lindqvist": 4.0, "c:Weber": 2.0})], 27, 0)
    question = _qa_inputs([(who, BRIDGE, {"q:designed": 6.0, "c:Pavel": 2.5}, {"c:Lindqvist": 3.0, "sep": 5.0})],
                          27, 1)
    one = _qa_inputs([(who, BRIDGE, {"c:Pavel": 3.0, "c:Anton": 3.5}, {"c:Lindqvist": 3.0, "c:Anton": 2.0})], 27, 2)
    # passage "In 1708 Clara Vale": spans (0, 1), (0, 3) and (2, 3) all score exactly 5; (0, 1) comes first
    tie = _integer_inputs([2.0, 0.0, 2.0, 0.0], [0.0, 3.0, 0.0, 3.0], "In 1708 Clara Vale", "When?")
    long = _qa_inputs([(who, BRIDGE, {"c:The": 4.0, "c:Pavel": 3.0}, {"c:1852": 4.0, "c:Lindqvist": 3.0}),
                       ("Who held the Lisdo Festival first?", FESTIVAL, {"c:Clara": 3.0}, {"c:Vale": 3.0}),
                       ("When was the Sazen Bridge opened?", BRIDGE, {"c:1852": 2.0, "q:opened": 5.0},
                        {"c:1852": 2.0, "c:.": 1.0})], 30, 3)
    empty = list(_qa_inputs([("Who founded it?", FESTIVAL, {"c:Clara": 3.0}, {"c:Vale": 3.0}),
                             ("Who founded it?", FESTIVAL, {"q:founded": 3.0}, {"q:it": 3.0})], 26, 4))
    empty[3] = empty[3].clone()
    empty[3][1] = False                            # the second passage was cut off: no passage token at all
    return [Case(after, {"max_len": 15}, label="best start (Anton) after best end (Lindqvist), max_len=15"),
            Case(question, {"max_len": 15},
                 label="highest start in the question, highest end on the final [SEP], max_len=15"),
            Case(one, {"max_len": 1}, label="max_len=1 (one-token answers only)"),
            Case(tie, {"max_len": 4},
                 label="a tie: 'In 1708', 'In 1708 Clara Vale' and 'Clara Vale' all score exactly 5"),
            Case(long, {"max_len": 3}, label="a batch of 3, max_len=3 (the best long span is too long)"),
            Case(tuple(empty), {"max_len": 15}, label="a batch of 2 whose second row has no passage token")]


def _decode(start_logits, end_logits, offsets, in_context, contexts, max_len=15, *, later_ties=False,
            length=None, end_char=1, mask_start=True, mask_end=True):
    """The reference (all flags at their defaults) and, through the flags, its typical mistakes."""
    answers = []
    length = max_len if length is None else length
    B, T = start_logits.shape
    for b in range(B):
        best, span = float("-inf"), None
        for i, j in ((s, e) for s in range(T) for e in range(s, min(s + length, T))):
            if (mask_start and not in_context[b, i]) or (mask_end and not in_context[b, j]):
                continue
            score = float(start_logits[b, i] + end_logits[b, j])
            if score > best or (later_ties and score == best):
                best, span = score, (i, j)
        if span is None:
            answers.append("")
        else:
            i, j = span
            answers.append(contexts[b][int(offsets[b, i, 0]):int(offsets[b, j, end_char])])
    return answers


def _extract(start_logits, end_logits, offsets, in_context, contexts, max_len=15):
    return _decode(start_logits, end_logits, offsets, in_context, contexts, max_len)


def _independent_argmax(start_logits, end_logits, offsets, in_context, contexts, max_len=15):
    s, e = start_logits.argmax(-1), end_logits.argmax(-1)
    return [c[int(offsets[b, s[b], 0]):int(offsets[b, e[b], 1])] for b, c in enumerate(contexts)]


def check_extract_answers(extract_answers) -> Result:
    """``extract_answers(start_logits (B, T), end_logits (B, T), offsets (B, T, 2), in_context (B, T) bool,
    contexts (list of B str), max_len)`` -> list of B answer strings: for each row the passage substring of the
    valid span (start <= end < start + max_len, both tokens in the passage) with the largest start + end logit;
    on a tie the earliest start, then the earliest end; "" when a row has no passage token."""
    return check_function(extract_answers, _extract, _span_cases(), name="check_extract_answers", mistakes=[
        Mistake(lambda *a, **k: _decode(*a, **k, mask_end=False),
                "only the start is checked against in_context: the end may then fall on the final [SEP] or on "
                "padding. Both tokens of the span must be passage tokens."),
        Mistake(lambda *a, **k: _decode(*a, **k, mask_start=False),
                "only the end is checked against in_context: the span may then start in the question, whose "
                "offsets point into the *question*, not the passage. Both tokens must be passage tokens."),
        Mistake(_independent_argmax,
                "you took the argmax of the start logits and of the end logits separately: the best end can lie "
                "before the best start (an empty or backwards span), or outside the passage. Search the pairs "
                "(i, j) with i <= j < i + max_len, both in the passage, for the largest start[i] + end[j]."),
        Mistake(lambda *a, max_len=15, **k: _decode(*a, max_len=max_len, length=max_len + 1, **k),
                "off by one on the length: a span from token i to token j has j - i + 1 tokens, so j runs up to "
                "i + max_len - 1 (with max_len=1, start and end are the same token)."),
        Mistake(lambda *a, **k: _decode(*a, **k, later_ties=True),
                "on a tie you kept the *last* best span (>= instead of >); keep the first one: the earliest "
                "start, then the earliest end."),
        Mistake(lambda *a, **k: _decode(*a, **k, end_char=0),
                "the last token is cut off: offsets[b, j] is the (start, end) character span of token j, so the "
                "answer ends at offsets[b, j, 1], not offsets[b, j, 0]."),
    ])


# ---------------------------------------------------------------- Exercise 2: top-k among the allowed documents

# Every document has at most two non-zero entries (and whole numbers), so a cosine similarity is one rounded
# sum on every machine, whatever the order of the additions: the ties below are exact ties everywhere.
_DOCS = torch.tensor([[3.0, 0.0, 4.0, 0.0],      # 0: ties with 1 and 3 for a query with q[0] == q[1]
                      [0.0, 3.0, 4.0, 0.0],      # 1
                      [0.0, 0.0, 0.0, 50.0],     # 2: a very long vector in another direction
                      [3.0, 0.0, 4.0, 0.0],      # 3: a duplicate of document 0
                      [-4.0, 0.0, 0.0, -3.0],    # 4: points away from most queries
                      [1.0, 0.0, 0.0, 1.0],      # 5
                      [0.0, -5.0, 0.0, 0.0]])    # 6: points away


def _top_k_cases() -> list[Case]:
    q = torch.tensor([1.0, 1.0, 2.0, 0.5])
    everyone = torch.ones(7, dtype=torch.bool)
    return [Case((q, _DOCS, everyone, 4), label="query [1, 1, 2, 0.5], all 7 documents allowed, k=4 "
                                                "(documents 0, 1 and 3 tie; document 2 is very long)"),
            Case((q, _DOCS, torch.tensor([False, True, True, False, True, True, True]), 2),
                 label="the same query, documents 0 and 3 blocked, k=2"),
            Case((torch.tensor([1.0, 1.0, 0.0, -1.0]), _DOCS,
                  torch.tensor([True, False, False, False, True, False, True]), 3),
                 label="query [1, 1, 0, -1], allowed 0, 4, 6 (4 and 6 with a negative cosine), k=3"),
            Case((torch.tensor([0.0, 1.0, 0.0, 2.0]), _DOCS,
                  torch.tensor([False, False, True, False, True, True, False]), 5),
                 label="query [0, 1, 0, 2], only 3 documents allowed, k=5 (fewer than k to return)"),
            Case((q, _DOCS, everyone, 1), label="k=1"),
            Case((q, _DOCS, torch.zeros(7, dtype=torch.bool), 3), label="no document allowed, k=3")]


def _cosines(query, docs):
    return F.normalize(docs, dim=-1) @ F.normalize(query, dim=0)        # (N,)


def _ranked(scores, allowed, k, *, later_ties=False):
    sign = -1 if later_ties else 1
    keep = [i for i in range(len(scores)) if bool(allowed[i])]
    return sorted(keep, key=lambda i: (-float(scores[i]), sign * i))[:k]


def _top_k(query, docs, allowed, k):
    return _ranked(_cosines(query, docs), allowed, k)


def check_top_k_allowed(top_k_allowed) -> Result:
    """``top_k_allowed(query (C,), docs (N, C), allowed (N,) bool, k)`` -> list of at most k indices of allowed
    documents, the most cosine-similar first, a tie going to the lower index."""
    def dot(q, d, a, k):
        return _ranked(d @ q, a, k)

    def multiplied(q, d, a, k):
        return _ranked(_cosines(q, d) * a, torch.ones_like(a), k)

    def padded(q, d, a, k):
        return _ranked(_cosines(q, d).masked_fill(~a, float("-inf")), torch.ones_like(a), k)

    return check_function(top_k_allowed, _top_k, _top_k_cases(), name="check_top_k_allowed", mistakes=[
        Mistake(dot, "you ranked by the raw dot product: long vectors win whatever their direction. Normalise "
                     "query and documents to unit length first (F.normalize), then take the dot product."),
        Mistake(lambda q, d, a, k: _ranked(_cosines(q, d), a, k, later_ties=True),
                "on a tie the higher index came first (np.argsort(...)[::-1] reverses ties). Break ties by the "
                "lower index: sorted(..., key=lambda i: (-score[i], i)), or torch.sort(-scores, stable=True)."),
        Mistake(multiplied,
                "you multiplied the scores by the mask: a blocked document then scores 0, which beats an allowed "
                "document with a negative cosine. Leave blocked documents out (or give them -inf)."),
        Mistake(padded,
                "with fewer than k allowed documents, topk filled the list with blocked ones (score -inf). Return "
                "only allowed documents, even if that is fewer than k."),
    ])
