"""Notebook 16's checkers: the notebook's reference solutions pass, the references agree with the real thing
(the GPT's loss on sft_batch targets, transformers' apply_chat_template), and wrong answers written here —
apart from the checkers' own Mistake lists — are refused, each malformed answer with a hint and no exception."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lmcourse import chat
from lmcourse.exercises import nb16_assistant as ex
from lmcourse.gpt import GPT, GPTConfig
from solutions import solution_namespace


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace("16_assistant")


def test_the_notebooks_reference_solutions_pass_their_checkers(solutions):
    assert ex.check_sft_loss(solutions["sft_loss"]).passed
    assert ex.check_dpo_loss(solutions["dpo_loss"]).passed
    assert ex.check_render_chatml(solutions["render_chatml"]).passed
    assert ex.check_win_rate(solutions["win_rate"]).passed


def test_answers_in_another_valid_form_pass():
    def sft_float64_loop(logits, ids, train_mask):
        terms = [-F.log_softmax(logits[t].double(), -1)[ids[t + 1]] for t in range(len(ids) - 1) if train_mask[t + 1]]
        return torch.stack(terms).mean()                           # float64, a Python loop over positions

    def dpo_softplus_float64(pw, pl, rw, rl, beta):
        return F.softplus(-beta * ((pw.double() - pl.double()) - (rw.double() - rl.double()))).mean()

    def chatml_by_parts(messages, add_generation_prompt=False):
        parts = []
        for message in messages:
            parts += ["<|im_start|>", message["role"], "\n", message["content"], "<|im_end|>", "\n"]
        if add_generation_prompt:
            parts.append("<|im_start|>assistant\n")
        return "".join(parts)

    assert ex.check_sft_loss(sft_float64_loop).passed
    assert ex.check_dpo_loss(dpo_softplus_float64).passed
    assert ex.check_render_chatml(chatml_by_parts).passed
    # (wins + ties / 2) / n = 1/2 + (accuracy of A - accuracy of B) / 2, here in NumPy
    assert ex.check_win_rate(lambda a, b: 0.5 + (np.mean(a) - np.mean(b)) / 2).passed


def test_sft_reference_is_the_gpts_own_loss_on_sft_batch_targets():
    with torch.random.fork_rng():                                  # a seeded model, the global generator untouched
        torch.manual_seed(0)
        model = GPT(GPTConfig(block_size=16, vocab_size=13, n_layer=1, n_head=2, n_embd=8)).eval()
    ids = torch.randint(13, (10,), generator=torch.Generator().manual_seed(0))
    mask = torch.tensor([False, False, True, True, False, False, False, True, True, True])
    x, y = chat.sft_batch([(ids.tolist(), mask.tolist())], block_size=16, pad_id=0)   # (1, 9) each
    with torch.no_grad():
        logits, loss = model(x, y)                                                    # logits (1, 9, 13)
        logits_all, _ = model(ids[None])                                              # (1, 10, 13)
    by_hand = F.cross_entropy(logits[0][mask[1:]], ids[1:][mask[1:]])
    assert torch.allclose(loss, by_hand)
    assert torch.allclose(ex._sft_loss(logits_all[0], ids, mask), loss, atol=1e-6)


def test_chatml_reference_equals_transformers_apply_chat_template():
    tokenizer = chat.to_transformers(chat.chat_tokenizer("a small text to learn a few merges from", 5))
    tokenizer.chat_template = ex.CHATML_TEMPLATE
    for case in ex._CHATML_CASES:
        messages, prompt = list(case.args[0]), case.kwargs.get("add_generation_prompt", False)
        hf = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=prompt)
        assert ex._render_chatml(messages, prompt) == hf, case.label


def test_chatml_reference_writes_the_documented_format():
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert ex._render_chatml(messages, True) == ("<|im_start|>system\nBe brief.<|im_end|>\n"
                                                 "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")


def _margin(pw, pl, rw, rl):
    return (pw - rw) - (pl - rl)


WRONG_SFT = {
    "targets not shifted, mask shifted": lambda lo, i, m: F.cross_entropy(lo[:-1][m[1:]], i[:-1][m[1:]]),
    "probabilities instead of log-probabilities":
        lambda lo, i, m: -F.softmax(lo[:-1], -1).gather(-1, i[1:, None]).squeeze(-1)[m[1:]].mean(),
    "divides by every flagged token, position 0 included":
        lambda lo, i, m: F.cross_entropy(lo[:-1], i[1:], reduction="none")[m[1:]].sum() / m.sum(),
    "trains the user's tokens instead": lambda lo, i, m: F.cross_entropy(lo[:-1][~m[1:]], i[1:][~m[1:]]),
}

WRONG_DPO = {
    "sigmoid without the log": lambda pw, pl, rw, rl, b: -torch.sigmoid(b * _margin(pw, pl, rw, rl)).mean(),
    "the policy's log-ratio only, chosen minus rejected, no log-sigmoid":
        lambda pw, pl, rw, rl, b: -(b * _margin(pw, pl, rw, rl)).mean(),
    "reference ratio divided, not subtracted":
        lambda pw, pl, rw, rl, b: -F.logsigmoid(b * (pw / rw - pl / rl)).mean(),
    "chosen and rejected swapped in the arguments' roles":
        lambda pw, pl, rw, rl, b: -F.logsigmoid(b * _margin(pl, pw, rl, rw)).mean(),
}

def _chatml(piece, keep=lambda m: True):
    """A ChatML-like renderer writing each kept message with ``piece(m)``, the generation prompt when asked."""
    def render(ms, add_generation_prompt=False):
        return "".join(piece(m) for m in ms if keep(m)) + ("<|im_start|>assistant\n" if add_generation_prompt else "")
    return render


WRONG_CHATML = {
    "a space instead of the newline after the role":
        _chatml(lambda m: f"<|im_start|>{m['role']} {m['content']}<|im_end|>\n"),
    "our own template's markers": lambda ms, add_generation_prompt=False: chat.render(ms, add_generation_prompt),
    "the system message dropped": _chatml(lambda m: f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n",
                                          keep=lambda m: m["role"] != "system"),
    "<|im_end|> written as <|end|>": _chatml(lambda m: f"<|im_start|>{m['role']}\n{m['content']}<|end|>\n"),
}


def _wins_losses_ties(a, b):
    wins = sum(x and not y for x, y in zip(a, b))
    losses = sum(y and not x for x, y in zip(a, b))
    return wins, losses, len(a) - wins - losses


WRONG_WIN_RATE = {
    "the difference of the accuracies": lambda a, b: (sum(a) - sum(b)) / len(a),
    "wins minus losses over n": lambda a, b: (_wins_losses_ties(a, b)[0] - _wins_losses_ties(a, b)[1]) / len(a),
    "ties halved with floor division": lambda a, b: (_wins_losses_ties(a, b)[0] + _wins_losses_ties(a, b)[2] // 2)
    / len(a),
    "rounded to one decimal": lambda a, b: round(0.5 + (sum(a) - sum(b)) / (2 * len(a)), 1),
}


WRONG_ANSWERS = {"check_sft_loss": [*WRONG_SFT.values()], "check_dpo_loss": [*WRONG_DPO.values()],
                 "check_render_chatml": [*WRONG_CHATML.values()], "check_win_rate": [*WRONG_WIN_RATE.values()]}


@pytest.mark.parametrize("checker, wrong", [(ex.check_sft_loss, fn) for fn in WRONG_SFT.values()]
                         + [(ex.check_dpo_loss, fn) for fn in WRONG_DPO.values()]
                         + [(ex.check_render_chatml, fn) for fn in WRONG_CHATML.values()]
                         + [(ex.check_win_rate, fn) for fn in WRONG_WIN_RATE.values()],
                         ids=[*WRONG_SFT, *WRONG_DPO, *WRONG_CHATML, *WRONG_WIN_RATE])
def test_a_plausible_wrong_answer_is_refused(checker, wrong):
    result = checker(wrong)
    assert not result.passed and "wrong answer on case" in result.message


def test_an_answer_that_also_trains_the_unshifted_positions_is_refused():
    def mask_shifted_but_position_0_counted(lo, i, m):
        keep = m.clone()[:-1] | m[1:]                                  # also trains where m[t] alone is True
        return F.cross_entropy(lo[:-1][keep], i[1:][keep])

    result = ex.check_sft_loss(mask_shifted_but_position_0_counted)
    assert not result.passed


def test_a_loss_with_log_of_sigmoid_is_told_to_use_logsigmoid():
    result = ex.check_dpo_loss(lambda pw, pl, rw, rl, b: -torch.log(torch.sigmoid(b * _margin(pw, pl, rw, rl))).mean())
    assert not result.passed and "margins beta·Δ are -1000" in result.failed_case and "F.logsigmoid" in result.mistake


@pytest.mark.parametrize("checker, crash, fragment", [
    (ex.check_sft_loss, lambda lo, i, m: F.cross_entropy(lo, i[1:]), "pair logits[:-1]"),
    (ex.check_dpo_loss, lambda pw, pl, rw, rl, b: -F.logsigmoid(b * _margin(pw, pl, rw, rl)[:, None] @ pw), "(B,)"),
    (ex.check_render_chatml, lambda ms, add_generation_prompt=False: "".join(m.role for m in ms), "m['role']"),
    (ex.check_win_rate, lambda a, b: float((a & ~b).sum()), "zip them"),
])
def test_a_raising_answer_gets_the_exercises_hint_and_no_exception(checker, crash, fragment):
    result = checker(crash)
    assert not result.passed and "your function raised" in result.message
    assert fragment in result.mistake and "Hint:" in result.message


def test_a_name_error_is_reported_without_the_exercises_hint():
    result = ex.check_render_chatml(lambda ms, add_generation_prompt=False: undefined_name)  # noqa: F821
    assert not result.passed and "raised NameError" in result.message and result.mistake is None


@pytest.mark.parametrize("checker, answer, fragment", [
    (ex.check_sft_loss, lambda lo, i, m: F.cross_entropy(lo[:-1][m[1:]], i[1:][m[1:]]).item(), "Python float"),
    (ex.check_sft_loss, lambda lo, i, m: F.cross_entropy(lo[:-1], i[1:], reduction="none"), "still has a shape"),
    (ex.check_sft_loss, lambda lo, i, m: torch.tensor(F.cross_entropy(lo[:-1][m[1:]], i[1:][m[1:]]).item()),
     "no gradient"),
    (ex.check_dpo_loss, lambda pw, pl, rw, rl, b: (-F.logsigmoid(b * _margin(pw, pl, rw, rl)).mean()).item(),
     "Python float"),
    (ex.check_dpo_loss, lambda pw, pl, rw, rl, b: -F.logsigmoid(b * _margin(pw, pl, rw, rl))[:, None],
     "still has a shape"),
])
def test_a_wrong_type_of_answer_gets_a_specific_hint(checker, answer, fragment):
    result = checker(answer)
    assert not result.passed and fragment in (result.mistake or "")


def test_a_chatml_answer_that_is_not_a_string_is_refused_quietly():
    result = ex.check_render_chatml(lambda ms, add_generation_prompt=False: [m["content"] for m in ms])
    assert not result.passed and "wrong answer on case 1" in result.message
    assert "expected a str, got list" in result.message


def test_a_wrong_chatml_text_is_shown_where_it_first_differs():
    result = ex.check_render_chatml(_chatml(lambda m: f"<|im_start|>{m['role']}\n{m['content']} <|im_end|>\n"))
    assert not result.passed and "at character 47: expected 'l assistant.<|im_end|>" in result.message


def test_a_win_rate_that_is_not_a_number_is_refused_quietly():
    assert not ex.check_win_rate(lambda a, b: "64%").passed
    assert not ex.check_win_rate(lambda a, b: _wins_losses_ties(a, b)).passed


@pytest.mark.parametrize("checker", [ex.check_sft_loss, ex.check_dpo_loss, ex.check_render_chatml, ex.check_win_rate])
def test_the_todo_state_and_a_non_function_get_a_hint_without_raising(checker):
    def todo(*args, **kwargs):
        raise NotImplementedError

    assert "not written yet" in checker(todo).message
    assert "expected a function" in checker(42).message
