"""Canaries, exposure, deduplication and the PII scrubber of lmcourse.privacy."""

import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lmcourse.gpt import GPT, GPTConfig
from lmcourse.privacy import (
    CANARY_PREFIX,
    all_secrets,
    canary_rank,
    cn_id_valid,
    dedup_lines,
    exposure,
    find_pii,
    format_secret,
    insert_canary,
    log_perplexity,
    luhn_valid,
    make_canary,
    measure_exposure,
    scrub_pii,
    split_canary,
)
from lmcourse.tokenizers import CharTokenizer

# ----------------------------------------------------------------------------- canaries and exposure

def test_make_canary_is_seeded_and_has_the_format():
    a, b = make_canary(6, seed=3), make_canary(6, seed=3)
    assert a == b and a.startswith(CANARY_PREFIX)
    digits = a[len(CANARY_PREFIX):].split(" ")
    assert len(digits) == 6 and all(d in "0123456789" for d in digits)
    assert make_canary(6, seed=4) != a


def test_all_secrets_enumerates_every_candidate_once():
    secrets = all_secrets(3)
    assert len(secrets) == 1000 == len(set(secrets))
    assert secrets[0] == format_secret([0, 0, 0]) and secrets[-1] == format_secret("999")
    assert make_canary(3, seed=7) in secrets


def test_insert_canary_adds_whole_lines_and_keeps_the_text():
    text = "\n".join(f"line {i}" for i in range(50))
    out = insert_canary(text, "SECRET", 5, seed=1)
    lines = out.split("\n")
    assert lines.count("SECRET") == 5
    assert [line for line in lines if line != "SECRET"] == text.split("\n")
    assert insert_canary(text, "SECRET", 0) == text


@pytest.mark.parametrize("rank, n, expected", [(1, 1024, 10.0), (1024, 1024, 0.0), (4, 16, 2.0),
                                               (3, 1000, math.log2(1000 / 3))])
def test_exposure_is_log2_candidates_minus_log2_rank(rank, n, expected):
    assert exposure(rank, n) == pytest.approx(expected)


def test_canary_rank_counts_ties_against_the_canary():
    assert canary_rank(1.0, [2.0, 3.0, 4.0]) == 1
    assert canary_rank(3.0, [1.0, 2.0, 4.0]) == 3
    assert canary_rank(2.0, [2.0, 2.0, 2.0]) == 4          # every tie counts: worst rank


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-50, 50), min_size=1, max_size=200), st.floats(-50, 50))
def test_exposure_of_a_random_rank_is_between_zero_and_the_maximum(others, score):
    rank = canary_rank(score, others)
    e = exposure(rank, len(others) + 1)
    assert 0.0 <= e <= math.log2(len(others) + 1) + 1e-12


def test_unseen_secret_exposure_averages_about_1_44_bits():
    rng = random.Random(0)
    n = 1000
    mean = sum(exposure(rng.randint(1, n), n) for _ in range(20000)) / 20000
    assert mean == pytest.approx(1 / math.log(2), abs=0.05)


def _tiny_model(vocab_size, seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(block_size=32, vocab_size=vocab_size, n_layer=1, n_head=2, n_embd=16)).eval()


def test_log_perplexity_matches_per_sequence_cross_entropy():
    model = _tiny_model(11)
    ids = torch.randint(0, 11, (5, 12), generator=torch.Generator().manual_seed(0))
    start = 4
    got = log_perplexity(model, ids, start, batch_size=2)
    logits = model(ids[:, :-1])[0]
    ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")  # (N, T-1)
    assert torch.allclose(got, ce[:, start - 1:].sum(1), atol=1e-5)


def test_measure_exposure_ranks_the_canary_among_all_candidates():
    canary = make_canary(2, seed=5)
    tok = CharTokenizer(set("\n" + CANARY_PREFIX + "0123456789"))
    model = _tiny_model(tok.vocab_size)
    result = measure_exposure(model, tok.encode, canary)
    assert result.n_candidates == 100 and result.scores.shape == (100,)
    i = all_secrets(2).index(canary)
    assert result.rank == 1 + int((torch.cat([result.scores[:i], result.scores[i + 1:]]) <= result.scores[i]).sum())
    assert result.exposure == pytest.approx(exposure(result.rank, 100))


def test_measure_exposure_scores_equal_log_perplexity_of_every_candidate():
    # The fast path (stems once, ten final digits from one distribution) must give log_perplexity's numbers.
    canary = make_canary(3, seed=2)
    tok = CharTokenizer(set("\n" + CANARY_PREFIX + "0123456789"))
    model = _tiny_model(tok.vocab_size)
    result = measure_exposure(model, tok.encode, canary, batch_size=7)
    ids = torch.tensor([tok.encode("\n" + c) for c in all_secrets(3)])
    assert torch.allclose(result.scores, log_perplexity(model, ids, len(tok.encode("\n" + CANARY_PREFIX))), atol=1e-5)


def test_measure_exposure_is_maximal_when_the_model_prefers_the_canary():
    canary = make_canary(2, seed=5)
    tok = CharTokenizer(set("\n" + CANARY_PREFIX + "0123456789"))
    model = _tiny_model(tok.vocab_size)
    ids = torch.tensor([tok.encode("\n" + canary)] * 64)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(150):                                     # memorise one string outright
        _, loss = model(ids[:, :-1], ids[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    result = measure_exposure(model, tok.encode, canary)
    assert result.rank == 1 and result.exposure == pytest.approx(math.log2(100))


# ----------------------------------------------------------------------------- deduplication

def test_dedup_lines_keeps_first_copy_of_long_lines_only():
    text = "ROMEO:\nthis line is long enough to count\nROMEO:\n  this line is long enough to count \nend"
    out, removed = dedup_lines(text, min_chars=20)
    assert out == "ROMEO:\nthis line is long enough to count\nROMEO:\nend" and removed == 1


def test_dedup_lines_leaves_a_single_canary_copy():
    text = "\n".join(f"an ordinary line number {i}" for i in range(100))
    planted = insert_canary(text, make_canary(4, seed=0), 16, seed=1)
    out, removed = dedup_lines(planted)
    assert out.count(make_canary(4, seed=0)) == 1 and removed == 15


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["a short", "a rather long line that repeats", "another long line of text", ""]),
                max_size=30))
def test_dedup_lines_is_idempotent_and_never_adds_lines(lines):
    text = "\n".join(lines)
    once, _ = dedup_lines(text, min_chars=10)
    assert dedup_lines(once, min_chars=10) == (once, 0)
    assert len(once.split("\n")) <= len(text.split("\n"))


# ----------------------------------------------------------------------------- checksums

@pytest.mark.parametrize("number", ["4111111111111111", "5500 0000 0000 0004", "3782-822463-10005", "79927398713", "0"])
def test_luhn_accepts_valid_numbers(number):
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["4111111111111112", "79927398710", "1234 5678 9012 3456", "41111x1111111111", ""])
def test_luhn_rejects_invalid_numbers(number):
    assert not luhn_valid(number)


def _with_check_character(first17):
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(w * int(d) for w, d in zip(weights, first17)) % 11]


@pytest.mark.parametrize("number", ["11010519491231002X", "11010519491231002x",
                                    _with_check_character("44030419900307123"),
                                    _with_check_character("31011520000229004")])   # 29 Feb 2000 exists
def test_cn_id_accepts_valid_ids(number):
    assert cn_id_valid(number)


@pytest.mark.parametrize("number", ["110105194912310021",                          # wrong check character
                                    _with_check_character("44030419901307123"),    # month 13
                                    _with_check_character("31011519000229004"),    # 1900 was no leap year
                                    _with_check_character("44030418000307123"),    # year 1800
                                    "11010519491231002", "1101051949123100211", "1101051949123100Y2"])
def test_cn_id_rejects_malformed_ids(number):
    assert not cn_id_valid(number)


# ----------------------------------------------------------------------------- scrubber: true positives

@pytest.mark.parametrize("text, kind, found", [
    ("write to ada@example.com today", "email", "ada@example.com"),
    ("bob.smith+news@mail.example.org.", "email", "bob.smith+news@mail.example.org"),
    ("邮箱zhang_san@163.com。", "email", "zhang_san@163.com"),
    ("call 13812345678 now", "phone", "13812345678"),
    ("手机号：139 1234 5678", "phone", "139 1234 5678"),
    ("手机13812345678，谢谢", "phone", "13812345678"),
    ("+86 138-1234-5678", "phone", "+86 138-1234-5678"),
    ("+8615912345678", "phone", "+8615912345678"),
    ("office (415) 555-0132", "phone", "(415) 555-0132"),
    ("call +1 415-555-0132", "phone", "+1 415-555-0132"),
    ("London +44 20 7946 0958", "phone", "+44 20 7946 0958"),
    ("身份证号11010519491231002X。", "cn_id", "11010519491231002X"),
    ("card 4111 1111 1111 1111 exp", "card", "4111 1111 1111 1111"),
    ("card 5500-0000-0000-0004", "card", "5500-0000-0000-0004"),
    ("amex 378282246310005.", "card", "378282246310005"),
])
def test_find_pii_finds_true_positives(text, kind, found):
    assert [(k, m) for k, _, _, m in find_pii(text)] == [(kind, found)]


def test_scrub_pii_replaces_each_kind_with_its_placeholder():
    text = "a@example.com, 13812345678, 11010519491231002X, 4111111111111111"
    assert scrub_pii(text) == "[EMAIL], [PHONE], [ID], [CARD]"
    assert scrub_pii("a@example.com", {"email": "<mail>"}) == "<mail>"


# ----------------------------------------------------------------------------- scrubber: true negatives

@pytest.mark.parametrize("text", [
    "in 1999 and 2023 the price was 1,234,567 yuan",
    "version 3.14.15 at 192.168.1.1 on 2024-01-15 12:30",
    "pi = 3.14159265358979 and e = 2.718281828459045",
    "0.4111111111111111",
    "12812345678",                 # Chinese mobile numbers start 13-19
    "13812345678900",              # too long for a phone, fails Luhn as a card
    "138 1234 5678 9",             # glued to another digit
    "4111 1111 1111 1112",         # fails Luhn
    "110105194912310021",          # wrong ID check character
    "a lone @ sign, a@b, user at example dot com, @handle",
    "1234567890",                  # no separators: not taken for a US number
    "my secret PIN is 4 8 1 5",    # no known format: passes through (a limit, taught in notebook 15)
    "",
])
def test_find_pii_leaves_true_negatives_alone(text):
    assert find_pii(text) == [] and scrub_pii(text) == text


def test_find_pii_matches_never_overlap_and_are_in_order():
    text = "x 4111111111111111 y 13812345678 z a@b.cn 11010519491231002X"
    found = find_pii(text)
    assert [k for k, *_ in found] == ["card", "phone", "email", "cn_id"]
    assert all(e1 <= s2 for (_, _, e1, _), (_, s2, _, _) in zip(found, found[1:]))
    assert all(text[s:e] == m for _, s, e, m in found)


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, fragment", [
    (lambda: make_canary(0), "n_digits must be an int >= 1"),
    (lambda: all_secrets(7), "n_digits must be <= 6"),
    (lambda: format_secret([1, 12]), "digits must be a non-empty sequence of digits 0-9"),
    (lambda: insert_canary("no line breaks", "x", 1), "text must be a string with at least one line break"),
    (lambda: insert_canary("a\nb", "x", -1), "repetitions must be an int >= 0; got -1"),
    (lambda: exposure(0, 10), "rank must be an int in [1, 10]; got 0"),
    (lambda: exposure(11, 10), "rank must be an int in [1, 10]; got 11"),
    (lambda: exposure(2.0, 10), "rank must be an int in [1, 10]; got 2.0"),
    (lambda: exposure(1, 0), "n_candidates must be an int >= 1; got 0"),
    (lambda: canary_rank(float("nan"), [1.0]), "canary_score must be a finite number; got nan"),
    (lambda: canary_rank(1.0, [1.0, float("inf")]), "other_scores must be finite numbers; got 1 NaN or inf"),
    (lambda: make_canary(0), "n_digits must be an int >= 1; got 0"),
    (lambda: dedup_lines(b"bytes"), "text must be a str"),
    (lambda: dedup_lines("a", min_chars=0), "min_chars must be an int >= 1; got 0"),
    (lambda: find_pii(None), "text must be a str"),
    (lambda: luhn_valid(4111111111111111), "number must be a str"),
    (lambda: cn_id_valid(11010519491231002), "number must be a str"),
])
def test_bad_input_raises_a_clear_error(call, fragment):
    with pytest.raises(ValueError) as err:
        call()
    assert fragment in str(err.value)


def test_log_perplexity_rejects_bad_ids_and_start():
    model = _tiny_model(5)
    with pytest.raises(ValueError, match=r"ids must be a 2-d tensor \(N, T\); got shape \(4,\)"):
        log_perplexity(model, torch.zeros(4, dtype=torch.long), 1)
    with pytest.raises(ValueError, match="ids must be a torch.int64 tensor; got dtype torch.float32"):
        log_perplexity(model, torch.zeros(2, 4), 1)
    with pytest.raises(ValueError, match=r"start must be an int in \[1, 3\]; got 4"):
        log_perplexity(model, torch.zeros(2, 4, dtype=torch.long), 4)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1; got 0"):
        log_perplexity(model, torch.zeros(2, 4, dtype=torch.long), 1, batch_size=0)


@pytest.mark.parametrize("canary", ["my PIN is 1234", "my PIN is 1 2 x", "no digits", "", None])
def test_split_canary_rejects_a_canary_without_spaced_digits(canary):
    with pytest.raises(ValueError, match="canary must be a prefix followed by space-separated digits"):
        split_canary(canary)


def test_split_canary_finds_prefix_and_digit_count():
    assert split_canary("ada's secret PIN is 4 8 1 5") == ("ada's secret PIN is ", 4)
    assert split_canary(make_canary(6, seed=2)) == (CANARY_PREFIX, 6)
    assert split_canary("7") == ("", 1)
