"""A generated English → 中文 parallel corpus: a small grammar the course writes itself.

Notebook 08 trains a translator on it. Nothing is downloaded: :func:`make_corpus` draws
sentences from a seeded random generator, so the same seed always gives the same pairs.
The grammar is small enough to learn on a laptop but has the differences between the two
languages that make translation more than word-for-word lookup:

* **word order** — English puts place and time after the verb, Chinese before it:
  "I read books in the library yesterday" → "我昨天在图书馆看书";
* **numbers** — digits become Chinese numerals: 2024 → "两千零二十四", with 零 for gaps and
  两 for a leading 2 (two books → 两本书);
* **measure words** — a counted noun needs its classifier: 三**本**书, 五**只**猫, 两**杯**茶;
* **verbs that depend on the object** — play football → 踢足球, play the piano → 弹钢琴;
* **tense and negation without verb endings** — "did not buy" → 没买, "will read" → 会看,
  "bought 3 apples" → 买了三个苹果; English needs agreement (she reads, they read).

The test split holds out whole (subject, verb, object) combinations: every word of a test
sentence occurs in training, but never in that combination, so a good score means the model
composes what it learned rather than recalling sentences.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ._checks import integer, number

# ----------------------------------------------------------------------------- the lexicon
# Subjects: English, Chinese, and whether the English verb takes the third-person -s.
SUBJECTS = [
    ("I", "我", False), ("you", "你", False), ("he", "他", True), ("she", "她", True),
    ("we", "我们", False), ("they", "他们", False), ("my friend", "我的朋友", True),
    ("the teacher", "老师", True), ("my mother", "我妈妈", True), ("the students", "学生们", False),
    ("Tom", "汤姆", True), ("Lily", "莉莉", True),
]

# Nouns: key -> (English singular, English plural, Chinese, measure word or "" if uncountable, kind).
NOUNS = {
    "book": ("book", "books", "书", "本", "thing"),
    "newspaper": ("newspaper", "newspapers", "报纸", "份", "thing"),
    "letter": ("letter", "letters", "信", "封", "thing"),
    "apple": ("apple", "apples", "苹果", "个", "food"),
    "banana": ("banana", "bananas", "香蕉", "根", "food"),
    "cake": ("cake", "cakes", "蛋糕", "块", "food"),
    "noodles": ("noodles", "noodles", "面条", "", "food"),
    "rice": ("rice", "rice", "米饭", "", "food"),
    "tea": ("tea", "tea", "茶", "", "drink"),
    "coffee": ("coffee", "coffee", "咖啡", "", "drink"),
    "milk": ("milk", "milk", "牛奶", "", "drink"),
    "water": ("water", "water", "水", "", "drink"),
    "cup_tea": ("cup of tea", "cups of tea", "茶", "杯", "drink"),
    "cup_coffee": ("cup of coffee", "cups of coffee", "咖啡", "杯", "drink"),
    "cat": ("cat", "cats", "猫", "只", "animal"),
    "dog": ("dog", "dogs", "狗", "只", "animal"),
    "bird": ("bird", "birds", "鸟", "只", "animal"),
    "flower": ("flower", "flowers", "花", "朵", "plant"),
    "pen": ("pen", "pens", "笔", "支", "thing"),
    "car": ("car", "cars", "车", "辆", "thing"),
    "music": ("music", "music", "音乐", "", "subject"),
    "programming": ("programming", "programming", "编程", "", "subject"),
    "chinese": ("Chinese", "Chinese", "中文", "", "subject"),
    "english": ("English", "English", "英语", "", "subject"),
    "math": ("math", "math", "数学", "", "subject"),
    "history": ("history", "history", "历史", "", "subject"),
    "football": ("football", "football", "足球", "", "sport"),
    "basketball": ("basketball", "basketball", "篮球", "", "sport"),
    "piano": ("the piano", "the piano", "钢琴", "", "instrument"),
    "guitar": ("the guitar", "the guitar", "吉他", "", "instrument"),
}

# Verbs: key -> (base, third person, past, Chinese by object (None = any), objects it takes).
_THINGS = ["book", "newspaper", "letter", "pen", "car", "flower"]
_FOOD = ["apple", "banana", "cake", "noodles", "rice"]
_DRINKS = ["tea", "coffee", "milk", "water", "cup_tea", "cup_coffee"]
_ANIMALS = ["cat", "dog", "bird"]
_SUBJECTS_STUDIED = ["music", "programming", "chinese", "english", "math", "history"]
VERBS = {
    "read": ("read", "reads", "read", {None: "看"}, ["book", "newspaper", "letter"]),
    "buy": ("buy", "buys", "bought", {None: "买"}, _THINGS + _FOOD + _DRINKS),
    "eat": ("eat", "eats", "ate", {None: "吃"}, _FOOD),
    "drink": ("drink", "drinks", "drank", {None: "喝"}, _DRINKS),
    "like": ("like", "likes", "liked", {None: "喜欢"}, _THINGS + _FOOD + _DRINKS[:4] + _ANIMALS + _SUBJECTS_STUDIED),
    "love": ("love", "loves", "loved", {None: "爱"}, _ANIMALS + _SUBJECTS_STUDIED + ["flower", "tea", "coffee"]),
    "write": ("write", "writes", "wrote", {None: "写"}, ["letter", "book"]),
    "see": ("see", "sees", "saw", {None: "看见"}, _ANIMALS + ["car", "flower"]),
    "study": ("study", "studies", "studied", {None: "学习"}, _SUBJECTS_STUDIED),
    "want": ("want", "wants", "wanted", {None: "想要"}, _THINGS + _FOOD + _DRINKS + _ANIMALS),
    "play": ("play", "plays", "played", {"football": "踢", "basketball": "打", "piano": "弹", "guitar": "弹"},
             ["football", "basketball", "piano", "guitar"]),
}

# Adjectives: English, Chinese, the noun kinds they fit. Two-character adjectives take 的.
ADJECTIVES = [
    ("big", "大", {"thing", "food", "animal", "plant"}), ("small", "小", {"thing", "food", "animal", "plant"}),
    ("red", "红", {"thing", "food", "plant"}), ("new", "新", {"thing"}), ("old", "旧", {"thing"}),
    ("good", "好", {"thing", "food", "animal"}), ("hot", "热", {"drink"}), ("cold", "冰", {"drink"}),
    ("white", "白", {"thing", "animal", "plant"}), ("black", "黑", {"thing", "animal"}),
    ("interesting", "有趣的", {"thing"}), ("delicious", "好吃的", {"food"}),
    ("beautiful", "漂亮的", {"plant", "animal"}),
    ("cheap", "便宜的", {"thing", "food"}), ("expensive", "贵的", {"thing", "food", "drink"}),
]

# Places: English phrase, Chinese place, and the Chinese for "in/at it" (used with 有: 学校里有…).
PLACES = [
    ("in the library", "图书馆", "图书馆里"), ("at home", "家", "家里"), ("at school", "学校", "学校里"),
    ("in the park", "公园", "公园里"), ("in the shop", "商店", "商店里"), ("in the kitchen", "厨房", "厨房里"),
    ("at the restaurant", "饭店", "饭店里"), ("in Beijing", "北京", "北京"), ("in Shanghai", "上海", "上海"),
    ("in the office", "办公室", "办公室里"), ("in the classroom", "教室", "教室里"),
]

# Times: English, Chinese, tense.
TIMES = [
    ("yesterday", "昨天", "past"), ("last week", "上个星期", "past"), ("last year", "去年", "past"),
    ("this morning", "今天早上", "past"), ("every day", "每天", "present"), ("every morning", "每天早上", "present"),
    ("in the evening", "晚上", "present"), ("on weekends", "周末", "present"), ("tomorrow", "明天", "future"),
    ("next week", "下个星期", "future"), ("next year", "明年", "future"), ("tomorrow morning", "明天早上", "future"),
]

_MAX_MISSES = 10_000   # draws in a row that find no new sentence before make_corpus gives up
_STATIVE = {"like", "love", "want"}   # verbs of liking take no place phrase ("I like cats in the park" is odd)

_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int, *, counting: bool = True) -> str:
    """Write ``n`` (0 ≤ n ≤ 9999) in Chinese numerals: 2024 → 两千零二十四, 15 → 十五, 1005 → 一千零五.

    A gap of zeros inside the number is read as one 零; trailing zeros are silent. A leading
    2 before 千 or 百 is 两. With ``counting=True`` (a number before a measure word) a lone
    2 is also 两 (两本书); otherwise it is 二.
    """
    n = integer("n", n, min=0, max=9999)
    if n == 0:
        return "零"
    if n == 2:
        return "两" if counting else "二"
    digits = [int(d) for d in f"{n:04d}"]          # thousands, hundreds, tens, ones
    units = ["千", "百", "十", ""]
    out, pending_zero, started = [], False, False
    for place, (d, unit) in enumerate(zip(digits, units)):
        if d == 0:
            pending_zero = started
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        if d == 2 and place < 2:
            out.append("两")
        elif d == 1 and unit == "十" and not started:
            pass                                     # 10–19 are 十, 十一, …, not 一十
        else:
            out.append(_DIGITS[d])
        out.append(unit)
        started = True
    return "".join(out)


@dataclass(frozen=True)
class Pair:
    """One sentence pair, and the (subject, verb, object) combination it was built from."""

    en: str
    zh: str
    combo: tuple[str, str, str]


def _english_verb(verb: tuple, third: bool, tense: str, negated: bool) -> str:
    base, s_form, past = verb[:3]
    if tense == "past":
        return f"did not {base}" if negated else past
    if tense == "future":
        return f"will not {base}" if negated else f"will {base}"
    if negated:
        return f"{'does' if third else 'do'} not {base}"
    return s_form if third else base


def _chinese_verb(verb: tuple, obj_key: str, tense: str, negated: bool, counted: bool) -> tuple[str, str]:
    """(what goes before the place phrase, the verb): 没/不/会/不会 come before 在…, 了 after the verb."""
    zh = verb[3].get(obj_key, verb[3].get(None))
    if tense == "past":
        return ("没", zh) if negated else ("", zh + ("了" if counted else ""))
    if tense == "future":
        return ("不会" if negated else "会"), zh
    return ("不" if negated else ""), zh


def _sample_count(rng: random.Random, numbers: Sequence[int] | None = None) -> int:
    if numbers is not None:
        return rng.choice(numbers)
    r = rng.random()
    if r < 0.45:
        return rng.randint(1, 10)
    if r < 0.75:
        return rng.randint(11, 99)
    return rng.randint(100, 9999)


def _noun_phrase(rng: random.Random, obj_key: str, count: int | None) -> tuple[str, str]:
    en_sg, en_pl, zh, measure, kind = NOUNS[obj_key]
    fitting = [a for a in ADJECTIVES if kind in a[2]]
    adj = rng.choice(fitting) if fitting and rng.random() < 0.35 else None
    countable = bool(measure)
    if count is not None and countable:
        en_noun = en_sg if count == 1 else en_pl
        if adj:
            if en_noun.startswith("cup"):        # "3 cups of hot tea"
                cup, _, rest = en_noun.partition(" of ")
                en = f"{count} {cup} of {adj[0]} {rest}"
            else:
                en = f"{count} {adj[0]} {en_noun}"
        else:
            en = f"{count} {en_noun}"
        return en, chinese_number(count) + measure + (adj[1] if adj else "") + zh
    en_noun = en_pl if countable else en_sg
    if adj and not en_noun.startswith(("the ", "cup")) and kind not in ("subject", "sport"):
        return f"{adj[0]} {en_noun}", adj[1] + zh
    return en_noun, zh


def _action_sentence(rng: random.Random, subj, verb_key: str, obj_key: str,
                     numbers: Sequence[int] | None = None) -> Pair:
    en_subj, zh_subj, third = subj
    verb = VERBS[verb_key]
    time = rng.choice(TIMES) if rng.random() < 0.6 else None
    place = rng.choice(PLACES) if verb_key not in _STATIVE and rng.random() < 0.5 else None
    tense = time[2] if time else "present"
    negated = rng.random() < 0.15
    countable = bool(NOUNS[obj_key][3])
    counted_verb = verb_key in ("buy", "eat", "drink", "want", "read", "write", "see")
    must_count = obj_key.startswith("cup_")          # "cups of tea" only with a number
    if numbers is not None:                          # number_pairs: every sentence counts its object
        must_count = True
    count = (_sample_count(rng, numbers) if countable and counted_verb and (must_count or rng.random() < 0.4)
             else None)
    en_obj, zh_obj = _noun_phrase(rng, obj_key, count)
    en = " ".join([en_subj, _english_verb(verb, third, tense, negated), en_obj]
                  + ([place[0]] if place else []) + ([time[0]] if time else []))
    aux, zh_verb = _chinese_verb(verb, obj_key, tense, negated, count is not None and not negated)
    zh = zh_subj + (time[1] if time else "") + aux + ("在" + place[1] if place else "") + zh_verb + zh_obj
    return Pair(en[0].upper() + en[1:], zh, (en_subj, verb_key, obj_key))


def _there_are_sentence(rng: random.Random, obj_key: str, place, numbers: Sequence[int] | None = None) -> Pair:
    count = _sample_count(rng, numbers)
    en_obj, zh_obj = _noun_phrase(rng, obj_key, count)
    verb = "is" if count == 1 else "are"
    return Pair(f"There {verb} {en_obj} {place[0]}", f"{place[2]}有{zh_obj}", ("there", "is", obj_key))


def combinations() -> list[tuple[str, str, str]]:
    """Every (subject, verb, object) combination the grammar can produce, in a fixed order."""
    combos = [(s[0], v, o) for s in SUBJECTS for v, spec in VERBS.items() for o in spec[4]]
    return combos + [("there", "is", o) for o, spec in NOUNS.items() if spec[3] and spec[4] != "drink"]


def held_out_combinations(test_fraction: float = 0.1, seed: int = 0) -> set[tuple[str, str, str]]:
    """The combinations reserved for the test split: a seeded ``test_fraction`` of :func:`combinations`.

    A combination is held out only if each of its words still appears in some training
    combination, so the test set has no unknown words, only unseen combinations.
    """
    test_fraction = number("test_fraction", test_fraction, min=0, max=1, min_open=True, max_open=True)
    combos = combinations()
    order = list(range(len(combos)))
    random.Random(seed).shuffle(order)
    held: set = set()
    left = [Counter(c[k] for c in combos) for k in range(3)]   # training combinations left, per word
    target = round(test_fraction * len(combos))
    for i in order:
        if len(held) >= target:
            break
        if all(left[k][combos[i][k]] > 1 for k in range(3)):   # each word keeps a training combination
            held.add(combos[i])
            for k in range(3):
                left[k][combos[i][k]] -= 1
    return held


def _draw(rng: random.Random, combo: tuple[str, str, str], numbers: Sequence[int] | None = None) -> Pair:
    if combo[0] == "there":
        return _there_are_sentence(rng, combo[2], rng.choice([p for p in PLACES if p[2].endswith("里")]), numbers)
    subj = next(s for s in SUBJECTS if s[0] == combo[0])
    return _action_sentence(rng, subj, combo[1], combo[2], numbers)


def numbers_in(en: str) -> list[int]:
    """The numbers written in digits in an English sentence: ``numbers_in("We see 9961 dogs")`` → ``[9961]``."""
    return [int(w) for w in en.split() if w.isdigit()]


def make_corpus(n_train: int = 20_000, n_test: int = 500, *, seed: int = 0,
                test_fraction: float = 0.1, exclude_numbers: range | None = None) -> tuple[list[Pair], list[Pair]]:
    """Return ``(train, test)`` lists of distinct :class:`Pair`, deterministic for a given ``seed``.

    Train pairs use only the combinations outside :func:`held_out_combinations`, test pairs
    only the held-out ones, and no English sentence appears in both. ``I love programming``
    (→ 我爱编程) is always the first training pair. With ``exclude_numbers`` (a range, e.g.
    ``range(9000, 10000)``) no pair of either split contains a number in it: those numbers are
    kept for :func:`number_pairs`, a test of numerals the model has never seen.
    """
    n_train, n_test = integer("n_train", n_train, min=1), integer("n_test", n_test, min=1)
    if exclude_numbers is not None and not isinstance(exclude_numbers, range):
        raise TypeError(f"exclude_numbers must be a range or None; got {type(exclude_numbers).__name__}")
    held = held_out_combinations(test_fraction, seed)
    if ("I", "love", "programming") in held:
        held = held - {("I", "love", "programming")}
    train_combos = [c for c in combinations() if c not in held]
    test_combos = sorted(held)
    rng = random.Random(seed)
    train = {"I love programming": Pair("I love programming", "我爱编程", ("I", "love", "programming"))}
    test: dict[str, Pair] = {}
    for wanted, pool, out, avoid in ((n_train, train_combos, train, {}), (n_test, test_combos, test, train)):
        misses = 0
        while len(out) < wanted and misses < _MAX_MISSES:
            pair = _draw(rng, rng.choice(pool))
            if exclude_numbers is not None and any(k in exclude_numbers for k in numbers_in(pair.en)):
                continue                                  # redraw: these numbers are kept out of both splits
            if pair.en in out or pair.en in avoid:
                misses += 1
            else:
                out[pair.en], misses = pair, 0
    if len(train) < n_train or len(test) < n_test:
        raise ValueError(f"the grammar could not produce {n_train} distinct training and {n_test} test pairs; "
                         f"got {len(train)} and {len(test)}: ask for fewer")
    return list(train.values()), list(test.values())


def number_pairs(numbers: range, n: int, *, seed: int = 0, test_fraction: float = 0.1) -> list[Pair]:
    """``n`` distinct pairs that each count their object with a number from ``numbers``.

    They use only *training* combinations (those outside ``held_out_combinations(test_fraction,
    seed)``, the same split :func:`make_corpus` makes), so when ``make_corpus`` was called with
    ``exclude_numbers=numbers`` the only thing new in them is the numeral: a systematic test of
    whether the model writes a number it has never seen from digits it has (notebook 08 §8).
    Deterministic for a given ``seed``.
    """
    if not isinstance(numbers, range) or len(numbers) == 0 or numbers.start < 1 or numbers.stop > 10_000:
        raise ValueError(f"numbers must be a non-empty range within [1, 9999]; got {numbers!r}")
    n = integer("n", n, min=1)
    held = held_out_combinations(test_fraction, seed)
    counted = {"buy", "eat", "drink", "want", "read", "write", "see", "is"}
    pool = [c for c in combinations() if c not in held and c[1] in counted and NOUNS[c[2]][3]]
    rng, out, misses = random.Random(seed + 7919), {}, 0
    while len(out) < n and misses < _MAX_MISSES:
        pair = _draw(rng, rng.choice(pool), numbers)
        if pair.en in out:
            misses += 1
        else:
            out[pair.en], misses = pair, 0
    if len(out) < n:
        raise ValueError(f"the grammar could not produce {n} distinct pairs with these numbers; got {len(out)}")
    return list(out.values())


def _gloss_dictionary() -> dict[tuple[str, ...], str]:
    words: dict[tuple[str, ...], str] = {}

    def add(en: str, zh: str) -> None:
        words.setdefault(tuple(en.lower().split()), zh)

    for en, zh, _ in SUBJECTS:
        add(en, zh)
    for en, zh, _ in TIMES:
        add(en, zh)
    for en, zh, _ in PLACES:
        add(en.split()[-1], zh)                       # "in the library": library → 图书馆
    for base, third, past, zh, _ in VERBS.values():
        for form in (base, third, past):
            add(form, zh.get(None, "玩"))             # a dictionary's "play" is 玩: it cannot know the object
    for en_sg, en_pl, zh, _, _ in NOUNS.values():
        for form in (en_sg, en_pl):
            if form.startswith("cup"):
                continue                              # "cups of tea": cup → 杯, of → nothing, tea → 茶
            add(form.split()[-1], zh)
    add("cup", "杯"), add("cups", "杯")
    for en, zh, _ in ADJECTIVES:
        add(en, zh)
    for en, zh in (("not", "不"), ("will", "会"), ("in", "在"), ("at", "在"), ("is", "有"), ("are", "有"),
                   ("did", ""), ("does", ""), ("do", ""), ("the", ""), ("there", ""), ("of", "")):
        add(en, zh)
    return words


def word_by_word(en: str) -> str:
    """A dictionary "translation": each English word or phrase replaced by its Chinese, in English order.

    The baseline a translator must beat: it knows every word of the grammar (numbers become
    numerals, ``chinese_number``) but no word order, no measure words and no verb chosen by
    its object. Longest phrases match first (*last week* → 上个星期); unknown words are dropped.
    """
    if not isinstance(en, str):
        raise TypeError(f"en must be a str; got {type(en).__name__}")
    words, out, i = en.lower().split(), [], 0
    dictionary = _GLOSS
    while i < len(words):
        for n in (3, 2, 1):
            phrase = tuple(words[i:i + n])
            if len(phrase) == n and phrase in dictionary:
                out.append(dictionary[phrase])
                i += n
                break
        else:
            out.append(chinese_number(int(words[i])) if words[i].isdigit() and int(words[i]) <= 9999 else "")
            i += 1
    return "".join(out)


_GLOSS = _gloss_dictionary()
