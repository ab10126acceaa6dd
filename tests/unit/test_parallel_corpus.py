import pytest

from lmcourse import parallel_corpus as pc
from lmcourse.parallel_corpus import chinese_number, held_out_combinations, make_corpus
from lmcourse.translation import chinese_tokens, english_tokens


@pytest.fixture(scope="module")
def corpus():
    return make_corpus(3000, 300, seed=0)


@pytest.mark.parametrize("n, zh", [(1, "一"), (2, "两"), (10, "十"), (15, "十五"), (20, "二十"), (22, "二十二"),
                                   (101, "一百零一"), (110, "一百一十"), (200, "两百"), (1005, "一千零五"),
                                   (1050, "一千零五十"), (2024, "两千零二十四"), (2222, "两千两百二十二"),
                                   (9999, "九千九百九十九"), (0, "零")])
def test_chinese_number_writes_numerals_with_zero_gaps_and_liang(n, zh):
    assert chinese_number(n) == zh


def test_chinese_number_uses_er_for_a_lone_two_when_not_counting():
    assert chinese_number(2, counting=False) == "二"


@pytest.mark.parametrize("bad", [-1, 10_000, 2.0, True, "7"])
def test_chinese_number_rejects_values_outside_0_to_9999(bad):
    with pytest.raises(ValueError, match=r"n must be an int in \[0, 9999\]; got"):
        chinese_number(bad)


def test_make_corpus_is_deterministic_for_a_seed(corpus):
    assert make_corpus(3000, 300, seed=0) == corpus
    assert make_corpus(3000, 300, seed=1)[0][1:50] != corpus[0][1:50]


def test_make_corpus_gives_the_requested_number_of_distinct_pairs(corpus):
    train, test = corpus
    assert len(train) == 3000 and len(test) == 300
    assert len({p.en for p in train}) == 3000 and len({p.en for p in test}) == 300


def test_training_pairs_include_i_love_programming(corpus):
    assert ("I love programming", "我爱编程") in {(p.en, p.zh) for p in corpus[0]}


def test_no_test_sentence_or_combination_appears_in_training(corpus):
    train, test = corpus
    assert not {p.en for p in train} & {p.en for p in test}
    assert not {p.combo for p in train} & {p.combo for p in test}
    assert {p.combo for p in test} <= held_out_combinations(0.1, 0)


def test_every_test_token_is_known_from_training():
    train, test = make_corpus(20_000, 500, seed=0)                     # the notebook's cpu-profile sizes
    en = {t for p in train for t in english_tokens(p.en)}
    zh = {t for p in train for t in chinese_tokens(p.zh)}
    assert all(set(english_tokens(p.en)) <= en and set(chinese_tokens(p.zh)) <= zh for p in test)


def test_held_out_combinations_keep_each_word_in_training():
    held = held_out_combinations(0.2, seed=3)
    train = [c for c in pc.combinations() if c not in held]
    assert len(held) == round(0.2 * len(pc.combinations()))
    for combo in held:
        assert all(any(c[k] == combo[k] for c in train) for k in range(3))


def test_place_and_time_move_before_the_verb_in_chinese():
    pairs = make_corpus(5000, 10, seed=0)[0]
    found = [p for p in pairs if p.en.endswith("in the library yesterday") and " not " not in p.en]
    assert found
    for pair in found:
        assert "昨天在图书馆" in pair.zh and pair.zh.index("昨天") < pair.zh.index(pair.zh[-1])


def test_counted_nouns_get_numerals_and_measure_words():
    pairs = make_corpus(5000, 10, seed=0)[0]
    found = [p for p in pairs if p.combo[2] == "book" and any(w.isdigit() for w in p.en.split())]
    assert found
    for pair in found:
        n = next(int(w) for w in pair.en.split() if w.isdigit())
        assert chinese_number(n) + "本" in pair.zh


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(n_train=0), "n_train must be an int >= 1; got 0"),
    (dict(n_test=-3), "n_test must be an int >= 1; got -3"),
    (dict(n_train=True), "n_train must be an int >= 1; got True"),
    (dict(test_fraction=0.0), "test_fraction must be a finite number in (0, 1)"),
    (dict(test_fraction=1.5), "test_fraction must be a finite number in (0, 1)"),
    (dict(test_fraction=float("nan")), "test_fraction must be a finite number in (0, 1); got nan"),
])
def test_make_corpus_rejects_bad_sizes(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        make_corpus(**{"n_train": 10, "n_test": 10, **kwargs})


def test_make_corpus_says_when_the_grammar_runs_out(monkeypatch):
    monkeypatch.setattr(pc, "_MAX_MISSES", 50)
    monkeypatch.setattr(pc, "_draw", lambda rng, combo: pc.Pair("same", "同", combo))
    with pytest.raises(ValueError, match="could not produce 10 distinct training"):
        make_corpus(10, 10)


def test_exclude_numbers_keeps_a_range_out_of_both_splits():
    held = range(9000, 10_000)
    train, test = make_corpus(3000, 300, seed=0, exclude_numbers=held)
    assert len(train) == 3000 and len(test) == 300
    assert not any(k in held for p in train + test for k in pc.numbers_in(p.en))
    assert any(k in held for p in make_corpus(3000, 300, seed=0)[0] for k in pc.numbers_in(p.en))


def test_number_pairs_count_with_held_out_numbers_in_training_combinations_only():
    held = range(9000, 10_000)
    pairs = pc.number_pairs(held, 100, seed=0)
    assert len({p.en for p in pairs}) == 100 and pairs == pc.number_pairs(held, 100, seed=0)
    assert all(len(pc.numbers_in(p.en)) == 1 and pc.numbers_in(p.en)[0] in held for p in pairs)
    assert all(chinese_number(pc.numbers_in(p.en)[0]) in p.zh for p in pairs)
    assert not {p.combo for p in pairs} & held_out_combinations(0.1, 0)


@pytest.mark.parametrize("call, error, fragment", [
    (lambda: make_corpus(10, 10, exclude_numbers=[9000]), TypeError, "exclude_numbers must be a range"),
    (lambda: pc.number_pairs(range(0), 5), ValueError, "numbers must be a non-empty range"),
    (lambda: pc.number_pairs(range(9000, 20_000), 5), ValueError, "numbers must be a non-empty range"),
    (lambda: pc.number_pairs(range(9000, 9001), 0), ValueError, "n must be an int >= 1; got 0"),
    (lambda: pc.word_by_word(["I"]), TypeError, "en must be a str"),
])
def test_systematic_split_and_gloss_refuse_bad_input(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


@pytest.mark.parametrize("en, zh", [
    ("I love programming", "我爱编程"),                                        # word order already agrees
    ("I read books in the library yesterday", "我看书在图书馆昨天"),           # kept in English order
    ("We bought 3 cups of hot tea last week", "我们买三杯热茶上个星期"),
    ("She does not play the piano", "她不玩钢琴"),                             # a dictionary's play is 玩, not 弹
    ("There are 2024 cats in the park", "有两千零二十四猫在公园"),             # no measure word 只
])
def test_word_by_word_glosses_each_word_in_english_order(en, zh):
    assert pc.word_by_word(en) == zh
