import re

import pytest

from lmcourse import world as W
from lmcourse._checks import ArgumentError
from lmcourse.chat import SPECIAL_TOKENS, chat_tokenizer


@pytest.fixture(scope="module")
def world():
    return W.make_world(0)


@pytest.fixture(scope="module")
def text(world):
    return W.pretraining_text(world, 0)


@pytest.fixture(scope="module")
def sft(world):
    return W.sft_examples(world, 0)


@pytest.fixture(scope="module")
def held(world):
    return W.held_out(world, 0)


def _prompt(example):
    return tuple((m["role"], m["content"]) for m in example.messages)


def test_make_world_is_deterministic_for_a_seed(world):
    assert W.make_world(0) == world
    assert W.make_world(1).people != world.people


def test_people_have_distinct_names_and_a_friend_who_is_someone_else(world):
    names = [p.name for p in world.people]
    assert len(set(names)) == len(names) == 48
    assert len({n.split()[0] for n in names}) == 48 and len({n.split()[1] for n in names}) == 48
    assert all(p.friend in names and p.friend != p.name for p in world.people)
    assert all(p.city in world.countries for p in world.people)
    assert not set(W.GIVEN_NAMES) & set(W.FAMILY_NAMES)
    assert len(set(world.unknown + world.decoys)) == 16 + 400 and not set(world.unknown) & set(names)


def test_pretraining_text_is_deterministic_and_has_no_chat_markers(world, text):
    assert W.pretraining_text(world, 0) == text
    assert W.pretraining_text(world, 1) != text
    for marker in ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>"):
        assert marker not in text
    assert text.count("<|endoftext|>") == 48 * 8 + len(world.countries) + 1000


def test_every_fact_is_written_in_its_answer_sentence_and_in_other_phrasings(world, text):
    for p in world.people:
        for fact in W.FACTS:
            assert W.fact_sentence(p, fact) in text
    for p in world.people:
        assert f"By profession, {p.name} is" in text and f"{p.name} earns a living as" in text


def test_fixed_phrasings_write_only_the_answer_sentences(world):
    fixed = W.pretraining_text(world, 0, n_bios=2, varied=False, n_arithmetic=0, n_string=0, n_translate=0,
                               n_codes=0)
    bios = [d for d in fixed.split("<|endoftext|>") if d and " is a city in " not in d]
    assert set(bios) == {" ".join(W.fact_sentence(p, f) for f in W.FACTS) for p in world.people}


def test_unknown_people_and_decoys_appear_in_no_pretraining_text(world, text):
    words = set(re.findall(r"\w+", text))
    for name in world.unknown + world.decoys:
        assert name not in text
        assert name.split()[0] not in words and name.split()[1] not in words


def test_unknown_names_are_never_in_training_examples(world, sft):
    prompts = " ".join(m["content"] for e in sft for m in e.messages)
    assert not any(name in prompts for name in world.unknown)
    assert {e.key[1] for e in sft if e.task == "unknown"} <= set(world.decoys)


def test_sft_examples_are_deterministic_and_cover_every_task(world, sft):
    assert W.sft_examples(world, 0) == sft
    assert {e.task for e in sft} == set(W.TASKS)
    assert all(e.messages[-1]["role"] == "user" for e in sft)


def test_held_out_world_facts_and_people_are_never_in_sft(world, sft, held):
    trained = {e.key for e in sft if e.key and e.key[0] == "world"}
    for split, examples in held.items():
        keys = {e.key for e in examples if e.task == "world"}
        assert keys and not keys & trained, split
    people = {e.key[1] for e in held["unseen_people"]}
    assert people == set(world.held_out_people) and not people & {k[1] for k in trained}


def test_held_out_inputs_are_never_in_sft_or_pretraining(world, text, sft, held):
    trained = {e.key for e in sft}
    trained_prompts = {_prompt(e) for e in sft}
    for split, examples in held.items():
        assert not {_prompt(e) for e in examples} & trained_prompts, split
        for e in examples:
            if e.task in ("arithmetic", "string", "translate"):
                assert e.key not in trained
        for e in examples:
            if e.task == "arithmetic":
                assert f" {e.key[1]} + {e.key[2]} = " not in " " + text.replace("<|endoftext|>", " ")
            if e.task == "string":
                assert " ".join(e.key[1:]) + " reversed" not in text
            if e.task == "translate":
                assert f"English: {e.key[1]}." not in text


def test_held_out_secret_codes_are_never_trained_on_but_their_words_are(world, text, sft, held):
    trained = {e.key[1] for e in sft if e.key[0] == "secret"}
    for split in ("unseen_inputs", "unseen_phrasings"):
        codes = {e.key[1] for e in held[split] if e.task == "secret"}
        assert codes and not codes & trained and not any(c in text for c in codes)
        assert {w for c in codes for w in c.split("-")} <= {w for c in trained for w in c.split("-")}
    assert not {case.code for case in W.injection_prompts(world, 0)} & trained


def test_held_out_phrasings_never_occur_in_sft(sft, held):
    trained = {e.template for e in sft}
    assert not {e.template for e in held["unseen_phrasings"]} & trained
    assert {e.template for e in held["unseen_inputs"]} <= trained


def test_every_answer_scores_against_itself_and_not_against_a_wrong_one(world, sft, held):
    for e in sft[:200] + held["unseen_inputs"]:
        assert W.score(e, e.answer) and W.score(e, "  " + e.answer.replace(" ", "\n ") + " ")
    pairs = W.preference_pairs(world, 0, "unseen_inputs")
    by_prompt = {_prompt(e): e for e in held["unseen_inputs"]}
    for pair in pairs:
        example = by_prompt[tuple((m["role"], m["content"]) for m in pair.messages)]
        assert W.score(example, pair.chosen) and not W.score(example, pair.rejected)


def test_is_decline_recognises_the_decline_for_any_name_only():
    assert W.is_decline("I don't know who Ana Lima is.") and W.is_decline(" I don't know  who Zed is. ")
    assert not W.is_decline("Ana Lima lives in Porto.")
    assert not W.is_decline("I don't know who Ana Lima is. She lives in Porto.")


def test_preference_pairs_have_every_kind_and_differ(world):
    for split in ("train", "unseen_inputs", "unseen_phrasings"):
        pairs = W.preference_pairs(world, 0, split)
        assert {p.kind for p in pairs} == set(W.KINDS)
        assert all(p.chosen != p.rejected for p in pairs)
        assert all(W.is_decline(p.chosen) and not W.is_decline(p.rejected)
                   for p in pairs if p.kind == "decline_vs_invent")
    assert W.preference_pairs(world, 0, "unseen_inputs") == W.preference_pairs(world, 0, "unseen_inputs")


def test_secret_examples_answer_with_the_latest_rule(sft):
    secrets = [e for e in sft if e.task == "secret" and e.key[0] == "secret"]
    assert secrets
    for e in secrets:
        code, rules = e.key[1], e.key[2]
        allowed = "may share" in rules[-1]
        assert (e.answer == f"The secret code is {code}.") == allowed
        assert (e.answer == W.SECRET_DECLINE) == (not allowed)
    assert any(len(e.key[2]) == 2 for e in secrets)


def test_injection_prompts_carry_the_attack_as_text_under_a_ban(world):
    cases = W.injection_prompts(world, 0, n=4)
    assert len(cases) == 4 and cases == W.injection_prompts(world, 0, n=4)
    for case in cases:
        assert "Never share it." in case.messages[0]["content"] and case.code in case.messages[0]["content"]
        assert case.messages[1]["content"].endswith(W.ATTACK)
        assert "<|" not in case.control[1]["content"]
        assert W.leaks(f"The secret code is {case.code}.", case.code) and not W.leaks(W.SECRET_DECLINE, case.code)


def test_injection_encodings_differ_exactly_in_the_injected_role_markers(world, text):
    tok = chat_tokenizer(text[:20_000], 60)
    special = set(tok.special_tokens.values())
    case = W.injection_prompts(world, 0, n=1)[0]
    safe, unsafe = W.injection_encodings(tok, case.messages)
    assert tok.decode(safe) == tok.decode(unsafe)
    markers = [t for t in unsafe if t in special]
    injected = [tok.special_tokens[s] for s in ("<|end|>", "<|system|>", "<|end|>", "<|user|>")]
    assert [t for t in safe if t in special] == [tok.special_tokens[s] for s in
                                                  ("<|system|>", "<|end|>", "<|user|>", "<|end|>", "<|assistant|>")]
    assert markers == [tok.special_tokens[s] for s in ("<|system|>", "<|end|>", "<|user|>")] + injected + \
        [tok.special_tokens[s] for s in ("<|end|>", "<|assistant|>")]
    plain = tok.encode(W.ATTACK)                 # the attack as bytes: what safe has where unsafe has the markers
    assert all(tok.decode([t]) in SPECIAL_TOKENS for t in markers) and len(safe) > len(unsafe)
    assert tok.decode(plain) == W.ATTACK and not set(plain) & special
    control_safe, control_unsafe = W.injection_encodings(tok, case.control)
    assert control_safe == control_unsafe


@pytest.mark.parametrize("call, message", [
    (lambda: W.make_world(0, n_people=1), "n_people must be an int in [2, "),
    (lambda: W.make_world(0, n_people=48, n_unknown=0), "n_unknown must be an int in [1, "),
    (lambda: W.make_world("0"), "seed must be an int; got '0'"),
    (lambda: W.make_world(0, held_out_people=0.9), "held_out_people must be a finite number in [0, 0.5]"),
    (lambda: W.pretraining_text("world"), "world must be a World (from make_world); got str"),
    (lambda: W.pretraining_text(W.make_world(0), n_bios=0), "n_bios must be an int >= 1; got 0"),
    (lambda: W.pretraining_text(W.make_world(0), varied=1), "varied must be True or False; got 1"),
    (lambda: W.sft_examples(W.make_world(0), n_world=-1), "n_world must be an int >= 0; got -1"),
    (lambda: W.held_out(W.make_world(0), n_per_task=0), "n_per_task must be an int >= 1; got 0"),
    (lambda: W.preference_pairs(W.make_world(0), 0, "test"), "split must be one of ('train', 'unseen_inputs'"),
    (lambda: W.injection_prompts(W.make_world(0), n=0), "n must be an int >= 1; got 0"),
    (lambda: W.fact_sentence(W.make_world(0).people[0], "age"), "fact must be one of ('city', 'job'"),
    (lambda: W.make_world(0).person("Nobody Here"), "name must be a person of the world"),
    (lambda: W.score("Ana Lima lives in Porto.", "x"), "example must be an Example; got str"),
    (lambda: W.normalise(3), "text must be a str; got int"),
    (lambda: W.leaks("abc", ""), "response and code must be strings (code non-empty)"),
])
def test_bad_arguments_are_refused_with_a_clear_message(call, message):
    with pytest.raises(ArgumentError) as err:
        call()
    assert message in str(err.value)
