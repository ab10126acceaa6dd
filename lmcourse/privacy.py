"""Privacy in training data: canaries and exposure, deduplication, and a PII scrubber.

A *canary* is a made-up secret ("my secret PIN is 4 8 1 5") planted in the training text. After
training, :func:`log_perplexity` scores the canary and every other secret of the same
format; the canary's :func:`canary_rank` among them gives its :func:`exposure`
(Carlini et al. 2019, "The Secret Sharer"): ``log2(#candidates) - log2(rank)``, about 1.44
for a secret the model never saw, up to ``log2(#candidates)`` for one it has memorised.
:func:`dedup_lines` removes repeated long lines before training, which takes away most of
the repetitions that memorisation feeds on. :func:`find_pii` / :func:`scrub_pii` find and
replace e-mail addresses, phone numbers (including Chinese mobile numbers), 18-digit
Chinese resident ID numbers (checksum verified) and payment-card numbers (Luhn verified).
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ._checks import ArgumentError, integer, number, tensor

DIGITS = "0123456789"
CANARY_PREFIX = "my secret PIN is "


# ----------------------------------------------------------------------------- canaries and exposure

def format_secret(digits: Sequence[int] | str, prefix: str = CANARY_PREFIX) -> str:
    """The canary sentence for a secret: ``(4, 8, 1, 5) -> "my secret PIN is 4 8 1 5"`` (digits spaced out)."""
    digits = [int(d) for d in digits]
    if not digits or any(not 0 <= d <= 9 for d in digits):
        raise ValueError(f"digits must be a non-empty sequence of digits 0-9; got {digits!r}")
    return prefix + " ".join(str(d) for d in digits)


def make_canary(n_digits: int, *, seed: int = 0, prefix: str = CANARY_PREFIX) -> str:
    """A random canary with ``n_digits`` digits, e.g. ``"my secret PIN is 4 8 1 5"``; same seed, same canary."""
    integer("n_digits", n_digits, min=1)
    rng = random.Random(seed)
    return format_secret([rng.randrange(10) for _ in range(n_digits)], prefix)


def all_secrets(n_digits: int, prefix: str = CANARY_PREFIX) -> list[str]:
    """Every secret of the canary's format, in order: the 10**n_digits candidates the canary hides among."""
    integer("n_digits", n_digits, min=1)
    if n_digits > 6:
        raise ValueError(f"n_digits must be <= 6 to enumerate every candidate; got {n_digits}")
    return [format_secret(d, prefix) for d in itertools.product(range(10), repeat=n_digits)]


def insert_canary(text: str, canary: str, repetitions: int, *, seed: int = 0) -> str:
    """``text`` with ``canary`` inserted as its own line ``repetitions`` times, at random line breaks."""
    if not isinstance(text, str) or "\n" not in text:
        raise ValueError("text must be a string with at least one line break")
    integer("repetitions", repetitions, min=0)
    lines = text.split("\n")
    rng = random.Random(seed)
    places = sorted(rng.randrange(1, len(lines)) for _ in range(repetitions))
    for shift, place in enumerate(places):          # each insertion pushes the later places down one line
        lines.insert(place + shift, canary)
    return "\n".join(lines)


@torch.no_grad()
def log_perplexity(model, ids: torch.Tensor, start: int, *, batch_size: int = 1024) -> torch.Tensor:
    """Log-perplexity of each row of ``ids`` (N, T) from position ``start`` on:
    ``-Σ_{t>=start} log p(ids[t] | ids[<t])``.

    ``model(idx)`` must return ``(logits, ...)`` with logits (B, T, V), as every course
    language model does. Only the tokens from ``start`` on are scored (the shared prefix
    of the candidates is not), so the numbers rank secrets, not prefixes. Returns (N,), in nats.
    """
    tensor("ids", ids, shape=("N", "T"), dtype=torch.long)
    integer("start", start, min=1, max=ids.shape[1] - 1)
    integer("batch_size", batch_size, min=1)
    was_training = model.training
    model.eval()
    out = []
    for chunk in ids.split(batch_size):
        logits = model(chunk[:, :-1])[0]                                 # (b, T-1, V): predicts tokens 1..T-1
        logp = F.log_softmax(logits.float(), dim=-1).gather(-1, chunk[:, 1:, None]).squeeze(-1)  # (b, T-1)
        out.append(-logp[:, start - 1:].sum(1))
    model.train(was_training)
    return torch.cat(out)


def canary_rank(canary_score: float, other_scores: Sequence[float] | torch.Tensor) -> int:
    """Rank of the canary among all candidates (1 = most likely): 1 + #others with log-perplexity <= the canary's.

    Ties count against the canary (Carlini et al.'s definition), so a model that
    gives every candidate the same score gives the canary the worst rank.
    """
    others = torch.as_tensor(other_scores, dtype=torch.float64).flatten()
    number("canary_score", float(canary_score))
    if not torch.isfinite(others).all():
        bad = int((~torch.isfinite(others)).sum())
        raise ArgumentError(f"other_scores must be finite numbers; got {bad} NaN or inf")
    return 1 + int((others <= float(canary_score)).sum())


def exposure(rank: int, n_candidates: int) -> float:
    """Exposure of a secret ranked ``rank`` among ``n_candidates``: ``log2(n_candidates) - log2(rank)``, in bits.

    0 when the canary is the least likely candidate, ``log2(n_candidates)`` when it is
    the most likely; a secret the model never saw has an expected exposure of about 1.44 bits.
    """
    integer("n_candidates", n_candidates, min=1)
    integer("rank", rank, min=1, max=n_candidates)
    return math.log2(n_candidates) - math.log2(rank)


@dataclass(frozen=True)
class Exposure:
    """What :func:`measure_exposure` found: the canary's rank among ``n_candidates`` and its exposure in bits."""

    rank: int
    n_candidates: int
    exposure: float
    scores: torch.Tensor  # log-perplexity of every candidate (n_candidates,), in all_secrets order


def split_canary(canary: str) -> tuple[str, int]:
    """``"ada's secret PIN is 4 8 1 5" -> ("ada's secret PIN is ", 4)``: the prefix and the number of digits."""
    m = re.fullmatch(r"(.*?)(?<!\d)(\d(?: \d)*)", canary) if isinstance(canary, str) else None
    if m is None:
        raise ValueError(f"canary must be a prefix followed by space-separated digits, like {make_canary(4)!r}; "
                         f"got {canary!r}")
    return m.group(1), len(m.group(2).split(" "))


def measure_exposure(model, encode, canary: str, *, context: str = "\n", batch_size: int = 1024) -> Exposure:
    """Score every secret of the canary's format with ``model`` and return the canary's :class:`Exposure`.

    The candidates share the canary's prefix and differ in the digits (see :func:`split_canary`).
    ``encode`` turns text into token ids; each candidate is ``context + secret`` and only
    the digits (after ``context + prefix``) are scored. The scores equal :func:`log_perplexity`
    of every candidate; when each digit is one token (a character tokenizer), they are computed
    ten times faster: the model reads the 10**(n-1) stems once, and the distribution at a stem's
    last position scores all ten final digits (a causal model's earlier outputs ignore what follows).
    """
    prefix, n_digits = split_canary(canary)
    candidates = all_secrets(n_digits, prefix)
    device = next(model.parameters()).device
    ids = torch.tensor([encode(context + c) for c in candidates], dtype=torch.long, device=device)
    start = len(encode(context + prefix))
    scores = _scores_by_stem(model, ids, start, batch_size) if n_digits > 1 else None
    if scores is None:
        scores = log_perplexity(model, ids, start, batch_size=batch_size)
    scores = scores.cpu()
    index = candidates.index(canary)
    rank = canary_rank(float(scores[index]), torch.cat([scores[:index], scores[index + 1:]]))
    return Exposure(rank, len(candidates), exposure(rank, len(candidates)), scores)


@torch.no_grad()
def _scores_by_stem(model, ids: torch.Tensor, start: int, batch_size: int) -> torch.Tensor | None:
    """:func:`log_perplexity` of candidates that come in groups of ten differing only in the last token; else None."""
    stems, last = ids[::10, :-1], ids[:, -1].view(-1, 10)                # (N/10, T-1), (N/10, 10)
    if not (torch.equal(ids[:, :-1], stems.repeat_interleave(10, dim=0)) and (last == last[:1]).all()):
        return None                                                        # not one token per final digit
    was_training = model.training
    model.eval()
    out = []
    for chunk, chunk_last in zip(stems.split(batch_size), last.split(batch_size)):
        # (b, T-1, V): predicts tokens 1..T-1, then one more
        logp = F.log_softmax(model(chunk)[0].float(), dim=-1)
        stem = -logp[:, :-1].gather(-1, chunk[:, 1:, None]).squeeze(-1)[:, start - 1:].sum(1)   # (b,)
        out.append((stem[:, None] - logp[:, -1].gather(-1, chunk_last)).flatten())             # (b * 10,)
    model.train(was_training)
    return torch.cat(out)


# ----------------------------------------------------------------------------- deduplication

def dedup_lines(text: str, min_chars: int = 20) -> tuple[str, int]:
    """Drop every repeat of a line with at least ``min_chars`` characters; returns ``(text, n_removed)``.

    Lines are compared after trimming spaces at both ends; the first copy stays where it
    was. Short lines ("ROMEO:", blank lines) repeat naturally and are kept.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str; got {type(text).__name__}")
    integer("min_chars", min_chars, min=1)
    seen: set[str] = set()
    kept, removed = [], 0
    for line in text.split("\n"):
        key = line.strip()
        if len(key) >= min_chars:
            if key in seen:
                removed += 1
                continue
            seen.add(key)
        kept.append(line)
    return "\n".join(kept), removed


# ----------------------------------------------------------------------------- PII: find and scrub

PLACEHOLDERS = {"email": "[EMAIL]", "cn_id": "[ID]", "card": "[CARD]", "phone": "[PHONE]"}

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"   # check character for (Σ weight·digit) mod 11 = 0, 1, …, 10 (GB 11643-1999)

# Numbers must not be glued to other digits, even through one space or dash ("138 1234 5678 9" is no phone),
# nor be part of a decimal number ("0.4111111111111111") or follow a plus sign. The patterns are ASCII-only,
# so a Chinese character right before a number does not hide it: "手机13812345678" holds a phone number.
_NUM_START = r"(?<![\w+.])(?<!\d[ -])"
_NUM_END = r"(?![ -]?\d)(?!\w)(?!\.\d)"
PII_PATTERNS = {  # kind -> compiled regex; find_pii also checks each match (checksums)
    "email": re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
                        r"\.[A-Za-z]{2,}(?![\w-])", re.ASCII),
    "cn_id": re.compile(_NUM_START + r"\d{17}[\dXx]" + _NUM_END, re.ASCII),
    "card": re.compile(_NUM_START + r"\d(?:[ -]?\d){12,18}" + _NUM_END, re.ASCII),
    "phone": re.compile(
        r"(?:(?<![\w+])\+?86[ -]?" + r"|" + _NUM_START + r")1[3-9]\d(?:[ -]?\d{4}){2}" + _NUM_END   # CN mobile
        + r"|(?:(?<![\w+])\+1[ .-]?|(?<![\w(]))(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}" + _NUM_END  # US/Canada
        + r"|(?<![\w+])\+(?:[2-9]\d{0,2})(?:[ .-]?\d{1,4}){2,5}" + _NUM_END, re.ASCII),              # +country …
}


def luhn_valid(number: str) -> bool:
    """True when the digits of ``number`` (spaces and dashes allowed) pass the Luhn checksum of card numbers.

    From the right, every second digit is doubled (minus 9 if above 9); the sum must be
    divisible by 10.
    """
    if not isinstance(number, str):
        raise ValueError(f"number must be a str of digits; got {type(number).__name__}")
    digits = number.replace(" ", "").replace("-", "")
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def cn_id_valid(number: str) -> bool:
    """True for a well-formed 18-character Chinese resident ID number: a real birth date and the right check character.

    Characters 7-14 are the birth date YYYYMMDD; the last is ``"10X98765432"[Σ wᵢ·dᵢ mod 11]``
    over the first 17 digits with weights 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2.
    """
    if not isinstance(number, str):
        raise ValueError(f"number must be a str; got {type(number).__name__}")
    if len(number) != 18 or not number[:17].isdigit() or number[17] not in DIGITS + "Xx":
        return False
    year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    if not 1900 <= year <= 2100 or not 1 <= month <= 12:
        return False
    days = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if not 1 <= day <= days[month - 1]:
        return False
    check = _ID_CHECK[sum(w * int(d) for w, d in zip(_ID_WEIGHTS, number[:17])) % 11]
    return number[17].upper() == check


def _valid(kind: str, found: str) -> bool:
    digits = re.sub(r"\D", "", found)
    if kind == "cn_id":
        return cn_id_valid(found)
    if kind == "card":
        return 13 <= len(digits) <= 19 and luhn_valid(digits)
    if kind == "phone" and found.lstrip().startswith("+") and not found.startswith(("+86", "+1")):
        return 8 <= len(digits) <= 15   # E.164: at most 15 digits with the country code
    return True


def find_pii(text: str) -> list[tuple[str, int, int, str]]:
    """Every piece of PII in ``text`` as ``(kind, start, end, match)``, in order, never overlapping.

    Kinds are tried in the order email, cn_id, card, phone; a candidate that fails its
    check (ID checksum and date, card Luhn) is not PII and is left alone.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str; got {type(text).__name__}")
    taken: list[tuple[str, int, int, str]] = []
    for kind, pattern in PII_PATTERNS.items():
        for m in pattern.finditer(text):
            if _valid(kind, m.group()) and not any(s < m.end() and m.start() < e for _, s, e, _ in taken):
                taken.append((kind, m.start(), m.end(), m.group()))
    return sorted(taken, key=lambda t: t[1])


def scrub_pii(text: str, placeholders: dict[str, str] | None = None) -> str:
    """``text`` with every piece of PII replaced by a placeholder: ``[EMAIL]``, ``[PHONE]``, ``[ID]``, ``[CARD]``."""
    names = {**PLACEHOLDERS, **(placeholders or {})}
    out, last = [], 0
    for kind, start, end, _ in find_pii(text):
        out += [text[last:start], names[kind]]
        last = end
    return "".join(out) + text[last:]
