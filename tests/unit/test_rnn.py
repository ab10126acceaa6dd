import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from lmcourse._checks import ArgumentError
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
    (lambda: RNNCell(0, 4), "input_size must be an int >= 1; got 0"),
    (lambda: RNNCell(3, 4, "sigmoid"), "nonlinearity must be one of ('tanh', 'relu'); got 'sigmoid'"),
    (lambda: LSTMCell(3, -1), "hidden_size must be an int >= 1; got -1"),
    (lambda: LSTM(3, 4, num_layers=0), "num_layers must be an int >= 1; got 0"),
    (lambda: LSTM(3, 4, num_layers=True), "num_layers must be an int >= 1; got True"),
    (lambda: LSTM.from_torch(nn.GRU(3, 4)), "lstm must be a torch.nn.LSTM"),
    (lambda: LSTM.from_torch(nn.LSTM(3, 4)), "batch_first=True"),
    (lambda: LSTMCell(3, 4)(torch.randn(2, 5)),
     "x must be of shape (B, input_size) with B=2, input_size=3; got shape (2, 5)"),
    (lambda: LSTM(3, 4)(torch.randn(2, 3)), "x must be a 3-d tensor (B, T, input_size); got shape (2, 3)"),
    (lambda: LSTM(3, 4)(torch.zeros(2, 3, 3, dtype=torch.long)),
     "x must be a floating-point tensor; got dtype torch.int64"),
    (lambda: hidden_grad_norms(nn.Linear(2, 2), torch.randn(1, 2, 2)), "cell must be an RNNCell or LSTMCell"),
    (lambda: hidden_grad_norms(RNNCell(2, 2), torch.randn(2, 2)),
     "x must be a 3-d tensor (B, T, input_size); got shape (2, 2)"),
    (lambda: hidden_grad_norms(RNNCell(2, 2), torch.randn(2, 3, 4)),
     "x must be of shape (B, T, input_size) with B=2, T=3, input_size=2; got shape (2, 3, 4)"),
    (lambda: CharLSTMConfig(vocab_size=5, dropout=1.0), "dropout must be a finite number in [0, 1); got 1.0"),
    (lambda: CharLSTMConfig(vocab_size=5, dropout=float("nan")), "dropout must be a finite number in [0, 1); got nan"),
    (lambda: CharLSTMConfig(vocab_size=5, n_hidden=2.0), "n_hidden must be an int >= 1; got 2.0"),
    (lambda: CharLSTM(CharLSTMConfig(5))(torch.tensor([[5]])),
     "idx must be token ids in [0, 5) (the vocabulary size); got ids from 5 to 5"),
    (lambda: CharLSTM(CharLSTMConfig(5))(torch.tensor([1, 2])), "idx must be a 2-d tensor (B, T); got shape (2,)"),
    (lambda: CharLSTM(CharLSTMConfig(5))(torch.tensor([[1.0]])),
     "idx must be an integer tensor; got dtype torch.float32"),
    (lambda: CharLSTM(CharLSTMConfig(5))(torch.tensor([[1, 2]]), torch.tensor([[1, 2, 3]])),
     "targets must be of shape (B, T) with B=1, T=2; got shape (1, 3)"),
    (lambda: CharLSTM(CharLSTMConfig(5)).generate(torch.tensor([[1]]), 0), "max_new_tokens must be an int >= 1; got 0"),
    (lambda: CharLSTM(CharLSTMConfig(5)).generate(torch.tensor([[1]]), 3, temperature=0),
     "temperature must be a finite number > 0; got 0"),
    (lambda: CharLSTM(CharLSTMConfig(5)).generate(torch.tensor([[1]]), 3, temperature=float("inf")),
     "temperature must be a finite number > 0; got inf"),
    (lambda: CharLSTM(CharLSTMConfig(5)).generate(torch.tensor([[7]]), 3), "idx must be token ids in [0, 5)"),
])
def test_bad_input_raises_clear_errors(make, fragment):
    with pytest.raises(ValueError) as err:
        make()
    assert fragment in str(err.value)


@pytest.mark.parametrize("call, message", [
    (lambda: RNNCell(3, 4)(torch.randn(2, 3), torch.randn(5, 4)),
     "h must be of shape (B, hidden_size) with B=2, hidden_size=4; got shape (5, 4)"),
    (lambda: RNNCell(3, 4)(torch.randn(2, 3), torch.randn(2, 6)),
     "h must be of shape (B, hidden_size) with B=2, hidden_size=4; got shape (2, 6)"),
    (lambda: RNNCell(3, 4)(torch.randn(2, 3), torch.randn(2, 4, dtype=torch.float64)),
     "h must be a torch.float32 tensor; got dtype torch.float64"),
    (lambda: LSTMCell(3, 4)(torch.randn(2, 3), (torch.randn(2, 4), torch.randn(3, 4))),
     "c must be of shape (B, hidden_size) with B=2, hidden_size=4; got shape (3, 4)"),
    (lambda: LSTMCell(3, 4)(torch.randn(2, 3), torch.randn(2, 4)), "state must be a pair (h, c); got Tensor"),
    (lambda: LSTM(3, 4, num_layers=2)(torch.randn(2, 5, 3), (torch.zeros(2, 3, 4), torch.zeros(2, 2, 4))),
     "h0 must be of shape (num_layers, B, hidden_size) with num_layers=2, B=2, hidden_size=4; got shape (2, 3, 4)"),
    (lambda: LSTM(3, 4, num_layers=2)(torch.randn(2, 5, 3), (torch.zeros(2, 2, 4), torch.zeros(1, 2, 4))),
     "c0 must be of shape (num_layers, B, hidden_size) with num_layers=2, B=2, hidden_size=4; got shape (1, 2, 4)"),
    (lambda: LSTM(3, 4)(torch.randn(2, 5, 3), (torch.zeros(1, 2, 5), torch.zeros(1, 2, 4))),
     "h0 must be of shape (num_layers, B, hidden_size) with num_layers=1, B=2, hidden_size=4; got shape (1, 2, 5)"),
    (lambda: LSTM(3, 4)(torch.randn(2, 5, 3), torch.zeros(1, 2, 4)), "state must be a pair (h0, c0); got Tensor"),
])
def test_states_of_the_wrong_batch_width_or_dtype_are_refused(call, message):
    with pytest.raises(ArgumentError) as err:
        call()
    assert str(err.value) == message


def test_lstm_with_a_given_state_equals_nn_lstm_with_it():
    torch.manual_seed(0)
    ref = nn.LSTM(3, 4, 2, batch_first=True)
    x, h0, c0 = torch.randn(2, 5, 3), torch.randn(2, 2, 4), torch.randn(2, 2, 4)
    out, (h, c) = LSTM.from_torch(ref)(x, (h0, c0))
    out_ref, (h_ref, c_ref) = ref(x, (h0, c0))
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(h, h_ref)
    torch.testing.assert_close(c, c_ref)


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
