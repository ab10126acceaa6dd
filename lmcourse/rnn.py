"""Recurrent networks written from their equations: an RNN cell, an LSTM, a char LSTM LM.

An RNN reads a sequence one step at a time and carries a hidden state ``h``:
``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``. An LSTM adds a cell state ``c``
and three sigmoid gates (input ``i``, forget ``f``, output ``o``) around a tanh candidate
``g``: ``c_t = f ⊙ c_{t-1} + i ⊙ g`` and ``h_t = o ⊙ tanh(c_t)``. The parameters have
PyTorch's names, shapes and gate order (i, f, g, o), so weights copy straight across and
notebook 04 (and the tests) prove the outputs and gradients match ``nn.LSTM``.
:class:`CharLSTM` then uses PyTorch's fused ``nn.LSTM`` for speed.

A GRU (Cho et al. 2014) keeps one state and two gates, reset ``r`` and update ``z``, around a
candidate ``n``: ``h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}``. :class:`GRUCell` and :class:`GRU` have
``nn.GRUCell``'s and ``nn.GRU``'s names and gate order (r, z, n), so the same weights give the
same outputs and gradients (tested).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import ArgumentError, integer, number, one_of, tensor, token_ids


class RNNCell(nn.Module):
    """One step of an Elman RNN: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)``.

    ``forward(x (B, I), h (B, H) | None) -> h' (B, H)``. Same parameters as ``nn.RNNCell``;
    ``nonlinearity`` may be ``"tanh"`` (the standard) or ``"relu"``.
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh"):
        super().__init__()
        integer("input_size", input_size, min=1)
        integer("hidden_size", hidden_size, min=1)
        one_of("nonlinearity", nonlinearity, ("tanh", "relu"))   # the state uses tanh; sigmoid belongs to gates
        self.input_size, self.hidden_size, self.nonlinearity = input_size, hidden_size, nonlinearity
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(hidden_size))
        _init_uniform(self, hidden_size)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        sizes = _check_step(self, x)
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        tensor("h", h, shape=("B", "hidden_size"), sizes=sizes, dtype=x.dtype)
        return self._step(x, h)

    def _step(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        pre = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh  # (B, H)
        return torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre)


class LSTMCell(nn.Module):
    """One step of an LSTM, gate order (i, f, g, o) as in ``nn.LSTMCell``.

    ``forward(x (B, I), state (h, c) each (B, H) | None) -> (h', c')``::

        i, f, g, o = split(W_ih x + b_ih + W_hh h + b_hh, 4)
        i, f, o = sigmoid(i), sigmoid(f), sigmoid(o);  g = tanh(g)
        c' = f * c + i * g;  h' = o * tanh(c')
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        integer("input_size", input_size, min=1)
        integer("hidden_size", hidden_size, min=1)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))
        _init_uniform(self, hidden_size)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        sizes = _check_step(self, x)
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        for name, t in zip(("h", "c"), _pair(state, "(h, c)")):
            tensor(name, t, shape=("B", "hidden_size"), sizes=sizes, dtype=x.dtype)
        return self._step(x, state)

    def _step(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        h, c = state
        gates = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh  # (B, 4H)
        i, f, g, o = gates.chunk(4, dim=1)                                                 # 4 x (B, H)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g          # forget some old memory, write some new
        h = o * torch.tanh(c)      # expose part of the memory as the output
        return h, c


class LSTM(nn.Module):
    """A stack of :class:`LSTMCell` run over time, like ``nn.LSTM(..., batch_first=True)``.

    ``forward(x (B, T, I), state (h0, c0) each (L, B, H) | None)`` returns
    ``(output (B, T, H), (h_n, c_n) each (L, B, H))``: the top layer's hidden state at every
    step, and every layer's last state. :meth:`from_torch` copies an ``nn.LSTM``'s weights.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1):
        super().__init__()
        integer("num_layers", num_layers, min=1)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.cells = nn.ModuleList(
            LSTMCell(input_size if layer == 0 else hidden_size, hidden_size) for layer in range(num_layers))

    @classmethod
    def from_torch(cls, lstm: nn.LSTM) -> LSTM:
        """An :class:`LSTM` holding copies of ``lstm``'s weights (batch_first, one direction, no projection)."""
        if not isinstance(lstm, nn.LSTM):
            raise ValueError(f"lstm must be a torch.nn.LSTM; got {type(lstm).__name__}")
        if not lstm.batch_first or lstm.bidirectional or lstm.proj_size or not lstm.bias:
            raise ValueError("lstm must be batch_first=True, bidirectional=False, proj_size=0, bias=True")
        ours = cls(lstm.input_size, lstm.hidden_size, lstm.num_layers)
        with torch.no_grad():
            for layer, cell in enumerate(ours.cells):
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(cell, name).copy_(getattr(lstm, f"{name}_l{layer}"))
        return ours.to(lstm.weight_ih_l0.device, lstm.weight_ih_l0.dtype)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        sizes = {"input_size": self.input_size, "hidden_size": self.hidden_size, "num_layers": self.num_layers}
        tensor("x", x, shape=("B", "T", "input_size"), sizes=sizes, dtype="float")
        B, T, _ = x.shape
        if state is None:
            zeros = x.new_zeros(self.num_layers, B, self.hidden_size)
            state = (zeros, zeros)
        for name, t in zip(("h0", "c0"), _pair(state, "(h0, c0)")):
            tensor(name, t, shape=("num_layers", "B", "hidden_size"), sizes=sizes, dtype=x.dtype)
        h_last, c_last = [], []
        layer_input = x
        for layer, cell in enumerate(self.cells):
            h, c = state[0][layer], state[1][layer]
            outputs = []
            for t in range(T):
                h, c = cell._step(layer_input[:, t], (h, c))
                outputs.append(h)
            layer_input = torch.stack(outputs, dim=1)  # (B, T, H): the next layer's input
            h_last.append(h)
            c_last.append(c)
        return layer_input, (torch.stack(h_last), torch.stack(c_last))


class GRUCell(nn.Module):
    """One step of a GRU, gate order (r, z, n) as in ``nn.GRUCell``: ``forward(x (B, I), h (B, H) | None) -> h'``::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)         # how much of the past the candidate may read
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)         # how much of the past to keep
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))      # the candidate new state
        h' = (1 - z) * n + z * h

    The reset gate multiplies ``W_hn h + b_hn`` (PyTorch's and cuDNN's form), not ``h`` itself.
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        integer("input_size", input_size, min=1)
        integer("hidden_size", hidden_size, min=1)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size))
        _init_uniform(self, hidden_size)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        sizes = _check_step(self, x)
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        tensor("h", h, shape=("B", "hidden_size"), sizes=sizes, dtype=x.dtype)
        return self._step(x, h)

    def _step(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        x_r, x_z, x_n = (x @ self.weight_ih.T + self.bias_ih).chunk(3, dim=1)   # 3 x (B, H)
        h_r, h_z, h_n = (h @ self.weight_hh.T + self.bias_hh).chunk(3, dim=1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        return (1 - z) * n + z * h


class GRU(nn.Module):
    """A stack of :class:`GRUCell` run over time, like ``nn.GRU(..., batch_first=True)``.

    ``forward(x (B, T, I), h0 (L, B, H) | None)`` returns ``(output (B, T, H), h_n (L, B, H))``.
    :meth:`from_torch` copies an ``nn.GRU``'s weights.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1):
        super().__init__()
        integer("num_layers", num_layers, min=1)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.cells = nn.ModuleList(
            GRUCell(input_size if layer == 0 else hidden_size, hidden_size) for layer in range(num_layers))

    @classmethod
    def from_torch(cls, gru: nn.GRU) -> GRU:
        """A :class:`GRU` holding copies of ``gru``'s weights (batch_first, one direction, with biases)."""
        if not isinstance(gru, nn.GRU):
            raise ArgumentError(f"gru must be a torch.nn.GRU; got {type(gru).__name__}")
        if not gru.batch_first or gru.bidirectional or not gru.bias:
            raise ArgumentError("gru must be batch_first=True, bidirectional=False, bias=True")
        ours = cls(gru.input_size, gru.hidden_size, gru.num_layers)
        with torch.no_grad():
            for layer, cell in enumerate(ours.cells):
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(cell, name).copy_(getattr(gru, f"{name}_l{layer}"))
        return ours.to(gru.weight_ih_l0.device, gru.weight_ih_l0.dtype)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
        sizes = {"input_size": self.input_size, "hidden_size": self.hidden_size, "num_layers": self.num_layers}
        tensor("x", x, shape=("B", "T", "input_size"), sizes=sizes, dtype="float")
        B, T, _ = x.shape
        if h0 is None:
            h0 = x.new_zeros(self.num_layers, B, self.hidden_size)
        tensor("h0", h0, shape=("num_layers", "B", "hidden_size"), sizes=sizes, dtype=x.dtype)
        h_last, layer_input = [], x
        for layer, cell in enumerate(self.cells):
            h, outputs = h0[layer], []
            for t in range(T):
                h = cell._step(layer_input[:, t], h)
                outputs.append(h)
            layer_input = torch.stack(outputs, dim=1)  # (B, T, H): the next layer's input
            h_last.append(h)
        return layer_input, torch.stack(h_last)


def hidden_grad_norms(cell: RNNCell | LSTMCell, x: torch.Tensor) -> torch.Tensor:
    """How much the last step's output depends on each earlier hidden state.

    Runs ``cell`` over ``x (B, T, I)`` from a zero state, takes ``L = sum(h_T)`` and returns
    ``‖∂L/∂h_t‖`` for t = 1 … T, shape ``(T,)``. Backpropagation through time multiplies
    one Jacobian per step, so these norms shrink (vanish) or grow (explode) with ``T - t``.
    """
    if not isinstance(cell, (RNNCell, LSTMCell)):
        raise ArgumentError(f"cell must be an RNNCell or LSTMCell; got {type(cell).__name__}")
    tensor("x", x, shape=("B", "T", "input_size"), sizes={"input_size": cell.input_size}, dtype="float")
    zeros = x.new_zeros(x.shape[0], cell.hidden_size)
    state, hs = (zeros if isinstance(cell, RNNCell) else (zeros, zeros)), []
    for t in range(x.shape[1]):
        state = cell._step(x[:, t], state)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        hs.append(h)
    hs[-1].sum().backward()
    return torch.stack([h.grad.norm() for h in hs]).detach()


@dataclass
class CharLSTMConfig:
    """Sizes of a :class:`CharLSTM`."""

    vocab_size: int
    n_embd: int = 64
    n_hidden: int = 256
    n_layer: int = 1
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("vocab_size", "n_embd", "n_hidden", "n_layer"):
            integer(name, getattr(self, name), min=1)
        number("dropout", self.dropout, min=0, max=1, max_open=True)


class CharLSTM(nn.Module):
    """A character-level language model: embedding → LSTM → linear head over the vocabulary.

    ``forward(idx (B, T), targets (B, T) | None) -> (logits (B, T, V), loss | None)``.
    Uses PyTorch's fused ``nn.LSTM``, which notebook 04 shows equals :class:`LSTM`.
    """

    def __init__(self, config: CharLSTMConfig):
        super().__init__()
        self.config = c = config
        self.embed = nn.Embedding(c.vocab_size, c.n_embd)
        self.lstm = nn.LSTM(c.n_embd, c.n_hidden, c.n_layer, batch_first=True,
                            dropout=c.dropout if c.n_layer > 1 else 0.0)
        self.head = nn.Linear(c.n_hidden, c.vocab_size)

    def _run(self, idx: torch.Tensor, state=None):
        out, state = self.lstm(self.embed(idx), state)  # (B, T, C) -> (B, T, H)
        return self.head(out), state                    # (B, T, V)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        sizes = _check_idx(idx, self.config.vocab_size)
        if targets is not None:
            tensor("targets", targets, shape=("B", "T"), sizes=sizes, dtype="int")
        logits, _ = self._run(idx)
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, *, temperature: float = 1.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Continue ``idx (B, T)`` by ``max_new_tokens`` sampled tokens; returns ``(B, T + max_new_tokens)``.

        The prompt is read once; then each new token is fed back with the carried ``(h, c)``,
        so a step costs the same however long the text already is.
        """
        _check_idx(idx, self.config.vocab_size)
        integer("max_new_tokens", max_new_tokens, min=1)
        number("temperature", temperature, min=0, min_open=True)
        was_training = self.training
        self.eval()
        logits, state = self._run(idx)
        out = [idx]
        for _ in range(max_new_tokens):
            probs = F.softmax(logits[:, -1] / temperature, dim=-1)                 # (B, V)
            nxt = torch.multinomial(probs, 1, generator=generator)              # (B, 1)
            out.append(nxt)
            logits, state = self._run(nxt, state)
        self.train(was_training)
        return torch.cat(out, dim=1)


def _init_uniform(module: nn.Module, hidden_size: int) -> None:
    """PyTorch's recurrent initialisation: every parameter uniform in ±1/√hidden_size."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        nn.init.uniform_(p, -bound, bound)


def _check_step(cell: RNNCell | LSTMCell | GRUCell, x) -> dict[str, int]:
    """Check a cell's input x (B, input_size); returns the sizes its state must agree with."""
    sizes = {"input_size": cell.input_size, "hidden_size": cell.hidden_size}
    tensor("x", x, shape=("B", "input_size"), sizes=sizes, dtype="float")
    return sizes


def _pair(state, names: str) -> tuple:
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise ArgumentError(f"state must be a pair {names}; got {type(state).__name__}")
    return tuple(state)


def _check_idx(idx, vocab_size: int) -> dict[str, int]:
    sizes: dict[str, int] = {}
    tensor("idx", idx, shape=("B", "T"), sizes=sizes)
    token_ids("idx", idx, vocab_size)
    return sizes
