"""Sentence classifiers on MiniLM: frozen features, the fine-tuning loop, predictions, the ridge probe."""

import types

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge

from lmcourse.classifier import (
    MLPHead,
    SentenceClassifier,
    fine_tune,
    fit_logistic,
    frozen_features,
    predict,
    ridge_probe,
    stratified_holdout,
    train_head,
)
from lmcourse.pretrained import load_minilm, sentence_embeddings
from lmcourse.sentiment_data import texts_and_labels, train_test_split


@pytest.fixture(scope="module")
def split():
    train, test = train_test_split("en")
    return texts_and_labels(train), texts_and_labels(test)


def test_frozen_features_are_the_sentence_embeddings():
    texts = ["a good day", "a bad day"]
    feats = frozen_features(texts)
    assert feats.shape == (2, 384) and np.allclose(feats, sentence_embeddings(texts).numpy())


def test_frozen_logistic_regression_separates_english_sentiment(split):
    (x_train, y_train), (x_test, y_test) = split
    clf = fit_logistic(frozen_features(x_train), y_train)
    assert (clf.predict(frozen_features(x_test)) == np.array(y_test)).mean() >= 0.8


def test_classifier_shapes_and_private_encoder_copy():
    model = SentenceClassifier(n_classes=3)
    assert model.encoder is not load_minilm()[1]
    tokenizer = load_minilm()[0]
    batch = tokenizer(["one", "two words here"], padding=True, return_tensors="pt")
    assert model.eval()(**batch).shape == (2, 3)


def test_fine_tune_updates_the_encoder_lowers_the_loss_and_leaves_the_cache_alone(split):
    (x_train, y_train), _ = split
    torch.manual_seed(0)
    model = SentenceClassifier()
    before = model.encoder.embeddings.word_embeddings.weight.clone()
    cached = load_minilm()[1].embeddings.word_embeddings.weight.clone()
    texts, labels = x_train[:8] + x_train[-8:], y_train[:8] + y_train[-8:]
    history = fine_tune(model, texts, labels, epochs=6, batch_size=16, head_lr=3e-3)
    assert len(history.loss) == 6 and history.loss[-1] < history.loss[0]
    assert not torch.equal(before, model.encoder.embeddings.word_embeddings.weight)
    assert torch.equal(cached, load_minilm()[1].embeddings.word_embeddings.weight)
    preds = predict(model, texts)
    assert preds.shape == (16,) and set(preds.tolist()) <= {0, 1} and not model.training


def test_fine_tune_max_steps_stops_early():
    model = SentenceClassifier()
    history = fine_tune(model, ["good", "bad", "fine", "awful"], [1, 0, 1, 0], epochs=5, batch_size=2, max_steps=3)
    assert len(history.loss) == 3


def test_ridge_probe_matches_scikit_learn_on_random_data():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(50, 6)), rng.normal(size=6)
    y = x @ w + 0.01 * rng.normal(size=50)
    test = rng.normal(size=(10, 6))
    got = ridge_probe(x, y, test, alpha=0.5)
    assert np.allclose(got, Ridge(alpha=0.5).fit(x, y).predict(test))
    assert np.corrcoef(got, test @ w)[0, 1] > 0.99


def test_ridge_probe_with_a_list_of_alphas_is_ridge_cv():
    from sklearn.linear_model import RidgeCV

    rng = np.random.default_rng(1)
    x, y, test = rng.normal(size=(40, 5)), rng.normal(size=40), rng.normal(size=(6, 5))
    got = ridge_probe(x, y, test, alpha=[0.1, 10.0, 1000.0])
    assert np.allclose(got, RidgeCV(alphas=[0.1, 10.0, 1000.0]).fit(x, y).predict(test))


def test_stratified_holdout_keeps_each_groups_share_and_varies_with_the_seed():
    groups = [("en", 1)] * 40 + [("en", 0)] * 40 + [("zh", 1)] * 20 + [("zh", 0)] * 8
    fit, val = stratified_holdout(groups, 0.25, seed=0)
    assert sorted(fit + val) == list(range(len(groups))) and not set(fit) & set(val)
    from collections import Counter
    assert Counter(groups[i] for i in val) == {("en", 1): 10, ("en", 0): 10, ("zh", 1): 5, ("zh", 0): 2}
    assert stratified_holdout(groups, 0.25, seed=0) == (fit, val)
    assert stratified_holdout(groups, 0.25, seed=1)[1] != val


class _FakeEncoder(torch.nn.Module):
    """Stands in for MiniLM where only the checks at the door are tested (vocabulary of 30, width 4)."""

    config = types.SimpleNamespace(vocab_size=30, hidden_size=4)


class _HeadOnly(torch.nn.Module):
    head = torch.nn.Linear(4, 2)


@pytest.mark.parametrize("call, fragment", [
    (lambda: frozen_features([]), "texts must be a non-empty list"),
    (lambda: frozen_features("one string"), "texts must be a non-empty list"),
    (lambda: fit_logistic(np.zeros((3, 2)), [0, 1]), "features must be"),
    (lambda: fit_logistic(np.zeros((2, 2)), [1, 1]), "at least two classes"),
    (lambda: SentenceClassifier(n_classes=1, encoder=torch.nn.Identity()), "n_classes must be an int >= 2"),
    (lambda: fine_tune(None, ["a", "b"], [1]), "labels must have one entry per text"),
    (lambda: fine_tune(None, ["a"], [1], epochs=0), "epochs must be an int >= 1; got 0"),
    (lambda: fine_tune(None, ["a"], [1], lr=float("nan")), "lr must be a finite number > 0; got nan"),
    (lambda: fine_tune(_HeadOnly(), ["a", "b"], [0, 2]), r"labels must be class ids in \[0, 2\)"),
    (lambda: fine_tune(_HeadOnly(), ["a", "b"], [0, 0.5]), r"labels must be class ids in \[0, 2\)"),
    (lambda: SentenceClassifier(encoder=_FakeEncoder())(torch.tensor([[1, 30]]), torch.ones(1, 2)),
     r"input_ids must be token ids in \[0, 30\) \(the vocabulary size\); got ids from 1 to 30"),
    (lambda: SentenceClassifier(encoder=_FakeEncoder())(torch.ones(1, 2), torch.ones(1, 2)),
     "input_ids must be an integer tensor"),
    (lambda: SentenceClassifier(encoder=_FakeEncoder())(torch.ones(1, 2, dtype=torch.long), torch.ones(1, 3)),
     r"attention_mask must be of shape \(1, 2\)"),
    (lambda: SentenceClassifier(encoder=_FakeEncoder(), dropout=float("nan")), "dropout must be a finite number"),
    (lambda: fit_logistic(np.zeros((2, 2)), [0, 1], C=float("inf")), "C must be a finite number > 0; got inf"),
    (lambda: ridge_probe(np.zeros((3, 2)), [1, 2, 3], np.zeros((2, 3))), "same D"),
    (lambda: ridge_probe(np.zeros((3, 2)), [1, 2], np.zeros((2, 2))), "one entry per training vector"),
    (lambda: ridge_probe(np.zeros((3, 2)), [1, 2, 3], np.zeros((2, 2)), alpha=[]), "alpha must be a positive number"),
    (lambda: ridge_probe(np.zeros((3, 2)), [1, 2, 3], np.zeros((2, 2)), alpha=0),
     "alpha must be a finite number > 0; got 0"),
    (lambda: ridge_probe(np.zeros((3, 2)), [1, 2, 3], np.zeros((2, 2)), alpha=[1, float("nan")]),
     "alpha must be a finite number > 0; got nan"),
    (lambda: stratified_holdout(["a"]), "groups must be a list with at least two items"),
    (lambda: stratified_holdout(["a", "b"], 1.5), r"val_fraction must be a finite number in \(0, 1\); got 1.5"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()


def _toy_features(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    return x, (x[:, 0] > 0).long()


def test_train_head_learns_a_separable_problem_and_records_every_epoch():
    x, y = _toy_features(80, 0)
    xv, yv = _toy_features(40, 1)
    history = train_head(MLPHead(8, 16), x, y, xv, yv, epochs=60, lr=1e-2)
    assert len(history.train_loss) == len(history.val_loss) == len(history.val_accuracy) == 60
    assert history.train_loss[-1] < history.train_loss[0] and history.val_accuracy[-1] >= 0.85
    assert history.val_loss[history.best_epoch - 1] == min(history.val_loss)


def test_early_stopping_stops_and_restores_the_best_weights():
    x, y = _toy_features(12, 2)
    xv, yv = _toy_features(40, 3)
    yv = 1 - yv                                  # validation disagrees with training: its loss rises at once
    model = MLPHead(8, 64)
    history = train_head(model, x, y, xv, yv, epochs=300, lr=1e-2, patience=5)
    assert history.stopped_epoch == history.best_epoch + 5 < 300
    with torch.no_grad():
        restored = torch.nn.functional.cross_entropy(model.eval()(xv), yv).item()
    assert restored == pytest.approx(history.val_loss[history.best_epoch - 1], rel=1e-5)


def test_dropout_is_active_only_in_training_mode():
    model = MLPHead(8, 256, dropout=0.5)
    x = torch.randn(4, 8)
    assert torch.equal(model.eval()(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


@pytest.mark.parametrize("call, fragment", [
    (lambda: MLPHead(0), "in_dim must be an int >= 1; got 0"),
    (lambda: MLPHead(8, dropout=1.0), r"dropout must be a finite number in \[0, 1\); got 1.0"),
    (lambda: MLPHead(8, dropout=float("nan")), r"dropout must be a finite number in \[0, 1\); got nan"),
    (lambda: train_head(MLPHead(8), torch.zeros(2, 8), [0, 1], torch.zeros(1, 8), [0], lr=float("inf")), "lr must be"),
    (lambda: train_head(MLPHead(8), torch.zeros(2, 8), [0, 1], torch.zeros(1, 8), [0], patience=0), "patience must be"),
    (lambda: train_head(MLPHead(8), torch.zeros(3, 8), [0, 1], torch.zeros(1, 8), [0]), "same length"),
    (lambda: train_head(MLPHead(8), torch.zeros(2, 8), [0, 1], torch.zeros(1, 8), [0], epochs=0), "epochs"),
])
def test_head_bad_input_is_rejected(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()
