"""Checkers for notebook 11 (BERT: pretraining objectives).

``check_mask_tokens`` cannot compare with one reference answer (masking is random), so it
checks the *rules* on a large batch: special tokens are never picked, labels are ``-100``
except where a token was picked, about 15 % of the real tokens are picked, and of those
about 80 % become [MASK], 10 % a random token and 10 % stay unchanged.
"""

from __future__ import annotations

import torch

from ..pretraining import IGNORE_INDEX, pack_pair
from .checking import Case, Mistake, Result, Rule, check_function, check_rules

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


def _run(fn):
    """The learner's masking of the batch, with torch's generator seeded: (the ids it was given, its answer)."""
    ids = _masking_batch()
    torch.manual_seed(0)
    return ids, fn(ids, MASK, VOCAB, [PAD, CLS, SEP])


def _facts(answer) -> dict:
    """What a well-formed answer did: which positions it picked and what share became what."""
    _, (inputs, labels) = answer
    original = _masking_batch()
    special = (original == PAD) | (original == CLS) | (original == SEP)
    picked = labels != IGNORE_INDEX
    as_mask = (inputs[picked] == MASK).float().mean().item()
    kept = (inputs[picked] == original[picked]).float().mean().item()
    return dict(original=original, inputs=inputs, labels=labels, special=special, picked=picked,
                rate=picked[~special].float().mean().item(), as_mask=as_mask, kept=kept,
                randomised=1 - as_mask - kept)


def _not_a_pair(answer):
    out = answer[1]
    if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)
            and out[0].shape == answer[0].shape and out[1].shape == answer[0].shape):
        return "expected a pair of tensors (inputs, labels), each of the shape of ids (64, 130)"


def _input_changed(answer):
    if not torch.equal(answer[0], _masking_batch()):
        return "your function changed its input ids"


def _labels_everywhere(answer):
    f = _facts(answer)
    if f["picked"].all() or (f["labels"] == f["original"]).all():
        return "labels equal ids at every position"


def _special_picked(answer):
    f = _facts(answer)
    if f["picked"][f["special"]].any():
        return "some [CLS]/[SEP]/[PAD] positions were picked (their label is not -100)"


def _wrong_label_values(answer):
    f = _facts(answer)
    if not torch.equal(f["labels"][f["picked"]], f["original"][f["picked"]]):
        return "some labels at picked positions are not the original ids"


def _unpicked_changed(answer):
    f = _facts(answer)
    if not torch.equal(f["inputs"][~f["picked"]], f["original"][~f["picked"]]):
        return "inputs differ from ids at positions whose label is -100"


def _wrong_rate(answer):
    rate = _facts(answer)["rate"]
    if not 0.13 <= rate <= 0.17:
        return f"{rate:.1%} of the real tokens were picked, expected about 15 %"


def _all_masked(answer):
    as_mask = _facts(answer)["as_mask"]
    if as_mask > 0.97:
        return f"{as_mask:.0%} of the picked tokens are [MASK]"


def _wrong_split(answer):
    f = _facts(answer)
    if not (0.74 <= f["as_mask"] <= 0.86 and 0.06 <= f["kept"] <= 0.14 and 0.06 <= f["randomised"] <= 0.14):
        return (f"of the picked tokens {f['as_mask']:.0%} are [MASK], {f['randomised']:.0%} random, "
                f"{f['kept']:.0%} unchanged")


MASKING_RULES = [
    Rule(_not_a_pair, "return inputs, labels"),
    Rule(_input_changed, "work on copies: inputs = ids.clone()"),
    Rule(_labels_everywhere, MISSING_LABEL_HINT),
    Rule(_special_picked, SPECIAL_HINT),
    Rule(_wrong_label_values, LABEL_VALUE_HINT),
    Rule(_unpicked_changed, UNPICKED_HINT),
    Rule(_wrong_rate, RATE_HINT),
    Rule(_all_masked, ALL_MASK_HINT),
    Rule(_wrong_split, SPLIT_HINT),
]


def _praise(answer) -> str:
    f = _facts(answer)
    return (f"{f['rate']:.1%} of real tokens picked; of those {f['as_mask']:.0%} [MASK], "
            f"{f['randomised']:.0%} random, {f['kept']:.0%} unchanged; specials untouched. Well done!")


def check_mask_tokens(fn) -> Result:
    """Check ``fn(ids, mask_id, vocab_size, special_ids) -> (inputs, labels)`` against BERT's masking rules."""
    return check_rules(fn, _run, MASKING_RULES, name="mask_tokens", where="a (64, 130) batch", praise=_praise,
                       crash_hint="it must take (ids, mask_id, vocab_size, special_ids) and return (inputs, labels)")


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
