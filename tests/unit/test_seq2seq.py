"""The RNN encoder–decoder and its copy task: data properties, teacher forcing, greedy decoding, attention."""

import pytest
import torch
import torch.nn.functional as F

from lmcourse import set_seed
from lmcourse.seq2seq import BOS, EOS, N_SPECIAL, PAD, Seq2Seq, Seq2SeqConfig, answer_accuracy, copy_batch


def _lengths(src):
    return (src != PAD).sum(1)


@pytest.mark.parametrize("reverse", [False, True])
def test_copy_batch_holds_the_symbols_then_eos_then_padding(reverse):
    src, tgt = copy_batch(50, n_symbols=7, min_len=2, max_len=9, reverse=reverse,
                          generator=torch.Generator().manual_seed(0))
    assert src.shape[0] == tgt.shape[0] == 50 and tgt.shape[1] == src.shape[1] + 1
    for row, answer, L in zip(src, tgt, _lengths(src).tolist()):
        assert 2 <= L <= 9
        assert ((row[:L] >= N_SPECIAL) & (row[:L] < N_SPECIAL + 7)).all() and (row[L:] == PAD).all()
        expected = row[:L].flip(0) if reverse else row[:L]
        assert torch.equal(answer[:L], expected) and answer[L] == EOS and (answer[L + 1:] == PAD).all()


def test_copy_batch_draws_every_length_and_repeats_with_the_same_generator():
    a = copy_batch(400, min_len=3, max_len=6, generator=torch.Generator().manual_seed(1))
    b = copy_batch(400, min_len=3, max_len=6, generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert set(_lengths(a[0]).tolist()) == {3, 4, 5, 6}
    one = copy_batch(20, min_len=5, max_len=5)[0]
    assert (_lengths(one) == 5).all() and one.shape == (20, 5)


def test_answer_accuracy_counts_the_symbols_and_the_eos_and_nothing_after():
    src, tgt = copy_batch(4, min_len=3, max_len=3, generator=torch.Generator().manual_seed(2))
    predicted = torch.cat([tgt, torch.full((4, 2), 5)], dim=1)          # anything after EOS is ignored
    predicted[1, 0] = (predicted[1, 0] - N_SPECIAL + 1) % 10 + N_SPECIAL  # one wrong symbol in row 1
    predicted[2, 3] = 5                                                  # row 2 never stops
    token, exact = answer_accuracy(predicted, tgt)
    assert token.tolist() == [1.0, 0.75, 0.75, 1.0] and exact.tolist() == [True, False, False, True]


def _model(attention, seed=0, **sizes):
    set_seed(seed)
    return Seq2Seq(Seq2SeqConfig(n_embd=8, n_hidden=12, n_attn=10, attention=attention, **sizes)).double()


@pytest.mark.parametrize("attention", [False, True])
def test_teacher_forced_loss_equals_a_hand_loop_over_steps_fed_the_true_previous_token(attention):
    model = _model(attention)
    src, tgt = copy_batch(6, min_len=1, max_len=7, generator=torch.Generator().manual_seed(3))
    logits, loss = model(src, tgt)
    assert logits.shape == (6, tgt.shape[1], model.config.vocab_size)
    memory = model.encode(src)
    s, prev, total, count = memory.summary, torch.full((6,), BOS), 0.0, 0
    for t in range(tgt.shape[1]):
        step_logits, s, _ = model.step(prev, s, memory)
        assert torch.allclose(step_logits, logits[:, t])
        real = tgt[:, t] != PAD
        total = total + F.cross_entropy(step_logits[real], tgt[real, t], reduction="sum")
        count += int(real.sum())
        prev = tgt[:, t]                                                # teacher forcing: the true token
    assert torch.allclose(loss, total / count)


@pytest.mark.parametrize("attention", [False, True])
def test_greedy_decoding_equals_feeding_back_the_argmax_step_by_step(attention):
    model = _model(attention, seed=1)
    src, _ = copy_batch(5, min_len=2, max_len=6, generator=torch.Generator().manual_seed(4))
    tokens, weights = model.greedy(src, 8)
    assert tokens.shape == (5, 8)
    with torch.no_grad():
        memory = model.encode(src)
        s, prev = memory.summary, torch.full((5,), BOS)
        for t in range(8):
            logits, s, w = model.step(prev, s, memory)
            prev = logits.argmax(-1)
            assert torch.equal(prev, tokens[:, t])
            if attention:
                assert torch.allclose(w, weights[:, t])
    assert (weights is None) == (not attention)


def test_attention_step_equals_additive_attention_and_its_weights_sum_to_one_over_real_tokens():
    model = _model(True, seed=2)
    src, _ = copy_batch(7, min_len=1, max_len=8, generator=torch.Generator().manual_seed(5))
    memory = model.encode(src)
    s = torch.randn(7, 12, dtype=torch.double)
    _, _, weights = model.step(torch.full((7,), BOS), s, memory)
    _, expected = model.attention(s, memory.states, mask=memory.mask)   # W_k h_j recomputed there
    assert torch.allclose(weights, expected)
    assert torch.allclose(weights.sum(-1), torch.ones(7, dtype=torch.double))
    assert (weights[~memory.mask] == 0).all()


@pytest.mark.parametrize("attention", [False, True])
def test_a_row_gives_the_same_logits_alone_and_padded_in_a_batch_of_longer_rows(attention):
    model = _model(attention, seed=3)
    src, tgt = copy_batch(6, min_len=1, max_len=9, generator=torch.Generator().manual_seed(6))
    logits, _ = model(src, tgt)
    for b, L in enumerate(_lengths(src).tolist()):
        alone, _ = model(src[b:b + 1, :L], tgt[b:b + 1, :L + 1])
        assert torch.allclose(alone[0], logits[b, :L + 1])


def test_the_fixed_context_is_the_encoders_last_real_state():
    model = _model(False, seed=4)
    src, _ = copy_batch(4, min_len=2, max_len=6, generator=torch.Generator().manual_seed(7))
    memory = model.encode(src)
    for b, L in enumerate(_lengths(src).tolist()):
        _, h_n = model.encoder(model.src_embed(src[b:b + 1, :L]))
        assert torch.allclose(memory.summary[b], h_n[0, 0])
    assert memory.keys is None and model.attention is None


def test_attention_adds_only_the_additive_attentions_weights():
    plain, attn = _model(False), _model(True)
    extra = sum(p.numel() for p in attn.parameters()) - sum(p.numel() for p in plain.parameters())
    assert extra == sum(p.numel() for p in attn.attention.parameters()) == 10 * 12 + 10 * 12 + 10


@pytest.mark.parametrize("kwargs, fragment", [
    ({"batch_size": 0}, "batch_size must be an int >= 1"),
    ({"n_symbols": 2.0}, "n_symbols must be an int"),
    ({"min_len": 0}, "min_len must be an int >= 1"),
    ({"min_len": 5, "max_len": 3}, "min_len must be <= max_len=3"),
    ({"reverse": 1}, "reverse must be True or False"),
])
def test_copy_batch_rejects_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        copy_batch(**{"batch_size": 2, **kwargs})


def test_answer_accuracy_rejects_a_prediction_shorter_than_the_answer():
    _, tgt = copy_batch(3, min_len=4, max_len=4)
    with pytest.raises(ValueError, match=r"predicted must be \(B=3, T >= 5\); got shape \(3, 4\)"):
        answer_accuracy(tgt[:, :4], tgt)
    with pytest.raises(TypeError, match="predicted must be an integer tensor"):
        answer_accuracy(tgt.float(), tgt)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"vocab_size": 3}, "vocab_size must be an int >= 4"),
    ({"n_hidden": 0}, "n_hidden must be an int >= 1"),
    ({"attention": "yes"}, "attention must be True or False"),
])
def test_config_rejects_bad_sizes(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        Seq2SeqConfig(**kwargs)


def test_model_rejects_bad_inputs_with_the_argument_named():
    model = _model(True)
    src, tgt = copy_batch(2, min_len=3, max_len=3)
    with pytest.raises(TypeError, match="config must be a Seq2SeqConfig"):
        Seq2Seq({"vocab_size": 13})
    with pytest.raises(ValueError, match="PAD only at the end"):
        model(torch.tensor([[PAD, 5, 6], [4, 5, 6]]), tgt)
    with pytest.raises(ValueError, match="at least one token per row"):
        model(torch.tensor([[PAD, PAD], [4, 5]]), tgt)
    with pytest.raises(ValueError, match=r"src must be token ids in \[0, 13\)"):
        model(src + 20, tgt)
    with pytest.raises(ValueError, match="tgt must have the same batch size as src"):
        model(src, tgt[:1])
    with pytest.raises(ValueError, match="steps must be an int >= 1"):
        model.greedy(src, 0)
