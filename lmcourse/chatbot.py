"""Talking to a GPT: the chat loop that turns a language model into an assistant you can type to (notebook 16).

A chat model is still a next-token predictor. To answer, the conversation is rendered with the
chat template (:mod:`lmcourse.chat`: ``<|user|>…<|end|>`` per turn, then ``<|assistant|>``),
and the model continues the text one token at a time until it writes the ``<|end|>`` that closes
its turn. :func:`stream_reply` does exactly that with the GPT's KV cache (the prompt is fed once,
"prefill", then one new token per step) and :func:`lmcourse.sampling.sample_next` (temperature,
top-p, or the arg-max). It yields text as soon as it is valid UTF-8: a Chinese character spans
several byte tokens, so the pieces come from an incremental UTF-8 decoder over
``tokenizer.token_bytes`` and join to ``tokenizer.decode(reply_ids)``. The returned
:class:`ReplyStream` says afterwards why the reply ended (``finish_reason``, like the
``finish_reason`` of chat APIs): ``"end"`` (the model wrote ``<|end|>``), ``"special"`` (it wrote
another special token, say ``<|user|>``, which also ends the turn), ``"max_new_tokens"`` or
``"block_size"`` (cut: the conversation filled the model's context window).

:class:`Chat` keeps a multi-turn history and renders all of it through the template every turn,
as chat servers do; :func:`chat_widget` is the same loop in an ipywidgets box for JupyterLab
(streamed transcript, temperature and top-p sliders, "New chat"), plain widgets that work offline.
"""

from __future__ import annotations

import codecs
import html
import warnings
from collections.abc import Iterator

import torch

from . import chat, sampling
from ._checks import ArgumentError, integer

FINISH_REASONS = ("end", "special", "max_new_tokens", "block_size")


def _conversation(messages) -> list[dict]:
    """``messages`` checked by :func:`lmcourse.chat.check_messages`, and ending with the user turn a reply answers."""
    messages = chat.check_messages(messages)
    if not messages or messages[-1]["role"] != "user":
        last = repr(messages[-1]["role"]) if messages else "an empty list"
        raise ArgumentError(f"messages must end with a user turn (the one the assistant answers); got {last}")
    return messages


def _check_model_and_tokenizer(model, tokenizer) -> None:
    if not all(hasattr(model, a) for a in ("config", "new_cache", "next_logits")):
        raise ArgumentError(f"model must be a GPT (lmcourse.gpt.GPT, with new_cache and next_logits); "
                            f"got {type(model).__name__}")
    chat.end_id(tokenizer)    # a BPETokenizer with the chat special tokens, or a clear error
    if model.config.vocab_size != tokenizer.vocab_size:
        raise ArgumentError(f"model.config.vocab_size must equal tokenizer.vocab_size={tokenizer.vocab_size} "
                            f"(the model was built for another tokenizer); got {model.config.vocab_size}")


class ReplyStream:
    """The assistant's reply as it is generated: iterate for text pieces (str), read the outcome after.

    Built by :func:`stream_reply`. Attributes: ``prompt_ids`` (the rendered conversation, ending in
    ``<|assistant|>``), ``ids`` (the reply's token ids so far, without the token that ended it),
    ``finish_reason`` (``None`` while running, then one of :data:`FINISH_REASONS`), ``stop_token``
    (the special token that ended the reply, or ``None`` when it was cut) and ``text`` (the pieces
    yielded so far, joined; equal to ``tokenizer.decode(ids)`` once finished).
    """

    def __init__(self, model, tokenizer, prompt_ids: list[int], *, max_new_tokens: int, temperature: float,
                 top_p: float | None, greedy: bool, generator, use_cache: bool):
        self.model, self.tokenizer, self.prompt_ids = model, tokenizer, prompt_ids
        self.ids: list[int] = []
        self.text = ""
        self.finish_reason: str | None = None
        self.stop_token: str | None = None
        self._sampling = (temperature, top_p, greedy, generator)
        self._steps = self._generate(max_new_tokens, use_cache)

    def __iter__(self) -> ReplyStream:
        return self

    def __next__(self) -> str:
        return next(self._steps)

    @property
    def cut(self) -> bool:
        """True when the reply was cut by a limit (``max_new_tokens`` or ``block_size``), not ended by the model."""
        return self.finish_reason in ("max_new_tokens", "block_size")

    @torch.no_grad()
    def _logits(self, idx: list[int], cache) -> torch.Tensor:
        """Next-token logits (1, V) in eval mode (no dropout); the model's mode is restored."""
        device = next(self.model.parameters()).device
        was_training = self.model.training
        self.model.eval()
        try:
            return self.model.next_logits(torch.tensor([idx], dtype=torch.long, device=device), cache)
        finally:
            self.model.train(was_training)

    def _generate(self, max_new_tokens: int, use_cache: bool) -> Iterator[str]:
        temperature, top_p, greedy, generator = self._sampling
        specials = {i: s for s, i in self.tokenizer.special_tokens.items()}
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        block = self.model.config.block_size
        context = list(self.prompt_ids)
        cache = self.model.new_cache(1) if use_cache else None
        while True:
            if len(self.ids) == max_new_tokens:
                self.finish_reason = "max_new_tokens"
                break
            if len(context) >= block:          # one more token would not fit the context window
                self.finish_reason = "block_size"
                break
            if cache is None:
                logits = self._logits(context, None)                     # the whole context every step
            elif cache.length == 0:
                logits = self._logits(context, cache)                    # prefill: the whole prompt once
            else:
                logits = self._logits(context[-1:], cache)               # then one token per step
            # (1, V) -> (1, 1); temperature 0 is not allowed here: greedy=True is the arg-max
            nxt = int(sampling.sample_next(logits, temperature, None, top_p, greedy=greedy, generator=generator))
            if nxt in specials:
                self.finish_reason = "end" if specials[nxt] == "<|end|>" else "special"
                self.stop_token = specials[nxt]
                break
            self.ids.append(nxt)
            context.append(nxt)
            piece = decoder.decode(self.tokenizer.token_bytes(nxt))
            if piece:
                self.text += piece
                yield piece
        tail = decoder.decode(b"", final=True)   # half a character left at the end becomes '�', as in decode()
        if tail:
            self.text += tail
            yield tail


def stream_reply(model, tokenizer, messages: list[dict], *, max_new_tokens: int = 64, temperature: float = 1.0,
                 top_p: float | None = None, greedy: bool = False, generator: torch.Generator | None = None,
                 use_cache: bool = True) -> ReplyStream:
    """The assistant's answer to ``messages``, streamed: a :class:`ReplyStream` of text pieces.

    ``messages`` (a list of ``{"role", "content"}`` dicts ending with a user turn) is encoded with
    :func:`lmcourse.chat.encode_chat` (``add_generation_prompt=True``); each step samples one token
    from the model's next-token logits (1, V) with :func:`lmcourse.sampling.sample_next`
    (``temperature``, ``top_p``; ``greedy=True`` for the arg-max; a seeded ``generator`` for
    repeatable draws). With ``use_cache`` the prompt is fed once and then one token per step through
    the KV cache; without it the whole context is fed every step (same tokens, slower). The reply
    ends at ``<|end|>`` (not yielded) or any other special token, or is cut at ``max_new_tokens``
    or when prompt + reply fill ``block_size``: the stream's ``finish_reason`` tells which.
    """
    _check_model_and_tokenizer(model, tokenizer)
    messages = _conversation(messages)
    max_new_tokens = integer("max_new_tokens", max_new_tokens, min=0)
    sampling.check_sampling_args(temperature, None, top_p)
    prompt_ids, _ = chat.encode_chat(tokenizer, messages, add_generation_prompt=True)
    block = model.config.block_size
    if len(prompt_ids) > block:
        raise ArgumentError(f"messages must fit the context window of block_size={block} tokens (start a new "
                            f"chat, or drop old turns); got {len(prompt_ids)} tokens")
    return ReplyStream(model, tokenizer, prompt_ids, max_new_tokens=max_new_tokens, temperature=temperature,
                       top_p=top_p, greedy=bool(greedy), generator=generator, use_cache=bool(use_cache))


def reply(model, tokenizer, messages: list[dict], **options) -> str:
    """The assistant's whole answer to ``messages`` as one string: :func:`stream_reply`'s pieces joined
    (same keyword options)."""
    return "".join(stream_reply(model, tokenizer, messages, **options))


@torch.no_grad()
def greedy_replies(model, tokenizer, conversations, *, max_new_tokens: int = 64) -> list[str]:
    """The greedy reply to each of ``conversations`` (a list of message lists), computed in batches.

    The same replies as ``reply(model, tokenizer, messages, greedy=True, max_new_tokens=...)`` one
    conversation at a time (up to floating-point ties between two equally likely tokens), but
    conversations whose prompts have the same length share one batched prefill and one KV cache,
    which makes scoring hundreds of held-out prompts fast. Each reply ends at the first special
    token or is cut at ``max_new_tokens`` or when it fills ``block_size``. Runs in eval mode.
    """
    _check_model_and_tokenizer(model, tokenizer)
    max_new_tokens = integer("max_new_tokens", max_new_tokens, min=0)
    if isinstance(conversations, (str, dict)) or not hasattr(conversations, "__len__"):
        raise ArgumentError(f"conversations must be a list of message lists; got {type(conversations).__name__}")
    prompts = [chat.encode_chat(tokenizer, _conversation(m), add_generation_prompt=True)[0] for m in conversations]
    block, specials = model.config.block_size, set(tokenizer.special_tokens.values())
    for i, p in enumerate(prompts):
        if len(p) > block:
            raise ArgumentError(f"conversations[{i}] must fit block_size={block} tokens; got {len(p)}")
    device = next(model.parameters()).device
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(prompts):
        groups.setdefault(len(p), []).append(i)
    out = [""] * len(prompts)
    was_training = model.training
    model.eval()
    try:
        for n, rows in groups.items():
            steps = min(max_new_tokens, block - n)
            ids = torch.tensor([prompts[i] for i in rows], dtype=torch.long, device=device)   # (B, n)
            cache, new = model.new_cache(len(rows)), [[] for _ in rows]
            done = [False] * len(rows)
            for _ in range(steps):
                nxt = model.next_logits(ids, cache).argmax(-1)                # (B,): prefill first, then one token
                for b, t in enumerate(nxt.tolist()):
                    if not done[b]:
                        done[b] = t in specials
                        if not done[b]:
                            new[b].append(t)
                if all(done):
                    break
                ids = nxt[:, None]
            for b, i in enumerate(rows):
                out[i] = tokenizer.decode(new[b])
    finally:
        model.train(was_training)
    return out


class Chat:
    """A multi-turn conversation with ``model``: ``send(text)`` adds your turn and returns the reply.

    ``history`` holds the messages (an optional ``system`` message first, then user and assistant
    turns); :meth:`reset` starts over. Every turn the whole history goes through the chat template
    and the model again, with a fresh KV cache (what chat servers do: the model has no memory
    besides the text in its context). ``sampling`` are :func:`stream_reply`'s keyword options
    (``max_new_tokens``, ``temperature``, ``top_p``, ``greedy``, ``generator``, ``use_cache``);
    ``last`` is the last reply's :class:`ReplyStream` (its ``finish_reason``, ``ids``; ``None`` before the first).
    """

    def __init__(self, model, tokenizer, system: str | None = None, **sampling_options):
        _check_model_and_tokenizer(model, tokenizer)
        if system is not None and not isinstance(system, str):
            raise ArgumentError(f"system must be None or a str; got {type(system).__name__}")
        allowed = ("max_new_tokens", "temperature", "top_p", "greedy", "generator", "use_cache")
        unknown = sorted(set(sampling_options) - set(allowed))
        if unknown:
            raise ArgumentError(f"sampling options must be among {allowed}; got {unknown}")
        self.model, self.tokenizer, self.system = model, tokenizer, system
        self.sampling = dict(sampling_options)
        self.reset()

    def reset(self) -> None:
        """Forget the conversation (the system message stays)."""
        self.history: list[dict] = [] if self.system is None else [{"role": "system", "content": self.system}]
        self.last: ReplyStream | None = None

    def stream(self, text: str, **overrides) -> Iterator[str]:
        """Like :meth:`send`, but yield the reply's pieces as they come; the history is updated at the end."""
        if not isinstance(text, str):
            raise ArgumentError(f"text must be a str; got {type(text).__name__}")
        messages = self.history + [{"role": "user", "content": text}]
        self.last = stream_reply(self.model, self.tokenizer, messages, **{**self.sampling, **overrides})
        yield from self.last
        self.history = messages + [{"role": "assistant", "content": self.last.text}]

    def send(self, text: str, **overrides) -> str:
        """Add the user turn ``text``, generate the assistant's reply, add it too, and return it."""
        return "".join(self.stream(text, **overrides))

    def render(self) -> str:
        """The history as the model reads it: :func:`lmcourse.chat.render` of every turn."""
        return chat.render(self.history)


_MARKS = {"end": "[end of turn]", "special": "[stopped at {stop}]",
          "max_new_tokens": "[cut: max_new_tokens={max_new_tokens} reached]",
          "block_size": "[cut: the context is full (block_size={block_size})]"}


def finish_mark(finish_reason: str, *, stop_token: str | None = None, max_new_tokens: int | None = None,
                block_size: int | None = None) -> str:
    """The note the chat widget shows after a reply: ``"[end of turn]"`` when the model wrote ``<|end|>``,
    ``"[cut: …]"`` when a limit stopped it, ``"[stopped at <|user|>]"`` for another special token."""
    if finish_reason not in _MARKS:
        raise ArgumentError(f"finish_reason must be one of {FINISH_REASONS}; got {finish_reason!r}")
    return _MARKS[finish_reason].format(stop=stop_token, max_new_tokens=max_new_tokens, block_size=block_size)


class ChatWidget:
    """The pieces of :func:`chat_widget`: ``box`` (what the notebook shows), ``chat`` (the :class:`Chat`),
    ``transcript`` (HTML), ``text``, ``send_button``, ``new_button``, ``temperature``, ``top_p``.

    ``send()`` is what Enter and the Send button call: it streams the reply into the transcript.
    """

    def __init__(self, model, tokenizer, *, system: str | None = None, temperature: float = 0.0,
                 top_p: float = 1.0, max_new_tokens: int = 64, generator: torch.Generator | None = None):
        import ipywidgets as widgets

        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
            raise ArgumentError(f"temperature must be a number in [0, 2] (0 means greedy); got {temperature!r}")
        sampling.check_sampling_args(top_p=top_p)
        self.max_new_tokens = integer("max_new_tokens", max_new_tokens, min=1)
        self.chat = Chat(model, tokenizer, system=system, max_new_tokens=self.max_new_tokens, generator=generator)
        self._turns: list[tuple[str, str, str]] = []      # (role, text, mark) shown in the transcript
        self.transcript = widgets.HTML(layout=widgets.Layout(width="100%", min_height="120px", max_height="400px",
                                                             overflow="auto", border="1px solid #ccc",
                                                             padding="4px 8px"))
        self.text = widgets.Text(placeholder="Type a message, press Enter", layout=widgets.Layout(width="60%"))
        self.send_button = widgets.Button(description="Send", button_style="primary")
        self.new_button = widgets.Button(description="New chat")
        wide = {"description_width": "initial"}
        self.temperature = widgets.FloatSlider(value=temperature, min=0.0, max=2.0, step=0.05, style=wide,
                                               description="temperature (0 = greedy)")
        self.top_p = widgets.FloatSlider(value=top_p, min=0.05, max=1.0, step=0.05, description="top-p", style=wide)
        with warnings.catch_warnings():   # ipywidgets 8 calls on_submit deprecated, but it is the Enter key's event
            warnings.simplefilter("ignore", DeprecationWarning)
            self.text.on_submit(lambda _: self.send())
        self.send_button.on_click(lambda _: self.send())
        self.new_button.on_click(lambda _: self.new_chat())
        self.box = widgets.VBox([self.transcript, widgets.HBox([self.text, self.send_button, self.new_button]),
                                 widgets.HBox([self.temperature, self.top_p])])
        self._show()

    def _show(self, streaming: str | None = None) -> None:
        rows = [f"<div style='margin:2px 0'><i>system:</i> {html.escape(self.chat.system)}</div>"
                if self.chat.system else ""]
        for role, text, mark in self._turns:
            who = "You" if role == "user" else "Assistant"
            note = f" <span style='color:#888'>{html.escape(mark)}</span>" if mark else ""
            rows.append(f"<div style='margin:2px 0;white-space:pre-wrap'><b>{who}:</b> {html.escape(text)}{note}</div>")
        if streaming is not None:
            rows.append(f"<div style='margin:2px 0;white-space:pre-wrap'><b>Assistant:</b> "
                        f"{html.escape(streaming)}▌</div>")
        self.transcript.value = "".join(rows)

    def send(self) -> None:
        """Send the text box's message: stream the reply into the transcript, then mark how it ended."""
        text = self.text.value.strip()
        if not text or self.send_button.disabled:
            return
        self.text.value, self.send_button.disabled = "", True
        self._turns.append(("user", text, ""))
        t, p = self.temperature.value, self.top_p.value
        options = dict(greedy=True) if t == 0 else dict(temperature=t, top_p=p)
        shown = ""
        try:
            for piece in self.chat.stream(text, **options):
                shown += piece
                self._show(streaming=shown)
            last = self.chat.last
            mark = finish_mark(last.finish_reason, stop_token=last.stop_token, max_new_tokens=self.max_new_tokens,
                               block_size=self.chat.model.config.block_size)
            self._turns.append(("assistant", shown, mark))
        except ArgumentError as error:     # e.g. the conversation no longer fits the context window
            self._turns.append(("assistant", shown, f"[{error}]"))
        finally:
            self.send_button.disabled = False
            self._show()

    def new_chat(self) -> None:
        """Start over: an empty history (the system message stays) and an empty transcript."""
        self.chat.reset()
        self._turns = []
        self._show()


def chat_widget(model, tokenizer, *, system: str | None = None, temperature: float = 0.0, top_p: float = 1.0,
                max_new_tokens: int = 64, generator: torch.Generator | None = None):
    """A chat box for JupyterLab (ipywidgets): type a message, press Enter or Send, watch the reply stream.

    The transcript shows every turn and, after each reply, how it ended: ``[end of turn]`` when the
    model wrote ``<|end|>``, ``[cut: …]`` when ``max_new_tokens`` or ``block_size`` stopped it. The
    temperature slider at 0 means greedy (the arg-max; top-p then has no effect); "New chat"
    clears the history. Returns the ``ipywidgets.VBox`` to display; its ``chat_widget`` attribute is
    the :class:`ChatWidget` with the parts (for tests, or to read ``.chat.history``).
    """
    parts = ChatWidget(model, tokenizer, system=system, temperature=temperature, top_p=top_p,
                       max_new_tokens=max_new_tokens, generator=generator)
    parts.box.chat_widget = parts
    return parts.box
