"""Word embeddings: skip-gram data and loss, co-occurrence counts, PPMI/SVD, GloVe, and vector queries."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics.pairwise import cosine_similarity as sk_cosine

from lmcourse._checks import ArgumentError
from lmcourse.embeddings import (
    SkipGram,
    Vocabulary,
    Word2VecConfig,
    analogy,
    analogy_accuracy,
    cooccurrence_matrix,
    cosine_matrix,
    glove_loss,
    keep_probabilities,
    nearest,
    noise_distribution,
    ppmi,
    skipgram_pairs,
    subsample,
    svd_embeddings,
    train_glove,
    train_word2vec,
    words_of,
)


def _brute_pairs(ids, window):
    return [(ids[i], ids[j]) for i in range(len(ids))
            for j in range(max(0, i - window), min(len(ids), i + window + 1)) if j != i]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 9), max_size=30), st.integers(1, 4))
def test_skipgram_pairs_equal_the_brute_force_loop(ids, window):
    assert [tuple(p) for p in skipgram_pairs(ids, window).tolist()] == _brute_pairs(ids, window)


def test_skipgram_pairs_rejects_a_bad_window():
    for bad in (0, True, 1.0):
        with pytest.raises(ValueError, match=re.escape(f"window must be an int >= 1; got {bad!r}")):
            skipgram_pairs([1, 2, 3], bad)
    with pytest.raises(ValueError, match="ids must be an integer tensor; got dtype torch.float32"):
        skipgram_pairs([1.5, 2.0, 3.0], 1)


def test_words_and_vocabulary():
    words = words_of("I'll go, I'LL go! o'er the hills; the the.")
    assert words == ["i'll", "go", "i'll", "go", "o'er", "the", "hills", "the", "the"]
    vocab = Vocabulary.build(words, min_count=2)
    assert vocab.itos == ["the", "go", "i'll"] and vocab.counts == [3, 2, 2]
    assert vocab.encode(["go", "hills", "the"]) == [1, 0]
    with pytest.raises(KeyError, match="'hills' is not in the vocabulary of 3 words"):
        vocab.index("hills")
    with pytest.raises(ValueError, match="no word occurs min_count=9 times"):
        Vocabulary.build(words, min_count=9)
    with pytest.raises(ValueError, match="min_count must be an int >= 1; got 0"):
        Vocabulary.build(words, min_count=0)
    with pytest.raises(TypeError, match="text must be a str"):
        words_of(None)


def test_keep_probabilities_follow_the_word2vec_formula():
    counts = [900, 90, 10]
    keep = keep_probabilities(counts, t=0.01)
    f = torch.tensor(counts, dtype=torch.float64) / 1000
    assert torch.allclose(keep, torch.clamp(torch.sqrt(0.01 / f), max=1))
    assert keep[2] == 1.0 and keep[0] < keep[1]
    for bad in (0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=re.escape(f"t must be a finite number > 0; got {bad!r}")):
            keep_probabilities(counts, t=bad)


def test_subsample_keeps_each_word_with_its_probability():
    ids = [0] * 20000 + [1] * 20000
    kept = subsample(ids, torch.tensor([0.25, 1.0], dtype=torch.float64), torch.Generator().manual_seed(0))
    assert (kept == 1).sum() == 20000
    assert abs((kept == 0).sum().item() / 20000 - 0.25) < 0.02


def test_noise_distribution_is_unigram_to_the_three_quarters():
    p = noise_distribution([16, 1])
    assert torch.allclose(p, torch.tensor([8 / 9, 1 / 9]))


def test_skipgram_loss_equals_binary_cross_entropy_with_logits():
    """Negative sampling is logistic regression: true pairs labelled 1, noise pairs labelled 0."""
    torch.manual_seed(0)
    model = SkipGram(50, 8)
    torch.nn.init.normal_(model.out.weight)
    torch.nn.init.normal_(model.inp.weight)
    centre, context, negatives = torch.randint(0, 50, (16,)), torch.randint(0, 50, (16,)), torch.randint(0, 50, (16, 4))
    v = model.inp.weight[centre]
    logits = torch.cat([(model.out.weight[context] * v).sum(-1, keepdim=True),
                        torch.einsum("bkd,bd->bk", model.out.weight[negatives], v)], dim=1)  # (B, 1 + K)
    labels = torch.zeros_like(logits)
    labels[:, 0] = 1
    expected = F.binary_cross_entropy_with_logits(logits, labels, reduction="sum") / 16
    assert torch.allclose(model(centre, context, negatives), expected, atol=1e-5)


def test_train_word2vec_is_deterministic_and_lowers_the_loss():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 20, 3000).tolist()
    counts = np.bincount(ids, minlength=20).tolist()
    config = Word2VecConfig(dim=8, window=2, negatives=3, subsample_t=1.0, batch_size=128, steps=80, lr=0.05)
    losses = []
    a = train_word2vec(ids, counts, config, seed=1, on_step=lambda step, loss: losses.append(loss))
    b = train_word2vec(ids, counts, config, seed=1)
    assert torch.equal(a.vectors, b.vectors)
    assert np.mean(losses[-10:]) < np.mean(losses[:10])


def test_train_word2vec_bad_input_errors():
    config = Word2VecConfig(steps=1)
    with pytest.raises(ValueError, match=re.escape("ids must be token ids in [0, 2) (the vocabulary size); "
                                                   "got ids from 0 to 5")):
        train_word2vec([0, 1, 5], [3, 3], config)
    with pytest.raises(ValueError, match="at least 2 words"):
        train_word2vec([0], [3, 3], config)
    with pytest.raises(ValueError, match="vocabulary of at least 2 words"):
        train_word2vec([0, 0], [3], config)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=2, max_size=25), st.integers(1, 3))
def test_cooccurrence_matrix_equals_the_brute_force_loop(ids, window):
    X = cooccurrence_matrix(ids, 6, window)
    U = cooccurrence_matrix(ids, 6, window, weighting="uniform")
    expected_h, expected_u = np.zeros((6, 6)), np.zeros((6, 6))
    for i in range(len(ids)):
        for j in range(max(0, i - window), min(len(ids), i + window + 1)):
            if j != i:
                expected_h[ids[i], ids[j]] += 1 / abs(i - j)
                expected_u[ids[i], ids[j]] += 1
    assert np.allclose(X.numpy(), expected_h) and np.allclose(U.numpy(), expected_u)
    assert torch.allclose(X, X.T)


def test_cooccurrence_matrix_bad_input_errors():
    with pytest.raises(ValueError, match="weighting must be"):
        cooccurrence_matrix([0, 1], 2, 1, weighting="gaussian")
    with pytest.raises(ValueError, match=re.escape("ids must be token ids in [0, 2) (the vocabulary size)")):
        cooccurrence_matrix([0, 1, 2], 2, 1)
    with pytest.raises(ValueError, match="window must be an int >= 1; got 0"):
        cooccurrence_matrix([0, 1], 2, 0)


def test_ppmi_matches_the_formula():
    X = torch.tensor([[0.0, 4, 1], [4, 0, 2], [1, 2, 6]])
    Xn = X.numpy()
    total = Xn.sum()
    with np.errstate(divide="ignore"):
        pmi = np.log(Xn * total / (Xn.sum(1, keepdims=True) * Xn.sum(0, keepdims=True)))
    expected = np.where(Xn > 0, np.maximum(pmi, 0), 0)
    assert np.allclose(ppmi(X).numpy(), expected)


def test_svd_embeddings_reconstruct_a_psd_matrix_and_match_numpy_singular_values():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(60, 5, generator=g, dtype=torch.float64)
    M = A @ A.T                                                       # rank 5, PSD
    E = svd_embeddings(M, 5).double()                                 # randomized path (5 < 60 // 4)
    assert torch.allclose(E @ E.T, M, atol=1e-6 * M.abs().max())
    assert np.allclose(np.sort((E.norm(dim=0) ** 2).numpy()), np.sort(np.linalg.svd(M.numpy())[1][:5]), rtol=1e-4)


def test_glove_loss_equals_the_dense_formula():
    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 4, (7, 7), generator=g).float() * torch.rand(7, 7, generator=g) * 50
    W, Wc = torch.randn(7, 3, generator=g), torch.randn(7, 3, generator=g)
    b, bc = torch.randn(7, generator=g), torch.randn(7, generator=g)
    dense = 0.0
    for i in range(7):
        for j in range(7):
            if X[i, j] > 0:
                f = min(1.0, (X[i, j].item() / 100) ** 0.75)
                dense += f * (W[i] @ Wc[j] + b[i] + bc[j] - torch.log(X[i, j])) ** 2
    assert torch.allclose(glove_loss(W, Wc, b, bc, X), dense)


def test_train_glove_fits_log_counts():
    g = torch.Generator().manual_seed(0)
    A = torch.rand(30, 4, generator=g)
    X = torch.exp(A @ A.T) * 5                                        # log X is exactly low-rank + constant
    E, losses = train_glove(X, 4, steps=400, lr=0.1)
    assert E.shape == (30, 4) and losses[-1] < 0.05 * losses[0]
    with pytest.raises(ValueError, match="X must be a square"):
        train_glove(torch.ones(3, 4), 2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(X=torch.tensor([[1.0, float("nan")], [1.0, 1.0]])),
     "X must be finite (no NaN or inf); got 1 non-finite value"),
    (dict(X=-torch.ones(2, 2)), "X must hold counts >= 0; got 4 negative values"),
    (dict(dim=0), "dim must be an int >= 1; got 0"),
    (dict(steps=0), "steps must be an int >= 1; got 0"),
    (dict(lr=float("nan")), "lr must be a finite number > 0; got nan"),
    (dict(x_max=0.0), "x_max must be a finite number > 0; got 0.0"),
    (dict(alpha=float("inf")), "alpha must be a finite number >= 0; got inf"),
])
def test_train_glove_refuses_nan_counts_and_bad_training_numbers(kwargs, message):
    args = {"X": torch.ones(2, 2), "dim": 2, **kwargs}
    with pytest.raises(ArgumentError) as err:
        train_glove(args.pop("X"), args.pop("dim"), **args)
    assert str(err.value) == message


@pytest.mark.parametrize("kwargs, message", [
    (dict(dim=0), "dim must be an int >= 1; got 0"),
    (dict(steps=2.5), "steps must be an int >= 1; got 2.5"),
    (dict(negatives=True), "negatives must be an int >= 1; got True"),
    (dict(lr=float("nan")), "lr must be a finite number > 0; got nan"),
    (dict(lr=0), "lr must be a finite number > 0; got 0"),
    (dict(subsample_t=float("inf")), "subsample_t must be a finite number > 0; got inf"),
])
def test_word2vec_config_refuses_bad_training_numbers(kwargs, message):
    with pytest.raises(ArgumentError) as err:
        Word2VecConfig(**kwargs)
    assert str(err.value) == message


def test_skipgram_forward_refuses_batches_that_do_not_line_up():
    model = SkipGram(5, 3)
    with pytest.raises(ArgumentError, match=re.escape("context must be of shape (B) with B=4; got shape (3,)")):
        model(torch.zeros(4, dtype=torch.long), torch.zeros(3, dtype=torch.long), torch.zeros(4, 2, dtype=torch.long))
    with pytest.raises(ArgumentError, match=re.escape("negatives must be of shape (B, K) with B=4; got shape (2, 2)")):
        model(torch.zeros(4, dtype=torch.long), torch.zeros(4, dtype=torch.long), torch.zeros(2, 2, dtype=torch.long))


def test_cosine_matrix_matches_scikit_learn():
    g = torch.Generator().manual_seed(0)
    A, B = torch.randn(9, 6, generator=g), torch.randn(4, 6, generator=g)
    assert np.allclose(cosine_matrix(A, B).numpy(), sk_cosine(A.numpy(), B.numpy()), atol=1e-6)
    with pytest.raises(ValueError, match=r"must be \(N, D\) and \(M, D\)"):
        cosine_matrix(A, torch.randn(4, 5))


def _toy_space():
    vocab = Vocabulary(["king", "queen", "man", "woman", "apple"], [5, 5, 5, 5, 5])
    E = torch.tensor([[1.0, 1.0, 0.0], [1.0, -1.0, 0.0], [0.1, 1.0, 0.0], [0.1, -1.0, 0.0], [0.0, 0.0, 1.0]])
    return vocab, E


def test_nearest_excludes_the_word_and_sorts_by_cosine():
    vocab, E = _toy_space()
    got = nearest(E, vocab, "king", k=4)
    assert [w for w, _ in got][0] == "man" and "king" not in [w for w, _ in got]
    sims = [s for _, s in got]
    assert sims == sorted(sims, reverse=True)


def test_analogy_solves_the_toy_analogy_and_excludes_its_inputs():
    vocab, E = _toy_space()
    assert analogy(E, vocab, "man", "woman", "king") == ["queen"]
    assert analogy_accuracy(E, vocab, [("man", "woman"), ("king", "queen")]) == (1.0, 2)
    with pytest.raises(KeyError, match="'prince' is not in the vocabulary"):
        analogy(E, vocab, "man", "woman", "prince")
    with pytest.raises(ValueError, match="at least two pairs"):
        analogy_accuracy(E, vocab, [("man", "woman"), ("prince", "princess")])
