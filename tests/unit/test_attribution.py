"""Input × gradient in lmcourse.attribution: exact on linear models, and the GPT hook agrees with a hand-run forward."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lmcourse.attribution import input_x_gradient, token_attribution
from lmcourse.gpt import GPT, GPTConfig


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 9))
def test_input_x_gradient_of_a_linear_model_is_w_times_x_and_sums_to_the_output(seed, T, C):
    g = torch.Generator().manual_seed(seed)
    x, w, b = torch.randn(T, C, generator=g), torch.randn(T, C, generator=g), torch.randn((), generator=g)

    def f(z):
        return (w * z).sum() + b

    attr = input_x_gradient(f, x)
    assert torch.allclose(attr, w * x, atol=1e-6)
    assert torch.allclose(attr.sum(), f(x) - f(torch.zeros_like(x)), atol=1e-5)   # completeness: linear case


def test_input_x_gradient_matches_autograd_on_an_nn_linear():
    torch.manual_seed(0)
    layer = torch.nn.Linear(5, 3)
    x = torch.randn(4, 5, requires_grad=True)
    layer(x)[:, 1].sum().backward()
    got = input_x_gradient(lambda z: layer(z)[:, 1].sum(), x)
    assert torch.allclose(got, x.detach() * x.grad)


def _gpt():
    torch.manual_seed(0)
    return GPT(GPTConfig(block_size=16, vocab_size=13, n_layer=2, n_head=2, n_embd=16))


def test_token_attribution_matches_a_hand_run_forward_of_the_gpt():
    model = _gpt()
    idx = torch.randint(0, 13, (1, 10), generator=torch.Generator().manual_seed(1))
    position, target = 6, 4
    emb = model.wte(idx).detach().requires_grad_(True)
    x = model.wpe(emb)
    for block in model.blocks:
        x = block(x)
    model.lm_head(model.ln_f(x))[0, position, target].backward()
    expected = (emb * emb.grad).sum(-1)[0]
    got = token_attribution(model, idx, position, target)
    assert got.shape == (10,) and torch.allclose(got, expected, atol=1e-6)


def test_token_attribution_is_zero_for_future_tokens_and_restores_the_model():
    model = _gpt().train()
    idx = torch.randint(0, 13, (1, 12), generator=torch.Generator().manual_seed(2))
    got = token_attribution(model, idx, 5, 3)
    assert torch.all(got[6:] == 0)                              # causal: later tokens cannot matter
    assert model.training and not model.wte._forward_hooks      # mode restored, hook removed
    logits, _ = model(idx)                                      # the model still works normally
    assert not logits.requires_grad or logits.grad_fn is not None


@pytest.mark.parametrize("call, fragment", [
    (lambda m: input_x_gradient(lambda z: z.sum(), torch.arange(3)),
     "x must be a floating-point tensor; got dtype torch.int64"),
    (lambda m: input_x_gradient(lambda z: z * 2, torch.ones(3)), "f(x) must be a scalar tensor"),
    (lambda m: token_attribution(m, torch.zeros(2, 4, dtype=torch.long), 0, 0),
     "idx must be of shape (1, T); got shape (2, 4)"),
    (lambda m: token_attribution(m, torch.zeros(1, 4, dtype=torch.long), 4, 0),
     "position must be an int in [-4, 3]; got 4"),
    (lambda m: token_attribution(m, torch.zeros(1, 4, dtype=torch.long), 0, -1),
     "target must be an int >= 0; got -1"),
    (lambda m: token_attribution(m, torch.zeros(1, 4, dtype=torch.long), 0, 13),
     "target must be a token id in [0, 13)"),
])
def test_bad_input_raises_a_clear_error(call, fragment):
    with pytest.raises(ValueError) as err:
        call(_gpt())
    assert fragment in str(err.value)
