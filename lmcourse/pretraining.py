"""Data for pretraining an encoder: masked language modelling (MLM), next-sentence (NSP) and
sentence-order (SOP) prediction.

BERT (Devlin et al. 2019) learns from unlabelled text with two self-made tasks. **MLM**:
pick 15 % of the tokens (never [CLS], [SEP] or padding); the model must recover them. Of
the picked tokens 80 % are replaced by [MASK], 10 % by a random token and 10 % are left
unchanged, so the model cannot tell which visible tokens it will be asked about.
Labels hold the original id at picked positions and ``-100`` (ignored by
``F.cross_entropy``) everywhere else. **NSP**: two segments packed as
``[CLS] A [SEP] B [SEP]`` with segment (token-type) ids 0 for ``[CLS] A [SEP]`` and 1 for
``B [SEP]``; half the time B really follows A (label 0, IsNext), half the time it is a
random segment (label 1, NotNext). NotNext segments come from other documents, so NSP can be
answered by topic alone; **SOP** (ALBERT's sentence-order prediction, :func:`sop_examples`)
swaps two consecutive segments of one document instead. Notebook 11 builds them and checks
them against the Hugging Face data collator and tokenizer.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from ._checks import ArgumentError, integer, probability, token_ids

IGNORE_INDEX = -100   # label value that F.cross_entropy skips (its default ignore_index)


def mask_tokens(ids: torch.Tensor, *, mask_id: int, vocab_size: int, special_ids: Sequence[int] = (),
                mask_prob: float = 0.15, mask_replace_prob: float = 0.8, random_replace_prob: float = 0.1,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: ``ids`` (B, T) -> ``(inputs, labels)``, both (B, T).

    Each token not in ``special_ids`` is picked with probability ``mask_prob``. A picked
    token becomes ``mask_id`` with probability ``mask_replace_prob``, a uniformly random id
    in ``[0, vocab_size)`` with probability ``random_replace_prob``, and stays itself
    otherwise. ``labels`` is the original id where picked, ``-100`` elsewhere. The random
    draws happen in the same order as ``transformers.DataCollatorForLanguageModeling``, so
    with the same seed both give the same result. ``ids`` is not modified.
    """
    vocab_size = integer("vocab_size", vocab_size, min=1)
    token_ids("ids", ids, vocab_size, ndim=2)
    mask_id = integer("mask_id", mask_id, min=0, max=vocab_size - 1)
    special_ids = _special_ids(special_ids, vocab_size)
    for name, p in (("mask_prob", mask_prob), ("mask_replace_prob", mask_replace_prob),
                    ("random_replace_prob", random_replace_prob)):
        probability(name, p)
    if mask_replace_prob + random_replace_prob > 1.0 + 1e-9:
        raise ArgumentError(f"mask_replace_prob + random_replace_prob must be <= 1; got "
                            f"{mask_replace_prob} + {random_replace_prob}")
    inputs, labels = ids.clone(), ids.clone()
    special = torch.isin(ids, special_ids.to(ids.device))
    probs = torch.full(ids.shape, float(mask_prob)).masked_fill(special, 0.0)
    picked = torch.bernoulli(probs, generator=generator).bool()                       # ~15 % of real tokens
    labels[~picked] = IGNORE_INDEX                                                    # loss only where picked
    to_mask = torch.bernoulli(torch.full(ids.shape, float(mask_replace_prob)), generator=generator).bool() & picked
    inputs[to_mask] = mask_id                                                         # 80 %: [MASK]
    if mask_replace_prob == 1 or random_replace_prob == 0:
        return inputs, labels
    scaled = random_replace_prob / (1 - mask_replace_prob)                            # 0.1 of all = 0.5 of the rest
    to_random = (torch.bernoulli(torch.full(ids.shape, scaled), generator=generator).bool()
                 & picked & ~to_mask)
    random_ids = torch.randint(vocab_size, ids.shape, dtype=torch.long, generator=generator)
    inputs[to_random] = random_ids[to_random]                                         # 10 %: random token
    return inputs, labels                                                             # 10 %: unchanged


def _special_ids(special_ids, vocab_size: int) -> torch.Tensor:
    """``special_ids`` (a list, tuple or tensor of ids) as a 1-D long tensor, each id in [0, vocab_size)."""
    if isinstance(special_ids, (str, bytes)) or not isinstance(special_ids, (Sequence, torch.Tensor)):
        raise ArgumentError(f"special_ids must be a sequence of token ids; got {type(special_ids).__name__}")
    if isinstance(special_ids, torch.Tensor):
        ids = special_ids.flatten()
    else:
        ids = torch.tensor([integer(f"special_ids[{i}]", s, min=0) for i, s in enumerate(special_ids)],
                           dtype=torch.long)
    return token_ids("special_ids", ids, vocab_size).long()


def mlm_batch(data: torch.Tensor, batch_size: int, block_size: int, *, mask_id: int, vocab_size: int,
              special_ids: Sequence[int] = (), mask_prob: float = 0.15, generator: torch.Generator | None = None,
              device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random blocks of ``data`` (1-D ids), masked with :func:`mask_tokens`: ``(inputs, labels)``, (B, T) each.

    The MLM counterpart of :func:`lmcourse.batches.get_batch`: a ``(inputs, labels)`` pair
    for ``model(inputs, labels) -> (logits, loss)``, so :func:`lmcourse.train.train` can use it.
    """
    from .batches import get_batch

    blocks, _ = get_batch(data, batch_size, block_size, generator=generator)
    inputs, labels = mask_tokens(blocks, mask_id=mask_id, vocab_size=vocab_size, special_ids=special_ids,
                                 mask_prob=mask_prob, generator=generator)
    if device is not None:
        inputs, labels = inputs.to(device), labels.to(device)
    return inputs, labels


def pack_pair(a: Sequence[int], b: Sequence[int], *, cls_id: int, sep_id: int) -> tuple[list[int], list[int]]:
    """Pack two segments for BERT: ``[CLS] a [SEP] b [SEP]`` and its segment ids.

    Returns ``(input_ids, token_type_ids)``, two lists of length ``len(a) + len(b) + 3``;
    the segment id is 0 for ``[CLS]``, ``a`` and the first ``[SEP]``, 1 for ``b`` and the last.
    """
    integer("cls_id", cls_id, min=0)
    integer("sep_id", sep_id, min=0)
    for name, seg in (("a", a), ("b", b)):
        if isinstance(seg, (str, bytes)) or not isinstance(seg, Sequence) or len(seg) == 0:
            raise ValueError(f"{name} must be a non-empty sequence of token ids; got {seg!r:.60}")
    ids = [cls_id, *a, sep_id, *b, sep_id]
    types = [0] * (len(a) + 2) + [1] * (len(b) + 1)
    return ids, types


def _adjacent_pair_examples(documents, n, *, cls_id, sep_id, rng, min_documents, negative):
    """Shared by NSP and SOP: draw segment A and the segment B after it; half the time ``negative``
    turns the pair into a label-1 example."""
    usable = [i for i, d in enumerate(documents) if len(d) >= 2]
    if not usable:
        raise ValueError("documents must include at least one document with 2 or more segments")
    if len(documents) < min_documents:
        raise ValueError(f"documents must hold at least 2 documents (NotNext segments come from another one); "
                         f"got {len(documents)}")
    integer("n", n, min=1)
    rng = rng or random.Random()
    examples = []
    for _ in range(n):
        d = rng.choice(usable)
        i = rng.randrange(len(documents[d]) - 1)
        a, b, label = documents[d][i], documents[d][i + 1], 0
        if rng.random() < 0.5:
            (a, b), label = negative(rng, d, a, b), 1
        ids, types = pack_pair(a, b, cls_id=cls_id, sep_id=sep_id)
        examples.append((ids, types, label))
    return examples


def nsp_examples(documents: Sequence[Sequence[Sequence[int]]], n: int, *, cls_id: int, sep_id: int,
                 rng: random.Random | None = None) -> list[tuple[list[int], list[int], int]]:
    """``n`` next-sentence examples ``(input_ids, token_type_ids, label)`` from tokenized documents.

    ``documents`` is a list of documents, each a list of segments (lists of ids). An example
    takes a segment A and the segment after it in the same document; with probability 1/2
    B is replaced by a random segment of a *different* document. ``label`` is 0 when B
    really follows A (IsNext) and 1 otherwise (NotNext), as in BERT.
    """
    def from_another_document(rng, d, a, b):
        other = rng.choice([j for j in range(len(documents)) if j != d and len(documents[j]) > 0])
        return a, rng.choice(documents[other])

    return _adjacent_pair_examples(documents, n, cls_id=cls_id, sep_id=sep_id, rng=rng, min_documents=2,
                                   negative=from_another_document)


def sop_examples(documents: Sequence[Sequence[Sequence[int]]], n: int, *, cls_id: int, sep_id: int,
                 rng: random.Random | None = None) -> list[tuple[list[int], list[int], int]]:
    """``n`` sentence-order examples ``(input_ids, token_type_ids, label)``, ALBERT's replacement for NSP.

    An example takes a segment A and the segment B after it in the same document; with
    probability 1/2 the two are swapped. ``label`` is 0 for the original order and 1 for the
    swapped one (Lan et al. 2020). Both segments always come from the same document, so the
    topic says nothing about the label: only the order does.
    """
    return _adjacent_pair_examples(documents, n, cls_id=cls_id, sep_id=sep_id, rng=rng, min_documents=1,
                                   negative=lambda rng, d, a, b: (b, a))

