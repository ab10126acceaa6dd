"""MLM masking follows BERT's 15 % and 80/10/10 rules and equals the Hugging Face collator;
NSP pairs are packed right."""

import random
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lmcourse._checks import ArgumentError
from lmcourse.pretraining import IGNORE_INDEX, mask_tokens, mlm_batch, nsp_examples, pack_pair, sop_examples

SPECIAL = [0, 1, 2]


def _batch(b=200, t=100, vocab=500, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, vocab, (b, t), generator=g)
    ids[:, 0], ids[:, -1] = 1, 2
    ids[::2, -10:] = 0
    return ids


def test_mask_tokens_picks_15_percent_and_splits_80_10_10():
    ids = _batch()
    inputs, labels = mask_tokens(ids, mask_id=3, vocab_size=500, special_ids=SPECIAL,
                                 generator=torch.Generator().manual_seed(1))
    real = ~torch.isin(ids, torch.tensor(SPECIAL))
    picked = labels != IGNORE_INDEX
    n = int(real.sum())
    rate = picked[real].float().mean().item()
    assert abs(rate - 0.15) < 4 * (0.15 * 0.85 / n) ** 0.5                  # within 4 standard errors
    m = int(picked.sum())
    as_mask = (inputs[picked] == 3).float().mean().item()
    kept = (inputs[picked] == ids[picked]).float().mean().item()
    for share, p in ((as_mask, 0.8), (kept, 0.1 + 0.9 / 500), (1 - as_mask - kept, 0.1 - 0.1 / 500)):
        assert abs(share - p) < 4 * (p * (1 - p) / m) ** 0.5


def test_mask_tokens_never_touches_special_tokens_and_labels_only_picked():
    ids = _batch()
    inputs, labels = mask_tokens(ids, mask_id=3, vocab_size=500, special_ids=SPECIAL)
    special = torch.isin(ids, torch.tensor(SPECIAL))
    assert (labels[special] == IGNORE_INDEX).all() and torch.equal(inputs[special], ids[special])
    picked = labels != IGNORE_INDEX
    assert torch.equal(labels[picked], ids[picked])
    assert torch.equal(inputs[~picked], ids[~picked])


@settings(max_examples=30, deadline=None)
@given(b=st.integers(1, 4), t=st.integers(1, 30), seed=st.integers(0, 2**31 - 1),
       mask_prob=st.floats(0, 1))
def test_mask_tokens_changes_only_picked_positions(b, t, seed, mask_prob):
    ids = torch.randint(0, 50, (b, t), generator=torch.Generator().manual_seed(seed))
    inputs, labels = mask_tokens(ids, mask_id=3, vocab_size=50, special_ids=SPECIAL, mask_prob=mask_prob,
                                 generator=torch.Generator().manual_seed(seed))
    picked = labels != IGNORE_INDEX
    assert torch.equal(inputs[~picked], ids[~picked])
    assert not picked[torch.isin(ids, torch.tensor(SPECIAL))].any()


def test_mask_tokens_equals_huggingface_collator_with_the_same_seed():
    from transformers import DataCollatorForLanguageModeling

    from lmcourse.pretrained import encode_batch, load_minilm

    tokenizer, _ = load_minilm()
    batch = encode_batch(["the quick brown fox jumps over the lazy dog " * 4, "a short one", "to be or not to be"])
    ids = batch["input_ids"]
    special = torch.tensor([tokenizer.get_special_tokens_mask(row, already_has_special_tokens=True)
                            for row in ids.tolist()], dtype=torch.bool)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
    for seed in range(5):
        torch.manual_seed(seed)
        theirs = collator.torch_mask_tokens(ids.clone(), special)
        torch.manual_seed(seed)
        ours = mask_tokens(ids, mask_id=tokenizer.mask_token_id, vocab_size=len(tokenizer),
                           special_ids=tokenizer.all_special_ids)
        assert torch.equal(ours[0], theirs[0]) and torch.equal(ours[1], theirs[1])


def test_mask_tokens_does_not_modify_its_input():
    ids = _batch(4, 20)
    before = ids.clone()
    mask_tokens(ids, mask_id=3, vocab_size=500, special_ids=SPECIAL, mask_prob=1.0)
    assert torch.equal(ids, before)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(ids=torch.zeros(5, dtype=torch.long)), "ids must be a 2-d tensor; got shape (5,)"),
    (dict(ids=torch.zeros(2, 5)), "ids must be an integer tensor; got dtype torch.float32"),
    (dict(ids=torch.full((2, 5), 10)), "ids must be token ids in [0, 10) (the vocabulary size); got ids from 10 to 10"),
    (dict(mask_prob=1.5), "mask_prob must be a finite number in [0, 1]; got 1.5"),
    (dict(mask_prob=float("nan")), "mask_prob must be a finite number in [0, 1]; got nan"),
    (dict(random_replace_prob=True), "random_replace_prob must be a finite number in [0, 1]; got True"),
    (dict(mask_replace_prob=0.8, random_replace_prob=0.3), "mask_replace_prob + random_replace_prob must be <= 1"),
    (dict(vocab_size=0), "vocab_size must be an int >= 1; got 0"),
    (dict(mask_id=10), "mask_id must be an int in [0, 9]; got 10"),
    (dict(mask_id=-1), "mask_id must be an int in [0, 9]; got -1"),
    (dict(mask_id=3.0), "mask_id must be an int in [0, 9]; got 3.0"),
    (dict(special_ids=[0, 10]), "special_ids must be token ids in [0, 10) (the vocabulary size); got ids from 0 to 10"),
    (dict(special_ids=[0, -1]), "special_ids[1] must be an int >= 0; got -1"),
    (dict(special_ids=[0, 1.5]), "special_ids[1] must be an int >= 0; got 1.5"),
    (dict(special_ids=torch.tensor([1.0])), "special_ids must be an integer tensor; got dtype torch.float32"),
    (dict(special_ids=3), "special_ids must be a sequence of token ids; got int"),
])
def test_mask_tokens_rejects_bad_arguments(kwargs, fragment):
    args = dict(ids=torch.zeros(2, 5, dtype=torch.long), mask_id=3, vocab_size=10)
    args.update(kwargs)
    ids = args.pop("ids")
    with pytest.raises(ArgumentError) as err:
        mask_tokens(ids, **args)
    assert fragment in str(err.value)


def test_mask_tokens_takes_special_ids_as_a_list_or_a_tensor_alike():
    ids = torch.randint(10, (4, 50), generator=torch.Generator().manual_seed(0))
    as_list = mask_tokens(ids, mask_id=3, vocab_size=10, special_ids=[0, 1], generator=torch.Generator().manual_seed(1))
    as_tensor = mask_tokens(ids, mask_id=3, vocab_size=10, special_ids=torch.tensor([0, 1]),
                            generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) for a, b in zip(as_list, as_tensor))
    assert (as_list[1][ids < 2] == IGNORE_INDEX).all()


def test_mlm_batch_masks_random_blocks_of_the_data():
    data = torch.arange(4, 1004)                                           # every id once: blocks are ranges
    x, y = mlm_batch(data, 8, 16, mask_id=3, vocab_size=1004, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 16)
    picked = y != IGNORE_INDEX
    t = torch.arange(16)
    start = torch.stack([(x[b] - t)[~picked[b]].min() for b in range(8)])  # an unpicked position gives the start
    original = start[:, None] + t
    assert picked.any()
    assert torch.equal(y[picked], original[picked]) and torch.equal(x[~picked], original[~picked])


def test_pack_pair_matches_the_bert_tokenizer_pair_encoding():
    from lmcourse.pretrained import load_minilm

    tokenizer, _ = load_minilm()
    a, b = "the cat sat on the mat.", "it was tired after the long day."
    ref = tokenizer(a, b)
    ids_a = tokenizer(a, add_special_tokens=False)["input_ids"]
    ids_b = tokenizer(b, add_special_tokens=False)["input_ids"]
    ids, types = pack_pair(ids_a, ids_b, cls_id=tokenizer.cls_token_id, sep_id=tokenizer.sep_token_id)
    assert ids == ref["input_ids"] and types == ref["token_type_ids"]


def test_pack_pair_rejects_an_empty_segment():
    with pytest.raises(ValueError, match="b must be a non-empty sequence"):
        pack_pair([5], [], cls_id=1, sep_id=2)


@pytest.mark.parametrize("kwargs, fragment", [(dict(cls_id=-1, sep_id=2), "cls_id must be an int >= 0; got -1"),
                                              (dict(cls_id=1, sep_id=None), "sep_id must be an int >= 0; got None")])
def test_pack_pair_rejects_bad_special_ids(kwargs, fragment):
    with pytest.raises(ArgumentError, match=re.escape(fragment)):
        pack_pair([5], [6], **kwargs)


def _pairs(make_examples):
    """(a, b, label) for 2000 examples over 6 documents of 10 one-token segments (segment i of document d is
    d * 100 + i), after checking each is packed as [CLS] a [SEP] b [SEP] and half the labels are 1."""
    docs = [[[d * 100 + i] for i in range(10)] for d in range(6)]
    examples = make_examples(docs, 2000, cls_id=1, sep_id=2, rng=random.Random(0))
    labels = [label for _, _, label in examples]
    assert 0.45 < sum(labels) / len(labels) < 0.55
    for ids, types, _ in examples:
        assert ids[0] == 1 and ids[2] == ids[4] == 2 and types == [0, 0, 0, 1, 1]
    return [(ids[1], ids[3], label) for ids, _, label in examples]


def test_nsp_examples_are_half_next_and_next_ones_really_follow():
    for a, b, label in _pairs(nsp_examples):
        if label == 0:
            assert b == a + 1
        else:
            assert b // 100 != a // 100                                    # NotNext comes from another document


@pytest.mark.parametrize("docs, n, fragment", [
    ([[[1]], [[2]]], 3, "at least one document with 2 or more segments"),
    ([[[1], [2]]], 3, "at least 2 documents"),
    ([[[1], [2]], [[3]]], 0, "n must be an int >= 1; got 0"),
])
def test_nsp_examples_rejects_bad_arguments(docs, n, fragment):
    with pytest.raises(ValueError, match=fragment):
        nsp_examples(docs, n, cls_id=1, sep_id=2)


def test_sop_examples_are_half_swapped_and_always_from_one_document():
    for a, b, label in _pairs(sop_examples):
        assert a // 100 == b // 100                                        # same document: same topic
        assert b == a + 1 if label == 0 else a == b + 1                    # in order, or swapped


@pytest.mark.parametrize("docs, n, fragment", [
    ([[[1]], [[2]]], 3, "at least one document with 2 or more segments"),
    ([[[1], [2]]], 0, "n must be an int >= 1; got 0"),
])
def test_sop_examples_rejects_bad_arguments(docs, n, fragment):
    with pytest.raises(ValueError, match=fragment):
        sop_examples(docs, n, cls_id=1, sep_id=2)
