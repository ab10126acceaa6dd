import math

from lmcourse.exercises import nb02_language_models as ex


def _perplexity(probs):
    return math.exp(-sum(math.log(p) for p in probs) / len(probs))


def _add_k(counts, vocab, k):
    total = sum(counts.values())
    return {t: (counts.get(t, 0) + k) / (total + k * len(vocab)) for t in vocab}


def test_perplexity_checker_accepts_reference_and_numpy_style_answers():
    assert ex.check_perplexity(_perplexity).passed
    assert ex.check_perplexity(lambda ps: 2 ** (-sum(math.log2(p) for p in ps) / len(ps))).passed


def test_perplexity_checker_names_typical_mistakes(capsys):
    cross_entropy = ex.check_perplexity(lambda ps: -sum(math.log(p) for p in ps) / len(ps))
    assert not cross_entropy.passed and "cross-entropy" in cross_entropy.mistake
    no_sign = ex.check_perplexity(lambda ps: math.exp(sum(math.log(p) for p in ps) / len(ps)))
    assert not no_sign.passed and "sign is missing" in no_sign.mistake
    summed = ex.check_perplexity(lambda ps: math.exp(-sum(math.log(p) for p in ps)))
    assert not summed.passed and "summed" in summed.mistake
    arithmetic = ex.check_perplexity(lambda ps: len(ps) / sum(ps))
    assert not arithmetic.passed and "*geometric* mean" in arithmetic.mistake
    assert "✘" in capsys.readouterr().out


def test_perplexity_checker_reports_unfinished_and_non_functions():
    def todo(probs):
        raise NotImplementedError
    assert "not written yet" in ex.check_perplexity(todo).message
    assert "expected a function" in ex.check_perplexity(3.0).message


def test_add_k_checker_accepts_reference_and_rejects_mistakes():
    assert ex.check_add_k(_add_k).passed
    once = ex.check_add_k(lambda c, v, k: {t: (c.get(t, 0) + k) / (sum(c.values()) + k) for t in v})
    assert not once.passed and "adds k once" in once.mistake
    not_below = ex.check_add_k(lambda c, v, k: {t: (c.get(t, 0) + k) / sum(c.values()) for t in v})
    assert not not_below.passed and "on top but not below" in not_below.mistake
    seen_only = ex.check_add_k(lambda c, v, k: {t: (n + k) / (sum(c.values()) + k * len(v)) for t, n in c.items()})
    assert not seen_only.passed and "every token of vocab" in seen_only.mistake
    no_numerator = ex.check_add_k(lambda c, v, k: {t: c.get(t, 0) / (sum(c.values()) + k * len(v)) for t in v})
    assert not no_numerator.passed and "numerator" in no_numerator.mistake


def test_add_k_checker_names_the_failing_input_when_no_known_mistake_matches():
    def vocab_of_counts(c, v, k):  # uses the seen tokens as the vocabulary
        return {t: (c.get(t, 0) + k) / (sum(c.values()) + k * len(c)) for t in v}
    result = ex.check_add_k(vocab_of_counts)
    assert not result.passed and result.mistake is None
    assert "case 1 of 4" in result.message and "vocab=['a','b','c']" in result.message


def test_the_notebooks_own_solutions_pass():
    from solutions import solution_namespace

    solved = solution_namespace("02_language_models",
                                setup="import math\nfrom lmcourse.exercises import nb02_language_models as ex")
    assert ex.check_perplexity(solved["perplexity_of"]).passed
    assert ex.check_add_k(solved["add_k_row"]).passed
