import math
import re
from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from lmcourse._checks import ArgumentError
from lmcourse.ngram import NGramLM

TEXT = "to be or not to be that is the question"


def test_bigram_mle_matches_counted_frequencies():
    lm = NGramLM(order=2, k=0).fit(TEXT)
    pairs = Counter(zip(TEXT, TEXT[1:]))
    after_t = sum(n for (a, _), n in pairs.items() if a == "t")
    assert lm.prob("t", "o") == pytest.approx(pairs[("t", "o")] / after_t)


def test_add_k_formula():
    lm = NGramLM(order=2, k=0.5).fit(TEXT)
    row = Counter(b for a, b in zip(TEXT, TEXT[1:]) if a == "o")
    V = len(set(TEXT))
    assert lm.prob("o", "t") == pytest.approx((row["t"] + 0.5) / (sum(row.values()) + 0.5 * V))


@settings(max_examples=40, deadline=None)
@given(text=st.text(alphabet="abcde ", min_size=3, max_size=60), order=st.integers(1, 3),
       k=st.floats(0, 3), context=st.text(alphabet="abcdez", min_size=2, max_size=4))
def test_add_k_distribution_sums_to_one_over_vocab(text, order, k, context):
    lm = NGramLM(order=order, k=k).fit(text, vocab="abcdez ")
    assert sum(lm.distribution(context).values()) == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(text=st.text(alphabet="abc ", min_size=3, max_size=60),
       weights=st.lists(st.floats(0.01, 1), min_size=3, max_size=3),
       k=st.floats(0, 1), context=st.text(alphabet="abcx", min_size=2, max_size=3))
def test_interpolated_distribution_sums_to_one_and_is_positive(text, weights, k, context):
    lambdas = [w / sum(weights) for w in weights]
    lm = NGramLM(order=3, k=k, lambdas=lambdas).fit(text, vocab="abcx ")
    dist = lm.distribution(context)
    assert sum(dist.values()) == pytest.approx(1.0)
    assert all(p > 0 for tok, p in dist.items() if tok in text)


def test_interpolation_is_the_weighted_mix_of_orders():
    lambdas = (0.2, 0.3, 0.5)
    mixed = NGramLM(order=3, k=0, lambdas=lambdas).fit(TEXT)
    parts = [NGramLM(order=m, k=0).fit(TEXT) for m in (1, 2, 3)]
    for ctx, tok in (("to", " "), ("be", "x"), ("qq", "t")):
        expected = sum(w * lm.prob(ctx, tok) for w, lm in zip(lambdas, parts) if tok in lm.vocab)
        assert mixed.prob(ctx, tok) == pytest.approx(expected)


def test_interpolation_gives_finite_perplexity_where_mle_is_infinite():
    train, held_out = "abcabcabcabd", "abcb"  # "b" never followed "bc"
    assert NGramLM(order=3, k=0).fit(train).perplexity(held_out) == math.inf
    assert math.isfinite(NGramLM(order=3, k=0, lambdas=(0.1, 0.3, 0.6)).fit(train).perplexity(held_out))


def test_perplexity_equals_exp_of_cross_entropy():
    torch.manual_seed(0)
    text = "".join(chr(97 + int(i)) for i in torch.randint(5, (400,)))
    lm = NGramLM(order=2, k=0.3).fit(text[:300], vocab="abcde")
    vocab = lm.vocab
    table = torch.tensor([[lm.prob(a, b) for b in vocab] for a in vocab], dtype=torch.float64)
    ids = torch.tensor([vocab.index(c) for c in text[300:]])
    ce = F.cross_entropy(table.log()[ids[:-1]], ids[1:])
    assert lm.perplexity(text[300:]) == pytest.approx(math.exp(ce.item()), rel=1e-9)


def test_generate_keeps_working_with_seed_and_string_start():
    lm = NGramLM(order=3, k=0).fit(TEXT)
    a, b = lm.generate("to", 20, seed=3), lm.generate("to", 20, seed=3)
    assert a == b and a.startswith("to") and len(a) == 22


def test_generate_works_on_word_lists():
    words = TEXT.split()
    out = NGramLM(order=2, k=0).fit(words).generate(["to"], 5, seed=0)
    assert isinstance(out, list) and len(out) == 6 and set(out) <= set(words)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"order": 0}, "order must be an int >= 1; got 0"),
    ({"order": 2.5}, "order must be an int >= 1; got 2.5"),
    ({"k": -1}, "k must be a finite number >= 0; got -1"),
    ({"k": float("nan")}, "k must be a finite number >= 0; got nan"),
    ({"k": float("inf")}, "k must be a finite number >= 0; got inf"),
    ({"k": True}, "k must be a finite number >= 0; got True"),
    ({"order": 2, "lambdas": (1.0,)}, "lambdas must hold one weight per order (order=2); got 1"),
    ({"order": 2, "lambdas": (0.7, 0.7)}, "lambdas must sum to 1; got (0.7, 0.7) (sum 1.4)"),
    ({"order": 2, "lambdas": (1.5, -0.5)}, "lambdas[1] must be a finite number >= 0; got -0.5"),
    ({"order": 2, "lambdas": (float("nan"), 1.0)}, "lambdas[0] must be a finite number >= 0; got nan"),
])
def test_bad_constructor_arguments_raise(kwargs, fragment):
    with pytest.raises(ArgumentError) as err:
        NGramLM(**kwargs)
    assert fragment in str(err.value)


def test_bad_use_raises_clear_errors():
    with pytest.raises(RuntimeError, match="not been fitted"):
        NGramLM(order=2).prob("a", "b")
    with pytest.raises(ValueError, match="at least order=3"):
        NGramLM(order=3).fit("ab")
    with pytest.raises(ValueError, match="vocab must contain every token"):
        NGramLM(order=2).fit("abc", vocab="ab")
    lm = NGramLM(order=3).fit(TEXT)
    with pytest.raises(ValueError, match="context must hold at least order-1=2"):
        lm.prob("t", "o")
    with pytest.raises(ValueError, match="more than order-1=2"):
        lm.perplexity("to")
    with pytest.raises(ValueError, match="length must be an int >= 0; got -1"):
        lm.generate("to", -1)


def test_size_counts_distinct_ngrams_of_the_orders_used():
    assert NGramLM(order=2, k=0).fit("abab").size == 2            # (a, b), (b, a)
    assert NGramLM(order=2, k=0, lambdas=(0.5, 0.5)).fit("abab").size == 4  # + unigrams a, b
    assert NGramLM(order=2).size == 0


def test_with_settings_equals_a_fresh_fit_at_lower_order_and_other_smoothing():
    full = NGramLM(order=4, k=0).fit(TEXT, vocab=set(TEXT) | {"x"})
    for order, k, lambdas in ((2, 0.5, None), (3, 0.0, (0.2, 0.3, 0.5)), (4, 0.01, None), (1, 1.0, None)):
        reused = full.with_settings(order=order, k=k, lambdas=lambdas)
        fresh = NGramLM(order=order, k=k, lambdas=lambdas).fit(TEXT, vocab=set(TEXT) | {"x"})
        assert reused.size == fresh.size and reused.counts == fresh.counts
        for ctx, tok in (("to b", "e"), ("qqqq", "t"), ("t no", "x")):
            assert reused.prob(ctx, tok) == fresh.prob(ctx, tok)
        assert reused.perplexity(TEXT) == pytest.approx(fresh.perplexity(TEXT))
    assert full.with_settings().k == 0 and full.with_settings().order == 4


def test_with_settings_rejects_orders_it_has_no_counts_for():
    with pytest.raises(RuntimeError, match="not been fitted"):
        NGramLM(order=2).with_settings(k=0.1)
    lm = NGramLM(order=2, k=0).fit(TEXT)
    for bad in (3, 0, 1.5, True):
        with pytest.raises(ValueError, match=re.escape(f"order must be an int in [1, 2]; got {bad!r}")):
            lm.with_settings(order=bad)
    with pytest.raises(ValueError, match="k must be a finite number >= 0; got nan"):
        lm.with_settings(k=float("nan"))
    with pytest.raises(ValueError, match="lambdas must hold one weight per order"):
        lm.with_settings(lambdas=(1.0,))
