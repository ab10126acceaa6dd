"""Notebook 11's checkers beyond their Mistakes.

``check_mask_tokens`` checks rules, not a reference answer (masking is random), so it has no Mistake
list for the rules test to feed it: the wrong maskings below reach every one of its rules, each
with its own hint. ``check_pack_pair``'s reference equals MiniLM's tokenizer with padding.
``check_mlm_step`` is shown the package's loss and a step written another way,
and the wrong steps a learner writes first; ``WRONG_ANSWERS`` lists, for every checker, wrong answers
written here independently of the checkers' own mistakes.
"""

import pytest
import torch
import torch.nn.functional as F

from lmcourse.exercises import nb11_bert_pretraining as ex
from lmcourse.pretraining import mask_tokens


def test_package_mask_tokens_passes_the_checker():
    from lmcourse.pretraining import mask_tokens

    assert ex.check_mask_tokens(lambda ids, m, v, s: mask_tokens(ids, mask_id=m, vocab_size=v, special_ids=s)).passed


def _mask(ids, mask_id, vocab_size, special_ids, *, skip_special=True, p=0.15, split=(0.8, 0.1),
          ignore_unpicked=True, random_everywhere=False, label_inputs=False):
    inputs, labels = ids.clone(), ids.clone()
    special = torch.isin(ids, torch.tensor(list(special_ids)))
    picked = torch.rand(ids.shape) < p
    if skip_special:
        picked &= ~special
    if ignore_unpicked:
        labels[~picked] = -100
    r = torch.rand(ids.shape)
    inputs[picked & (r < split[0])] = mask_id
    rnd = (r >= split[0]) & (r < split[0] + split[1])
    rnd = rnd if random_everywhere else rnd & picked
    inputs[rnd] = torch.randint(vocab_size, ids.shape)[rnd]
    if label_inputs:
        labels[picked] = inputs[picked]
    return inputs, labels


def _in_place(ids, m, v, s):
    ids[:, 1] = m
    return ids, ids


WRONG_MASKINGS = [
    (lambda i, m, v, s: i, "return inputs, labels"),
    (_in_place, "work on copies: inputs = ids.clone()"),
    (lambda i, m, v, s: _mask(i, m, v, s, ignore_unpicked=False), ex.MISSING_LABEL_HINT),
    (lambda i, m, v, s: _mask(i, m, v, s, skip_special=False), ex.SPECIAL_HINT),
    (lambda i, m, v, s: _mask(i, m, v, s, label_inputs=True), ex.LABEL_VALUE_HINT),
    (lambda i, m, v, s: _mask(i, m, v, s, random_everywhere=True), ex.UNPICKED_HINT),
    (lambda i, m, v, s: _mask(i, m, v, s, p=0.3), ex.RATE_HINT),
    (lambda i, m, v, s: _mask(i, m, v, s, split=(1.0, 0.0)), ex.ALL_MASK_HINT),
    (lambda i, m, v, s: _mask(i, m, v, s, split=(0.6, 0.2)), ex.SPLIT_HINT),
    (lambda i, m, v, s: _mask(i, m, v, s, split=(0.0, 0.0)), ex.SPLIT_HINT),
]


@pytest.mark.parametrize("wrong, hint", WRONG_MASKINGS)
def test_a_wrong_masking_gets_the_hint_of_the_rule_it_breaks(wrong, hint):
    result = ex.check_mask_tokens(wrong)
    assert not result.passed and result.mistake == hint and result.failed_case == "a (64, 130) batch"


def test_the_wrong_maskings_reach_every_rule_of_the_checker():
    assert {hint for _, hint in WRONG_MASKINGS} == {rule.hint for rule in ex.MASKING_RULES}


def test_mask_tokens_reports_a_crash_unfinished_code_and_a_call_instead_of_a_function():
    def todo(*args):
        raise NotImplementedError
    crashed = ex.check_mask_tokens(lambda ids, m, v: ids)
    assert "raised TypeError" in crashed.message and "(ids, mask_id, vocab_size, special_ids)" in crashed.mistake
    assert "not written yet" in ex.check_mask_tokens(todo).message
    assert "expected a function, got None" in ex.check_mask_tokens(None).message


def test_the_reference_batch_packing_equals_minilms_tokenizer_with_padding():
    from lmcourse.pretrained import load_minilm

    tok, _ = load_minilm()
    a = ["the cat sat", "a dog", "it rained all day long"]
    b = ["on the mat", "barked at the moon loudly", "so we stayed"]
    theirs = tok(a, b, padding=True, return_tensors="pt")
    pairs = [(tok(x, add_special_tokens=False)["input_ids"], tok(y, add_special_tokens=False)["input_ids"])
             for x, y in zip(a, b)]
    ids, segments, mask = ex._batched()(pairs, tok.cls_token_id, tok.sep_token_id, tok.pad_token_id)
    assert torch.equal(ids, theirs["input_ids"]) and torch.equal(segments, theirs["token_type_ids"])
    assert torch.equal(mask, theirs["attention_mask"].bool())


def test_pack_accepts_tuples_of_pairs_and_a_list_of_three_and_refuses_a_0_1_mask():
    def from_tuples(pairs, cls_id, sep_id, pad_id):
        return list(ex._batched()(tuple(pairs), cls_id, sep_id, pad_id))
    assert ex.check_pack_pair(from_tuples).passed
    ints = ex.check_pack_pair(pack_with_integer_mask)
    assert not ints.passed and "expected a bool mask" in ints.message


# --- wrong maskings (named, for WRONG_ANSWERS) ---------------------------------------------------------------

def mask_returns_labels_first(ids, mask_id, vocab_size, special_ids):
    # the right masking, returned in the wrong order: (labels, inputs)
    inputs, labels = _mask(ids, mask_id, vocab_size, special_ids)
    return labels, inputs


def mask_with_inverted_labels(ids, mask_id, vocab_size, special_ids):
    # -100 at the picked positions and the ids everywhere else: the loss would train on what the model sees
    inputs, labels = _mask(ids, mask_id, vocab_size, special_ids)
    picked = labels != -100
    return inputs, torch.where(picked, torch.full_like(ids, -100), ids)


def mask_every_position_alike(ids, mask_id, vocab_size, special_ids):
    # draws over every position, [CLS], [SEP] and [PAD] included
    return _mask(ids, mask_id, vocab_size, special_ids, skip_special=False)


# --- wrong packings ------------------------------------------------------------------------------------------

def pack_with_integer_mask(pairs, cls_id, sep_id, pad_id):
    # the tokenizer's 0/1 integers where a bool mask is asked for
    ids, segments, mask = ex._batched()(pairs, cls_id, sep_id, pad_id)
    return ids, segments, mask.long()


def pack_as_nested_lists(pairs, cls_id, sep_id, pad_id):
    # right values, as lists of lists where tensors are asked for
    return tuple(t.tolist() for t in ex._batched()(pairs, cls_id, sep_id, pad_id))


def pack_pads_with_sep(pairs, cls_id, sep_id, pad_id):
    # pads the short rows with [SEP] instead of pad_id
    ids, segments, mask = ex._batched()(pairs, cls_id, sep_id, pad_id)
    return ids.masked_fill(~mask, sep_id), segments, mask


def pack_b_before_a(pairs, cls_id, sep_id, pad_id):
    # the two segments of every pair in the wrong order
    return ex._batched()([(b, a) for a, b in pairs], cls_id, sep_id, pad_id)


# --- MLM steps -----------------------------------------------------------------------------------------------

def _masked(ids, mask_id, vocab_size, special_ids, generator):
    return mask_tokens(ids, mask_id=mask_id, vocab_size=vocab_size, special_ids=special_ids, generator=generator)


def step_with_the_models_loss(model, optimizer, ids, mask_id, vocab_size, special_ids, generator):
    # right, in another valid form: MaskedLM computes the same masked cross-entropy from its targets
    inputs, labels = _masked(ids, mask_id, vocab_size, special_ids, generator)
    optimizer.zero_grad(set_to_none=False)
    if not (labels != -100).any():
        return 0
    _, loss = model(inputs, labels)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def step_returns_the_loss_tensor(model, optimizer, ids, mask_id, vocab_size, special_ids, generator):
    # forgets .item(): hands back the graph-holding tensor where a float is asked for
    optimizer.zero_grad()
    inputs, labels = _masked(ids, mask_id, vocab_size, special_ids, generator)
    if (labels == -100).all():
        return 0.0
    loss = F.cross_entropy(model(inputs)[0].flatten(0, 1), labels.flatten())
    loss.backward()
    optimizer.step()
    return loss


def step_zeroes_after_backward(model, optimizer, ids, mask_id, vocab_size, special_ids, generator):
    # zero_grad between backward and step: the step applies no gradient at all
    inputs, labels = _masked(ids, mask_id, vocab_size, special_ids, generator)
    if (labels == -100).all():
        return 0.0
    loss = F.cross_entropy(model(inputs)[0].flatten(0, 1), labels.flatten())
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


def step_sums_the_loss(model, optimizer, ids, mask_id, vocab_size, special_ids, generator):
    # reduction="sum": the step grows with the number of picked tokens
    optimizer.zero_grad()
    inputs, labels = _masked(ids, mask_id, vocab_size, special_ids, generator)
    if (labels == -100).all():
        return 0.0
    loss = F.cross_entropy(model(inputs)[0].flatten(0, 1), labels.flatten(), reduction="sum")
    loss.backward()
    optimizer.step()
    return loss.item()


def step_ignores_the_pad_id(model, optimizer, ids, mask_id, vocab_size, special_ids, generator):
    # ignore_index=[PAD] instead of -100: the -100 labels become targets out of range
    optimizer.zero_grad()
    inputs, labels = _masked(ids, mask_id, vocab_size, special_ids, generator)
    loss = F.cross_entropy(model(inputs)[0].flatten(0, 1), labels.flatten(), ignore_index=ex.PAD)
    loss.backward()
    optimizer.step()
    return loss.item()


WRONG_ANSWERS = {
    "check_mask_tokens": [mask_returns_labels_first, mask_with_inverted_labels, mask_every_position_alike],
    "check_pack_pair": [pack_with_integer_mask, pack_as_nested_lists, pack_pads_with_sep, pack_b_before_a],
    "check_mlm_step": [step_returns_the_loss_tensor, step_zeroes_after_backward, step_sums_the_loss,
                       step_ignores_the_pad_id],
}


def test_a_step_using_the_models_own_loss_passes():
    assert ex.check_mlm_step(step_with_the_models_loss).passed


def test_a_loss_tensor_is_refused_with_how_to_make_it_a_float():
    result = ex.check_mlm_step(step_returns_the_loss_tensor)
    assert not result.passed and "got a tensor" in result.message and ".item()" in result.message


def test_a_step_that_leaves_nan_in_the_model_is_caught_on_the_batch_where_nothing_is_picked():
    def unguarded(model, optimizer, ids, mask_id, vocab_size, special_ids, generator):
        optimizer.zero_grad()
        inputs, labels = _masked(ids, mask_id, vocab_size, special_ids, generator)
        loss = F.cross_entropy(model(inputs)[0].flatten(0, 1), labels.flatten())
        loss.backward()
        optimizer.step()
        return loss.item()
    result = ex.check_mlm_step(unguarded)
    assert not result.passed and "nothing is picked" in result.failed_case and "return 0.0" in result.mistake


def test_the_checking_batches_pick_something_except_the_empty_case():
    picked = [int((_masked(ids, ex.MASK, ex.STEP_VOCAB, special, torch.Generator().manual_seed(seed))[1] != -100)
                  .sum()) for ids, seed, special in (c.args for c in ex._step_cases())]
    assert all(n > 0 for n in picked[:-1]) and picked[-1] == 0, picked
