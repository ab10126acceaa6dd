"""Notebook 11's checkers beyond their Mistakes.

``check_mask_tokens`` checks rules, not a reference answer (masking is random), so it has no Mistake
list for the rules test to feed it: the wrong maskings below reach every one of its rules, each
with its own hint.
"""

import pytest
import torch

from lmcourse.exercises import nb11_bert_pretraining as ex


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


def test_pack_pair_checker_accepts_tensors_and_reports_unfinished():
    def as_tensors(a, b, c, s):
        return torch.tensor([c, *a, s, *b, s]), torch.tensor([0] * (len(a) + 2) + [1] * (len(b) + 1))
    assert ex.check_pack_pair(as_tensors).passed

    def unfinished(a, b, c, s):
        raise NotImplementedError
    assert "not written yet" in ex.check_pack_pair(unfinished).message
