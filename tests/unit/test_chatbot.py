"""The chat loop: streamed replies with the KV cache, how they end, multi-turn history, the widget."""

import pytest
import torch

from lmcourse import chat, chatbot
from lmcourse._checks import ArgumentError
from lmcourse.gpt import GPT, GPTConfig
from lmcourse.tokenizers import BPETokenizer

BLOCK = 40
# (question, reply, the token that closes the reply): a tiny GPT learns these by heart.
CHATS = [("hi", "hello", "<|end|>"), ("ping", "pong", "<|user|>"), ("你好", "世界", "<|end|>"),
         ("long", "a" * 60, "<|end|>")]


def user(text):
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def tokenizer():
    return BPETokenizer(special_tokens=chat.SPECIAL_TOKENS)   # bytes only: a Chinese character is 3 tokens


@pytest.fixture(scope="module")
def model(tokenizer):
    """A 1-layer GPT trained (200 steps, about a second) on CHATS' replies, cut to the context window.

    With this recipe each of 30 seeds tried learns all four replies exactly (greedy); seed 0 is used."""
    seqs = []
    for question, answer, stop in CHATS:
        prompt, _ = chat.encode_chat(tokenizer, user(question), add_generation_prompt=True)
        seqs.append((prompt, (prompt + tokenizer.encode(answer) + [tokenizer.special_tokens[stop]])[:BLOCK + 1]))
    x = torch.zeros(len(seqs), BLOCK, dtype=torch.long)
    y = torch.full((len(seqs), BLOCK), -1)
    for i, (prompt, ids) in enumerate(seqs):
        x[i, :len(ids) - 1] = torch.tensor(ids[:-1])
        y[i, len(prompt) - 1:len(ids) - 1] = torch.tensor(ids[len(prompt):])   # train on the reply only
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(block_size=BLOCK, vocab_size=tokenizer.vocab_size, n_layer=1, n_head=2, n_embd=32))
    opt = torch.optim.AdamW(gpt.parameters(), lr=1e-2)
    for _ in range(200):
        _, loss = gpt(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return gpt


@pytest.fixture(scope="module")
def random_model(tokenizer):
    torch.manual_seed(1)
    return GPT(GPTConfig(block_size=BLOCK, vocab_size=tokenizer.vocab_size, n_layer=1, n_head=2, n_embd=16))


def test_reply_stops_at_end_token_without_yielding_it(model, tokenizer):
    stream = chatbot.stream_reply(model, tokenizer, user("hi"), greedy=True)
    assert list(stream) == list("hello")
    assert (stream.finish_reason, stream.stop_token, stream.cut) == ("end", "<|end|>", False)
    assert stream.ids == tokenizer.encode("hello") and stream.text == "hello"


def test_another_special_token_also_ends_the_reply(model, tokenizer):
    stream = chatbot.stream_reply(model, tokenizer, user("ping"), greedy=True)
    assert "".join(stream) == "pong"
    assert (stream.finish_reason, stream.stop_token, stream.cut) == ("special", "<|user|>", False)


def test_chinese_reply_streams_whole_characters_from_byte_tokens(model, tokenizer):
    stream = chatbot.stream_reply(model, tokenizer, user("你好"), greedy=True)
    assert list(stream) == ["世", "界"]               # one piece per character, not per byte
    assert len(stream.ids) == 6 and tokenizer.decode(stream.ids) == "世界"


@pytest.mark.parametrize("seed", range(6))
def test_stream_pieces_join_to_decode_of_the_reply_ids_even_for_broken_utf8(random_model, tokenizer, seed):
    g = torch.Generator().manual_seed(seed)   # an untrained model at temperature 2: random bytes, often invalid
    stream = chatbot.stream_reply(random_model, tokenizer, user("x"), temperature=2.0, generator=g,
                                  max_new_tokens=30)
    pieces = list(stream)
    assert all(pieces) and "".join(pieces) == tokenizer.decode(stream.ids) == stream.text


@pytest.mark.parametrize("question", [q for q, _, _ in CHATS])
def test_greedy_reply_with_kv_cache_equals_reply_without_it(model, tokenizer, question):
    cached = chatbot.stream_reply(model, tokenizer, user(question), greedy=True)
    plain = chatbot.stream_reply(model, tokenizer, user(question), greedy=True, use_cache=False)
    assert list(cached) == list(plain)
    assert (cached.ids, cached.finish_reason) == (plain.ids, plain.finish_reason)


@pytest.mark.parametrize("seed", range(4))
def test_sampled_reply_with_kv_cache_equals_reply_without_it_for_the_same_seed(random_model, tokenizer, seed):
    ids = []
    for use_cache in (True, False):
        g = torch.Generator().manual_seed(seed)
        stream = chatbot.stream_reply(random_model, tokenizer, user("hi"), temperature=1.3, top_p=0.9,
                                      generator=g, use_cache=use_cache, max_new_tokens=25)
        list(stream)
        ids.append((stream.ids, stream.finish_reason))
    assert ids[0] == ids[1]


def test_reply_cut_when_prompt_and_reply_fill_block_size(model, tokenizer):
    stream = chatbot.stream_reply(model, tokenizer, user("long"), greedy=True, max_new_tokens=100)
    text = "".join(stream)
    assert (stream.finish_reason, stream.stop_token, stream.cut) == ("block_size", None, True)
    assert len(stream.prompt_ids) + len(stream.ids) == BLOCK and text == "a" * len(stream.ids)


def test_reply_cut_at_max_new_tokens(model, tokenizer):
    stream = chatbot.stream_reply(model, tokenizer, user("long"), greedy=True, max_new_tokens=5)
    assert "".join(stream) == "aaaaa" and (stream.finish_reason, stream.cut) == ("max_new_tokens", True)
    empty = chatbot.stream_reply(model, tokenizer, user("hi"), max_new_tokens=0)
    assert list(empty) == [] and empty.finish_reason == "max_new_tokens"


def test_prompt_that_fills_the_window_gets_an_empty_cut_reply_and_a_longer_one_is_refused(model, tokenizer):
    filler = "z" * (BLOCK - 3)   # <|user|> + filler + <|end|> + <|assistant|> = BLOCK tokens
    stream = chatbot.stream_reply(model, tokenizer, user(filler), greedy=True)
    assert list(stream) == [] and stream.finish_reason == "block_size"
    with pytest.raises(ArgumentError, match=f"block_size={BLOCK}.*got {BLOCK + 1} tokens"):
        chatbot.stream_reply(model, tokenizer, user(filler + "z"))


def test_reply_is_the_joined_stream_and_restores_training_mode(model, tokenizer):
    model.train()
    assert chatbot.reply(model, tokenizer, user("ping"), greedy=True) == "pong"
    assert model.training
    model.eval()


def test_chat_renders_the_whole_history_every_turn(model, tokenizer):
    bot = chatbot.Chat(model, tokenizer, greedy=True, max_new_tokens=8)
    assert bot.send("hi") == "hello" and bot.last.finish_reason == "end"
    second = bot.send("ping")   # the model never saw two turns: whatever it says, it is recorded
    assert bot.history == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                           {"role": "user", "content": "ping"}, {"role": "assistant", "content": second}]
    # The second reply read the first turn too: its prompt is the whole history through the template.
    assert bot.last.prompt_ids == chat.encode_chat(tokenizer, bot.history[:3], add_generation_prompt=True)[0]
    assert bot.render() == f"<|user|>hi<|end|><|assistant|>hello<|end|><|user|>ping<|end|><|assistant|>{second}<|end|>"


def test_chat_keeps_the_system_message_first_and_across_reset(model, tokenizer):
    bot = chatbot.Chat(model, tokenizer, system="be brief", greedy=True, max_new_tokens=3)
    answer = bot.send("long")   # the model never saw a system turn: whatever it says, it is recorded
    assert bot.history == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "long"},
                           {"role": "assistant", "content": answer}]
    assert bot.last.prompt_ids[0] == tokenizer.special_tokens["<|system|>"]
    bot.reset()
    assert bot.history == [{"role": "system", "content": "be brief"}] and bot.last is None


def test_chat_stream_yields_pieces_and_updates_history_at_the_end(model, tokenizer):
    bot = chatbot.Chat(model, tokenizer, greedy=True)
    assert list(bot.stream("你好")) == ["世", "界"]
    assert bot.history[-1] == {"role": "assistant", "content": "世界"}


@pytest.mark.parametrize("reason, options, mark", [
    ("end", {}, "[end of turn]"), ("special", {"stop_token": "<|user|>"}, "[stopped at <|user|>]"),
    ("max_new_tokens", {"max_new_tokens": 8}, "[cut: max_new_tokens=8 reached]"),
    ("block_size", {"block_size": 40}, "[cut: the context is full (block_size=40)]")])
def test_finish_mark_names_how_the_reply_ended(reason, options, mark):
    assert chatbot.finish_mark(reason, **options) == mark


def _widget(model, tokenizer, **options):
    return chatbot.chat_widget(model, tokenizer, **options).chat_widget


def test_widget_send_button_streams_the_reply_into_the_transcript_with_its_end_mark(model, tokenizer):
    w = _widget(model, tokenizer)
    shown = []
    w.transcript.observe(lambda change: shown.append(change["new"]), "value")
    w.text.value = "hi"
    w.send_button.click()
    assert "<b>You:</b> hi" in w.transcript.value and "hello" in w.transcript.value
    assert "[end of turn]" in w.transcript.value and w.text.value == "" and not w.send_button.disabled
    assert any("hel▌" in value for value in shown), "the reply should show while it streams"
    assert w.chat.history[-1] == {"role": "assistant", "content": "hello"}


def test_widget_enter_key_sends_and_a_cut_reply_is_marked(model, tokenizer):
    w = _widget(model, tokenizer, max_new_tokens=6)
    w.text.value = "long"
    w.text._handle_string_msg(None, {"event": "submit"}, None)   # what the browser sends on Enter
    assert "aaaaaa" in w.transcript.value and "[cut: max_new_tokens=6 reached]" in w.transcript.value


def test_widget_new_chat_clears_transcript_and_history_but_keeps_the_system_message(model, tokenizer):
    w = _widget(model, tokenizer)
    w.text.value = "ping"
    w.send_button.click()
    assert "pong" in w.transcript.value and "[stopped at &lt;|user|&gt;]" in w.transcript.value
    w.new_button.click()
    assert w.transcript.value == "" and w.chat.history == []
    w = _widget(model, tokenizer, system="be brief")
    w.text.value = "long"
    w.send_button.click()
    w.new_chat()
    assert "be brief" in w.transcript.value and w.chat.history == [{"role": "system", "content": "be brief"}]


def test_widget_temperature_zero_is_greedy_and_above_zero_samples_with_top_p(random_model, tokenizer):
    def expected(**options):
        stream = chatbot.stream_reply(random_model, tokenizer, user("x"), max_new_tokens=10, **options)
        list(stream)
        return stream.ids

    w = _widget(random_model, tokenizer, max_new_tokens=10, generator=torch.Generator().manual_seed(3))
    w.text.value = "x"
    w.send_button.click()
    assert w.chat.last.ids == expected(greedy=True)
    w.new_chat()
    w.temperature.value, w.top_p.value = 1.0, 0.5
    w.text.value = "x"
    w.send_button.click()
    assert w.chat.last.ids == expected(temperature=1.0, top_p=0.5, generator=torch.Generator().manual_seed(3))
    assert w.chat.last.ids != expected(greedy=True)


def test_widget_shows_an_error_in_the_transcript_when_the_chat_outgrows_the_window(model, tokenizer):
    w = _widget(model, tokenizer)
    w.text.value = "z" * BLOCK
    w.send_button.click()
    assert "messages must fit the context window" in w.transcript.value and not w.send_button.disabled


@pytest.mark.parametrize("messages, fragment", [
    ("hi", "messages must be a list"), ([], "must end with a user turn"),
    ([("user", "hi")], r"messages\[0\] must be a dict"), ([{"role": "user"}], "with 'role' and 'content'"),
    ([{"role": "robot", "content": "hi"}], r"messages\[0\]\['role'\] must be one of"),
    ([{"role": "user", "content": 3}], r"\['content'\] must be a str"),
    ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
     "must end with a user turn.*'assistant'")])
def test_bad_messages_are_refused(model, tokenizer, messages, fragment):
    with pytest.raises(ArgumentError, match=fragment):
        chatbot.stream_reply(model, tokenizer, messages)


@pytest.mark.parametrize("options, fragment", [
    ({"temperature": 0}, "temperature must be a number > 0"), ({"temperature": float("nan")}, "temperature"),
    ({"top_p": 0}, r"top_p must be None or a number in \(0, 1\]"), ({"top_p": 1.5}, "top_p"),
    ({"max_new_tokens": -1}, "max_new_tokens must be an int >= 0"), ({"max_new_tokens": True}, "max_new_tokens")])
def test_bad_sampling_options_are_refused(model, tokenizer, options, fragment):
    with pytest.raises(ArgumentError, match=fragment):
        chatbot.stream_reply(model, tokenizer, user("hi"), **options)


def test_tokenizer_without_chat_special_tokens_or_for_another_model_is_refused(model, tokenizer):
    with pytest.raises(ArgumentError, match="tokenizer must have the chat special tokens.*it lacks <\\|system"):
        chatbot.stream_reply(model, BPETokenizer(special_tokens=["<|endoftext|>"]), user("hi"))
    with pytest.raises(ArgumentError, match="tokenizer must be a BPETokenizer; got str"):
        chatbot.stream_reply(model, "gpt2", user("hi"))
    bigger = BPETokenizer(merges=[(104, 105)], special_tokens=chat.SPECIAL_TOKENS)
    with pytest.raises(ArgumentError, match="vocab_size must equal tokenizer.vocab_size=262.*got 261"):
        chatbot.stream_reply(model, bigger, user("hi"))
    with pytest.raises(ArgumentError, match="model must be a GPT"):
        chatbot.Chat(torch.nn.Linear(2, 2), tokenizer)


def test_bad_chat_and_widget_arguments_are_refused(model, tokenizer):
    with pytest.raises(ArgumentError, match="sampling options must be among.*'top_k'"):
        chatbot.Chat(model, tokenizer, top_k=5)
    with pytest.raises(ArgumentError, match="system must be None or a str; got int"):
        chatbot.Chat(model, tokenizer, system=1)
    with pytest.raises(ArgumentError, match="text must be a str; got list"):
        chatbot.Chat(model, tokenizer).send(["hi"])
    with pytest.raises(ArgumentError, match=r"temperature must be a number in \[0, 2\] \(0 means greedy\); got 3"):
        chatbot.chat_widget(model, tokenizer, temperature=3)
    with pytest.raises(ArgumentError, match="top_p"):
        chatbot.chat_widget(model, tokenizer, top_p=0)
    with pytest.raises(ArgumentError, match="finish_reason must be one of"):
        chatbot.finish_mark("done")


def test_greedy_replies_in_batches_equal_one_greedy_reply_at_a_time(model, random_model, tokenizer):
    conversations = [user(q) for q, _, _ in CHATS] + [user("hi"), user("x"), user("xy"), user("你好")]
    for gpt in (model, random_model):
        batched = chatbot.greedy_replies(gpt, tokenizer, conversations, max_new_tokens=12)
        single = [chatbot.reply(gpt, tokenizer, m, greedy=True, max_new_tokens=12) for m in conversations]
        assert batched == single
    assert chatbot.greedy_replies(model, tokenizer, [user("hi")])[0] == "hello"
    assert gpt.training is True


def test_greedy_replies_refuses_bad_conversations(model, tokenizer):
    with pytest.raises(ArgumentError, match="conversations must be a list of message lists; got str"):
        chatbot.greedy_replies(model, tokenizer, "hi")
    with pytest.raises(ArgumentError, match="messages must end with a user turn"):
        chatbot.greedy_replies(model, tokenizer, [[{"role": "assistant", "content": "hi"}]])
    with pytest.raises(ArgumentError, match=r"conversations\[0\] must fit block_size=40 tokens"):
        chatbot.greedy_replies(model, tokenizer, [user("x" * 60)])
