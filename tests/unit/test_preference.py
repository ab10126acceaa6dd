"""DPO: sequence log-probs equal a per-token loop, the loss is the paper's formula, the reference stays frozen,
a tiny policy learns a toy preference, and the KL estimate is unbiased; every bad input is refused by name.

The loss was also compared once, when it was written, with TRL 1.16.0's ``DPOTrainer.compute_loss`` on one batch
of its ``DataCollatorForPreference`` (tiny random GPT-2 policy and reference, transformers 5.24): largest
difference 6e-8 at β = 0.1 and 1.7e-6 at β = 1 (float32). TRL is not a dependency of the course — it pulls
datasets, pyarrow and pandas — so these tests check the paper's formula on hand-computed values instead."""

import copy
import itertools
import math

import numpy as np
import pytest
import torch

from lmcourse._checks import ArgumentError
from lmcourse.chat import chat_tokenizer, encode_chat, end_id
from lmcourse.gpt import GPT, GPTConfig
from lmcourse.preference import (
    DPOHistory,
    GRPOStats,
    PreferenceBatch,
    dpo_loss,
    encode_preference,
    evaluate_preferences,
    frozen_copy,
    group_advantages,
    grpo_step,
    preference_accuracy,
    preference_batch,
    sequence_kl,
    sequence_logprobs,
    train_dpo,
)

CONFIG = GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=16)


def _gpt(seed=0, config=CONFIG):
    torch.manual_seed(seed)
    return GPT(config).eval()


def _toy_pairs():
    """After every prompt [1, k] the answer 9 is preferred to 10."""
    return [([1, k], [9], [10]) for k in range(2, 8)]


# sequence_logprobs ---------------------------------------------------------------------------------------------

def test_sequence_logprobs_equals_a_per_token_loop():
    model = _gpt()
    torch.manual_seed(1)
    ids = torch.randint(0, 11, (3, 7))
    mask = torch.zeros(3, 7, dtype=torch.bool)
    mask[0, 2:5], mask[1, 1:], mask[2, 6] = True, True, True
    expected = torch.zeros(3)
    with torch.no_grad():
        for b, t in mask.nonzero().tolist():
            logp = torch.log_softmax(model(ids[b:b + 1, :t])[0][0, -1], dim=-1)   # the prefix alone, one token
            expected[b] += logp[ids[b, t]]
        got = sequence_logprobs(model, ids, mask)
    assert got.shape == (3,)
    assert torch.allclose(got, expected, atol=1e-5)


def test_sequence_logprobs_ignores_padding_after_the_response_and_unmasked_positions():
    model = _gpt()
    ids = torch.tensor([[1, 2, 3, 4, 0, 0], [1, 2, 3, 4, 7, 8]])
    mask = torch.tensor([[False, False, True, True, False, False]] * 2)
    with torch.no_grad():
        a, b = sequence_logprobs(model, ids, mask)
    assert torch.allclose(a, b, atol=1e-6)
    with torch.no_grad():
        nothing = sequence_logprobs(model, ids, torch.zeros_like(mask))
    assert torch.equal(nothing, torch.zeros(2))


def test_sequence_logprobs_carries_a_gradient_to_the_model():
    model = _gpt()
    ids, mask = torch.tensor([[1, 2, 3]]), torch.tensor([[False, True, True]])
    sequence_logprobs(model, ids, mask).sum().backward()
    assert model.wte.weight.grad is not None and model.wte.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("ids, mask, fragment", [
    (torch.tensor([[1, 2, 3]]), torch.tensor([[True, True, False]]), "mask must be False at position 0"),
    (torch.tensor([[1, 2, 3]]), torch.tensor([[0, 1, 1]]), "mask must be a bool tensor"),
    (torch.tensor([[1, 2, 3]]), torch.tensor([[False, True]]), "mask must be of shape (B, T) with B=1, T=3"),
    (torch.tensor([1, 2, 3]), torch.tensor([False, True, True]), "ids must be a 2-d tensor"),
    (torch.tensor([[1.0, 2.0]]), torch.tensor([[False, True]]), "ids must be an integer tensor"),
    (torch.tensor([[1]]), torch.tensor([[False]]), "ids must hold at least 2 tokens"),
])
def test_sequence_logprobs_refuses_bad_inputs(ids, mask, fragment):
    with pytest.raises(ArgumentError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        sequence_logprobs(_gpt(), ids, mask)


# preference_batch ----------------------------------------------------------------------------------------------

def test_preference_batch_pads_both_sequences_to_one_length_and_masks_the_responses():
    batch = preference_batch([([5, 6], [7], [8, 9, 3]), ([4], [2, 2], [1])], pad_id=0, block_size=8)
    assert isinstance(batch, PreferenceBatch)
    assert batch.chosen_ids.tolist() == [[5, 6, 7, 0, 0], [4, 2, 2, 0, 0]]
    assert batch.rejected_ids.tolist() == [[5, 6, 8, 9, 3], [4, 1, 0, 0, 0]]
    assert batch.chosen_mask.tolist() == [[False, False, True, False, False], [False, True, True, False, False]]
    assert batch.rejected_mask.tolist() == [[False, False, True, True, True], [False, True, False, False, False]]
    assert batch.chosen_ids.dtype == torch.long and batch.chosen_mask.dtype == torch.bool


@pytest.mark.parametrize("pairs, fragment", [
    ([([1], [2], [3]), ([1, 2, 3], [4, 5, 6, 7], [1])], "pairs[1] chosen sequence (prompt + response) must fit "
                                                        "block_size=6; got length 7"),
    ([([1], [2], [])], "pairs[0] rejected response must hold at least one token"),
    ([([1], [], [2])], "pairs[0] chosen response must hold at least one token"),
    ([([], [2], [3])], "pairs[0] prompt must hold at least one token"),
    ([([1], [2.0], [3])], "pairs[0][1] must be a list of token ids (ints >= 0); got 2.0"),
    ([([1], [-1], [3])], "pairs[0][1] must be a list of token ids (ints >= 0); got -1"),
    ([([1], "ab", [3])], "pairs[0][1] must be a list of token ids; got str"),
    ([([1], [2])], "pairs[0] must be a (prompt_ids, chosen_ids, rejected_ids) triple"),
    ([], "pairs must be a non-empty list"),
])
def test_preference_batch_refuses_bad_pairs(pairs, fragment):
    with pytest.raises(ArgumentError, match=fragment.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]").replace("+", r"\+")):
        preference_batch(pairs, pad_id=0, block_size=6)


def test_preference_batch_refuses_a_bad_pad_id_and_block_size():
    with pytest.raises(ArgumentError, match="pad_id must be an int >= 0"):
        preference_batch(_toy_pairs(), pad_id=-1, block_size=8)
    with pytest.raises(ArgumentError, match="block_size must be an int >= 2"):
        preference_batch(_toy_pairs(), pad_id=0, block_size=1)


# dpo_loss ------------------------------------------------------------------------------------------------------

def _t(*values):
    return torch.tensor(values, dtype=torch.float32)


def test_dpo_loss_equals_hand_computed_values_of_the_papers_formula():
    # z = β[(π_w − ref_w) − (π_l − ref_l)], loss = −log σ(z) = log(1 + e^(−z)), written out without torch
    pc, pr, rc, rr, beta = [-1.0, -3.0], [-2.0, -1.0], [-1.5, -2.0], [-1.5, -2.5], 0.5
    z = [beta * ((pc[i] - rc[i]) - (pr[i] - rr[i])) for i in range(2)]   # 0.5 and 0.5·(−1 − 1.5) = −1.25
    assert z == [0.5, -1.25]
    expected = (math.log1p(math.exp(-0.5)) + math.log1p(math.exp(1.25))) / 2
    out = dpo_loss(_t(*pc), _t(*pr), _t(*rc), _t(*rr), beta)
    assert out.loss.shape == ()
    assert math.isclose(float(out.loss), expected, rel_tol=1e-6)
    assert torch.allclose(out.chosen_reward, _t(0.25, -0.5))             # β(π_w − ref_w)
    assert torch.allclose(out.rejected_reward, _t(-0.25, 0.75))          # β(π_l − ref_l)


def test_dpo_loss_at_equal_policy_and_reference_is_log_2():
    lp = _t(-4.0, -7.0, -1.0)
    assert math.isclose(float(dpo_loss(lp, lp - 1, lp, lp - 1, 0.1).loss), math.log(2), rel_tol=1e-6)


def test_dpo_loss_matches_a_float64_implementation_on_random_inputs():
    rng = np.random.default_rng(0)
    pc, pr, rc, rr = rng.normal(-20, 8, size=(4, 64))
    for beta in (0.01, 0.1, 1.0, 5.0):
        z = beta * ((pc - rc) - (pr - rr))
        expected = np.mean(-np.log(1.0 / (1.0 + np.exp(-z))))              # the formula as written, in float64
        out = dpo_loss(*(torch.tensor(a) for a in (pc, pr, rc, rr)), beta)
        assert out.loss.dtype == torch.float64
        assert math.isclose(float(out.loss), float(expected), rel_tol=1e-10)
        assert np.allclose(out.chosen_reward.numpy(), beta * (pc - rc))
        assert np.allclose(out.rejected_reward.numpy(), beta * (pr - rr))


def test_dpo_loss_stays_finite_for_huge_margins_of_either_sign():
    out = dpo_loss(_t(-1.0, -5000.0), _t(-5000.0, -1.0), _t(0.0, 0.0), _t(0.0, 0.0), 1.0)
    assert torch.isfinite(out.loss)
    assert math.isclose(float(out.loss), (0.0 + 4999.0) / 2, rel_tol=1e-6)   # log(1 + e^(−4999)) ≈ 0; ≈ 4999


def test_dpo_loss_gradient_raises_the_chosen_and_lowers_the_rejected_log_prob():
    pc, pr = _t(-2.0, -3.0).requires_grad_(), _t(-2.5, -1.0).requires_grad_()
    rc, rr = _t(-2.0, -2.0).requires_grad_(), _t(-2.0, -2.0).requires_grad_()
    out = dpo_loss(pc, pr, rc, rr, 0.1)
    out.loss.backward()
    assert (pc.grad < 0).all() and (pr.grad > 0).all()        # gradient descent pushes π(y_w) up, π(y_l) down
    assert (rc.grad > 0).all() and (rr.grad < 0).all()
    assert not out.chosen_reward.requires_grad and not out.rejected_reward.requires_grad


@pytest.mark.parametrize("args, fragment", [
    ((_t(-1.0), _t(-1.0), _t(-1.0), _t(-1.0), 0), "beta must be a finite number > 0; got 0"),
    ((_t(-1.0), _t(-1.0), _t(-1.0), _t(-1.0), -0.1), "beta must be a finite number > 0"),
    ((_t(-1.0), _t(-1.0), _t(-1.0), _t(-1.0), True), "beta must be a finite number > 0; got True"),
    ((_t(-1.0), _t(-1.0, -2.0), _t(-1.0), _t(-1.0), 0.1), "policy_rejected must be of shape (B) with B=1"),
    ((_t(-1.0), _t(-1.0), _t(-1.0), _t(-1.0, -2.0), 0.1), "ref_rejected must be of shape (B) with B=1"),
    ((_t(-1.0)[None], _t(-1.0), _t(-1.0), _t(-1.0), 0.1), "policy_chosen must be a 1-d tensor"),
    ((torch.tensor([1]), _t(-1.0), _t(-1.0), _t(-1.0), 0.1), "policy_chosen must be a floating-point tensor"),
    (([-1.0], _t(-1.0), _t(-1.0), _t(-1.0), 0.1), "policy_chosen must be a torch.Tensor; got list"),
])
def test_dpo_loss_refuses_bad_inputs(args, fragment):
    with pytest.raises(ArgumentError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        dpo_loss(*args)


# frozen reference and training -----------------------------------------------------------------------------------

def test_frozen_copy_is_an_equal_model_that_needs_no_gradient():
    model = _gpt().train()
    reference = frozen_copy(model)
    assert reference is not model and not reference.training
    assert not any(p.requires_grad for p in reference.parameters())
    assert all(p.requires_grad for p in model.parameters())
    x = torch.randint(0, 11, (2, 5))
    assert torch.equal(model.eval()(x)[0], reference(x)[0])


def test_train_dpo_learns_a_toy_preference_and_leaves_the_reference_unchanged():
    policy = _gpt()
    reference = frozen_copy(policy)
    before = {k: v.clone() for k, v in reference.state_dict().items()}
    batch = preference_batch(_toy_pairs(), pad_id=0, block_size=8)
    held_out = preference_batch([([1, 8], [9], [10]), ([1, 1], [9], [10])], pad_id=0, block_size=8)
    assert preference_accuracy(policy, reference, batch) == 0.0           # equal models: every margin is 0
    history = train_dpo(policy, reference, batch, steps=30, beta=0.5, lr=1e-2, eval_batch=held_out, eval_every=10)
    assert isinstance(history, DPOHistory)
    assert len(history.loss) == len(history.accuracy) == len(history.margin) == len(history.chosen_logp) == 30
    assert history.eval_steps == [0, 10, 20, 30]
    assert history.accuracy[-1] == 1.0 and history.eval_accuracy[-1] == 1.0
    assert history.loss[-1] < history.loss[0] and history.margin[-1] > 0
    assert preference_accuracy(policy, reference, batch) == 1.0
    assert all(torch.equal(before[k], v) for k, v in reference.state_dict().items())
    assert all(p.grad is None for p in reference.parameters())
    e = evaluate_preferences(policy, reference, held_out, beta=0.5)
    assert (e.loss, e.accuracy, e.margin) == (history.eval_loss[-1], history.eval_accuracy[-1],
                                              history.eval_margin[-1])


def test_train_dpo_with_swapped_pairs_learns_the_opposite_preference():
    policy = _gpt()
    reference = frozen_copy(policy)
    swapped = preference_batch([(p, r, c) for p, c, r in _toy_pairs()], pad_id=0, block_size=8)
    train_dpo(policy, reference, swapped, steps=30, beta=0.5, lr=1e-2)
    assert preference_accuracy(policy, reference, preference_batch(_toy_pairs(), pad_id=0, block_size=8)) == 0.0


def test_train_dpo_without_a_reference_scores_rewards_from_the_policy_alone():
    policy = _gpt()
    batch = preference_batch(_toy_pairs(), pad_id=0, block_size=8)
    history = train_dpo(policy, None, batch, steps=20, beta=0.5, lr=1e-2)
    assert history.accuracy[-1] == 1.0
    with torch.no_grad():
        pc = sequence_logprobs(policy, batch.chosen_ids, batch.chosen_mask)
        pr = sequence_logprobs(policy, batch.rejected_ids, batch.rejected_mask)
    e = evaluate_preferences(policy, None, batch, beta=0.5)
    assert math.isclose(e.margin, float((0.5 * (pc - pr)).mean()), rel_tol=1e-5)


def test_train_dpo_sft_weight_adds_the_chosen_nll_and_keeps_the_chosen_likelihood_up():
    batch = preference_batch(_toy_pairs(), pad_id=0, block_size=8)
    runs = {}
    for w in (0.0, 1.0):
        policy = _gpt()
        runs[w] = train_dpo(policy, frozen_copy(_gpt()), batch, steps=30, beta=0.5, lr=1e-2, sft_weight=w)
    assert runs[0.0].chosen_logp[0] == runs[1.0].chosen_logp[0]            # same start
    assert runs[1.0].chosen_logp[-1] > runs[0.0].chosen_logp[-1]           # the NLL term lifts log π(chosen)
    assert runs[1.0].accuracy[-1] == 1.0                                   # and the preference is still learned
    history = train_dpo(_gpt(), frozen_copy(_gpt()), batch, steps=1, beta=0.5, lr=1e-9, sft_weight=2.0)
    assert math.isclose(history.loss[0], math.log(2), rel_tol=1e-5)        # history.loss is the DPO part alone


def test_train_dpo_cycles_a_list_of_batches():
    policy = _gpt()
    batches = [preference_batch(_toy_pairs()[:3], pad_id=0, block_size=8),
               preference_batch(_toy_pairs()[3:], pad_id=0, block_size=8)]
    history = train_dpo(policy, frozen_copy(policy), batches, steps=4, beta=0.1, lr=1e-3)
    assert len(history.loss) == 4 and history.eval_steps == []


@pytest.mark.parametrize("change, fragment", [
    (dict(reference="same"), "reference must be a frozen copy of the policy"),
    (dict(reference=3), "reference must be an nn.Module or None"),
    (dict(batches=[]), "batches must be a PreferenceBatch or a non-empty list"),
    (dict(batches=[(1, 2)]), r"batches\[0\] must be a PreferenceBatch"),
    (dict(eval_batch=(1, 2)), "eval_batch must be a PreferenceBatch"),
    (dict(steps=0), "steps must be an int >= 1"),
    (dict(beta=0.0), "beta must be a finite number > 0"),
    (dict(lr=-1.0), "lr must be a finite number > 0"),
    (dict(eval_every=0), "eval_every must be an int >= 1"),
    (dict(grad_clip=0), "grad_clip must be a finite number > 0"),
    (dict(sft_weight=-1.0), "sft_weight must be a finite number >= 0"),
])
def test_train_dpo_refuses_bad_arguments(change, fragment):
    policy = _gpt()
    args = dict(reference=frozen_copy(policy), batches=preference_batch(_toy_pairs(), pad_id=0, block_size=8),
                steps=2, beta=0.1, lr=1e-3)
    args.update(change)
    if args["reference"] == "same":
        args["reference"] = policy
    with pytest.raises(ArgumentError, match=fragment):
        train_dpo(policy, args.pop("reference"), args.pop("batches"), **args)


def test_train_dpo_refuses_a_frozen_policy():
    policy = frozen_copy(_gpt())
    with pytest.raises(ArgumentError, match="policy must have parameters that require grad"):
        train_dpo(policy, None, preference_batch(_toy_pairs(), pad_id=0, block_size=8), steps=1)


# sequence_kl ---------------------------------------------------------------------------------------------------

def test_sequence_kl_is_zero_for_a_policy_equal_to_its_reference():
    policy = _gpt()
    kl = sequence_kl(policy, frozen_copy(policy), [[1, 2], [3]], n_samples=5, max_new_tokens=3,
                     generator=torch.Generator().manual_seed(0))
    assert kl.shape == (2, 5)
    assert torch.equal(kl, torch.zeros(2, 5))


def test_sequence_kl_mean_is_an_unbiased_estimate_of_the_exact_kl():
    config = GPTConfig(block_size=4, vocab_size=3, n_layer=1, n_head=1, n_embd=8)
    reference, policy = _gpt(0, config), _gpt(1, config)
    with torch.no_grad():
        policy.wte.weight.mul_(40)                                         # a policy far from the reference
    responses = torch.tensor([[0, a, b] for a, b in itertools.product(range(3), repeat=2)])   # all 9 of length 2
    mask = torch.tensor([[False, True, True]] * 9)
    with torch.no_grad():
        lp, lr = sequence_logprobs(policy, responses, mask), sequence_logprobs(reference, responses, mask)
    exact = float((lp.exp() * (lp - lr)).sum())                             # Σ_y π(y) log π(y)/π_ref(y)
    kl = sequence_kl(policy, reference, [[0]], n_samples=4000, max_new_tokens=2,
                     generator=torch.Generator().manual_seed(0))[0]
    stderr = float(kl.std()) / math.sqrt(kl.numel())
    assert exact > 0.1
    assert abs(float(kl.mean()) - exact) < 4 * stderr


def test_sequence_kl_stops_scoring_after_the_first_stop_token():
    reference, policy = _gpt(), _gpt(1)
    prompt, stop = [1, 2], 5
    kl = sequence_kl(policy, reference, [prompt], n_samples=40, max_new_tokens=5, stop_id=stop,
                     generator=torch.Generator().manual_seed(3))[0]
    x = torch.tensor([prompt] * 40)
    ids = policy.generate(x, 5, temperature=1.0, generator=torch.Generator().manual_seed(3))   # the same draws
    mask = torch.zeros_like(ids, dtype=torch.bool)
    for b in range(40):
        for t in range(2, 7):                     # score up to and including the first stop token, then nothing
            mask[b, t] = True
            if ids[b, t] == stop:
                break
    assert 0 < int((ids[:, 2:] == stop).any(dim=1).sum()) < 40 and not mask.all()   # some responses stopped early
    with torch.no_grad():
        expected = sequence_logprobs(policy, ids, mask) - sequence_logprobs(reference, ids, mask)
    assert torch.allclose(kl, expected, atol=1e-5)


@pytest.mark.parametrize("change, fragment", [
    (dict(n_samples=0), "n_samples must be an int >= 1"),
    (dict(max_new_tokens=0), "max_new_tokens must be an int >= 1"),
    (dict(prompts=[[1] * 6]), r"prompts\[0\] must hold 1 to block_size - max_new_tokens = 5 tokens; got 6"),
    (dict(prompts=[[]]), r"prompts\[0\] must hold 1 to block_size - max_new_tokens"),
    (dict(prompts=[]), "prompts must be a non-empty list"),
    (dict(stop_id=-2), "stop_id must be an int >= 0"),
    (dict(reference=None), "reference must be an nn.Module"),
])
def test_sequence_kl_refuses_bad_arguments(change, fragment):
    policy = _gpt()
    args = dict(reference=frozen_copy(policy), prompts=[[1, 2]], n_samples=2, max_new_tokens=3)
    args.update(change)
    with pytest.raises(ArgumentError, match=fragment):
        sequence_kl(policy, args.pop("reference"), args.pop("prompts"), **args)


# encode_preference ---------------------------------------------------------------------------------------------

def _chat_tokenizer():
    return chat_tokenizer("Where does Ada live? Ada lives in Porto. I don't know. " * 5, 20)


def test_encode_preference_splits_the_whole_conversation_into_prompt_and_reply():
    tok = _chat_tokenizer()
    messages = [{"role": "user", "content": "Where does Ada live?"}]
    prompt, chosen, rejected = encode_preference(tok, messages, "Ada lives in Porto.", "I don't know.")
    for reply, ids in (("Ada lives in Porto.", chosen), ("I don't know.", rejected)):
        full, train_mask = encode_chat(tok, messages + [{"role": "assistant", "content": reply}])
        assert prompt + ids == full
        assert list(train_mask[len(prompt):]) == [True] * len(ids)   # the reply is what SFT trained
        assert ids[-1] == end_id(tok) and tok.decode(ids[:-1]) == reply
    assert prompt == encode_chat(tok, messages, add_generation_prompt=True)[0]


@pytest.mark.parametrize("chosen, rejected, fragment", [
    ("", "No.", "chosen must be a non-empty str"),
    ("Yes.", 3, "rejected must be a non-empty str"),
])
def test_encode_preference_refuses_empty_or_non_text_replies(chosen, rejected, fragment):
    with pytest.raises(ArgumentError, match=fragment):
        encode_preference(_chat_tokenizer(), [{"role": "user", "content": "Hi"}], chosen, rejected)


def test_encode_preference_refuses_bad_messages():
    with pytest.raises(ArgumentError, match=r"messages\[0\]\['role'\] must be one of"):
        encode_preference(_chat_tokenizer(), [{"role": "robot", "content": "Hi"}], "Yes.", "No.")


# GRPO ----------------------------------------------------------------------------------------------------------

def test_group_advantages_normalise_each_group_by_its_mean_and_sample_std():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [2.0, 2.0, 2.0, 2.0]])
    adv = group_advantages(rewards)
    half = 0.5 / (math.sqrt(1 / 3) + 1e-4)       # mean 0.5; sample std sqrt(4 · 0.25 / 3)
    assert torch.allclose(adv[0], torch.tensor([half, -half, -half, half]))
    assert torch.equal(adv[1], torch.zeros(4))   # equal rewards: no response is better than another


@pytest.mark.parametrize("rewards, eps, fragment", [
    (torch.ones(3, 1), 1e-4, r"rewards must hold a group of at least 2 responses per prompt \(P, G >= 2\)"),
    (torch.ones(3), 1e-4, "rewards must be a 2-d tensor"),
    (torch.ones(2, 2, dtype=torch.long), 1e-4, "rewards must be a floating-point tensor"),
    (torch.ones(2, 2), 0, "eps must be a finite number > 0"),
])
def test_group_advantages_refuse_bad_inputs(rewards, eps, fragment):
    with pytest.raises(ArgumentError, match=fragment):
        group_advantages(rewards, eps)


def _grpo_setup(seed=0):
    policy = _gpt(seed)
    return policy, frozen_copy(policy), [[1, k] for k in range(2, 6)]


def test_grpo_learns_a_verifiable_reward():
    policy, reference, prompts = _grpo_setup()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=2e-2, weight_decay=0.0)
    gen = torch.Generator().manual_seed(0)
    stats = [grpo_step(policy, reference, optimizer, prompts, lambda p, r: float(r[0] == 9), group_size=8,
                       max_new_tokens=2, beta=0.04, generator=gen) for _ in range(20)]
    assert isinstance(stats[0], GRPOStats)
    assert stats[0].reward < 0.3 and stats[0].kl == 0.0          # starts at chance (1 in 11), equal to the reference
    assert sum(s.reward for s in stats[-4:]) / 4 > 0.9
    assert stats[-1].kl > 0


def test_grpo_with_equal_rewards_and_no_kl_changes_nothing():
    policy, reference, prompts = _grpo_setup()
    before = copy.deepcopy(policy.state_dict())
    optimizer = torch.optim.SGD(policy.parameters(), lr=1.0)
    grpo_step(policy, reference, optimizer, prompts, lambda p, r: 1.0, group_size=4, max_new_tokens=3,
              generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(before[k], v) for k, v in policy.state_dict().items())


def test_grpo_kl_penalty_pulls_the_policy_back_to_the_reference():
    policy, reference, prompts = _grpo_setup()
    with torch.no_grad():
        reference.wte.weight.mul_(20)                            # a sharper reference: KL(π ‖ π_ref) > 0 at the start
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-2, weight_decay=0.0)
    gen = torch.Generator().manual_seed(0)
    kls = [grpo_step(policy, reference, optimizer, prompts, lambda p, r: 0.0, group_size=4, max_new_tokens=3,
                     beta=1.0, generator=gen).kl for _ in range(15)]
    assert kls[0] > 0.05 and sum(kls[-3:]) / 3 < kls[0] / 2


def test_grpo_passes_each_response_up_to_its_stop_token_to_the_reward():
    policy, reference, prompts = _grpo_setup()
    seen = []
    grpo_step(policy, reference, torch.optim.SGD(policy.parameters(), lr=0.0), prompts[:1],
              lambda p, r: seen.append((p, r)) or 0.0, group_size=16, max_new_tokens=4, stop_id=3,
              generator=torch.Generator().manual_seed(0))
    assert len(seen) == 16 and all(p == prompts[0] for p, _ in seen)
    for _, r in seen:
        assert 1 <= len(r) <= 4 and (3 not in r[:-1])           # nothing after the first stop token
    assert any(r[-1] == 3 and len(r) < 4 for _, r in seen)


@pytest.mark.parametrize("change, fragment", [
    (dict(group_size=1), "group_size must be an int >= 2"),
    (dict(reward_fn=3), r"reward_fn must be a function \(prompt_ids, response_ids\) -> float"),
    (dict(reward_fn=lambda p, r: float("nan")), "reward_fn's return value must be a finite number; got nan"),
    (dict(reward_fn=lambda p, r: "good"), "reward_fn's return value must be a finite number; got 'good'"),
    (dict(reference=None), "reference must be an nn.Module"),
    (dict(optimizer="adam"), "optimizer must be a torch.optim.Optimizer; got str"),
    (dict(beta=-1.0), "beta must be a finite number >= 0"),
    (dict(max_new_tokens=7), r"prompts\[0\] must hold 1 to block_size - max_new_tokens = 1 tokens; got 2"),
])
def test_grpo_step_refuses_bad_arguments(change, fragment):
    policy, reference, prompts = _grpo_setup()
    args = dict(reference=reference, optimizer=torch.optim.SGD(policy.parameters(), lr=0.1),
                reward_fn=lambda p, r: 1.0, group_size=2, max_new_tokens=2)
    args.update(change)
    with pytest.raises(ArgumentError, match=fragment):
        grpo_step(policy, args.pop("reference"), args.pop("optimizer"), prompts, args.pop("reward_fn"), **args)
