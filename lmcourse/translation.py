"""Translation with the encoder–decoder Transformer: vocabularies, batches, decoding, attention.

Notebook 08 trains :class:`lmcourse.transformer.Transformer` on the generated English → 中文
corpus (:mod:`lmcourse.parallel_corpus`). This module holds only what is specific to that
task: tokenizing each side (English words with numbers split into digits, Chinese characters),
a :class:`Vocab` with the special tokens a seq2seq model needs, padded batches for teacher
forcing, :func:`translate` (greedy or beam search from :mod:`lmcourse.decoding`) and
:func:`attention_maps` to look at what the model attends to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._checks import integer, probability
from .decoding import LogProbFn, beam_search, greedy_search
from .schedules import noam_schedule
from .tokenizers import split_words
from .transformer import xavier_init_

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
PAD_ID, BOS_ID, EOS_ID, UNK_ID = range(4)


def english_tokens(text: str) -> list[str]:
    """Words and punctuation of ``text`` (notebook 01's :func:`~lmcourse.tokenizers.split_words`, spaces
    dropped), with every number split into digits so that unseen numbers are made of known tokens."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    out = []
    for w in split_words(text):
        if w.isspace():
            continue
        out.extend(w if w.isdigit() else re.findall(r"\d|\D+", w))
    return out


def chinese_tokens(text: str) -> list[str]:
    """The characters of ``text``, spaces dropped (one token per character, as ``CharTokenizer``)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    return [c for c in text if not c.isspace()]


class Vocab:
    """Token strings <-> ids, with ``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2, ``<unk>`` = 3 first.

    The notebook-01 tokenizers have no special tokens; a seq2seq model needs them: padding
    to batch sentences of different lengths, begin-of-sequence to start the decoder, and
    end-of-sequence so it can say it is done. Other tokens follow in sorted order.
    """

    def __init__(self, tokens: Iterable[str]):
        rest = sorted(set(tokens) - set(SPECIALS))
        if any(not isinstance(t, str) or not t for t in rest):
            raise ValueError("tokens must be non-empty strings")
        self.itos = list(SPECIALS) + rest
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], tokenize) -> Vocab:
        """The vocabulary of every token ``tokenize`` finds in ``texts``."""
        return cls(t for text in texts for t in tokenize(text))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Sequence[str], *, bos: bool = False, eos: bool = True) -> list[int]:
        """Ids of ``tokens`` (unknown ones -> ``<unk>``), optionally wrapped in ``<bos>`` … ``<eos>``."""
        if isinstance(tokens, str):
            raise TypeError(f"tokens must be a list of token strings, not a str; got {tokens!r:.40} "
                            "(tokenize it first, e.g. english_tokens(text))")
        ids = [self.stoi.get(t, UNK_ID) for t in tokens]
        return ([BOS_ID] if bos else []) + ids + ([EOS_ID] if eos else [])

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens for ``ids`` (a list or a 1-d tensor), stopping at the first ``<eos>`` and skipping
        ``<pad>`` and ``<bos>``. An id that is not an int in ``[0, len(self))`` is an error, not truncated."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        out = []
        for i in ids:
            i = integer("ids", i, min=0, max=len(self.itos) - 1)       # a float is refused, not truncated
            if i == EOS_ID:
                break
            if i not in (PAD_ID, BOS_ID):
                out.append(self.itos[i])
        return out


def init_weights(model: nn.Module) -> nn.Module:
    """Re-draw the Xavier-uniform initialisation of every weight matrix of ``model``; returns it.

    :class:`lmcourse.transformer.Transformer` already initialises itself this way
    (:func:`lmcourse.transformer.xavier_init_`), so calling this on a fresh ``Transformer`` only
    draws new weights from the same distribution. It is kept for models built otherwise.
    """
    return xavier_init_(model)


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int = PAD_ID) -> torch.Tensor:
    """Stack id lists of different lengths into one (B, T_max) long tensor, right-padded with ``pad_id``."""
    if not sequences:
        raise ValueError("sequences must contain at least one id list; got none")
    integer("pad_id", pad_id, min=0)
    t = max(len(s) for s in sequences)
    out = torch.full((len(sequences), t), pad_id, dtype=torch.long)
    for i, s in enumerate(sequences):
        out[i, :len(s)] = torch.as_tensor(list(s), dtype=torch.long)
    return out


@dataclass
class Batch:
    """A teacher-forcing batch: ``src`` (B, S) = English + <eos>; ``tgt_in`` (B, T) = <bos> + 中文;
    ``tgt_out`` (B, T) = 中文 + <eos>, the same target shifted left by one: the token to predict at each position."""

    src: torch.Tensor
    tgt_in: torch.Tensor
    tgt_out: torch.Tensor

    def to(self, device) -> Batch:
        return Batch(self.src.to(device), self.tgt_in.to(device), self.tgt_out.to(device))


def make_batch(pairs: Sequence, src_vocab: Vocab, tgt_vocab: Vocab) -> Batch:
    """Tokenize, encode and pad a list of pairs (anything with ``.en`` and ``.zh``) into a :class:`Batch`."""
    if not pairs:
        raise ValueError("pairs must contain at least one sentence pair; got none")
    src = [src_vocab.encode(english_tokens(p.en)) for p in pairs]
    tgt = [tgt_vocab.encode(chinese_tokens(p.zh), bos=True, eos=True) for p in pairs]
    return Batch(pad_batch(src), pad_batch([t[:-1] for t in tgt]), pad_batch([t[1:] for t in tgt]))


def next_token_fn(model: nn.Module, src: torch.Tensor) -> LogProbFn:
    """A ``next_log_probs(tokens, batch_index)`` function for :mod:`lmcourse.decoding`.

    The source (B, S) is encoded once; each call decodes the target prefixes (N, t),
    pairing row r with source ``batch_index[r]``, and returns log-softmax of the last
    position's logits, (N, V).
    """
    memory = model.encode(src)                                             # (B, S, C)

    def next_log_probs(tokens: torch.Tensor, batch_index: torch.Tensor) -> torch.Tensor:
        logits = model.decode(tokens, memory[batch_index], src[batch_index])  # (N, t, V)
        return torch.log_softmax(logits[:, -1].float(), dim=-1)

    return next_log_probs


@torch.no_grad()
def translate(model: nn.Module, sentences: Sequence[str], src_vocab: Vocab, tgt_vocab: Vocab, *,
              beam_size: int = 1, max_len: int = 40, length_penalty: float = 0.0,
              batch_size: int = 256) -> list[str]:
    """Translate English ``sentences`` to Chinese strings; ``beam_size=1`` is greedy search."""
    if isinstance(sentences, str):
        raise TypeError("sentences must be a list of str; got one str (wrap it in a list)")
    batch_size = integer("batch_size", batch_size, min=1)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out: list[str] = []
    for start in range(0, len(sentences), batch_size):
        chunk = sentences[start:start + batch_size]
        src = pad_batch([src_vocab.encode(english_tokens(s)) for s in chunk]).to(device)
        fn = next_token_fn(model, src)
        prefix = torch.full((len(chunk), 1), BOS_ID, dtype=torch.long, device=device)
        if beam_size == 1:
            result = greedy_search(fn, prefix, max_new_tokens=max_len, eos_id=EOS_ID, pad_id=PAD_ID)
        else:
            result = beam_search(fn, prefix, beam_size=beam_size, max_new_tokens=max_len, eos_id=EOS_ID,
                                 pad_id=PAD_ID, length_penalty=length_penalty)
        out.extend("".join(tgt_vocab.decode(row.tolist())) for row in result.tokens)
    model.train(was_training)
    return out


def train_translator(model: nn.Module, pairs: Sequence, src_vocab: Vocab, tgt_vocab: Vocab, *, steps: int,
                     batch_size: int = 64, warmup: int = 200, factor: float = 1.0, label_smoothing: float = 0.1,
                     seed: int = 0, callback=None) -> nn.Module:
    """Train ``model`` on ``pairs`` with notebook 08's recipe; returns it (in training mode).

    Each step draws ``batch_size`` random pairs (``torch.randint`` from a generator seeded with
    ``seed``), computes the label-smoothed cross-entropy of all next-token predictions at once
    (teacher forcing, padding ignored) and steps Adam (β = (0.9, 0.98), ε = 1e-9) under the Noam
    schedule (:func:`lmcourse.schedules.noam_schedule`, peak ``factor / √(d_model · warmup)``).
    ``callback(step, loss, logits, batch)``, if given, is called after every step. Notebook 08
    writes the same loop in view and checks that the two give the same weights. With the
    notebook's ``cpu`` sizes (d_model 128, 2 + 2 layers, 20 000 pairs) 1200 steps take about
    1.5 minutes on one CPU thread.
    """
    for name, n in (("steps", steps), ("batch_size", batch_size), ("warmup", warmup)):
        integer(name, n, min=1)
    label_smoothing = probability("label_smoothing", label_smoothing)
    if not pairs:
        raise ValueError("pairs must contain at least one sentence pair; got none")
    device = next(model.parameters()).device
    opt = torch.optim.Adam(model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    sched = noam_schedule(opt, model.config.d_model, warmup, factor)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(steps):
        idx = torch.randint(len(pairs), (batch_size,), generator=gen).tolist()
        batch = make_batch([pairs[i] for i in idx], src_vocab, tgt_vocab).to(device)
        logits = model(batch.src, batch.tgt_in)                                 # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=PAD_ID,
                               label_smoothing=label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if callback is not None:
            callback(step, loss.detach(), logits.detach(), batch)
    return model


@torch.no_grad()
def attention_maps(model: nn.Module, src: torch.Tensor, tgt_in: torch.Tensor) -> dict[str, list[torch.Tensor]]:
    """Attention weights of every layer for one teacher-forced pass: ``{"encoder", "decoder", "cross"}``.

    Each value is a list over layers of (B, n_head, T_q, T_k) tensors: encoder
    self-attention (S × S), decoder (causal) self-attention (T × T) and cross-attention
    (T × S, a target position looking at the source). Weights are captured with forward
    hooks that repeat each attention call with ``need_weights=True``; the model is unchanged.
    """
    maps: dict[str, list[torch.Tensor]] = {"encoder": [], "decoder": [], "cross": []}
    modules = ([(layer.self_attn, "encoder") for layer in model.encoder]
               + [(layer.self_attn, "decoder") for layer in model.decoder]
               + [(layer.cross_attn, "cross") for layer in model.decoder])

    def hook_for(name):
        def hook(module, args, kwargs, output):
            _, weights = module.forward(*args, **{**kwargs, "need_weights": True})
            maps[name].append(weights.detach().cpu())
        return hook

    handles = [m.register_forward_hook(hook_for(name), with_kwargs=True) for m, name in modules]
    was_training = model.training
    model.eval()
    try:
        model(src, tgt_in)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return maps

