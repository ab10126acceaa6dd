"""lmcourse.transformer layers equal PyTorch's Transformer layers, the encoder–decoder is causal and
ignores padding, parameter formulas match the modules, and bad input is refused clearly."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lmcourse.attention import causal_mask, padding_mask
from lmcourse.transformer import (
    DecoderLayer,
    EncoderLayer,
    FeedForward,
    LayerNorm,
    Transformer,
    TransformerConfig,
    count_parameters,
    layer_parameter_count,
    load_torch_layer,
    xavier_init_,
)

pytestmark = pytest.mark.usefixtures("seeded", "no_mha_fastpath")


def _tokens(b, t, pad_from):
    tokens = torch.randint(1, 9, (b, t))
    tokens[-1, pad_from:] = 0
    return tokens


@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm_matches_nn_layernorm_forward_and_backward(bias):
    ours, theirs = LayerNorm(10, bias=bias), nn.LayerNorm(10, bias=bias)
    with torch.no_grad():
        theirs.weight.normal_()
        ours.weight.copy_(theirs.weight)
        if bias:
            theirs.bias.normal_()
            ours.bias.copy_(theirs.bias)
    x = torch.randn(3, 4, 10, requires_grad=True) * 4 + 2
    torch.testing.assert_close(ours(x), theirs(x))
    g1 = torch.autograd.grad(ours(x).pow(2).sum(), x)[0]
    g2 = torch.autograd.grad(theirs(x).pow(2).sum(), x)[0]
    torch.testing.assert_close(g1, g2)


def test_feed_forward_is_position_wise():
    ff = FeedForward(8, 32, activation="gelu")
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(ff(x)[:, 3], ff(x[:, 3]))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_nn_transformer_encoder_layer(norm_first, activation):
    theirs = nn.TransformerEncoderLayer(16, 4, 48, dropout=0.0, activation=activation, batch_first=True,
                                        norm_first=norm_first).eval()
    ours = load_torch_layer(EncoderLayer(16, 4, 48, activation=activation, norm_first=norm_first), theirs).eval()
    x, tokens = torch.randn(3, 7, 16, requires_grad=True), _tokens(3, 7, pad_from=4)
    out, ref = ours(x, padding_mask(tokens, 0)), theirs(x, src_key_padding_mask=tokens == 0)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(torch.autograd.grad(out.sum(), x)[0], torch.autograd.grad(ref.sum(), x)[0])


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_with_a_causal_mask_matches_pytorch(norm_first):
    theirs = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True, norm_first=norm_first).eval()
    ours = load_torch_layer(EncoderLayer(16, 2, 32, norm_first=norm_first), theirs).eval()
    x = torch.randn(2, 6, 16)
    torch.testing.assert_close(ours(x, causal_mask(6)), theirs(x, src_mask=~causal_mask(6)))


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_nn_transformer_decoder_layer(norm_first):
    theirs = nn.TransformerDecoderLayer(16, 4, 48, dropout=0.0, batch_first=True, norm_first=norm_first).eval()
    ours = load_torch_layer(DecoderLayer(16, 4, 48, norm_first=norm_first), theirs).eval()
    y, memory = torch.randn(2, 5, 16, requires_grad=True), torch.randn(2, 8, 16)
    tgt, src = _tokens(2, 5, pad_from=3), _tokens(2, 8, pad_from=6)
    ref = theirs(y, memory, tgt_mask=~causal_mask(5), tgt_key_padding_mask=tgt == 0,
                 memory_key_padding_mask=src == 0)
    out = ours(y, memory, padding_mask(tgt, 0), padding_mask(src, 0))
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(torch.autograd.grad(out.sum(), y)[0], torch.autograd.grad(ref.sum(), y)[0])


def test_decoder_layer_without_causal_mask_matches_pytorch_without_tgt_mask():
    theirs = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True).eval()
    ours = load_torch_layer(DecoderLayer(8, 2, 16), theirs).eval()
    y, memory = torch.randn(2, 4, 8), torch.randn(2, 3, 8)
    torch.testing.assert_close(ours(y, memory, is_causal=False), theirs(y, memory))


def test_dropout_is_active_in_training_and_off_in_eval():
    layer = EncoderLayer(16, 4, 32, dropout=0.5)
    x = torch.randn(2, 5, 16)
    layer.train()
    assert not torch.allclose(layer(x), layer(x))
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x))


def _small_model(**overrides):
    cfg = dict(src_vocab_size=11, tgt_vocab_size=13, d_model=16, n_head=4, n_layer=2, d_ff=32, dropout=0.0, max_len=20)
    cfg.update(overrides)
    return Transformer(TransformerConfig(**cfg)).eval()


def test_transformer_logits_have_the_target_vocabulary_and_the_decoder_is_causal():
    model = _small_model()
    src, tgt = torch.randint(1, 11, (2, 6)), torch.randint(1, 13, (2, 5))
    logits = model(src, tgt)
    assert logits.shape == (2, 5, 13)
    changed = tgt.clone()
    changed[:, 3:] = (changed[:, 3:] % 12) + 1
    torch.testing.assert_close(model(src, changed)[:, :3], logits[:, :3])


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_padding_does_not_change_the_real_positions(norm_first):
    model = _small_model(norm_first=norm_first)
    src, tgt = torch.randint(1, 11, (1, 4)), torch.randint(1, 13, (1, 3))
    padded_src = torch.cat([src, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    padded_tgt = torch.cat([tgt, torch.zeros(1, 2, dtype=torch.long)], dim=1)
    torch.testing.assert_close(model(padded_src, padded_tgt)[:, :3], model(src, tgt), atol=1e-5, rtol=1e-5)


def test_transformer_ties_output_and_target_embedding_weights():
    model = _small_model()
    assert model.lm_head.weight is model.tgt_embed.weight
    untied = _small_model(tie_weights=False)
    assert count_parameters(untied) == count_parameters(model) + 13 * 16


def test_transformer_learns_to_copy_a_short_pair():
    model = _small_model().train()
    src, tgt_in, tgt_out = torch.tensor([[3, 4, 5]]), torch.tensor([[1, 6, 7, 8]]), torch.tensor([[6, 7, 8, 2]])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(40):
        loss = F.cross_entropy(model(src, tgt_in).flatten(0, 1), tgt_out.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert model.eval()(src, tgt_in).argmax(-1).tolist() == tgt_out.tolist()


@pytest.mark.parametrize("d_model, d_ff, bias", [(512, 2048, True), (16, 7, True), (32, 64, False)])
def test_parameter_formula_matches_sum_of_numel(d_model, d_ff, bias):
    encoder_layer = EncoderLayer(d_model, 4, d_ff, bias=bias)
    assert layer_parameter_count(d_model, d_ff, bias=bias) == count_parameters(encoder_layer)
    assert layer_parameter_count(d_model, d_ff, decoder=True, bias=bias) == \
        count_parameters(DecoderLayer(d_model, 4, d_ff, bias=bias))


def test_parameter_count_matches_pytorch_layers():
    assert count_parameters(EncoderLayer(64, 4, 256)) == count_parameters(nn.TransformerEncoderLayer(64, 4, 256))
    assert count_parameters(DecoderLayer(64, 4, 256)) == count_parameters(nn.TransformerDecoderLayer(64, 4, 256))


def test_full_model_count_is_embeddings_plus_layers():
    with torch.device("meta"):
        model = Transformer(TransformerConfig(1000, 800, d_model=64, n_head=4, n_layer=3, d_ff=128, norm_first=True))
    layers = 3 * (layer_parameter_count(64, 128) + layer_parameter_count(64, 128, decoder=True))
    assert count_parameters(model) == 1000 * 64 + 800 * 64 + layers + 2 * 2 * 64   # + two final LayerNorms


def test_layer_norm_rejects_the_wrong_width():
    with pytest.raises(ValueError, match=r"last dimension d_model=8; got \(2, 6\)"):
        LayerNorm(8)(torch.randn(2, 6))


def test_feed_forward_rejects_an_unknown_activation():
    with pytest.raises(ValueError, match="activation must be one of \\('relu', 'gelu', 'gelu_tanh'\\); got 'tanh'"):
        FeedForward(8, 16, activation="tanh")


def test_layers_refuse_mismatched_heads_and_bad_masks():
    with pytest.raises(ValueError, match="d_model must be divisible by n_head"):
        EncoderLayer(10, 4, 20)
    layer = EncoderLayer(8, 2, 16)
    with pytest.raises(ValueError, match=r"mask must be \(5, 5\) or broadcastable"):
        layer(torch.randn(2, 5, 8), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="torch.bool"):
        layer(torch.randn(2, 5, 8), (torch.ones(2, 5) > 0).float())


def test_decoder_layer_refuses_memory_of_another_width_or_batch():
    layer = DecoderLayer(8, 2, 16)
    with pytest.raises(ValueError, match=r"kv must be \(B, T, d_model=8\)"):
        layer(torch.randn(2, 5, 8), torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match="same batch size"):
        layer(torch.randn(2, 5, 8), torch.randn(3, 3, 8))


def test_transformer_refuses_bad_ids_long_sequences_and_batch_mismatch():
    model = _small_model(max_len=6)
    with pytest.raises(ValueError, match=r"src has 7 positions but this Transformer has only max_len=6"):
        model(torch.randint(1, 11, (1, 7)), torch.randint(1, 13, (1, 3)))
    with pytest.raises(ValueError, match=r"tgt has 7 positions but this Transformer has only max_len=6"):
        model(torch.randint(1, 11, (1, 3)), torch.randint(1, 13, (1, 7)))
    with pytest.raises(ValueError, match="same batch size"):
        model(torch.randint(1, 11, (2, 4)), torch.randint(1, 13, (3, 3)))


GOOD_SRC, GOOD_TGT = torch.randint(1, 11, (2, 4)), torch.randint(1, 13, (2, 3))


@pytest.mark.parametrize("src, tgt, fragment", [
    (torch.randn(2, 4), GOOD_TGT, "src must be an integer tensor; got dtype torch.float32"),
    (GOOD_SRC, torch.randn(2, 3), "tgt must be an integer tensor; got dtype torch.float32"),
    (torch.tensor([[1, -1]]), GOOD_TGT[:1],
     "src must be token ids in [0, 11) (the vocabulary size); got ids from -1 to 1"),
    (GOOD_SRC, torch.tensor([[1, 13], [2, 2]]),
     "tgt must be token ids in [0, 13) (the vocabulary size); got ids from 1 to 13"),
    (torch.tensor([[1, 11]]), GOOD_TGT[:1], "src must be token ids in [0, 11)"),
    (torch.ones(2, 4, 1, dtype=torch.long), GOOD_TGT, "src must be a 2-d tensor; got shape (2, 4, 1)"),
    (GOOD_SRC, torch.ones(3, dtype=torch.long), "tgt must be a 2-d tensor; got shape (3,)"),
], ids=["float src", "float tgt", "negative id", "id == tgt vocab", "id == src vocab", "3-d src", "1-d tgt"])
def test_transformer_refuses_ids_that_are_not_token_ids_of_its_vocabularies(src, tgt, fragment):
    with pytest.raises(ValueError) as err:
        _small_model()(src, tgt)
    assert fragment in str(err.value)


def test_decode_refuses_memory_that_does_not_belong_to_the_source():
    model = _small_model()
    memory = model.encode(GOOD_SRC)
    with pytest.raises(ValueError, match=r"src must be of shape \(B, S\) with B=2, S=4; got shape \(2, 5\)"):
        model.decode(GOOD_TGT, memory, torch.randint(1, 11, (2, 5)))
    with pytest.raises(ValueError, match=r"memory must be of shape \(B, S, 16\)"):
        model.decode(GOOD_TGT, memory[..., :8], GOOD_SRC)
    with pytest.raises(ValueError, match=r"tgt must be of shape \(B, \?\) with B=2; got shape \(3, 3\)"):
        model.decode(torch.randint(1, 13, (3, 3)), memory, GOOD_SRC)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"d_model": 15}, "d_model must be divisible by n_head"),
    ({"n_layer": 0}, "n_layer must be"),
    ({"dropout": float("nan")}, "dropout must be"),
    ({"dropout": float("inf")}, "dropout must be"),
    ({"pad_id": 11}, r"pad_id must be an int in [0, 10]; got 11"),
    ({"pad_id": -1}, r"pad_id must be an int in [0, 10]; got -1"),
])
def test_transformer_config_refuses_bad_sizes_and_numbers(kwargs, fragment):
    cfg = dict(src_vocab_size=11, tgt_vocab_size=13, d_model=16, n_head=4, n_layer=2, d_ff=32)
    with pytest.raises(ValueError) as err:
        TransformerConfig(**{**cfg, **kwargs})
    assert fragment in str(err.value)


@pytest.mark.parametrize("eps", [float("nan"), float("inf"), 0.0, -1e-5, "1e-5"])
def test_layer_norm_refuses_an_eps_that_is_not_a_small_positive_number(eps):
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        LayerNorm(8, eps=eps)


def test_load_torch_layer_refuses_the_wrong_kind_or_norm_position():
    with pytest.raises(TypeError, match="theirs must be a TransformerDecoderLayer"):
        load_torch_layer(DecoderLayer(8, 2, 16), nn.TransformerEncoderLayer(8, 2, 16))
    with pytest.raises(ValueError, match="theirs must have norm_first=True"):
        load_torch_layer(EncoderLayer(8, 2, 16, norm_first=True), nn.TransformerEncoderLayer(8, 2, 16))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_transformer_runs_on_cuda_under_bf16_autocast_and_backpropagates():
    model = _small_model().to("cuda").train()
    src, tgt = torch.randint(1, 11, (3, 6), device="cuda"), torch.randint(1, 13, (3, 5), device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = model(src, tgt)
    assert logits.shape == (3, 5, 13) and torch.isfinite(logits).all()
    logits.float().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("d_model", [32, 256, 512])
@pytest.mark.parametrize("norm_first", [False, True])
def test_untrained_transformer_starts_near_log_v_at_any_width(d_model, norm_first):
    # PyTorch's default N(0, 1) embeddings, scaled by √d_model and tied to the output, start at
    # 28 / 221 / 449 nats for these widths (V = 1000); the model's own Xavier init starts near ln V.
    torch.manual_seed(0)
    vocab = 1000
    model = Transformer(TransformerConfig(vocab, vocab, d_model=d_model, n_head=4, n_layer=2, d_ff=2 * d_model,
                                          norm_first=norm_first)).eval()
    g = torch.Generator().manual_seed(1)
    src, tgt = torch.randint(1, vocab, (8, 12), generator=g), torch.randint(1, vocab, (8, 10), generator=g)
    labels = torch.randint(0, vocab, (8, 10), generator=g)
    with torch.no_grad():
        loss = F.cross_entropy(model(src, tgt).flatten(0, 1), labels.flatten()).item()
    assert abs(loss - math.log(vocab)) < 1.5, loss


def test_xavier_init_redraws_matrices_and_keeps_vectors():
    model = Transformer(TransformerConfig(50, 60, d_model=16, n_head=2, n_layer=1, d_ff=32))
    bound = math.sqrt(6 / (60 + 16))
    assert model.tgt_embed.weight.abs().max() <= bound
    assert torch.equal(model.encoder[0].norm1.weight, torch.ones(16))
    before = model.src_embed.weight.clone()
    assert xavier_init_(model) is model and not torch.equal(before, model.src_embed.weight)
    assert model.lm_head.weight is model.tgt_embed.weight
