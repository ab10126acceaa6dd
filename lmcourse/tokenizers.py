"""Tokenizers: turning text into integer ids and back.

Notebook 01 builds these from scratch. :class:`CharTokenizer` gives one id per distinct
character (every character-level model from notebook 02 on reads text through it);
:class:`WordTokenizer` one id per word, with ``<unk>`` for words it never saw; and
:class:`BPETokenizer` is a byte-level byte-pair-encoding tokenizer, the kind GPT-2 and most
modern language models use: it starts from the 256 possible bytes, so any Unicode text
(Chinese included) round-trips exactly, and learns merges of frequent adjacent pairs.
:func:`token_view` draws a tokenization as coloured HTML for the notebook's widget.
"""

from __future__ import annotations

import heapq
import html
import json
import operator
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from ._checks import ArgumentError, integer
from ._files import atomic_write

# A GPT-2-style pre-tokenizer written with Python's ``re``: contractions, words with an
# optional leading space, numbers, punctuation runs, and whitespace. Merges never cross
# these chunk boundaries, so " the" can become one token but "e t" cannot.
BPE_PATTERN = r"'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"
WORD_PATTERN = r"\w+|[^\w\s]|\s+"
_FORMAT = "lmcourse.BPETokenizer"
_FORMAT_VERSION = 1


class CharTokenizer:
    """One token per character; the vocabulary is the sorted set of characters it was built from.

    >>> tok = CharTokenizer.from_text("hello")
    >>> tok.decode(tok.encode("hole"))
    'hole'
    """

    def __init__(self, chars: Iterable[str]):
        chars = sorted(set(chars))
        if not chars:
            raise ValueError("chars must contain at least one character; got an empty vocabulary")
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError("chars must be single characters")
        self.chars = chars
        self.stoi = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """Build the vocabulary from every character in ``text``."""
        if not isinstance(text, str) or not text:
            raise ValueError(f"text must be a non-empty string; got {text!r:.40}")
        return cls(text)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Ids of the characters of ``text``; a character outside the vocabulary is an error."""
        try:
            return [self.stoi[c] for c in text]
        except KeyError as err:
            raise ValueError(f"text contains {err.args[0]!r}, which is not in the vocabulary of "
                             f"{self.vocab_size} characters") from None

    def decode(self, ids: Sequence[int]) -> str:
        """The text for ``ids``; an id that is not an integer in ``[0, vocab_size)`` is an error."""
        return "".join(self.chars[i] for i in _checked_ids(ids, self.vocab_size))


def split_words(text: str) -> list[str]:
    """Split ``text`` into words, single punctuation marks and whitespace runs (they join back to ``text``)."""
    return re.findall(WORD_PATTERN, text)


class WordTokenizer:
    """One token per word (and per punctuation mark and whitespace run); unseen words become ``<unk>``.

    The vocabulary keeps the ``max_size`` most frequent pieces of the training text that occur at
    least ``min_count`` times; id 0 is ``<unk>``. Decoding is exact only for known pieces — which
    is the weakness that motivates subword tokenizers.

    >>> tok = WordTokenizer.from_text("to be or not to be")
    >>> tok.decode(tok.encode("to be a bee"))
    'to be <unk> <unk>'
    """

    UNK = "<unk>"

    def __init__(self, words: Iterable[str]):
        words = [w for w in dict.fromkeys(words) if w != self.UNK]
        if any(not isinstance(w, str) or not w for w in words):
            raise ValueError("words must be non-empty strings")
        self.itos = [self.UNK] + words
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text: str, *, max_size: int | None = None, min_count: int = 1) -> WordTokenizer:
        """Build the vocabulary from the pieces of ``text``, most frequent first (ties: first seen)."""
        if not isinstance(text, str) or not text:
            raise ValueError(f"text must be a non-empty string; got {text!r:.40}")
        if max_size is not None:
            integer("max_size", max_size, min=1)
        integer("min_count", min_count, min=1)
        counts = Counter(split_words(text))
        ranked = [w for w, n in counts.most_common() if n >= min_count]
        return cls(ranked[:max_size])

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        """Ids of the pieces of ``text``; a piece outside the vocabulary gets the id of ``<unk>`` (0)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}")
        return [self.stoi.get(w, 0) for w in split_words(text)]

    def decode(self, ids: Sequence[int]) -> str:
        """The text for ``ids``; an id outside ``[0, vocab_size)`` is an error."""
        return "".join(self.itos[i] for i in _checked_ids(ids, self.vocab_size))


def _checked_id(i, vocab_size: int) -> int:
    """``i`` as an int if it is an integer id in ``[0, vocab_size)``: a Python, NumPy or 0-d tensor
    integer, never a bool or a float (``int(1.7)`` would silently decode id 1)."""
    try:
        if isinstance(i, bool) or "bool" in str(getattr(i, "dtype", "")):
            raise TypeError
        j = operator.index(i)
    except TypeError:
        raise ArgumentError(f"ids must be integers in [0, {vocab_size}); got {i!r}") from None
    if not 0 <= j < vocab_size:
        raise ArgumentError(f"ids must be integers in [0, {vocab_size}); got {j}")
    return j


def _checked_ids(ids, vocab_size: int) -> list[int]:
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise ArgumentError(f"ids must be a sequence of token ids; got {type(ids).__name__}")
    return [_checked_id(i, vocab_size) for i in ids]


# ----------------------------------------------------------------------------- byte-level BPE

def count_pairs(ids: Sequence[int], counts: dict | None = None, weight: int = 1) -> dict:
    """Add ``weight`` to ``counts[(a, b)]`` for every adjacent pair of ``ids`` (overlapping pairs count)."""
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + weight
    return counts


def merge(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids``, left to right, by ``new_id``.

    >>> merge([1, 1, 1, 2], (1, 1), 9)
    [9, 1, 2]
    """
    out, i, n = [], 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _chunks(text: str, pattern: str) -> Counter:
    """How often each pre-tokenizer chunk occurs, as UTF-8 byte tuples."""
    return Counter(tuple(chunk.encode("utf-8")) for chunk in re.findall(pattern, text))


def _check_train_args(text, num_merges):
    if not isinstance(text, str) or not text:
        raise ValueError(f"text must be a non-empty string; got {text!r:.40}")
    integer("num_merges", num_merges, min=0)


def train_bpe_naive(text: str, num_merges: int, pattern: str = BPE_PATTERN) -> list[tuple[int, int]]:
    """Learn ``num_merges`` BPE merges the slow, obvious way: recount every pair before each merge.

    Ties go to the smallest pair, so the result is deterministic and equal to
    :func:`train_bpe`'s. Stops early when no pair is left. Returns the merges in order; merge
    ``k`` creates token id ``256 + k``.
    """
    _check_train_args(text, num_merges)
    words = [(list(w), n) for w, n in _chunks(text, pattern).items()]
    merges = []
    for k in range(num_merges):
        counts: dict = {}
        for ids, n in words:
            count_pairs(ids, counts, n)
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        words = [(merge(ids, best, 256 + k), n) for ids, n in words]
    return merges


def train_bpe(text: str, num_merges: int, pattern: str = BPE_PATTERN) -> list[tuple[int, int]]:
    """Learn ``num_merges`` BPE merges with incremental pair counts (same result as :func:`train_bpe_naive`).

    Instead of recounting every pair after each merge, keep the counts, an index from each
    pair to the words that contain it, and a heap of (-count, pair). A merge only touches the
    words that contain the merged pair: their old pairs are subtracted, the merge applied, the
    new pairs added. Stale heap entries are skipped when popped.
    """
    _check_train_args(text, num_merges)
    words = []
    freqs = []
    for w, n in _chunks(text, pattern).items():
        words.append(list(w))
        freqs.append(n)
    counts: dict = {}
    where: dict = defaultdict(set)
    for index, (ids, n) in enumerate(zip(words, freqs)):
        for pair in zip(ids, ids[1:]):
            counts[pair] = counts.get(pair, 0) + n
            where[pair].add(index)
    heap = [(-c, p) for p, c in counts.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < num_merges and heap:
        neg, pair = heapq.heappop(heap)
        if counts.get(pair, 0) != -neg or -neg <= 0:
            continue  # stale entry: the count changed after it was pushed
        new_id = 256 + len(merges)
        merges.append(pair)
        changed = set()
        for index in where.pop(pair):
            ids, n = words[index], freqs[index]
            if len(ids) < 2:
                continue
            for p in zip(ids, ids[1:]):
                counts[p] -= n
                changed.add(p)
            ids = words[index] = merge(ids, pair, new_id)
            for p in zip(ids, ids[1:]):
                counts[p] = counts.get(p, 0) + n
                where[p].add(index)
                changed.add(p)
        for p in changed:
            if counts[p] > 0:
                heapq.heappush(heap, (-counts[p], p))
            else:
                del counts[p]
    return merges


class BPETokenizer:
    """A byte-level byte-pair-encoding tokenizer.

    Ids 0–255 are the raw bytes, id ``256 + k`` is the ``k``-th learned merge, and special
    tokens (e.g. ``"<|endoftext|>"``) come after the merges. Text is UTF-8 encoded, cut into
    chunks by ``pattern`` (merges never cross chunks), and each chunk's bytes are merged in
    the order the merges were learned. Every string round-trips exactly:
    ``decode(encode(s)) == s``.

    >>> tok = BPETokenizer.train("low lower lowest " * 20, num_merges=10)
    >>> tok.decode(tok.encode("slowest 最低"))
    'slowest 最低'
    """

    def __init__(self, merges: Sequence[tuple[int, int]] = (), special_tokens: Sequence[str] = (),
                 pattern: str = BPE_PATTERN):
        self.pattern = pattern
        self._regex = re.compile(pattern)
        self.merges: dict[tuple[int, int], int] = {}
        self.vocab: list[bytes] = [bytes([b]) for b in range(256)]
        for k, pair in enumerate(merges):
            a, b = _valid_pair(pair, 256 + k, k)
            self.merges[(a, b)] = 256 + k
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self.special_tokens: dict[str, int] = {}
        for s in special_tokens:
            if not isinstance(s, str) or not s:
                raise ValueError(f"special_tokens must be non-empty strings; got {s!r}")
            if s not in self.special_tokens:
                self.special_tokens[s] = len(self.vocab) + len(self.special_tokens)
        self._special_by_id = {i: s for s, i in self.special_tokens.items()}
        longest_first = sorted(self.special_tokens, key=len, reverse=True)
        self._special_regex = (re.compile("(" + "|".join(re.escape(s) for s in longest_first) + ")")
                               if self.special_tokens else None)
        self._cache: dict[str, list[int]] = {}

    # -- building
    @classmethod
    def train(cls, text: str, num_merges: int, *, special_tokens: Sequence[str] = (),
              pattern: str = BPE_PATTERN) -> BPETokenizer:
        """Learn ``num_merges`` merges from ``text`` (see :func:`train_bpe`) and build the tokenizer."""
        return cls(train_bpe(text, num_merges, pattern), special_tokens, pattern)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab) + len(self.special_tokens)

    # -- using
    def _encode_chunk(self, chunk: str) -> list[int]:
        cached = self._cache.get(chunk)
        if cached is not None:
            return cached
        ids = list(chunk.encode("utf-8"))
        while len(ids) >= 2:
            # the pair learned earliest among those present is merged first
            pair = min(zip(ids, ids[1:]), key=lambda p: self.merges.get(p, float("inf")))
            if pair not in self.merges:
                break
            ids = merge(ids, pair, self.merges[pair])
        if len(self._cache) < 100_000:
            self._cache[chunk] = ids
        return ids

    def _encode_ordinary(self, text: str) -> list[int]:
        out: list[int] = []
        for chunk in self._regex.findall(text):
            out.extend(self._encode_chunk(chunk))
        return out

    def encode(self, text: str, *, allowed_special: str | Iterable[str] = ()) -> list[int]:
        """Token ids for ``text``.

        By default a special-token string that appears in ``text`` (say a user typed
        ``"<|endoftext|>"``) is encoded as ordinary text, byte by byte, so text from outside can
        never produce a special id and fake a document boundary or a role marker (prompt
        injection, notebook 15). ``allowed_special`` names the special tokens that *do* become
        their ids — a collection of them, or ``"all"`` — for text the program wrote itself.
        tiktoken makes the same choice (there, a disallowed special string raises an error).
        Either way ``decode(encode(text)) == text``.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}")
        allowed = self._allowed_special(allowed_special)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError("text must be valid Unicode "
                             f"(it contains a lone surrogate at position {err.start})") from None
        if not allowed:
            return self._encode_ordinary(text)
        regex = (self._special_regex if len(allowed) == len(self.special_tokens) else
                 re.compile("(" + "|".join(re.escape(s) for s in sorted(allowed, key=len, reverse=True)) + ")"))
        out: list[int] = []
        for part in regex.split(text):
            if part in allowed:
                out.append(self.special_tokens[part])
            elif part:
                out.extend(self._encode_ordinary(part))
        return out

    def _allowed_special(self, allowed_special) -> set[str]:
        if isinstance(allowed_special, str):
            if allowed_special == "all":
                return set(self.special_tokens)
            raise ValueError(f"allowed_special must be 'all' or a collection of special-token strings; "
                             f"got {allowed_special!r}")
        if not isinstance(allowed_special, Iterable):
            raise ValueError(f"allowed_special must be 'all' or a collection of special-token strings; "
                             f"got {allowed_special!r}")
        allowed = set(allowed_special)
        unknown = sorted(allowed - set(self.special_tokens), key=repr)
        if unknown:
            raise ValueError(f"allowed_special must name special tokens of this tokenizer "
                             f"({sorted(self.special_tokens)}); got {unknown}")
        return allowed

    def token_bytes(self, i: int) -> bytes:
        """The bytes token ``i`` stands for (a special token's UTF-8 text)."""
        return self._bytes(_checked_id(i, self.vocab_size))

    def _bytes(self, i: int) -> bytes:
        return self.vocab[i] if i < len(self.vocab) else self._special_by_id[i].encode("utf-8")

    def decode(self, ids: Sequence[int]) -> str:
        """The text for ``ids``. Bytes that do not form valid UTF-8 (e.g. half a character) become '�'."""
        return b"".join(self._bytes(i) for i in _checked_ids(ids, self.vocab_size)).decode("utf-8", errors="replace")

    def piece(self, i: int) -> str:
        """Token ``i`` as text; a token holding only part of a character shows its bytes, e.g. ``'\\xe4\\xbd'``."""
        return _shown(self.token_bytes(i))

    def pieces(self, text: str) -> list[str]:
        """The text of each token of ``text`` (see :meth:`piece`)."""
        return [_shown(self._bytes(i)) for i in self.encode(text)]

    def to_huggingface(self):
        """The same tokenizer as a Hugging Face ``tokenizers.Tokenizer`` (BPE model, byte-level alphabet).

        It splits text with the same pattern (run by the Oniguruma regex engine instead of
        Python's ``re``; the two agree except on a few rare characters such as '½') and
        applies the same merges, so its ids equal :meth:`encode`'s. Special tokens are added
        as added tokens; like :meth:`encode`'s default, the returned tokenizer reads their
        strings in text as ordinary text (``encode_special_tokens = True``). Set that to
        ``False`` for the equivalent of ``encode(text, allowed_special="all")``.
        """
        from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

        show = _byte_to_unicode()
        as_text = lambda raw: "".join(show[b] for b in raw)  # noqa: E731
        vocab = {as_text(raw): i for i, raw in enumerate(self.vocab)}
        merges = [(as_text(self.vocab[a]), as_text(self.vocab[b])) for a, b in self.merges]
        hf = Tokenizer(models.BPE(vocab, merges))
        hf.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(self.pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        hf.decoder = decoders.ByteLevel()
        if self.special_tokens:
            hf.add_special_tokens(list(self.special_tokens))
        hf.encode_special_tokens = True  # special strings in text stay text, as in encode()
        return hf

    # -- saving
    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer as JSON: format, version, pattern, merges and special tokens."""
        data = {"format": _FORMAT, "version": _FORMAT_VERSION, "pattern": self.pattern,
                "merges": [list(p) for p in self.merges], "special_tokens": list(self.special_tokens)}
        def write(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False)

        atomic_write(path, write)   # a crash mid-save leaves the old file, never half a new one

    @classmethod
    def load(cls, path: str | os.PathLike) -> BPETokenizer:
        """Read a tokenizer written by :meth:`save`; a damaged or foreign file is a clear ``ValueError``."""
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{os.fspath(path)!s} is not a valid tokenizer file (not JSON: {err})") from None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"{os.fspath(path)!s} is not a valid tokenizer file: expected format {_FORMAT!r}")
        if data.get("version") != _FORMAT_VERSION:
            raise ValueError(f"tokenizer file version must be {_FORMAT_VERSION}; got {data.get('version')!r}")
        missing = [k for k in ("pattern", "merges", "special_tokens") if k not in data]
        if missing:
            raise ValueError(f"tokenizer file is missing {', '.join(missing)}")
        if not isinstance(data["merges"], list) or not isinstance(data["special_tokens"], list):
            raise ValueError("tokenizer file: merges and special_tokens must be lists")
        return cls([tuple(p) if isinstance(p, list) else p for p in data["merges"]],
                   data["special_tokens"], data["pattern"])


def _shown(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(f"\\x{b:02x}" for b in raw)


def _byte_to_unicode() -> dict[int, str]:
    """GPT-2's table that gives each byte a printable character (used by Hugging Face's byte-level BPE)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {b: chr(b) for b in printable}, 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _valid_pair(pair, new_id: int, k: int) -> tuple[int, int]:
    ok = (isinstance(pair, (tuple, list)) and len(pair) == 2
          and all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < new_id for x in pair))
    if not ok:
        raise ValueError(f"merge {k} must be a pair of existing token ids in [0, {new_id}); got {pair!r}")
    return int(pair[0]), int(pair[1])


# ----------------------------------------------------------------------------- display

_COLOURS = ("#fde2e4", "#d8f3dc", "#dbe7fb", "#fff1c1", "#eadcf8", "#ffd8be")


def token_view(pieces: Sequence[str], ids: Sequence[int] | None = None) -> str:
    """HTML that shows each token's text on its own coloured background, with its id below.

    Spaces show as ``␣`` and newlines as ``↵`` so token boundaries stay visible.
    """
    if ids is not None and len(ids) != len(pieces):
        raise ValueError(f"ids must have one entry per piece ({len(pieces)}); got {len(ids)}")
    cells = []
    for k, piece in enumerate(pieces):
        shown = html.escape(piece).replace(" ", "␣").replace("\n", "↵")
        sub = f"<br><small style='color:#555'>{ids[k]}</small>" if ids is not None else ""
        cells.append(f"<span style='display:inline-block;text-align:center;background:{_COLOURS[k % len(_COLOURS)]};"
                     f"margin:1px;padding:1px 3px;border-radius:3px;font-family:monospace'>{shown}{sub}</span>")
    return f"<div style='line-height:2.2'>{''.join(cells)}<br><small>{len(pieces)} tokens</small></div>"


# ----------------------------------------------------------------------------- a small Chinese text

CHINESE_SAMPLE = """\
语言模型根据前面的文字预测下一个词。
我们先把文字切成词元，再把每个词元换成一个整数。
中文句子里没有空格，所以分词本身就是一个问题。
同一个句子可以按字切分，也可以按词切分。
按字切分的词表很小，但是序列很长。
按词切分的序列较短，但是会遇到没见过的词。
字节对编码从字节开始，反复合并最常见的相邻组合。
每个汉字在 UTF-8 里占三个字节。
训练好的分词器可以保存下来，以后直接加载。
模型只看到整数，看不到文字本身。
我们今天学习分词，明天学习词向量。
这部电影不好看，那部电影很好看。
他没有去北京，而是去了上海。
如果去掉“不”和“没有”，句子的意思就反过来了。
停用词虽然常见，却常常决定句子的意思。
大型语言模型在很多语言的文本上训练。
一个好的分词器让常见的词变成一个词元。
少见的词会被拆成几个更小的片段。
注意力机制让模型同时看到整个句子。
我们用小模型做实验，用大模型做对比。
"""
"""Twenty short Chinese sentences written for this course (notebook 01), about tokenization itself."""
