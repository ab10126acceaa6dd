"""Our BERT holds all-MiniLM-L6-v2's weights and equals `transformers`; its heads and errors behave."""

import re

import pytest
import torch

from lmcourse.bert import BERT, BertConfig, MaskedLM, NextSentenceHead, hf_to_ours, load_hf_bert, load_minilm_bert
from lmcourse.pretrained import encode_batch, load_minilm

SENTENCES = ["The cat sat on the mat.", "Hi", "Attention lets every token look at every other token, both ways.",
             "床前明月光"]


@pytest.fixture(scope="module")
def minilm():
    tokenizer, hf = load_minilm()
    return tokenizer, hf, load_minilm_bert()


def test_minilm_in_our_bert_equals_transformers_hidden_states_with_padding(minilm):
    tokenizer, hf, ours = minilm
    batch = encode_batch(SENTENCES, tokenizer)
    assert (batch["attention_mask"] == 0).any()                            # the batch really has padding
    with torch.no_grad():
        theirs = hf(**batch).last_hidden_state
        mine = ours(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
    assert torch.allclose(mine, theirs, atol=1e-4, rtol=1e-4)


def test_minilm_in_our_bert_equals_transformers_attention_weights(minilm):
    tokenizer, hf, ours = minilm
    batch = encode_batch(SENTENCES[:3], tokenizer)
    with torch.no_grad():
        theirs = torch.stack(hf(**batch, output_attentions=True).attentions)
    mine = ours.attention_weights(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
    assert mine.shape == (6, 3, 12, batch["input_ids"].shape[1], batch["input_ids"].shape[1])
    assert torch.allclose(mine, theirs, atol=1e-5)


def test_minilm_sentence_pair_with_segment_ids_equals_transformers(minilm):
    tokenizer, hf, ours = minilm
    batch = tokenizer(["where is the cat?"], ["it is on the mat."], return_tensors="pt")
    assert batch["token_type_ids"].any()
    with torch.no_grad():
        assert torch.allclose(ours(**batch), hf(**batch).last_hidden_state, atol=1e-4, rtol=1e-4)


def test_bert_is_bidirectional_a_later_token_changes_earlier_outputs():
    torch.manual_seed(0)
    model = BERT(BertConfig(vocab_size=20, n_layer=2, n_head=2, n_embd=16, d_ff=32, max_len=10)).eval()
    x = torch.tensor([[5, 6, 7, 8]])
    y = torch.tensor([[5, 6, 7, 9]])
    assert not torch.allclose(model(x)[:, 0], model(y)[:, 0])


def test_bert_ignores_padding_keys():
    torch.manual_seed(0)
    model = BERT(BertConfig(vocab_size=20, n_layer=2, n_head=2, n_embd=16, d_ff=32, max_len=10)).eval()
    short = model(torch.tensor([[5, 6, 7]]))
    padded = model(torch.tensor([[5, 6, 7, 0, 0]]))
    assert torch.allclose(short, padded[:, :3], atol=1e-5)


def test_masked_lm_loss_counts_only_labelled_positions_and_head_is_tied():
    torch.manual_seed(0)
    model = MaskedLM(BertConfig(vocab_size=30, n_layer=1, n_head=2, n_embd=16, d_ff=32, max_len=8))
    idx = torch.randint(4, 30, (2, 8))
    targets = torch.full((2, 8), -100)
    targets[0, 3], targets[1, 5] = 7, 9
    logits, loss = model(idx, targets)
    manual = torch.nn.functional.cross_entropy(logits[[0, 1], [3, 5]], torch.tensor([7, 9]))
    assert logits.shape == (2, 8, 30) and torch.allclose(loss, manual)
    assert model.decoder.weight is model.bert.embeddings.word.weight


def test_fill_mask_replaces_only_mask_positions():
    torch.manual_seed(0)
    model = MaskedLM(BertConfig(vocab_size=30, n_layer=1, n_head=2, n_embd=16, d_ff=32, max_len=8))
    idx = torch.tensor([[5, 3, 6, 3]])
    out = model.fill_mask(idx, mask_id=3)
    assert out[0, 0] == 5 and out[0, 2] == 6 and model.training


def test_next_sentence_head_reads_the_cls_vector():
    head = NextSentenceHead(16)
    h = torch.randn(3, 5, 16)
    logits = head(h)
    h2 = h.clone()
    h2[:, 1:] = 0
    assert logits.shape == (3, 2) and torch.allclose(logits, head(h2))


def test_hf_to_ours_maps_every_layer_part():
    assert hf_to_ours("encoder.layer.3.attention.self.query.weight") == "layers.3.self_attn.q_proj.weight"
    assert hf_to_ours("encoder.layer.0.attention.output.LayerNorm.bias") == "layers.0.norm1.bias"
    assert hf_to_ours("encoder.layer.5.output.dense.weight") == "layers.5.ff.linear2.weight"
    assert hf_to_ours("embeddings.position_embeddings.weight") == "embeddings.positions.embedding.weight"
    with pytest.raises(KeyError, match="no place in our BERT"):
        hf_to_ours("encoder.layer.0.crossattention.self.query.weight")


def test_load_hf_bert_names_what_does_not_fit(minilm):
    _, hf, _ = minilm
    small = BertConfig(vocab_size=30522, n_layer=6, n_head=12, n_embd=384, d_ff=1000)
    with pytest.raises(ValueError, match="intermediate.dense.weight: shape"):
        load_hf_bert(hf.state_dict(), small)
    state = {k: v for k, v in hf.state_dict().items() if "layer.5." not in k}
    config = BertConfig.from_hf(hf.config.to_dict())
    with pytest.raises(ValueError, match="missing weights for"):
        load_hf_bert(state, config)


def test_text_longer_than_512_positions_is_a_clear_error(minilm):
    tokenizer, _, ours = minilm
    with pytest.raises(ValueError, match="must fit the model's 512 positions"):
        encode_batch(["word " * 600], tokenizer)
    with pytest.raises(ValueError, match="only max_len=512"):
        ours(torch.ones(1, 513, dtype=torch.long))


def test_empty_batch_is_a_clear_error(minilm):
    tokenizer, _, ours = minilm
    with pytest.raises(ValueError, match="non-empty list of strings"):
        encode_batch([], tokenizer)
    with pytest.raises(ValueError, match="at least one sequence"):
        ours(torch.ones(0, 5, dtype=torch.long))


@pytest.mark.parametrize("call, fragment", [
    (lambda m: m(torch.ones(4, dtype=torch.long)), "input_ids must be a 2-d tensor; got shape (4,)"),
    (lambda m: m(torch.ones(2, 4)), "input_ids must be an integer tensor; got dtype torch.float32"),
    (lambda m: m(torch.tensor([[1, -3]])),
     "input_ids must be token ids in [0, 20) (the vocabulary size); got ids from -3 to 1"),
    (lambda m: m(torch.tensor([[1, 20]])), "input_ids must be token ids in [0, 20)"),
    (lambda m: m(torch.ones(1, 11, dtype=torch.long)), "input_ids has 11 positions but this BERT has only max_len=10"),
    (lambda m: m(torch.ones(2, 4, dtype=torch.long), token_type_ids=torch.full((2, 4), 2)),
     "token_type_ids must be token ids in [0, 2)"),
    (lambda m: MaskedLM(m.config)(torch.ones(1, 3, dtype=torch.long), torch.tensor([[-100, 20, 1]])),
     "targets must be token ids in [0, 20) or -100 (ignored); got ids from 1 to 20"),
    (lambda m: MaskedLM(m.config)(torch.ones(1, 3, dtype=torch.long), torch.ones(1, 3)),
     "targets must be an integer tensor"),
    (lambda m: MaskedLM(m.config).fill_mask(torch.ones(1, 3, dtype=torch.long), mask_id=20),
     "mask_id must be an int in [0, 19]; got 20"),
    (lambda m: MaskedLM(m.config).fill_mask(torch.ones(1, 3, dtype=torch.long), mask_id=2.0),
     "mask_id must be an int in [0, 19]; got 2.0"),
    (lambda m: NextSentenceHead(16)(torch.ones(2, 3, 8)),
     "hidden must be of shape (B, T, 16) with B=2, T=3; got shape (2, 3, 8)"),
    (lambda m: m(torch.ones(2, 4, dtype=torch.long), attention_mask=torch.ones(2, 5)), "attention_mask must have"),
    (lambda m: m(torch.ones(2, 4, dtype=torch.long), token_type_ids=torch.ones(1, 4, dtype=torch.long)),
     "token_type_ids must have"),
])
def test_bert_rejects_bad_input(call, fragment):
    model = BERT(BertConfig(vocab_size=20, n_layer=1, n_head=2, n_embd=16, d_ff=32, max_len=10))
    with pytest.raises(ValueError, match=re.escape(fragment)):
        call(model)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(n_embd=30, n_head=4), "divisible by n_head"),
    (dict(n_layer=0), "n_layer must be"),
    (dict(dropout=1.0), "dropout must be"),
    (dict(dropout=float("nan")), "dropout must be"),
    (dict(eps=float("nan")), r"eps must be a finite number > 0; got nan"),
    (dict(eps=0), r"eps must be a finite number > 0; got 0"),
    (dict(vocab_size=10, pad_id=10), r"pad_id must be an int in \[0, 9\]; got 10"),
    (dict(pad_id=True), r"pad_id must be an int"),
])
def test_bert_config_rejects_bad_sizes(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        BertConfig(**kwargs)


def test_load_hf_bert_names_a_weight_of_another_dtype(minilm):
    _, hf, _ = minilm
    state = {k: (v.double() if k.endswith("output.dense.weight") and ".0." in k else v)
             for k, v in hf.state_dict().items()}
    with pytest.raises(ValueError, match="encoder.layer.0.output.dense.weight: dtype torch.float64, "
                                         "ours layers.0.ff.linear2.weight"):
        load_hf_bert(state, BertConfig.from_hf(hf.config.to_dict()))


def test_load_minilm_bert_names_a_missing_or_corrupt_file(tmp_path):
    from lmcourse.pretrained import minilm_path
    with pytest.raises(FileNotFoundError, match="config.json is missing in"):
        load_minilm_bert(tmp_path)
    (tmp_path / "config.json").write_text((minilm_path() / "config.json").read_text())
    (tmp_path / "model.safetensors").write_bytes((minilm_path() / "model.safetensors").read_bytes()[:1000])
    with pytest.raises(ValueError, match="model.safetensors cannot be read as safetensors"):
        load_minilm_bert(tmp_path)


def test_bert_config_from_hf_rejects_other_position_types():
    with pytest.raises(ValueError, match="absolute positions"):
        BertConfig.from_hf({"position_embedding_type": "relative_key"})
