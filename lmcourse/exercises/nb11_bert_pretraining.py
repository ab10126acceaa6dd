"""Checkers for notebook 11 (BERT: pretraining objectives): masking, packing a batch of pairs, one MLM step.

``check_mask_tokens`` cannot compare with one reference answer (masking is random), so it
checks the *rules* on a large batch: special tokens are never picked, labels are ``-100``
except where a token was picked, about 15 % of the real tokens are picked, and of those
about 80 % become [MASK], 10 % a random token and 10 % stay unchanged. ``check_pack_pair``
compares a batch of packed pairs (ids, segment ids, a bool attention mask) with the
reference, and ``check_mlm_step`` judges one training step by the loss it returns and every
parameter of a tiny ``MaskedLM`` after it.
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


def _batched(row=_pack_reference, *, pad_segment=0, left=False, mask_pads=False):
    """A batch packer from a one-pair packer ``row``, padding each row to the longest; the keywords make it wrong."""
    def pack_batch(pairs, cls_id, sep_id, pad_id):
        packed = [row(list(a), list(b), cls_id, sep_id) for a, b in pairs]
        width = max(len(ids) for ids, _ in packed)
        ids = torch.full((len(packed), width), pad_id, dtype=torch.long)
        segments = torch.full((len(packed), width), pad_segment, dtype=torch.long)
        real = torch.zeros((len(packed), width), dtype=torch.bool)
        for i, (row_ids, row_segments) in enumerate(packed):
            at = slice(width - len(row_ids), width) if left else slice(0, len(row_ids))
            ids[i, at], segments[i, at], real[i, at] = torch.tensor(row_ids), torch.tensor(row_segments), True
        return ids, segments, ~real if mask_pads else real
    return pack_batch


def _pack_cases() -> list[Case]:
    return [Case(([([7, 8, 9], [20, 21]), ([5], [6])], 101, 102, 0),
                 label="2 pairs: [7, 8, 9] + [20, 21] and [5] + [6]"),
            Case(([([40, 41], [50, 51, 52, 53])], 101, 102, 0), label="1 pair: [40, 41] + [50, 51, 52, 53]"),
            Case(([([1, 2], [3]), ([4], [5, 6, 7, 8]), ([9, 9, 9], [9])], 101, 102, 0),
                 label="3 pairs of total lengths 3, 5 and 4, one with a repeated token")]


def check_pack_pair(fn) -> Result:
    """Check ``fn(pairs, cls_id, sep_id, pad_id) -> (input_ids, token_type_ids, attention_mask)``: each pair packed as
    ``[CLS] a [SEP] b [SEP]``, padded on the right to the longest; (B, T) int64, int64 and bool tensors."""
    return check_function(fn, _batched(), _pack_cases(), name="pack_pair", mistakes=[
        Mistake(_batched(_last_sep_segment_0), "the final [SEP] closes segment B, so its segment id is 1"),
        Mistake(_batched(_first_sep_segment_1), "the first [SEP] closes segment A, so its segment id is 0"),
        Mistake(_batched(_no_cls), "each pair starts with [CLS] (its vector is what the NSP head reads)"),
        Mistake(_batched(_one_sep), "segment B is followed by its own [SEP]: [CLS] a [SEP] b [SEP]"),
        Mistake(_batched(pad_segment=1), "the padding got segment id 1: padding is segment 0, as the tokenizer "
                                         "gives it — the attention mask, not the segment id, keeps it out"),
        Mistake(_batched(left=True), "the padding went on the left: BERT pads on the right, so every row starts "
                                     "with its [CLS] at position 0"),
        Mistake(_batched(mask_pads=True), "the attention mask is inverted: True at the real tokens, False at the "
                                          "padding"),
    ])


# --- the MLM training step -------------------------------------------------------------------------------------

STEP_VOCAB = 20       # the tiny checking model's vocabulary: PAD, CLS, SEP, MASK and 16 "characters"


def _step_model():
    """A tiny MaskedLM (1 layer, width 8), the same weights every call, holding stale gradients of a last step."""
    from ..bert import BertConfig, MaskedLM

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = MaskedLM(BertConfig(vocab_size=STEP_VOCAB, n_layer=1, n_head=2, n_embd=8, d_ff=16, max_len=16,
                                    pad_id=PAD))
        for p in model.parameters():
            p.grad = torch.randn_like(p)             # what the last step left behind
    return model


def _ids(*rows) -> torch.Tensor:
    """(B, T) ids: each row [CLS] its tokens [SEP], padded with [PAD] to the longest."""
    width = max(len(r) for r in rows) + 2
    return torch.tensor([[CLS, *r, SEP] + [PAD] * (width - len(r) - 2) for r in rows])


class _Stepped:
    """A step function run the way the checker runs every answer: a fresh tiny model, SGD, a seeded generator.

    Calling it with a case's ``(ids, seed, special_ids)`` returns what the step returned and every
    parameter after it, flattened (one float tensor), so a step is judged by what it did to the model."""

    def __init__(self, step):
        self.step = step

    def __call__(self, ids, seed, special_ids):
        model = _step_model()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1234)                   # an answer that ignores the generator draws from here
            loss = self.step(model, optimizer, ids, MASK, STEP_VOCAB, special_ids, torch.Generator().manual_seed(seed))
        return loss, torch.cat([p.detach().flatten() for p in model.parameters()])


def _mlm_step(model, optimizer, ids, mask_id, vocab_size, special_ids, generator):
    from ..pretraining import mask_tokens

    optimizer.zero_grad()
    inputs, labels = mask_tokens(ids, mask_id=mask_id, vocab_size=vocab_size, special_ids=special_ids,
                                 generator=generator)
    if (labels == IGNORE_INDEX).all():
        return 0.0
    logits, _ = model(inputs)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab_size), labels.reshape(-1))
    loss.backward()
    optimizer.step()
    return loss.item()


def _variant(*, answers=False, everywhere=False, generator=True, zero=True, guard=True, mean_all=False, step=True,
             specials=True):
    """The reference step with one thing done wrong."""
    def wrong(model, optimizer, ids, mask_id, vocab_size, special_ids, gen):
        from ..pretraining import mask_tokens

        if zero:
            optimizer.zero_grad()
        inputs, labels = mask_tokens(ids, mask_id=mask_id, vocab_size=vocab_size,
                                     special_ids=special_ids if specials else (), generator=gen if generator else None)
        if guard and (labels == IGNORE_INDEX).all():
            return 0.0
        logits, _ = model(ids if answers else inputs)
        flat = logits.reshape(-1, vocab_size)
        if everywhere:
            loss = torch.nn.functional.cross_entropy(flat, ids.reshape(-1))
        elif mean_all:
            each = torch.nn.functional.cross_entropy(flat, labels.reshape(-1), reduction="none")
            loss = each.sum() / labels.numel()
        else:
            loss = torch.nn.functional.cross_entropy(flat, labels.reshape(-1))
        loss.backward()
        if step:
            optimizer.step()
        return loss.item()
    return wrong


def _step_cases() -> list[Case]:
    special = [PAD, CLS, SEP]
    return [
        Case((_ids([4, 9, 5, 11, 7, 4, 12, 19, 6, 8, 15, 10], [13, 6, 6, 17, 5]), 0, special),
             label="2 sequences, the second padded (seed 0)"),
        Case((_ids([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]), 3, special),
             label="1 sequence of 14 tokens (seed 3)"),
        Case((_ids([7, 7, 7, 7, 7, 7], [4, 5], [18, 17, 16, 15, 14, 13, 12, 11], [9]), 1, special),
             label="4 sequences of lengths 6, 2, 8, 1 with padding (seed 1)"),
        Case((_ids([8, 9], [10]), 1, special), label="2 short sequences where nothing is picked (seed 1)"),
    ]


def check_mlm_step(mlm_step) -> Result:
    """``mlm_step(model, optimizer, ids, mask_id, vocab_size, special_ids, generator) -> float``: one MLM update.

    Masks ``ids`` with :func:`lmcourse.pretraining.mask_tokens` and ``generator``, scores the masked
    inputs, takes the cross-entropy at the picked positions only, steps the optimizer, returns the loss;
    on a batch where nothing was picked it returns 0.0 and leaves the model unchanged. Checked by
    running it on a tiny MaskedLM with SGD and comparing the loss and every parameter after the step."""
    if not callable(mlm_step):
        return check_function(mlm_step, _mlm_step, [], name="check_mlm_step")
    if isinstance(mlm_step, _Stepped):                # one of the known mistakes below, handed back to check
        mlm_step = mlm_step.step
    return check_function(_Stepped(mlm_step), _Stepped(_mlm_step), _step_cases(), name="check_mlm_step",
                          rtol=1e-5, atol=1e-6, mistakes=[
        Mistake(_Stepped(_variant(answers=True)),
                "the model read the original ids, so the answers were in plain sight: feed it the masked inputs "
                "that mask_tokens returns."),
        Mistake(_Stepped(_variant(everywhere=True)),
                "the loss counts every position against the original ids (padding included): use the labels from "
                "mask_tokens, whose -100 entries F.cross_entropy skips, so only the picked tokens count."),
        Mistake(_Stepped(_variant(mean_all=True)),
                "the per-token losses are summed and divided by every position of the batch: the mean is over the "
                "picked tokens only, which is what F.cross_entropy with the -100 labels gives."),
        Mistake(_Stepped(_variant(generator=False)),
                "the masking did not use the generator you were given, so the picks cannot be reproduced: pass "
                "generator=generator to mask_tokens."),
        Mistake(_Stepped(_variant(specials=False)),
                "[CLS], [SEP] or [PAD] were picked: pass special_ids to mask_tokens so they never are."),
        Mistake(_Stepped(_variant(zero=False)),
                "the model arrived holding the last step's gradients and they were added to this step's: call "
                "optimizer.zero_grad() before backward()."),
        Mistake(_Stepped(_variant(step=False)),
                "the parameters did not change, so the step applied no gradient: clear the gradients before "
                "loss.backward() (not between backward and step), then call optimizer.step() after it."),
        Mistake(_Stepped(_variant(guard=False)),
                "when nothing is picked the loss is 0/0 = nan and a step on it writes nan into every weight: if "
                "every label is -100, return 0.0 without stepping."),
    ])
