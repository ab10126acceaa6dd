"""Sentence classifiers on top of the pretrained encoder (MiniLM): frozen features, or fine-tuned.

Two ways to turn a pretrained encoder into, say, a sentiment classifier:

* **frozen features** — embed every sentence once with the encoder left untouched
  (:func:`frozen_features`, (N, 384)), then fit a small model on the vectors
  (:func:`fit_logistic`, scikit-learn's logistic regression). Cheap: the encoder runs once.
* **fine-tuning** — put a linear head on the mean-pooled token vectors
  (:class:`SentenceClassifier`) and train *all* the weights, encoder included, on the
  labeled sentences (:func:`fine_tune`). Costlier, and usually better when the task
  differs from what the encoder was trained for.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ._checks import ArgumentError, integer, number, tensor, token_ids
from .pretrained import encode_batch, load_minilm, mean_pool, sentence_embeddings


def _check_data(texts: Sequence[str], labels: Sequence[int] | None = None) -> None:
    if isinstance(texts, str) or not isinstance(texts, Sequence) or len(texts) == 0:
        raise ValueError(f"texts must be a non-empty list of strings; got {texts!r:.60}")
    if labels is not None and len(labels) != len(texts):
        raise ValueError(f"labels must have one entry per text ({len(texts)}); got {len(labels)}")


def frozen_features(texts: Sequence[str]) -> np.ndarray:
    """Sentence embeddings from the untouched encoder, as a float32 array (N, 384)."""
    _check_data(texts)
    return sentence_embeddings(list(texts)).numpy()


def fit_logistic(features: np.ndarray, labels: Sequence[int], *, C: float = 1.0):
    """A scikit-learn ``LogisticRegression`` fitted on ``features`` (N, D) and ``labels`` (N,)."""
    from sklearn.linear_model import LogisticRegression

    features = np.asarray(features)
    if features.ndim != 2 or len(features) != len(labels) or len(features) == 0:
        raise ValueError(f"features must be (N, D) with N = len(labels) = {len(labels)}; got {features.shape}")
    if len(set(labels)) < 2:
        raise ValueError(f"labels must contain at least two classes; got only {sorted(set(labels))}")
    C = number("C", C, min=0, min_open=True)
    return LogisticRegression(C=C, max_iter=2000).fit(features, np.asarray(labels))


def stratified_holdout(groups: Sequence, val_fraction: float = 0.25, *, seed: int = 0) -> tuple[list[int], list[int]]:
    """Indices ``(fit, validation)`` of a random hold-out split that keeps every group's share.

    ``groups[i]`` is item i's group, e.g. ``(language, label)``; in each group ``round(val_fraction
    · size)`` items (at least one, and never all) go to validation. A different ``seed`` draws a
    different split: repeating an experiment over seeds then also repeats it over splits.
    """
    import random

    if isinstance(groups, str) or not isinstance(groups, Sequence) or len(groups) < 2:
        raise ValueError(f"groups must be a list with at least two items; got {groups!r:.60}")
    number("val_fraction", val_fraction, min=0, max=1, min_open=True, max_open=True)
    members: dict = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    rng, fit, val = random.Random(seed), [], []
    for g in sorted(members, key=repr):
        idx = members[g][:]
        rng.shuffle(idx)
        n_val = min(max(1, round(val_fraction * len(idx))), len(idx) - 1)
        val += idx[:n_val]
        fit += idx[n_val:]
    return sorted(fit), sorted(val)


class SentenceClassifier(nn.Module):
    """Encoder + mean pooling + linear head: a batch of token ids (B, T) -> class logits (B, n_classes).

    ``encoder`` defaults to a private copy of MiniLM (so fine-tuning never changes the cached
    model that :func:`lmcourse.pretrained.load_minilm` hands to everyone else).
    """

    def __init__(self, n_classes: int = 2, encoder: nn.Module | None = None, dropout: float = 0.1):
        super().__init__()
        integer("n_classes", n_classes, min=2)
        number("dropout", dropout, min=0, max=1, max_open=True)
        self.encoder = encoder if encoder is not None else copy.deepcopy(load_minilm()[1])
        width = self.encoder.config.hidden_size
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(width, n_classes)

    def forward(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        token_ids("input_ids", input_ids, self.encoder.config.vocab_size, ndim=2)
        tensor("attention_mask", attention_mask, shape=tuple(input_ids.shape))
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state   # (B, T, C)
        pooled = mean_pool(hidden, attention_mask)                                 # (B, T, C) -> (B, C)
        return self.head(self.drop(pooled))                                       # (B, C) -> (B, n_classes)


@dataclass
class FineTuneHistory:
    """Training loss after every step of :func:`fine_tune`."""

    loss: list[float] = field(default_factory=list)


def fine_tune(model: SentenceClassifier, texts: Sequence[str], labels: Sequence[int], *, epochs: int = 3,
              batch_size: int = 16, lr: float = 5e-5, head_lr: float = 1e-3, max_steps: int | None = None,
              seed: int = 0) -> FineTuneHistory:
    """Train every weight of ``model`` with AdamW on shuffled mini-batches; returns the loss history.

    The new head learns faster (``head_lr``) than the pretrained encoder (``lr``), the usual
    choice: large steps would wreck what the encoder already knows. ``max_steps`` stops early.
    """
    _check_data(texts, labels)
    epochs, batch_size = integer("epochs", epochs, min=1), integer("batch_size", batch_size, min=1)
    lr, head_lr = number("lr", lr, min=0, min_open=True), number("head_lr", head_lr, min=0, min_open=True)
    if max_steps is not None:
        integer("max_steps", max_steps, min=1)
    n_classes = model.head.out_features
    if any(isinstance(y, bool) or not isinstance(y, Integral) or not 0 <= y < n_classes for y in labels):
        raise ArgumentError(f"labels must be class ids in [0, {n_classes}) (the model's n_classes); "
                            f"got {sorted(set(labels), key=repr)!r:.80}")
    optimizer = torch.optim.AdamW([{"params": model.encoder.parameters(), "lr": lr},
                                   {"params": model.head.parameters(), "lr": head_lr}], weight_decay=0.01)
    tokenizer, y_all = load_minilm()[0], torch.tensor(list(labels))
    generator, history = torch.Generator().manual_seed(seed), FineTuneHistory()
    model.train()
    for _ in range(epochs):
        for batch_idx in torch.randperm(len(texts), generator=generator).split(batch_size):
            batch = encode_batch([texts[i] for i in batch_idx.tolist()], tokenizer)
            loss = F.cross_entropy(model(**batch), y_all[batch_idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            history.loss.append(loss.item())
            if max_steps is not None and len(history.loss) >= max_steps:
                model.eval()
                return history
    model.eval()
    return history


@torch.no_grad()
def predict(model: SentenceClassifier, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Predicted class of each text (N,), in eval mode."""
    _check_data(texts)
    batch_size = integer("batch_size", batch_size, min=1)
    was_training, tokenizer = model.training, load_minilm()[0]
    model.eval()
    preds = [model(**encode_batch(list(texts[i:i + batch_size]), tokenizer)).argmax(-1)
             for i in range(0, len(texts), batch_size)]
    model.train(was_training)
    return torch.cat(preds).numpy()


def ridge_probe(train_vectors: np.ndarray, train_targets: Sequence[float], test_vectors: np.ndarray, *,
                alpha: float | Sequence[float] = 1.0) -> np.ndarray:
    """Fit a linear map from vectors to a number (ridge regression, scikit-learn) on the training
    pairs, and predict the test vectors' numbers: (N_train, D), (N_train,), (N_test, D) -> (N_test,).

    A *probe*: if a linear function of the embedding predicts a human rating, the encoder
    has put that information in its vectors in an easy-to-read form. With a list of
    ``alpha`` values, the strength is chosen on the training pairs alone (scikit-learn's
    ``RidgeCV``, leave-one-out), so that a probe and its control each get their best strength.
    """
    from sklearn.linear_model import Ridge, RidgeCV

    train_vectors, test_vectors = np.asarray(train_vectors), np.asarray(test_vectors)
    if train_vectors.ndim != 2 or test_vectors.ndim != 2 or train_vectors.shape[1] != test_vectors.shape[1]:
        raise ValueError(f"train_vectors and test_vectors must be (N, D) with the same D; "
                         f"got {train_vectors.shape} and {test_vectors.shape}")
    if len(train_targets) != len(train_vectors):
        raise ValueError(f"train_targets must have one entry per training vector ({len(train_vectors)}); "
                         f"got {len(train_targets)}")
    targets = np.asarray(train_targets, dtype=float)
    if isinstance(alpha, Sequence):
        if len(alpha) == 0:
            raise ArgumentError("alpha must be a positive number or a non-empty list of them; got []")
        alphas = [number("alpha", a, min=0, min_open=True) for a in alpha]
        return RidgeCV(alphas=alphas).fit(train_vectors, targets).predict(test_vectors)
    alpha = number("alpha", alpha, min=0, min_open=True)
    return Ridge(alpha=alpha).fit(train_vectors, targets).predict(test_vectors)


class MLPHead(nn.Module):
    """A small classifier on fixed feature vectors: (N, D) -> Linear -> ReLU -> Dropout -> Linear -> (N, n_classes)."""

    def __init__(self, in_dim: int, width: int = 256, n_classes: int = 2, dropout: float = 0.0):
        super().__init__()
        for name, value in (("in_dim", in_dim), ("width", width), ("n_classes", n_classes)):
            integer(name, value, min=1)
        number("dropout", dropout, min=0, max=1, max_open=True)
        self.net = nn.Sequential(nn.Linear(in_dim, width), nn.ReLU(), nn.Dropout(dropout), nn.Linear(width, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass
class HeadHistory:
    """Per-epoch training and validation loss and accuracy of :func:`train_head`, and the best epoch."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_epoch: int = 0          # epoch (1-based) with the lowest validation loss
    stopped_epoch: int = 0       # last epoch trained (earlier than ``epochs`` with early stopping)


def train_head(model: nn.Module, x_train, y_train, x_val, y_val, *, epochs: int = 200, lr: float = 1e-2,
               weight_decay: float = 0.0, patience: int | None = None, seed: int = 0) -> HeadHistory:
    """Full-batch AdamW on fixed features; records both losses every epoch.

    With ``patience`` (early stopping) training stops once the validation loss has not improved
    for that many epochs, and the weights of the best epoch are put back.
    """
    epochs, lr = integer("epochs", epochs, min=1), number("lr", lr, min=0, min_open=True)
    weight_decay = number("weight_decay", weight_decay, min=0)
    if patience is not None:
        integer("patience", patience, min=1)
    x_train = torch.as_tensor(np.asarray(x_train), dtype=torch.float32)
    x_val = torch.as_tensor(np.asarray(x_val), dtype=torch.float32)
    y_train, y_val = torch.as_tensor(np.asarray(y_train)), torch.as_tensor(np.asarray(y_val))
    if len(x_train) != len(y_train) or len(x_val) != len(y_val):
        raise ValueError(f"features and labels must have the same length; got train {len(x_train)}/{len(y_train)}, "
                         f"val {len(x_val)}/{len(y_val)}")
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    history, best_state, best_loss = HeadHistory(), None, float("inf")
    for epoch in range(1, epochs + 1):
        model.train()
        loss = F.cross_entropy(model(x_train), y_train)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(x_val)
            val_loss = F.cross_entropy(logits, y_val).item()
        history.train_loss.append(loss.item())
        history.val_loss.append(val_loss)
        history.val_accuracy.append((logits.argmax(-1) == y_val).float().mean().item())
        history.stopped_epoch = epoch
        if val_loss < best_loss:
            best_loss, history.best_epoch = val_loss, epoch
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        elif patience is not None and epoch - history.best_epoch >= patience:
            break
    if patience is not None and best_state is not None:
        model.load_state_dict(best_state)
    return history
