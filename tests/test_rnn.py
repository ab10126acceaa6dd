import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import torch
from torch import nn

from lmcourse.rnn import LSTM, CharLSTM, CharLSTMConfig, LSTMCell, RNNCell, hidden_grad_norms


def _copy(src, dst, suffix=""):
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(dst, name).copy_(getattr(src, name + suffix))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_matches_torch(nonlinearity):
    torch.manual_seed(0)
    ref = nn.RNNCell(5, 7, nonlinearity=nonlinearity).double()
    ours = RNNCell(5, 7, nonlinearity).double()
    _copy(ref, ours)
    x, h = torch.randn(3, 5, dtype=torch.double), torch.randn(3, 7, dtype=torch.double)
    assert torch.allclose(ours(x, h), ref(x, h))
    assert torch.allclose(ours(x), ref(x))


def test_lstm_cell_matches_torch_forward_and_gradients():
    torch.manual_seed(1)
    ref, ours = nn.LSTMCell(4, 6).double(), LSTMCell(4, 6).double()
    _copy(ref, ours)
    x = torch.randn(5, 4, dtype=torch.double, requires_grad=True)
    h, c = torch.randn(5, 6, dtype=torch.double), torch.randn(5, 6, dtype=torch.double)
    h1, c1 = ref(x, (h, c))
    h2, c2 = ours(x, (h, c))
    assert torch.allclose(h1, h2) and torch.allclose(c1, c2)
    g_ref = torch.autograd.grad((h1 * 2 + c1).sum(), [x, ref.weight_hh])
    g_ours = torch.autograd.grad((h2 * 2 + c2).sum(), [x, ours.weight_hh])
    assert all(torch.allclose(a, b) for a, b in zip(g_ref, g_ours))


@pytest.mark.parametrize("layers, seed", [(1, 0), (2, 1), (3, 2)])
def test_lstm_matches_nn_lstm_forward_and_all_gradients(layers, seed):
    torch.manual_seed(seed)
    ref = nn.LSTM(3, 5, layers, batch_first=True).double()
    ours = LSTM.from_torch(ref)
    x = torch.randn(2, 7, 3, dtype=torch.double)
    state = (torch.randn(layers, 2, 5, dtype=torch.double), torch.randn(layers, 2, 5, dtype=torch.double))
    out_ref, (h_ref, c_ref) = ref(x, state)
    out, (h, c) = ours(x, state)
    assert torch.allclose(out, out_ref) and torch.allclose(h, h_ref) and torch.allclose(c, c_ref)
    target = torch.randn_like(out)
    ((out_ref - target) ** 2).sum().add(c_ref.sum()).backward()
    ((out - target) ** 2).sum().add(c.sum()).backward()
    for layer, cell in enumerate(ours.cells):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            assert torch.allclose(getattr(cell, name).grad, getattr(ref, f"{name}_l{layer}").grad), (layer, name)


def test_hidden_grad_norms_vanish_for_a_small_weight_rnn():
    torch.manual_seed(0)
    cell = RNNCell(3, 16)
    with torch.no_grad():
        cell.weight_hh.mul_(0.5)
    norms = hidden_grad_norms(cell, torch.randn(2, 30, 3))
    assert norms.shape == (30,)
    assert norms[0] < 1e-3 * norms[-1]


def test_hidden_grad_norms_works_for_lstm_cells():
    norms = hidden_grad_norms(LSTMCell(3, 8), torch.randn(1, 10, 3))
    assert norms.shape == (10,) and torch.all(norms > 0)


def test_char_lstm_shapes_loss_and_generation():
    torch.manual_seed(0)
    model = CharLSTM(CharLSTMConfig(vocab_size=9, n_embd=4, n_hidden=8, n_layer=2))
    idx = torch.randint(9, (3, 5))
    logits, loss = model(idx, idx)
    assert logits.shape == (3, 5, 9) and loss.item() > 0
    out = model.generate(idx[:, :2], 6, generator=torch.Generator().manual_seed(0))
    assert out.shape == (3, 8) and torch.equal(out[:, :2], idx[:, :2]) and int(out.max()) < 9
    again = model.generate(idx[:, :2], 6, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_char_lstm_generation_with_state_equals_rerunning_the_whole_text():
    torch.manual_seed(0)
    model = CharLSTM(CharLSTMConfig(vocab_size=6, n_embd=4, n_hidden=8)).eval()
    out = model.generate(torch.tensor([[1, 2]]), 5, temperature=1e-4)  # ~greedy
    full_logits, _ = model(out[:, :-1])
    assert torch.equal(full_logits.argmax(-1)[0, 1:], out[0, 2:])


@pytest.mark.parametrize("make, fragment", [
    (lambda: RNNCell(0, 4), "input_size must be an integer >= 1"),
    (lambda: RNNCell(3, 4, "sigmoid"), "nonlinearity must be 'tanh' or 'relu'"),
    (lambda: LSTMCell(3, -1), "hidden_size must be an integer >= 1"),
    (lambda: LSTM(3, 4, num_layers=0), "num_layers must be an integer >= 1"),
    (lambda: LSTM.from_torch(nn.GRU(3, 4)), "lstm must be a torch.nn.LSTM"),
    (lambda: LSTM.from_torch(nn.LSTM(3, 4)), "batch_first=True"),
    (lambda: LSTMCell(3, 4)(torch.randn(2, 5)), "x must be \\(B, input_size=3\\)"),
    (lambda: LSTM(3, 4)(torch.randn(2, 3)), "x must be \\(B, T, input_size=3\\)"),
    (lambda: hidden_grad_norms(nn.Linear(2, 2), torch.randn(1, 2, 2)), "cell must be an RNNCell or LSTMCell"),
    (lambda: hidden_grad_norms(RNNCell(2, 2), torch.randn(2, 2)), "x must be \\(B, T, I\\)"),
    (lambda: CharLSTMConfig(vocab_size=5, dropout=1.0), "dropout must be in"),
    (lambda: CharLSTM(CharLSTMConfig(5))(torch.tensor([[5]])), "ids in \\[0, 5\\)"),
    (lambda: CharLSTM(CharLSTMConfig(5)).generate(torch.tensor([[1]]), 0), "max_new_tokens must be"),
    (lambda: CharLSTM(CharLSTMConfig(5)).generate(torch.tensor([[1]]), 3, temperature=0), "temperature must be > 0"),
])
def test_bad_input_raises_clear_errors(make, fragment):
    with pytest.raises(ValueError, match=fragment):
        make()


@settings(max_examples=15, deadline=None)
@given(batch=st.integers(1, 3), steps=st.integers(1, 6), inputs=st.integers(1, 5), hidden=st.integers(1, 6),
       layers=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_lstm_equals_nn_lstm_for_any_shape(batch, steps, inputs, hidden, layers, seed):
    torch.manual_seed(seed)
    ref = nn.LSTM(inputs, hidden, layers, batch_first=True).double()
    ours = LSTM.from_torch(ref)
    x = torch.randn(batch, steps, inputs, dtype=torch.double, requires_grad=True)
    out_ref, (_, c_ref) = ref(x)
    out, (_, c) = ours(x)
    assert torch.allclose(out, out_ref) and torch.allclose(c, c_ref)
    g_ref, = torch.autograd.grad(out_ref.sum() + c_ref.sum(), x)
    g, = torch.autograd.grad(out.sum() + c.sum(), x)
    assert torch.allclose(g, g_ref)
