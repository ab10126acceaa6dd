"""Tokenizers: turning text into integer ids and back.

Notebook 01 builds these from scratch. The simplest is :class:`CharTokenizer`, one id per
distinct character, used by the character-level models of notebooks 02, 04 and 09.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


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
        """The text for ``ids``; an id outside ``[0, vocab_size)`` is an error."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"ids must be in [0, {self.vocab_size}); got {i}")
            out.append(self.chars[i])
        return "".join(out)
