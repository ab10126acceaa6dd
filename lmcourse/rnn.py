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


class _OneStateCell(nn.Module):
    """A cell whose state is one tensor h (B, H): checks x and h, starts from zeros, and takes one step."""

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        sizes = _check_step(self, x)
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        tensor("h", h, shape=("B", "hidden_size"), sizes=sizes, dtype=x.dtype)
        return self._step(x, h)


class RNNCell(_OneStateCell):
    """One step of an Elman RNN: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)``.

    ``forward(x (B, I), h (B, H) | None) -> h' (B, H)``. Same parameters as ``nn.RNNCell``;
    ``nonlinearity`` may be ``"tanh"`` (the standard) or ``"relu"``.
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh"):
        super().__init__()
        self.nonlinearity = one_of("nonlinearity", nonlinearity, ("tanh", "relu"))  # sigmoid belongs to gates
        _add_parameters(self, input_size, hidden_size, gates=1)

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
        _add_parameters(self, input_size, hidden_size, gates=4)

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


class _RecurrentStack(nn.Module):
    """What :class:`LSTM` and :class:`GRU` share: ``num_layers`` cells, each layer reading the one below
    over time, and :meth:`from_torch`, which copies PyTorch's weights (same names, one per layer)."""

    _cell: type[nn.Module]
    _torch: type[nn.Module]
    _needs: str  # the settings from_torch can copy

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1):
        super().__init__()
        integer("num_layers", num_layers, min=1)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.cells = nn.ModuleList(
            self._cell(input_size if layer == 0 else hidden_size, hidden_size) for layer in range(num_layers))

    @classmethod
    def from_torch(cls, module: nn.Module):
        """A copy holding ``module``'s weights (an ``nn.LSTM`` for :class:`LSTM`, an ``nn.GRU`` for :class:`GRU`)."""
        name = cls._torch.__name__.lower()
        if not isinstance(module, cls._torch):
            raise ArgumentError(f"{name} must be a torch.nn.{cls._torch.__name__}; got {type(module).__name__}")
        if not module.batch_first or module.bidirectional or getattr(module, "proj_size", 0) or not module.bias:
            raise ArgumentError(f"{name} must be {cls._needs}")
        ours = cls(module.input_size, module.hidden_size, module.num_layers)
        with torch.no_grad():
            for layer, cell in enumerate(ours.cells):
                for weight in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(cell, weight).copy_(getattr(module, f"{weight}_l{layer}"))
        return ours.to(module.weight_ih_l0.device, module.weight_ih_l0.dtype)

    def _sizes(self, x: torch.Tensor) -> dict[str, int]:
        sizes = {"input_size": self.input_size, "hidden_size": self.hidden_size, "num_layers": self.num_layers}
        tensor("x", x, shape=("B", "T", "input_size"), sizes=sizes, dtype="float")
        return sizes

    def _run(self, x: torch.Tensor, states: list) -> tuple[torch.Tensor, list]:
        """Run every layer over time from its start state; returns the top layer's outputs (B, T, H)
        and every layer's last state (h for a GRU, (h, c) for an LSTM)."""
        layer_input, last = x, []
        for cell, state in zip(self.cells, states):
            outputs = []
            for t in range(x.shape[1]):
                state = cell._step(layer_input[:, t], state)
                outputs.append(state[0] if isinstance(state, tuple) else state)
            layer_input = torch.stack(outputs, dim=1)  # (B, T, H): the next layer's input
            last.append(state)
        return layer_input, last


class LSTM(_RecurrentStack):
    """A stack of :class:`LSTMCell` run over time, like ``nn.LSTM(..., batch_first=True)``.

    ``forward(x (B, T, I), state (h0, c0) each (L, B, H) | None)`` returns
    ``(output (B, T, H), (h_n, c_n) each (L, B, H))``: the top layer's hidden state at every
    step, and every layer's last state. :meth:`from_torch` copies an ``nn.LSTM``'s weights.
    """

    _cell, _torch, _needs = LSTMCell, nn.LSTM, "batch_first=True, bidirectional=False, proj_size=0, bias=True"

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        sizes = self._sizes(x)
        if state is None:
            zeros = x.new_zeros(self.num_layers, x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        for name, t in zip(("h0", "c0"), _pair(state, "(h0, c0)")):
            tensor(name, t, shape=("num_layers", "B", "hidden_size"), sizes=sizes, dtype=x.dtype)
        output, last = self._run(x, list(zip(state[0], state[1])))
        return output, (torch.stack([h for h, _ in last]), torch.stack([c for _, c in last]))


class GRUCell(_OneStateCell):
    """One step of a GRU, gate order (r, z, n) as in ``nn.GRUCell``: ``forward(x (B, I), h (B, H) | None) -> h'``::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)         # how much of the past the candidate may read
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)         # how much of the past to keep
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))      # the candidate new state
        h' = (1 - z) * n + z * h

    The reset gate multiplies ``W_hn h + b_hn`` (PyTorch's and cuDNN's form), not ``h`` itself.
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        _add_parameters(self, input_size, hidden_size, gates=3)

    def _step(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        x_r, x_z, x_n = (x @ self.weight_ih.T + self.bias_ih).chunk(3, dim=1)   # 3 x (B, H)
        h_r, h_z, h_n = (h @ self.weight_hh.T + self.bias_hh).chunk(3, dim=1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        return (1 - z) * n + z * h


class GRU(_RecurrentStack):
    """A stack of :class:`GRUCell` run over time, like ``nn.GRU(..., batch_first=True)``.

    ``forward(x (B, T, I), h0 (L, B, H) | None)`` returns ``(output (B, T, H), h_n (L, B, H))``.
    :meth:`from_torch` copies an ``nn.GRU``'s weights.
    """

    _cell, _torch, _needs = GRUCell, nn.GRU, "batch_first=True, bidirectional=False, bias=True"

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
        sizes = self._sizes(x)
        if h0 is None:
            h0 = x.new_zeros(self.num_layers, x.shape[0], self.hidden_size)
        tensor("h0", h0, shape=("num_layers", "B", "hidden_size"), sizes=sizes, dtype=x.dtype)
        output, last = self._run(x, list(h0))
        return output, torch.stack(last)


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


def _add_parameters(cell: nn.Module, input_size: int, hidden_size: int, gates: int) -> None:
    """Give ``cell`` its sizes and PyTorch's recurrent parameters for ``gates`` stacked blocks:
    ``weight_ih`` (gates·H, I), ``weight_hh`` (gates·H, H), ``bias_ih`` and ``bias_hh`` (gates·H), each
    uniform in ±1/√H as PyTorch initialises them (1 block for an RNN, 3 for a GRU, 4 for an LSTM)."""
    cell.input_size = integer("input_size", input_size, min=1)
    cell.hidden_size = H = integer("hidden_size", hidden_size, min=1)
    bound = 1.0 / math.sqrt(H)
    cell.weight_ih = nn.Parameter(torch.empty(gates * H, input_size).uniform_(-bound, bound))
    cell.weight_hh = nn.Parameter(torch.empty(gates * H, H).uniform_(-bound, bound))
    cell.bias_ih = nn.Parameter(torch.empty(gates * H).uniform_(-bound, bound))
    cell.bias_hh = nn.Parameter(torch.empty(gates * H).uniform_(-bound, bound))


def _check_step(cell: nn.Module, x) -> dict[str, int]:
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
