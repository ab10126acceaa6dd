"""Word embeddings: dense word vectors learned from which words appear near which.

Notebook 03 builds these from scratch. :class:`SkipGram` is word2vec's skip-gram with
negative sampling (Mikolov et al., 2013): each word has an input vector and an output
vector, and training makes the output vector of a real context word score high against
the centre word's input vector, and a few randomly drawn "noise" words score low.
:func:`cooccurrence_matrix`, :func:`ppmi` and :func:`train_glove` are the count-based
side: GloVe (Pennington et al., 2014) fits word vectors whose dot products match the log
of co-occurrence counts. :func:`cosine_matrix`, :func:`nearest` and :func:`analogy`
query any embedding matrix.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._checks import ArgumentError, finite_tensor, integer, number, one_of, tensor, token_ids

WORD_RE = r"[a-z]+(?:'[a-z]+)?"

# Word pairs written for notebook 03's analogy test: a : b :: c : d holds for any two pairs.
# Every word occurs in tinyshakespeare.
GENDER_PAIRS = [("king", "queen"), ("lord", "lady"), ("man", "woman"), ("he", "she"), ("his", "her"),
                ("father", "mother"), ("son", "daughter"), ("brother", "sister"), ("husband", "wife"),
                ("sir", "madam"), ("boy", "girl"), ("duke", "duchess")]


def words_of(text: str) -> list[str]:
    """Lower-cased words of ``text`` (letters, with an inner apostrophe kept: "i'll", "o'er")."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    return re.findall(WORD_RE, text.lower())


@dataclass
class Vocabulary:
    """Words kept for training, most frequent first, with their counts in the corpus."""

    itos: list[str]
    counts: list[int]

    def __post_init__(self):
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    @classmethod
    def build(cls, words: Sequence[str], min_count: int = 5) -> Vocabulary:
        """Keep the words that occur at least ``min_count`` times (ties in count: alphabetical)."""
        integer("min_count", min_count, min=1)
        ranked = sorted(((n, w) for w, n in Counter(words).items() if n >= min_count), key=lambda t: (-t[0], t[1]))
        if not ranked:
            raise ArgumentError(f"no word occurs min_count={min_count} times; lower min_count or give more text")
        return cls([w for _, w in ranked], [n for n, _ in ranked])

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, words: Sequence[str]) -> list[int]:
        """Ids of the words that are in the vocabulary; the others are dropped (word2vec does the same)."""
        return [self.stoi[w] for w in words if w in self.stoi]

    def index(self, word: str) -> int:
        """The id of ``word``; a word outside the vocabulary is a ``KeyError`` that says so."""
        try:
            return self.stoi[word]
        except KeyError:
            raise KeyError(f"word {word!r} is not in the vocabulary of {len(self)} words") from None


# ----------------------------------------------------------------------------- skip-gram data

def skipgram_pairs(ids: Sequence[int], window: int) -> torch.Tensor:
    """All (centre, context) pairs with the context at most ``window`` positions away, shape (N, 2).

    Ordered by centre position, then by context position.
    """
    integer("window", window, min=1)
    ids = _word_ids(ids)
    n = len(ids)
    pos = torch.arange(n)
    offsets = torch.tensor([o for o in range(-window, window + 1) if o != 0])
    ctx = pos[:, None] + offsets[None, :]                               # (n, 2w)
    ok = (ctx >= 0) & (ctx < n)
    centre = pos[:, None].expand_as(ctx)[ok]
    return torch.stack([ids[centre], ids[ctx[ok]]], dim=1)


def _word_ids(ids, vocab_size: int | None = None) -> torch.Tensor:
    """``ids`` (a sequence or tensor of word ids) as a 1-D long tensor; floats are refused, not truncated,
    and with ``vocab_size`` every id must lie in [0, vocab_size)."""
    ids = ids if isinstance(ids, torch.Tensor) else torch.as_tensor(list(ids))
    if ids.numel() == 0:
        return torch.zeros(0, dtype=torch.long)
    tensor("ids", ids, ndim=1, dtype="int")
    if vocab_size is not None:
        token_ids("ids", ids, vocab_size)
    return ids.long()


def keep_probabilities(counts: Sequence[int], t: float = 1e-4) -> torch.Tensor:
    """Subsampling of frequent words: the chance to keep each word, ``min(1, sqrt(t / f))``.

    ``f`` is the word's share of the corpus. Words far more frequent than ``t`` ("the", "and")
    are mostly dropped, which speeds training and lets rarer words get more updates.
    """
    number("t", t, min=0, min_open=True)
    c = torch.as_tensor(counts, dtype=torch.float64)
    f = c / c.sum()
    return torch.clamp(torch.sqrt(t / f), max=1.0)


def subsample(ids: Sequence[int], keep: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Drop each occurrence of word ``w`` with probability ``1 - keep[w]``."""
    ids = torch.as_tensor(list(ids), dtype=torch.long)
    return ids[torch.rand(len(ids), generator=generator, dtype=torch.float64) < keep[ids]]


def noise_distribution(counts: Sequence[int], power: float = 0.75) -> torch.Tensor:
    """Negative samples are drawn from unigram counts raised to ``power`` (3/4 in word2vec), normalised."""
    p = torch.as_tensor(counts, dtype=torch.float64) ** number("power", power)
    return (p / p.sum()).float()


# ----------------------------------------------------------------------------- the model

class SkipGram(nn.Module):
    """Skip-gram with negative sampling: input vectors ``v`` (the embeddings) and output vectors ``u``.

    For a centre word c, a true context word o and K noise words k, the loss is
    ``-log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c)``, averaged over the batch.
    """

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        integer("vocab_size", vocab_size, min=1)
        integer("dim", dim, min=1)
        self.inp = nn.Embedding(vocab_size, dim)   # v: the word vectors we keep
        self.out = nn.Embedding(vocab_size, dim)   # u: used only to train them
        nn.init.uniform_(self.inp.weight, -0.5 / dim, 0.5 / dim)  # word2vec's initialisation
        nn.init.zeros_(self.out.weight)

    def forward(self, centre: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        """centre, context: (B,) ids; negatives: (B, K) ids. Returns the scalar loss."""
        sizes: dict[str, int] = {}
        tensor("centre", centre, shape=("B",), sizes=sizes, dtype="int")
        tensor("context", context, shape=("B",), sizes=sizes, dtype="int")
        tensor("negatives", negatives, shape=("B", "K"), sizes=sizes, dtype="int")
        v = self.inp(centre)                                            # (B, D)
        pos = (self.out(context) * v).sum(-1)                           # (B,)
        neg = torch.bmm(self.out(negatives), v.unsqueeze(-1)).squeeze(-1)  # (B, K, D) @ (B, D, 1) -> (B, K)
        return -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)).mean()

    @property
    def vectors(self) -> torch.Tensor:
        """The learned word vectors, (V, D)."""
        return self.inp.weight.detach()


@dataclass
class Word2VecConfig:
    """Sizes and settings for :func:`train_word2vec` (word2vec's defaults where they fit a small corpus)."""

    dim: int = 64
    window: int = 3
    negatives: int = 5
    subsample_t: float = 1e-3
    batch_size: int = 1024
    steps: int = 3000
    lr: float = 0.01

    def __post_init__(self):
        for name in ("dim", "window", "negatives", "batch_size", "steps"):
            integer(name, getattr(self, name), min=1)
        number("subsample_t", self.subsample_t, min=0, min_open=True)
        number("lr", self.lr, min=0, min_open=True)


def train_word2vec(ids: Sequence[int], counts: Sequence[int], config: Word2VecConfig, *, seed: int = 0,
                   on_step=None) -> SkipGram:
    """Train :class:`SkipGram` on a corpus of word ids; returns the model.

    Each pass over the corpus draws a fresh subsample, builds its (centre, context) pairs
    and shuffles them; each step takes a batch of pairs and draws ``negatives`` noise words
    per pair from :func:`noise_distribution`. ``on_step(step, loss)`` is called every step.
    """
    if len(counts) < 2:
        raise ArgumentError(f"counts must cover a vocabulary of at least 2 words; got {len(counts)}")
    if not isinstance(config, Word2VecConfig):
        raise ArgumentError(f"config must be a Word2VecConfig; got {type(config).__name__}")
    integer("seed", seed)
    ids = _word_ids(ids, len(counts))
    if len(ids) < 2:
        raise ArgumentError(f"ids must hold at least 2 words; got {len(ids)}")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = SkipGram(len(counts), config.dim)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    keep, noise = keep_probabilities(counts, config.subsample_t), noise_distribution(counts)
    pairs, cursor = torch.empty(0, 2, dtype=torch.long), 0
    for step in range(config.steps):
        if cursor + config.batch_size > len(pairs):   # a new pass: fresh subsample and shuffle
            pairs = skipgram_pairs(subsample(ids, keep, gen).tolist(), config.window)
            if len(pairs) == 0:
                raise ArgumentError("subsampling left no pairs; raise subsample_t or give more text")
            pairs, cursor = pairs[torch.randperm(len(pairs), generator=gen)], 0
        batch = pairs[cursor:cursor + config.batch_size]
        cursor += config.batch_size
        negatives = torch.multinomial(noise, len(batch) * config.negatives, replacement=True, generator=gen)
        loss = model(batch[:, 0], batch[:, 1], negatives.view(len(batch), config.negatives))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if on_step is not None:
            on_step(step, loss.item())
    return model


# ----------------------------------------------------------------------------- counts: co-occurrence, PPMI, GloVe

def cooccurrence_matrix(ids: Sequence[int], vocab_size: int, window: int, *,
                        weighting: str = "harmonic") -> torch.Tensor:
    """Symmetric co-occurrence counts X[i, j], shape (V, V), from a window of ``window`` words each side.

    ``weighting="harmonic"`` adds 1/d for a pair d words apart (as GloVe does);
    ``"uniform"`` adds 1 for every pair in the window.
    """
    one_of("weighting", weighting, ("harmonic", "uniform"))
    integer("vocab_size", vocab_size, min=1)
    ids = _word_ids(ids, vocab_size)
    pairs = skipgram_pairs(ids, window)
    n = len(ids)
    pos = torch.arange(n)
    offsets = torch.tensor([o for o in range(-window, window + 1) if o != 0])
    ctx = pos[:, None] + offsets[None, :]
    dist = offsets.abs()[None, :].expand_as(ctx)[(ctx >= 0) & (ctx < n)].double()
    w = 1.0 / dist if weighting == "harmonic" else torch.ones_like(dist)
    X = torch.zeros(vocab_size * vocab_size, dtype=torch.float64)
    X.index_add_(0, pairs[:, 0] * vocab_size + pairs[:, 1], w)
    return X.view(vocab_size, vocab_size)


def ppmi(X: torch.Tensor) -> torch.Tensor:
    """Positive pointwise mutual information: ``max(0, log P(i, j) / (P(i) P(j)))``, zero where X is zero."""
    X = torch.as_tensor(X, dtype=torch.float64)
    total = X.sum()
    pi, pj = X.sum(1, keepdim=True) / total, X.sum(0, keepdim=True) / total
    pmi = torch.log((X / total) / (pi * pj))                            # -inf where X is 0, masked below
    return torch.where(X > 0, pmi.clamp(min=0), torch.zeros_like(pmi))


def svd_embeddings(M: torch.Tensor, dim: int) -> torch.Tensor:
    """Rows of ``U_k sqrt(S_k)`` from the truncated SVD of ``M``, shape (V, dim): count-based word vectors."""
    M = torch.as_tensor(M, dtype=torch.float64)
    tensor("M", M, ndim=2)
    integer("dim", dim, min=1, max=min(M.shape))
    if dim >= min(M.shape) // 4:
        U, S, _ = torch.linalg.svd(M, full_matrices=False)
    else:  # a randomized SVD is far faster when only a few directions are kept
        U, S, _ = torch.svd_lowrank(M, q=dim + 10, niter=4)
    return (U[:, :dim] * S[:dim].sqrt()).float()


def glove_weight(X: torch.Tensor, x_max: float = 100.0, alpha: float = 0.75) -> torch.Tensor:
    """GloVe's weighting f(x) = min(1, (x / x_max)^alpha): rare pairs count less, frequent ones are capped."""
    _check_glove_numbers(x_max, alpha)
    return _weight(X, x_max, alpha)


def _weight(X: torch.Tensor, x_max: float, alpha: float) -> torch.Tensor:
    return torch.clamp((X / x_max) ** alpha, max=1.0)


def _check_glove_numbers(x_max, alpha) -> None:
    number("x_max", x_max, min=0, min_open=True)
    number("alpha", alpha, min=0)


def glove_loss(W, W_ctx, b, b_ctx, X, x_max: float = 100.0, alpha: float = 0.75) -> torch.Tensor:
    """GloVe's objective Σ_{ij: X_ij>0} f(X_ij) (w_i·w̃_j + b_i + b̃_j - log X_ij)², over the nonzero X only.

    W, W_ctx: (V, D); b, b_ctx: (V,); X: (V, V) co-occurrence counts.
    """
    _check_glove_numbers(x_max, alpha)
    i, j = torch.nonzero(X > 0, as_tuple=True)
    return _glove_loss_on(W, W_ctx, b, b_ctx, i, j, X[i, j], x_max, alpha)


def _glove_loss_on(W, W_ctx, b, b_ctx, i, j, x, x_max, alpha):
    pred = (W[i] * W_ctx[j]).sum(-1) + b[i] + b_ctx[j]                 # (nnz,)
    return (_weight(x, x_max, alpha) * (pred - torch.log(x)) ** 2).sum()


def train_glove(X: torch.Tensor, dim: int, steps: int = 500, lr: float = 0.05, *, seed: int = 0,
                x_max: float = 100.0, alpha: float = 0.75, return_parts: bool = False):
    """Fit GloVe by full-batch Adagrad (the optimiser of the paper). Returns (W + W_ctx, losses).

    Only the nonzero counts enter the loss, so the cost grows with their number, not with V².
    Summing the two sets of vectors is what the GloVe paper recommends. With
    ``return_parts=True`` the first item is instead the tuple (W, W_ctx, b, b_ctx).
    """
    X = torch.as_tensor(X, dtype=torch.float32)
    if X.ndim != 2 or X.shape[0] != X.shape[1]:
        raise ArgumentError(f"X must be a square (V, V) matrix; got shape {tuple(X.shape)}")
    finite_tensor("X", X)
    if bool((X < 0).any()):
        raise ArgumentError(f"X must hold counts >= 0; got {int((X < 0).sum())} negative values")
    integer("dim", dim, min=1)
    integer("steps", steps, min=1)
    number("lr", lr, min=0, min_open=True)
    integer("seed", seed)
    _check_glove_numbers(x_max, alpha)
    g = torch.Generator().manual_seed(seed)
    V = X.shape[0]
    W = ((torch.rand(V, dim, generator=g) - 0.5) / dim).requires_grad_()
    W_ctx = ((torch.rand(V, dim, generator=g) - 0.5) / dim).requires_grad_()
    b, b_ctx = torch.zeros(V, requires_grad=True), torch.zeros(V, requires_grad=True)
    i, j = torch.nonzero(X > 0, as_tuple=True)
    x = X[i, j]
    opt = torch.optim.Adagrad([W, W_ctx, b, b_ctx], lr=lr)
    losses = []
    for _ in range(steps):
        loss = _glove_loss_on(W, W_ctx, b, b_ctx, i, j, x, x_max, alpha)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    if return_parts:
        return tuple(t.detach() for t in (W, W_ctx, b, b_ctx)), losses
    return (W + W_ctx).detach(), losses


# ----------------------------------------------------------------------------- querying vectors

def cosine_matrix(A: torch.Tensor, B: torch.Tensor | None = None) -> torch.Tensor:
    """Cosine similarity of every row of A (N, D) with every row of B (M, D; default A): shape (N, M)."""
    A = torch.as_tensor(A, dtype=torch.float32)
    B = A if B is None else torch.as_tensor(B, dtype=torch.float32)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1]:
        raise ArgumentError(f"A and B must be (N, D) and (M, D); got {tuple(A.shape)} and {tuple(B.shape)}")
    return F.normalize(A, dim=1) @ F.normalize(B, dim=1).T


def nearest(E: torch.Tensor, vocab: Vocabulary, word: str, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` words whose vectors have the highest cosine similarity with ``word``'s (itself excluded)."""
    integer("k", k, min=1)
    sims = cosine_matrix(E[vocab.index(word)][None], E)[0]
    sims[vocab.index(word)] = -float("inf")
    top = torch.topk(sims, min(k, len(vocab) - 1))
    return [(vocab.itos[i], float(s)) for s, i in zip(top.values, top.indices)]


def analogy(E: torch.Tensor, vocab: Vocabulary, a: str, b: str, c: str, k: int = 1) -> list[str]:
    """Solve a : b :: c : ? by the word nearest to ``b - a + c`` (cosine), excluding a, b and c (3CosAdd)."""
    integer("k", k, min=1)
    ia, ib, ic = (vocab.index(w) for w in (a, b, c))
    En = F.normalize(torch.as_tensor(E, dtype=torch.float32), dim=1)
    sims = En @ F.normalize(En[ib] - En[ia] + En[ic], dim=0)
    sims[[ia, ib, ic]] = -float("inf")
    return [vocab.itos[i] for i in torch.topk(sims, k).indices]


def analogy_accuracy(E: torch.Tensor, vocab: Vocabulary, pairs: Sequence[tuple[str, str]],
                     k: int = 1) -> tuple[float, int]:
    """Share of questions a : b :: c : d (over all ordered pairs of ``pairs``) whose answer d is in the top ``k``.

    Pairs with a word outside the vocabulary are skipped. Returns (accuracy, number of questions).
    """
    usable = [(a, b) for a, b in pairs if a in vocab.stoi and b in vocab.stoi]
    questions = [(a, b, c, d) for a, b in usable for c, d in usable if (a, b) != (c, d)]
    if not questions:
        raise ArgumentError("pairs must contain at least two pairs whose words are all in the vocabulary")
    hits = sum(d in analogy(E, vocab, a, b, c, k) for a, b, c, d in questions)
    return hits / len(questions), len(questions)
