"""MiniLM loads offline and gives sentence-transformers' sentence vectors."""

import subprocess
import sys

import pytest
import torch

from lmcourse import pretrained


def test_minilm_loads_with_the_network_disabled():
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network disabled for this test')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "import os; os.environ['HF_HUB_OFFLINE'] = '0'\n"  # even without HF's own offline switch
        "from lmcourse.pretrained import load_minilm\n"
        "tok, model = load_minilm()\n"
        "print(model.config.num_hidden_layers, model.config.num_attention_heads, model.config.hidden_size)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["6", "12", "384"]


def test_sentence_vectors_are_unit_length_and_meaningful():
    vectors = pretrained.sentence_embeddings(["A cat sits on the mat.", "A kitten rests on a rug.",
                                              "Stock markets fell sharply today."])
    assert vectors.shape == (3, 384)
    assert torch.allclose(vectors.norm(dim=-1), torch.ones(3), atol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.3


def test_sentence_vectors_match_sentence_transformers():
    st = pytest.importorskip("sentence_transformers")
    texts = ["How do I loop with an index?", "enumerate() returns pairs of index and value."]
    theirs = st.SentenceTransformer(str(pretrained.minilm_path()), device="cpu").encode(texts, convert_to_tensor=True)
    assert torch.allclose(pretrained.sentence_embeddings(texts), theirs, atol=1e-5)


def test_attention_weights_are_returned():
    tok, model = pretrained.load_minilm()
    out = model(**pretrained.encode_batch(["hello world"]), output_attentions=True)
    assert len(out.attentions) == 6 and out.attentions[0].shape == (1, 12, 4, 4)


@pytest.mark.parametrize("texts, message", [
    ([], "texts must be a non-empty list of strings"),
    ("just one string", "texts must be a non-empty list of strings"),
    (["ok", 3], "texts must contain only strings"),
    (["word " * 600], "texts must fit the model's 512 positions; text 0 has"),
])
def test_bad_input_is_named(texts, message):
    with pytest.raises(ValueError, match=message):
        pretrained.encode_batch(texts)


@pytest.mark.parametrize("hidden, mask, message", [
    (torch.zeros(2, 3, 4), torch.ones(2, 4),
     r"attention_mask must be of shape \(B, T\) with B=2, T=3; got shape \(2, 4\)"),
    (torch.zeros(3, 4), torch.ones(3, 4), r"hidden must be a 3-d tensor"),
])
def test_mean_pool_names_a_mask_that_does_not_fit(hidden, mask, message):
    with pytest.raises(ValueError, match=message):
        pretrained.mean_pool(hidden, mask)


def test_sentence_embeddings_needs_a_positive_batch_size():
    with pytest.raises(ValueError, match="batch_size must be an int >= 1; got 0"):
        pretrained.sentence_embeddings(["hi"], batch_size=0)
