"""Checkers for notebook 11 (BERT: pretraining objectives).

``check_mask_tokens`` cannot compare with one reference answer (masking is random), so it
checks the *rules* on a large batch: special tokens are never picked, labels are ``-100``
except where a token was picked, about 15 % of the real tokens are picked, and of those
about 80 % become [MASK], 10 % a random token and 10 % stay unchanged.
"""

from __future__ import annotations

import torch

from ..pretraining import IGNORE_INDEX, pack_pair
from .checking import Case, Mistake, Result, check_function

PAD, CLS, SEP, MASK = 0, 1, 2, 3
VOCAB = 200


def _masking_batch() -> torch.Tensor:
    """(64, 130) ids: [CLS] 118 real tokens [SEP] then padding of varying length."""
    g = torch.Generator().manual_seed(11)
    ids = torch.randint(4, VOCAB, (64, 130), generator=g)
    ids[:, 0] = CLS
    for row in range(64):
        end = 90 + (row % 40)
        ids[row, end] = SEP
        ids[row, end + 1:] = PAD
    return ids


def _fail(name: str, what: str, hint: str) -> Result:
    result = Result(False, f"✘ {name}: {what}\n  Hint: {hint}", failed_case="a (64, 130) batch", mistake=hint)
    print(result.message)
    return result


MISSING_LABEL_HINT = ("labels must be -100 wherever a token was not picked (the loss only looks at the picked "
                      "15 %); it looks like you kept the original id everywhere")
SPECIAL_HINT = "[CLS], [SEP] and [PAD] must never be picked: set their probability to 0 before drawing"
ALL_MASK_HINT = ("every picked token became [MASK]; BERT replaces only 80 % with [MASK], 10 % with a random "
                 "token and leaves 10 % unchanged")
RATE_HINT = "pick each real token with probability mask_prob = 0.15 (e.g. torch.bernoulli or torch.rand < 0.15)"
SPLIT_HINT = ("of the picked tokens about 80 % should be [MASK], 10 % a random token and 10 % unchanged; "
              "draw the 10 % random ones only among the picked tokens that did not become [MASK]")
UNPICKED_HINT = "only picked tokens may change; every other position of inputs must equal ids"
LABEL_VALUE_HINT = "at a picked position the label is the ORIGINAL token id (what the model must recover)"


def check_mask_tokens(fn) -> Result:
    """Check ``fn(ids, mask_id, vocab_size, special_ids) -> (inputs, labels)`` against BERT's masking rules."""
    name = "mask_tokens"
    if not callable(fn):
        result = Result(False, f"✘ {name}: expected a function, got {type(fn).__name__}. "
                               "Pass the function itself, without calling it (no parentheses).")
        print(result.message)
        return result
    ids = _masking_batch()
    original = ids.clone()
    torch.manual_seed(0)
    try:
        out = fn(ids, MASK, VOCAB, [PAD, CLS, SEP])
    except NotImplementedError:
        result = Result(False, f"✘ {name}: not written yet — replace `raise NotImplementedError` with your code, "
                               "run the cell, then run this check again.")
        print(result.message)
        return result
    except Exception as err:
        return _fail(name, f"on a (64, 130) batch your function raised {type(err).__name__}: {err}",
                     "it must take (ids, mask_id, vocab_size, special_ids) and return (inputs, labels)")
    if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)
            and out[0].shape == ids.shape and out[1].shape == ids.shape):
        return _fail(name, "expected a pair of tensors (inputs, labels), each of the shape of ids (64, 130)",
                     "return inputs, labels")
    if not torch.equal(ids, original):
        return _fail(name, "your function changed its input ids", "work on copies: inputs = ids.clone()")
    inputs, labels = out
    special = (original == PAD) | (original == CLS) | (original == SEP)
    picked = labels != IGNORE_INDEX
    if picked.all() or (labels == original).all():
        return _fail(name, "labels equal ids at every position", MISSING_LABEL_HINT)
    if picked[special].any():
        return _fail(name, "some [CLS]/[SEP]/[PAD] positions were picked (their label is not -100)", SPECIAL_HINT)
    if not torch.equal(labels[picked], original[picked]):
        return _fail(name, "some labels at picked positions are not the original ids", LABEL_VALUE_HINT)
    if not torch.equal(inputs[~picked], original[~picked]):
        return _fail(name, "inputs differ from ids at positions whose label is -100", UNPICKED_HINT)
    rate = picked[~special].float().mean().item()
    if not 0.13 <= rate <= 0.17:
        return _fail(name, f"{rate:.1%} of the real tokens were picked, expected about 15 %", RATE_HINT)
    as_mask = (inputs[picked] == MASK).float().mean().item()
    kept = (inputs[picked] == original[picked]).float().mean().item()
    if as_mask > 0.97:
        return _fail(name, f"{as_mask:.0%} of the picked tokens are [MASK]", ALL_MASK_HINT)
    randomised = 1 - as_mask - kept
    if not (0.74 <= as_mask <= 0.86 and 0.06 <= kept <= 0.14 and 0.06 <= randomised <= 0.14):
        return _fail(name, f"of the picked tokens {as_mask:.0%} are [MASK], {randomised:.0%} random, "
                           f"{kept:.0%} unchanged", SPLIT_HINT)
    result = Result(True, f"✔ {name}: {rate:.1%} of real tokens picked; of those {as_mask:.0%} [MASK], "
                          f"{randomised:.0%} random, {kept:.0%} unchanged; specials untouched. Well done!")
    print(result.message)
    return result


def _as_lists(pair):
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        return pair
    return tuple(p.tolist() if isinstance(p, torch.Tensor) else list(p) for p in pair)


def _pack_reference(a, b, cls_id, sep_id):
    return pack_pair(a, b, cls_id=cls_id, sep_id=sep_id)


def _last_sep_segment_0(a, b, cls_id, sep_id):
    ids, _ = pack_pair(a, b, cls_id=cls_id, sep_id=sep_id)
    return ids, [0] * (len(a) + 2) + [1] * len(b) + [0]


def _first_sep_segment_1(a, b, cls_id, sep_id):
    ids, _ = pack_pair(a, b, cls_id=cls_id, sep_id=sep_id)
    return ids, [0] * (len(a) + 1) + [1] * (len(b) + 2)


def _no_cls(a, b, cls_id, sep_id):
    return [*a, sep_id, *b, sep_id], [0] * (len(a) + 1) + [1] * (len(b) + 1)


def _one_sep(a, b, cls_id, sep_id):
    return [cls_id, *a, sep_id, *b], [0] * (len(a) + 2) + [1] * len(b)


def check_pack_pair(fn) -> Result:
    """Check ``fn(a, b, cls_id, sep_id) -> (input_ids, token_type_ids)`` for ``[CLS] a [SEP] b [SEP]``."""
    cases = [Case((a, b, 101, 102)) for a, b in
             [([7, 8, 9], [20, 21]), ([5], [6]), ([40, 41], [50, 51, 52, 53])]]
    return check_function(
        lambda *args: _as_lists(fn(*args)) if callable(fn) else fn, _pack_reference, cases,
        name="pack_pair", compare=lambda got, exp: _as_lists(got) == _as_lists(exp),
        mistakes=[
            Mistake(_last_sep_segment_0, "the final [SEP] closes segment B, so its segment id is 1"),
            Mistake(_first_sep_segment_1, "the first [SEP] closes segment A, so its segment id is 0"),
            Mistake(_no_cls, "the pair starts with [CLS] (its vector is what the NSP head reads)"),
            Mistake(_one_sep, "segment B is followed by its own [SEP]: [CLS] a [SEP] b [SEP]"),
        ]) if callable(fn) else check_function(fn, _pack_reference, cases, name="pack_pair")
