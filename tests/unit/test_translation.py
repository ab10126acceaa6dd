import pytest
import torch

from lmcourse.parallel_corpus import Pair
from lmcourse.tokenizers import CharTokenizer
from lmcourse.transformer import Transformer, TransformerConfig
from lmcourse.translation import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    Vocab,
    attention_maps,
    chinese_tokens,
    english_tokens,
    init_weights,
    make_batch,
    next_token_fn,
    pad_batch,
    train_translator,
    translate,
)

PAIRS = [Pair("I love programming", "我爱编程", ()),
         Pair("We bought 25 apples yesterday", "我们昨天买了二十五个苹果", ()),
         Pair("Tom reads books", "汤姆看书", ())]


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    en = Vocab.from_texts((p.en for p in PAIRS), english_tokens)
    zh = Vocab.from_texts((p.zh for p in PAIRS), chinese_tokens)
    model = init_weights(Transformer(TransformerConfig(len(en), len(zh), d_model=16, n_head=2, n_layer=2, d_ff=32,
                                                       dropout=0.0, max_len=40))).eval()
    return en, zh, model


def test_english_tokens_split_numbers_into_digits_and_drop_spaces():
    assert english_tokens("We bought 2024 apples, yesterday") == ["We", "bought", "2", "0", "2", "4", "apples", ",",
                                                                  "yesterday"]


def test_chinese_tokens_are_characters():
    assert chinese_tokens("我 爱编程") == ["我", "爱", "编", "程"]


def test_vocab_puts_special_tokens_first_and_round_trips(setup):
    en, zh, _ = setup
    assert zh.itos[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"] and (PAD_ID, BOS_ID, EOS_ID, UNK_ID) == (0, 1, 2, 3)
    ids = zh.encode(chinese_tokens("我爱编程"), bos=True)
    assert ids[0] == BOS_ID and ids[-1] == EOS_ID
    assert zh.decode(ids + [PAD_ID, 7]) == list("我爱编程")
    assert en.encode(["never-seen"], eos=False) == [UNK_ID]


def test_chinese_vocab_is_the_character_tokenizer_shifted_by_the_specials(setup):
    _, zh, _ = setup
    chars = CharTokenizer(zh.itos[4:])
    text = "我们昨天买了二十五个苹果"
    assert zh.encode(chinese_tokens(text), eos=False) == [i + 4 for i in chars.encode(text)]


def test_make_batch_shifts_the_target_by_one_for_teacher_forcing(setup):
    en, zh, _ = setup
    b = make_batch(PAIRS, en, zh)
    assert b.src.shape[0] == b.tgt_in.shape[0] == 3 and b.tgt_in.shape == b.tgt_out.shape
    assert (b.tgt_in[:, 0] == BOS_ID).all()
    real = b.tgt_in[:, 1:] != PAD_ID                     # where tgt_in has a token, tgt_out has it one step earlier
    assert torch.equal(b.tgt_in[:, 1:][real], b.tgt_out[:, :-1][real])
    assert ((b.tgt_out == EOS_ID).sum(1) == 1).all() and ((b.tgt_in == EOS_ID).sum(1) == 0).all()
    assert b.tgt_out[0].tolist() == zh.encode(chinese_tokens("我爱编程")) + [PAD_ID] * (b.tgt_out.shape[1] - 5)


def test_pad_batch_right_pads_with_pad_id():
    assert pad_batch([[5, 6, 7], [8]]).tolist() == [[5, 6, 7], [8, 0, 0]]


def test_next_token_fn_equals_the_last_position_of_a_full_forward(setup):
    en, zh, model = setup
    b = make_batch(PAIRS, en, zh)
    fn = next_token_fn(model, b.src)
    prefix = b.tgt_in[:, :3]
    full = torch.log_softmax(model(b.src, prefix)[:, -1], dim=-1)
    rows = torch.tensor([2, 0, 1, 2])                    # any rows, any order, repeated, as beam search asks
    assert torch.allclose(fn(prefix[rows], rows), full[rows], atol=1e-5)


def test_translate_gives_one_string_per_sentence_greedy_and_beam(setup):
    en, zh, model = setup
    for beam in (1, 3):
        out = translate(model, [p.en for p in PAIRS], en, zh, beam_size=beam, max_len=6)
        assert len(out) == 3 and all(isinstance(o, str) and len(o.replace("<unk>", "?")) <= 6 for o in out)


def test_attention_maps_have_the_right_shapes_and_leave_the_model_unchanged(setup):
    en, zh, model = setup
    b = make_batch(PAIRS, en, zh)
    before = model(b.src, b.tgt_in)
    maps = attention_maps(model, b.src, b.tgt_in)
    (bs, s), t = b.src.shape, b.tgt_in.shape[1]
    assert [m.shape for m in maps["encoder"]] == [(bs, 2, s, s)] * 2
    assert [m.shape for m in maps["decoder"]] == [(bs, 2, t, t)] * 2
    assert [m.shape for m in maps["cross"]] == [(bs, 2, t, s)] * 2
    cross = maps["cross"][0]
    assert torch.allclose(cross.sum(-1), torch.ones(bs, 2, t), atol=1e-5)
    assert (cross[b.src[:, None, None, :].expand_as(cross) == PAD_ID] == 0).all()   # padding gets no attention
    assert (maps["decoder"][1].triu(diagonal=1) == 0).all()                         # causal
    assert torch.equal(model(b.src, b.tgt_in), before)
    assert all(not m._forward_hooks for m in model.modules())


@pytest.mark.parametrize("call, error, fragment", [
    (lambda en, zh, m: zh.encode("我爱"), TypeError, "not a str"),
    (lambda en, zh, m: zh.decode([999]), ValueError, r"ids must be an int in \[0, \d+\]; got 999"),
    (lambda en, zh, m: zh.decode([-1]), ValueError, r"got -1"),
    (lambda en, zh, m: zh.decode([4.7]), ValueError, r"ids must be an int in .*; got 4.7"),
    (lambda en, zh, m: zh.decode([True]), ValueError, r"ids must be an int in .*; got True"),
    (lambda en, zh, m: zh.decode(torch.tensor([4.0])), ValueError, r"got 4.0"),
    (lambda en, zh, m: pad_batch([[1]], pad_id=-1), ValueError, "pad_id must be an int >= 0; got -1"),
    (lambda en, zh, m: translate(m, ["hi"], en, zh, batch_size=0), ValueError, "batch_size must be an int >= 1; got 0"),
    (lambda en, zh, m: pad_batch([]), ValueError, "sequences must contain at least one"),
    (lambda en, zh, m: make_batch([], en, zh), ValueError, "pairs must contain at least one"),
    (lambda en, zh, m: translate(m, "I love programming", en, zh), TypeError, "wrap it in a list"),
    (lambda en, zh, m: english_tokens(42), TypeError, "text must be a str"),
    (lambda en, zh, m: Vocab(["ok", ""]), ValueError, "tokens must be non-empty strings"),
])
def test_bad_input_gets_a_clear_error(setup, call, error, fragment):
    en, zh, model = setup
    with pytest.raises(error, match=fragment):
        call(en, zh, model)


def test_init_weights_redraws_the_xavier_init_the_transformer_already_has():
    model = Transformer(TransformerConfig(20, 30, d_model=16, n_head=2, n_layer=1, d_ff=32))
    bound = (6 / (30 + 16)) ** 0.5
    assert model.tgt_embed.weight.abs().max() <= bound
    assert init_weights(model) is model and model.tgt_embed.weight.abs().max() <= bound


def _tiny(en, zh, seed):
    torch.manual_seed(seed)
    return Transformer(TransformerConfig(len(en), len(zh), d_model=16, n_head=2, n_layer=1, d_ff=32, dropout=0.0,
                                         max_len=40))


def test_train_translator_is_deterministic_for_a_seed_and_lowers_the_loss(setup):
    en, zh, _ = setup
    batch = make_batch(PAIRS, en, zh)
    losses = []
    runs = [train_translator(_tiny(en, zh, 0), PAIRS, en, zh, steps=40, batch_size=4, warmup=10, seed=s,
                             callback=lambda step, loss, logits, b: losses.append(loss.item())) for s in (0, 0, 1)]
    same = [torch.equal(p, q) for p, q in zip(runs[0].parameters(), runs[1].parameters())]
    other = [torch.equal(p, q) for p, q in zip(runs[0].parameters(), runs[2].parameters())]
    assert all(same) and not all(other)
    assert len(losses) == 120 and losses[39] < losses[0] - 1.0
    assert tuple(runs[0](batch.src, batch.tgt_in).shape) == (3, batch.tgt_in.shape[1], len(zh))


@pytest.mark.parametrize("kwargs, error, fragment", [
    (dict(steps=0), ValueError, "steps must be an int >= 1; got 0"),
    (dict(steps=5, batch_size=0), ValueError, "batch_size must be an int >= 1; got 0"),
    (dict(steps=5, label_smoothing=float("nan")), ValueError, r"label_smoothing must be a finite number in \[0, 1\]"),
    (dict(steps=5, pairs=[]), ValueError, "pairs must contain at least one"),
])
def test_train_translator_refuses_bad_arguments(setup, kwargs, error, fragment):
    en, zh, _ = setup
    kwargs = {"pairs": PAIRS, **kwargs}
    with pytest.raises(error, match=fragment):
        train_translator(_tiny(en, zh, 0), kwargs.pop("pairs"), en, zh, **kwargs)
