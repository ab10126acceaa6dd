import torch

from lmcourse.exercises import nb04_recurrent_networks as ex
from lmcourse.rnn import LSTMCell


def _lstm_step(x, h, c, W_ih, W_hh, b):
    i, f, g, o = (x @ W_ih.T + h @ W_hh.T + b).chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def test_lstm_checker_accepts_reference_and_the_package_cell():
    assert ex.check_lstm_step(_lstm_step).passed

    def via_package(x, h, c, W_ih, W_hh, b):
        cell = LSTMCell(x.shape[1], h.shape[1])
        with torch.no_grad():
            cell.weight_ih.copy_(W_ih)
            cell.weight_hh.copy_(W_hh)
            cell.bias_ih.copy_(b)
            cell.bias_hh.zero_()
        return tuple(t.detach() for t in cell(x, (h, c)))
    assert ex.check_lstm_step(via_package).passed


def test_lstm_checker_names_typical_mistakes():
    def sigmoid_g(x, h, c, W_ih, W_hh, b):
        i, f, g, o = (x @ W_ih.T + h @ W_hh.T + b).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.sigmoid(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def no_tanh(x, h, c, W_ih, W_hh, b):
        i, f, g, o = (x @ W_ih.T + h @ W_hh.T + b).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * c, c

    def wrong_order(x, h, c, W_ih, W_hh, b):
        i, f, o, g = (x @ W_ih.T + h @ W_hh.T + b).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def no_input_gate(x, h, c, W_ih, W_hh, b):
        i, f, g, o = (x @ W_ih.T + h @ W_hh.T + b).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    for fn, fragment in ((sigmoid_g, "candidate g uses tanh"), (no_tanh, "missing a tanh"),
                         (no_input_gate, "input gate is missing"), (wrong_order, "wrong order")):
        result = ex.check_lstm_step(fn)
        assert not result.passed and fragment in result.mistake


def _clip(grads, max_norm):
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))
    scale = min(1.0, max_norm / (float(total) + 1e-6))
    return [g * scale for g in grads]


def test_clip_checker_accepts_reference_and_torch_utility():
    assert ex.check_clip_by_global_norm(_clip).passed

    def via_torch(grads, max_norm):
        params = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        torch.nn.utils.clip_grad_norm_(params, max_norm)
        return [p.grad for p in params]
    assert ex.check_clip_by_global_norm(via_torch).passed


def test_clip_checker_names_typical_mistakes():
    per_tensor = ex.check_clip_by_global_norm(lambda gs, m: [g * min(1.0, m / float(g.norm())) for g in gs])
    assert not per_tensor.passed and "on its own" in per_tensor.mistake
    by_value = ex.check_clip_by_global_norm(lambda gs, m: [g.clamp(-m, m) for g in gs])
    assert not by_value.passed and "clip by value" in by_value.mistake
    always = ex.check_clip_by_global_norm(
        lambda gs, m: [g * m / float(torch.sqrt(sum((x ** 2).sum() for x in gs))) for g in gs])
    assert not always.passed and "only shrinks" in always.mistake


def test_the_notebooks_own_solutions_pass():
    from solutions import solution_namespace

    solved = solution_namespace("04_recurrent_networks", setup="import torch\nfrom lmcourse.exercises import nb04_recurrent_networks as ex")
    assert ex.check_lstm_step(solved["lstm_step_ex"]).passed
    assert ex.check_clip_by_global_norm(solved["clip_by_global_norm"]).passed
