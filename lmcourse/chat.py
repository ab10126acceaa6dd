"""Chat templates: how a conversation becomes one token sequence, and which of its tokens a model learns.

An assistant is a language model that reads a conversation written in a fixed format — the
*chat template* — and continues it with the assistant's turn. Here every message is written
as ``<|role|>content<|end|>`` (roles ``system``, ``user``, ``assistant``), with one special
token per role marker, and a prompt for a reply ends in ``<|assistant|>``. Instruction tuning
(notebook 16) trains on such sequences with the loss only on the assistant's tokens:
:func:`encode_chat` returns that mask and :func:`sft_batch` turns it into targets with
``-1`` (ignored) everywhere else. :data:`CHAT_TEMPLATE` is the same format as a Jinja
template, the form ``transformers``' ``apply_chat_template`` reads, and :func:`to_transformers`
gives a tokenizer that renders and encodes chats exactly as this module does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from ._checks import ArgumentError, integer
from .tokenizers import BPETokenizer

SPECIAL_TOKENS = ("<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>")
ROLES = ("system", "user", "assistant")
END = "<|end|>"

# The same format as a Jinja template (what a model's tokenizer_config.json carries as "chat_template").
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


def check_messages(messages, *, name: str = "messages") -> list[dict]:
    """``messages`` as a list of ``{"role", "content"}`` dicts, or a clear error naming the bad message."""
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Sequence):
        raise ArgumentError(f"{name} must be a list of {{'role': ..., 'content': ...}} dicts; "
                            f"got {type(messages).__name__}")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or "role" not in m or "content" not in m:
            raise ArgumentError(f"{name}[{i}] must be a dict with 'role' and 'content'; got {m!r}")
        if m["role"] not in ROLES:
            raise ArgumentError(f"{name}[{i}]['role'] must be one of {', '.join(ROLES)}; got {m['role']!r}")
        if not isinstance(m["content"], str):
            raise ArgumentError(f"{name}[{i}]['content'] must be a str; got {type(m['content']).__name__}")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def render(messages, add_generation_prompt: bool = False) -> str:
    """The conversation as text: ``<|role|>content<|end|>`` per message, then ``<|assistant|>`` if asked.

    >>> render([{"role": "user", "content": "Hi"}], add_generation_prompt=True)
    '<|user|>Hi<|end|><|assistant|>'
    """
    text = "".join(f"<|{m['role']}|>{m['content']}{END}" for m in check_messages(messages))
    return text + ("<|assistant|>" if add_generation_prompt else "")


def chat_tokenizer(text: str, num_merges: int) -> BPETokenizer:
    """A byte-level BPE tokenizer learned from ``text`` with the chat's special tokens (:data:`SPECIAL_TOKENS`).

    Every special-token string in ``text`` (a corpus joined with ``"<|endoftext|>"``, say) is cut
    out before the merges are learned — each is replaced by a newline — so no merge is spent on
    the markers' bytes or joins the end of one document to the start of the next.
    """
    if not isinstance(text, str):
        raise ArgumentError(f"text must be a str; got {type(text).__name__}")
    for s in SPECIAL_TOKENS:
        text = text.replace(s, "\n")
    return BPETokenizer.train(text, num_merges, special_tokens=SPECIAL_TOKENS)


def _special_ids(tokenizer) -> dict[str, int]:
    if not isinstance(tokenizer, BPETokenizer):
        raise ArgumentError(f"tokenizer must be a BPETokenizer; got {type(tokenizer).__name__}")
    missing = [s for s in SPECIAL_TOKENS if s not in tokenizer.special_tokens]
    if missing:
        raise ArgumentError(f"tokenizer must have the chat special tokens {', '.join(SPECIAL_TOKENS)} "
                            f"(see chat_tokenizer); it lacks {', '.join(missing)}")
    return tokenizer.special_tokens


def end_id(tokenizer) -> int:
    """The id of ``<|end|>``, the token that closes every turn (generation stops there)."""
    return _special_ids(tokenizer)[END]


def encode_chat(tokenizer, messages, add_generation_prompt: bool = False) -> tuple[list[int], list[bool]]:
    """Token ids of the rendered conversation and, per token, whether instruction tuning trains on it.

    Role markers become their special ids; every ``content`` is encoded as ordinary text, so a user
    who types ``"<|end|>"`` gets its bytes, never the id (a message cannot forge a turn). The mask
    is True for the tokens of each assistant message's content and for the ``<|end|>`` that closes
    it — the model learns to write replies and to stop — and False for system and user turns,
    their markers and the ``<|assistant|>`` marker itself (the template writes those, not the model).
    The ids equal ``tokenizer.encode(render(messages), allowed_special="all")`` whenever no content
    holds a special string.
    """
    special = _special_ids(tokenizer)
    ids: list[int] = []
    mask: list[bool] = []
    for m in check_messages(messages):
        body = tokenizer.encode(m["content"])
        trained = m["role"] == "assistant"
        ids += [special[f"<|{m['role']}|>"], *body, special[END]]
        mask += [False] + [trained] * (len(body) + 1)
    if add_generation_prompt:
        ids.append(special["<|assistant|>"])
        mask.append(False)
    return ids, mask


def sft_batch(examples, *, block_size: int, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets for instruction tuning: ``examples`` = [(ids, train_mask), ...] -> x, y (B, T).

    ``x[b, t] = ids[t]`` and ``y[b, t] = ids[t + 1]`` where ``train_mask[t + 1]`` is True, else ``-1``
    (ignored by the loss, as is everything after an example's end); ``T`` is the longest example's
    length minus one. Sequences are right-padded with ``pad_id``. An example longer than
    ``block_size + 1`` tokens is refused (cutting it would silently drop the end of a reply).
    """
    block_size = integer("block_size", block_size, min=1)
    pad_id = integer("pad_id", pad_id, min=0)
    if isinstance(examples, (str, bytes)) or not isinstance(examples, Sequence) or not examples:
        raise ArgumentError(f"examples must be a non-empty list of (ids, train_mask) pairs; got {examples!r:.80}")
    for i, ex in enumerate(examples):
        if not (isinstance(ex, Sequence) and len(ex) == 2 and len(ex[0]) == len(ex[1])):
            raise ArgumentError(f"examples[{i}] must be an (ids, train_mask) pair of equal lengths; got {ex!r:.80}")
        if not 2 <= len(ex[0]) <= block_size + 1:
            raise ArgumentError(f"examples[{i}] must have 2 to block_size + 1 = {block_size + 1} tokens; "
                                f"got {len(ex[0])}")
    T = max(len(ids) for ids, _ in examples) - 1
    x = torch.full((len(examples), T), pad_id, dtype=torch.long)
    y = torch.full((len(examples), T), -1, dtype=torch.long)
    for b, (ids, mask) in enumerate(examples):
        ids_t = torch.as_tensor(list(ids), dtype=torch.long)
        keep = torch.as_tensor([bool(v) for v in mask[1:]], dtype=torch.bool)
        n = len(ids) - 1
        x[b, :n] = ids_t[:-1]
        y[b, :n] = torch.where(keep, ids_t[1:], torch.full_like(ids_t[1:], -1))
    return x, y


def to_transformers(tokenizer):
    """The tokenizer as a ``transformers`` ``PreTrainedTokenizerFast`` carrying :data:`CHAT_TEMPLATE`.

    Its ``apply_chat_template(messages, tokenize=False)`` gives :func:`render`'s text, and with
    ``tokenize=True`` the ids of :func:`encode_chat` — the check that our template is the one a
    Hugging Face model would be served with.
    """
    from transformers import PreTrainedTokenizerFast

    _special_ids(tokenizer)
    hf = tokenizer.to_huggingface()
    hf.encode_special_tokens = False   # the template's markers are special tokens
    return PreTrainedTokenizerFast(tokenizer_object=hf, chat_template=CHAT_TEMPLATE, eos_token=END,
                                   pad_token="<|endoftext|>")
