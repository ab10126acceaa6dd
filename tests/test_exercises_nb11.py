"""Checkers of notebook 11 accept the notebook's own solutions and catch the usual mistakes."""

import pytest
import torch

from lmcourse.exercises import nb11_bert_pretraining as ex
from solutions import solution_namespace


@pytest.fixture(scope="module")
def solved():
    return solution_namespace("11_bert_pretraining",
                              setup="import torch\nfrom lmcourse.exercises import nb11_bert_pretraining as ex")


def test_reference_solutions_pass(solved):
    assert ex.check_mask_tokens(solved["mask_tokens_ex"]).passed
    assert ex.check_pack_pair(solved["pack"]).passed


def test_package_mask_tokens_passes_the_checker():
    from lmcourse.pretraining import mask_tokens

    assert ex.check_mask_tokens(lambda ids, m, v, s: mask_tokens(ids, mask_id=m, vocab_size=v, special_ids=s)).passed


def _mask(ids, mask_id, vocab_size, special_ids, *, skip_special=True, p=0.15, split=(0.8, 0.1),
          ignore_unpicked=True, random_everywhere=False):
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
    return inputs, labels


@pytest.mark.parametrize("wrong, hint", [
    (lambda i, m, v, s: _mask(i, m, v, s, skip_special=False), "must never be picked"),
    (lambda i, m, v, s: _mask(i, m, v, s, split=(1.0, 0.0)), "every picked token became [MASK]"),
    (lambda i, m, v, s: _mask(i, m, v, s, ignore_unpicked=False), "labels must be -100"),
    (lambda i, m, v, s: _mask(i, m, v, s, p=0.3), "probability mask_prob = 0.15"),
    (lambda i, m, v, s: _mask(i, m, v, s, split=(0.6, 0.2)), "about 80 % should be [MASK]"),
    (lambda i, m, v, s: _mask(i, m, v, s, random_everywhere=True), "only picked tokens may change"),
    (lambda i, m, v, s: _mask(i, m, v, s, split=(0.0, 0.0)), "of the picked tokens about 80 %"),
])
def test_mask_tokens_mistakes_get_their_hint(wrong, hint):
    result = ex.check_mask_tokens(wrong)
    assert not result.passed and hint in result.mistake


def test_mask_tokens_checker_reports_input_modified_and_wrong_return():
    def in_place(ids, m, v, s):
        ids[:, 1] = m
        return ids, ids
    in_place_result = ex.check_mask_tokens(in_place)
    assert "changed its input" in in_place_result.message and "ids.clone()" in in_place_result.mistake
    one_tensor = ex.check_mask_tokens(lambda i, m, v, s: i)
    assert "pair of tensors" in one_tensor.message and "return inputs, labels" in one_tensor.mistake
    assert not ex.check_mask_tokens(None).passed


@pytest.mark.parametrize("wrong, hint", [
    (lambda a, b, c, s: ([c, *a, s, *b, s], [0] * (len(a) + 2) + [1] * len(b) + [0]), "final [SEP]"),
    (lambda a, b, c, s: ([c, *a, s, *b, s], [0] * (len(a) + 1) + [1] * (len(b) + 2)), "first [SEP]"),
    (lambda a, b, c, s: ([*a, s, *b, s], [0] * (len(a) + 1) + [1] * (len(b) + 1)), "starts with [CLS]"),
    (lambda a, b, c, s: ([c, *a, s, *b], [0] * (len(a) + 2) + [1] * len(b)), "its own [SEP]"),
])
def test_pack_pair_mistakes_get_their_hint(wrong, hint):
    result = ex.check_pack_pair(wrong)
    assert not result.passed and hint in result.mistake


def test_pack_pair_checker_accepts_tensors_and_reports_unfinished():
    def as_tensors(a, b, c, s):
        return torch.tensor([c, *a, s, *b, s]), torch.tensor([0] * (len(a) + 2) + [1] * (len(b) + 1))
    assert ex.check_pack_pair(as_tensors).passed

    def unfinished(a, b, c, s):
        raise NotImplementedError
    assert "not written yet" in ex.check_pack_pair(unfinished).message
