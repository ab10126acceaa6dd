"""Preference tuning (notebook 16): DPO, direct preference optimization (Rafailov et al. 2023, arXiv 2305.18290).

After instruction tuning a model answers; preference tuning teaches it which of two answers people prefer.
A preference pair is a prompt x with a chosen response y_w and a rejected one y_l. RLHF would fit a reward
model and run PPO against it; DPO shows that the reward can be read off the policy itself,
``r(x, y) = β · (log π(y | x) − log π_ref(y | x))``, so the Bradley–Terry likelihood of the preferences
becomes a loss on the policy alone::

    loss = −log σ(β · [(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))])

π_ref is a frozen copy of the starting (instruction-tuned) model; β sets how far π may move from it
(large β: small steps away, small β: far). Pieces, each usable alone:

* :func:`sequence_logprobs` — log π(y | x) summed over the response tokens, one teacher-forced forward pass;
* :func:`encode_preference` — a conversation and two candidate replies -> (prompt, chosen, rejected) token lists,
  in the chat template of :mod:`lmcourse.chat`;
* :func:`preference_batch` — (prompt, chosen, rejected) token lists -> a padded :class:`PreferenceBatch`;
* :func:`dpo_loss` — the loss above and the two implicit rewards, as a :class:`DPOOutput`;
* :func:`frozen_copy` and :func:`train_dpo` — the reference and a plain AdamW loop, with a :class:`DPOHistory`;
* :func:`evaluate_preferences` / :func:`preference_accuracy` — held-out loss, accuracy and reward margin;
* :func:`sequence_kl` — a Monte-Carlo estimate of KL(π ‖ π_ref) per sampled response;
* :func:`group_advantages` and :func:`grpo_step` — GRPO, reinforcement learning from a reward a program can
  check (an arithmetic answer, a string task), with group-normalised advantages and a KL penalty.

``reference=None`` in :func:`train_dpo` and :func:`evaluate_preferences` is the common mistake of training
without a reference model (every reference log-probability taken as 0), kept as a switch so its effect can be
measured: the implicit reward becomes β · log π(y), which scores how likely a reply is (a long reply starts far
behind a short one) instead of how far tuning has moved its likelihood, and the loss no longer starts at log 2.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import ArgumentError, integer, number, tensor
from .chat import check_messages, encode_chat


class DPOOutput(NamedTuple):
    """What :func:`dpo_loss` returns: the mean loss (a 0-d tensor with a gradient) and the implicit rewards
    ``β · (log π − log π_ref)`` of the chosen and the rejected responses, (B,) each, detached."""

    loss: torch.Tensor
    chosen_reward: torch.Tensor
    rejected_reward: torch.Tensor


class PreferenceBatch(NamedTuple):
    """Padded preference pairs, all four tensors (B, T): token ids (int64) and which positions hold the
    response (bool) for the chosen and the rejected sequence. Both sequences are prompt + response, right-padded
    to the same T, so a model can score the two in one forward pass of 2B rows."""

    chosen_ids: torch.Tensor
    chosen_mask: torch.Tensor
    rejected_ids: torch.Tensor
    rejected_mask: torch.Tensor


class PreferenceEval(NamedTuple):
    """Held-out result of :func:`evaluate_preferences`: mean DPO loss, preference accuracy (fraction of pairs
    whose chosen reward is strictly above the rejected one) and mean reward margin (chosen − rejected)."""

    loss: float
    accuracy: float
    margin: float


@dataclass
class DPOHistory:
    """What happened during :func:`train_dpo`. Every step: the training batch's DPO loss (without the
    ``sft_weight`` term), preference accuracy,
    mean reward margin and the policy's mean log π of the chosen and the rejected responses (before the update).
    Every evaluation (``eval_steps``, the step count done so far): the same loss, accuracy and margin on the
    held-out batch."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    margin: list[float] = field(default_factory=list)
    chosen_logp: list[float] = field(default_factory=list)
    rejected_logp: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    eval_accuracy: list[float] = field(default_factory=list)
    eval_margin: list[float] = field(default_factory=list)


def _logits(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    out = model(ids)
    return out[0] if isinstance(out, tuple) else out      # the course's models return (logits, loss)


def sequence_logprobs(model: nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log p(response | prompt) per row: ``Σ_t mask[b, t] · log p(ids[b, t] | ids[b, :t])``, shape (B,).

    ``ids`` (B, T) int64 token ids, right-padded; ``mask`` (B, T) bool marks the token positions to score (the
    response). One teacher-forced forward pass: the logits at position t − 1 score token t, so position 0 has
    nothing before it and may not be marked. Padding after the last marked token changes nothing (the model is
    causal). Gradients flow to ``model`` unless called under ``torch.no_grad()``.
    """
    sizes: dict = {}
    tensor("ids", ids, shape=("B", "T"), dtype="int", sizes=sizes)
    tensor("mask", mask, shape=("B", "T"), dtype="bool", sizes=sizes)
    if ids.shape[1] < 2:
        raise ArgumentError(f"ids must hold at least 2 tokens per row (a prompt token and a scored one); "
                            f"got shape {tuple(ids.shape)}")
    if bool(mask[:, 0].any()):
        rows = mask[:, 0].nonzero().flatten().tolist()
        raise ArgumentError("mask must be False at position 0 (no token comes before it to predict it); "
                            f"got True in rows {rows[:5]}")
    return (_token_logprobs(model, ids) * mask[:, 1:]).sum(dim=-1)     # (B, T-1) -> (B,)


def _token_logprobs(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """log p(ids[:, t] | ids[:, :t]) for t = 1 … T-1: (B, T) -> (B, T-1)."""
    logp = F.log_softmax(_logits(model, ids)[:, :-1].float(), dim=-1)   # (B, T-1, V): predicts tokens 1..T-1
    return logp.gather(-1, ids[:, 1:, None].long()).squeeze(-1)         # (B, T-1)


def _token_list(name: str, tokens) -> list[int]:
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
        raise ArgumentError(f"{name} must be a list of token ids; got {type(tokens).__name__}")
    bad = [t for t in tokens if isinstance(t, bool) or not isinstance(t, Integral) or t < 0]
    if bad:
        raise ArgumentError(f"{name} must be a list of token ids (ints >= 0); got {bad[0]!r}")
    return [int(t) for t in tokens]


def encode_preference(tokenizer, messages, chosen: str, rejected: str) -> tuple[list[int], list[int], list[int]]:
    """One preference pair as token lists: ``(prompt_ids, chosen_ids, rejected_ids)``.

    ``messages`` is the conversation so far (``{"role", "content"}`` dicts, ending with the user's turn);
    ``prompt_ids`` is it rendered by :func:`lmcourse.chat.encode_chat` with the generation prompt
    (``…<|assistant|>``), and each response is the reply's tokens and the ``<|end|>`` that closes it — exactly the
    tokens instruction tuning trained the model to write, so prompt + response is the whole conversation.
    """
    messages = check_messages(messages)
    prompt, _ = encode_chat(tokenizer, messages, add_generation_prompt=True)
    out = [prompt]
    for name, reply in (("chosen", chosen), ("rejected", rejected)):
        if not isinstance(reply, str) or not reply:
            raise ArgumentError(f"{name} must be a non-empty str (the assistant's reply); got {reply!r:.60}")
        ids, _ = encode_chat(tokenizer, messages + [{"role": "assistant", "content": reply}])
        out.append(ids[len(prompt):])                  # the conversation's ids start with the prompt's
    return out[0], out[1], out[2]


def preference_batch(pairs, *, pad_id: int, block_size: int) -> PreferenceBatch:
    """Pad ``pairs`` (a list of ``(prompt_ids, chosen_ids, rejected_ids)`` token lists) into a
    :class:`PreferenceBatch` of four (B, T) tensors, T the longest prompt + response.

    Each row is ``prompt + response`` followed by ``pad_id``; its mask is True on the response tokens only.
    A prompt needs at least one token and a response at least one; a sequence longer than ``block_size``
    (the model's context) is refused with its index and length.
    """
    pad_id = integer("pad_id", pad_id, min=0)
    block_size = integer("block_size", block_size, min=2)
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence) or not pairs:
        raise ArgumentError(f"pairs must be a non-empty list of (prompt_ids, chosen_ids, rejected_ids); "
                            f"got {pairs!r:.60}")
    rows = []                                           # (chosen sequence, its mask, rejected sequence, its mask)
    for i, pair in enumerate(pairs):
        if not isinstance(pair, Sequence) or isinstance(pair, (str, bytes)) or len(pair) != 3:
            raise ArgumentError(f"pairs[{i}] must be a (prompt_ids, chosen_ids, rejected_ids) triple; "
                                f"got {pair!r:.60}")
        prompt, chosen, rejected = (_token_list(f"pairs[{i}][{j}]", part) for j, part in enumerate(pair))
        if not prompt:
            raise ArgumentError(f"pairs[{i}] prompt must hold at least one token (the first token cannot be "
                                "scored); got an empty prompt")
        row = []
        for what, response in (("chosen", chosen), ("rejected", rejected)):
            if not response:
                raise ArgumentError(f"pairs[{i}] {what} response must hold at least one token; got an empty one")
            seq = prompt + response
            if len(seq) > block_size:
                raise ArgumentError(f"pairs[{i}] {what} sequence (prompt + response) must fit block_size="
                                    f"{block_size}; got length {len(seq)}")
            row += [seq, [False] * len(prompt) + [True] * len(response)]
        rows.append(row)
    T = max(max(len(r[0]), len(r[2])) for r in rows)
    out = []
    for k in (0, 2):
        ids = torch.full((len(rows), T), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), T), dtype=torch.bool)
        for b, r in enumerate(rows):
            ids[b, :len(r[k])] = torch.tensor(r[k])
            mask[b, :len(r[k])] = torch.tensor(r[k + 1])
        out += [ids, mask]
    return PreferenceBatch(*out)


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float) -> DPOOutput:
    """The DPO loss of Rafailov et al. (2023, eq. 7), averaged over the batch.

    All four inputs are (B,) sequence log-probabilities (:func:`sequence_logprobs`): of the chosen and the
    rejected response under the policy π and under the reference π_ref. With the implicit rewards
    ``r_w = β (log π(y_w) − log π_ref(y_w))`` and ``r_l = β (log π(y_l) − log π_ref(y_l))`` the loss is
    ``mean(−log σ(r_w − r_l))``, computed as ``−logsigmoid`` so a large margin of either sign stays finite.
    ``beta`` > 0. The rewards come back detached, for logging and accuracy.
    """
    sizes: dict = {}
    for name, x in (("policy_chosen", policy_chosen), ("policy_rejected", policy_rejected),
                    ("ref_chosen", ref_chosen), ("ref_rejected", ref_rejected)):
        tensor(name, x, shape=("B",), dtype="float", sizes=sizes)
    beta = number("beta", beta, min=0, min_open=True)
    chosen_logratio = policy_chosen - ref_chosen                 # (B,) log π(y_w)/π_ref(y_w)
    rejected_logratio = policy_rejected - ref_rejected           # (B,)
    loss = -F.logsigmoid(beta * (chosen_logratio - rejected_logratio)).mean()
    return DPOOutput(loss, beta * chosen_logratio.detach(), beta * rejected_logratio.detach())


def frozen_copy(model: nn.Module) -> nn.Module:
    """The reference model for DPO: a deep copy of ``model`` with every parameter frozen, in eval mode."""
    if not isinstance(model, nn.Module):
        raise ArgumentError(f"model must be an nn.Module; got {type(model).__name__}")
    reference = copy.deepcopy(model)
    reference.requires_grad_(False)
    return reference.eval()


def _check_pair(policy, reference) -> None:
    if not isinstance(policy, nn.Module):
        raise ArgumentError(f"policy must be an nn.Module; got {type(policy).__name__}")
    if reference is policy:
        raise ArgumentError("reference must be a frozen copy of the policy (preference.frozen_copy(policy)), "
                            "not the policy itself; got the same object")
    if reference is not None and not isinstance(reference, nn.Module):
        raise ArgumentError(f"reference must be an nn.Module or None (no reference); got {type(reference).__name__}")


def _check_batch(name: str, batch) -> PreferenceBatch:
    if not isinstance(batch, PreferenceBatch):
        raise ArgumentError(f"{name} must be a PreferenceBatch (from preference_batch); got {type(batch).__name__}")
    return batch


def _pair_logprobs(model: nn.Module, batch: PreferenceBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """log π of the chosen and the rejected responses, (B,) each, from one forward pass of 2B rows."""
    B = batch.chosen_ids.shape[0]
    if batch.chosen_ids.shape == batch.rejected_ids.shape:
        both = sequence_logprobs(model, torch.cat((batch.chosen_ids, batch.rejected_ids)),
                                 torch.cat((batch.chosen_mask, batch.rejected_mask)))     # (2B,)
        return both[:B], both[B:]
    return (sequence_logprobs(model, batch.chosen_ids, batch.chosen_mask),
            sequence_logprobs(model, batch.rejected_ids, batch.rejected_mask))


@torch.no_grad()
def _reference_logprobs(reference: nn.Module | None, batch: PreferenceBatch) -> tuple[torch.Tensor, torch.Tensor]:
    if reference is None:                                         # the mistake: no reference, log π_ref := 0
        zeros = torch.zeros(batch.chosen_ids.shape[0], device=batch.chosen_ids.device)
        return zeros, zeros
    was_training = reference.training
    reference.eval()
    out = _pair_logprobs(reference, batch)
    reference.train(was_training)
    return out


def _summary(out: DPOOutput) -> tuple[float, float, float]:
    margin = out.chosen_reward - out.rejected_reward
    return float(out.loss.detach()), float((margin > 0).float().mean()), float(margin.mean())


@torch.no_grad()
def evaluate_preferences(policy: nn.Module, reference: nn.Module | None, batch: PreferenceBatch, *,
                         beta: float) -> PreferenceEval:
    """DPO loss, preference accuracy and mean reward margin of ``policy`` on ``batch`` (held-out pairs), in eval
    mode. A pair counts as right when its chosen reward is strictly above its rejected one, so a policy equal
    to its reference scores 0 (every margin is 0). ``reference=None``: no reference (log π_ref taken as 0)."""
    _check_pair(policy, reference)
    batch = _check_batch("batch", batch)
    was_training = policy.training
    policy.eval()
    out = dpo_loss(*_pair_logprobs(policy, batch), *_reference_logprobs(reference, batch), beta)
    policy.train(was_training)
    return PreferenceEval(*_summary(out))


def preference_accuracy(policy: nn.Module, reference: nn.Module | None, batch: PreferenceBatch) -> float:
    """The fraction of pairs in ``batch`` whose chosen response gets the higher implicit reward,
    ``log π(y_w) − log π_ref(y_w) > log π(y_l) − log π_ref(y_l)`` (β > 0 does not change which is higher)."""
    return evaluate_preferences(policy, reference, batch, beta=1.0).accuracy


def train_dpo(policy: nn.Module, reference: nn.Module | None, batches, *, steps: int, beta: float = 0.1,
              lr: float = 1e-4, eval_batch: PreferenceBatch | None = None, eval_every: int = 10,
              grad_clip: float | None = 1.0, sft_weight: float = 0.0) -> DPOHistory:
    """Train ``policy`` in place with the DPO loss for ``steps`` AdamW updates; returns a :class:`DPOHistory`.

    ``batches`` is one :class:`PreferenceBatch` (used at every step) or a list of them (cycled). ``reference``
    is a frozen copy of the starting policy (:func:`frozen_copy`): its log-probabilities are computed once per
    batch under ``torch.no_grad()`` and reused, and it is never updated. ``reference=None`` is the mistake of
    training with no reference (log π_ref taken as 0). With ``eval_batch``, held-out loss, accuracy and margin
    are recorded before the first step, every ``eval_every`` steps and after the last. ``grad_clip`` caps the
    global gradient norm (None: no clipping). AdamW updates only parameters that require grad (LoRA works).

    ``sft_weight`` > 0 adds ``sft_weight`` times the chosen responses' mean per-token negative log-likelihood
    to the loss (the remedy of RPO, Pang et al. 2024, and of Llama 3's preference stage): DPO alone only widens
    the margin, and the chosen response's own probability may fall with the rejected one's ("likelihood
    displacement"), the freed probability going to answers no pair named; the extra term holds it up.
    """
    _check_pair(policy, reference)
    batch_list = [batches] if isinstance(batches, PreferenceBatch) else batches
    if isinstance(batch_list, (str, bytes)) or not isinstance(batch_list, Sequence) or not batch_list:
        raise ArgumentError(f"batches must be a PreferenceBatch or a non-empty list of them; got {batches!r:.60}")
    for i, b in enumerate(batch_list):
        _check_batch(f"batches[{i}]", b)
    if eval_batch is not None:
        _check_batch("eval_batch", eval_batch)
    steps = integer("steps", steps, min=1)
    beta = number("beta", beta, min=0, min_open=True)
    lr = number("lr", lr, min=0, min_open=True)
    eval_every = integer("eval_every", eval_every, min=1)
    if grad_clip is not None:
        grad_clip = number("grad_clip", grad_clip, min=0, min_open=True)
    sft_weight = number("sft_weight", sft_weight, min=0)
    params = [p for p in policy.parameters() if p.requires_grad]
    if not params:
        raise ArgumentError("policy must have parameters that require grad; got none (is it frozen?)")
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    ref_logps = [_reference_logprobs(reference, b) for b in batch_list]       # once per batch, reused
    history, was_training = DPOHistory(), policy.training

    def evaluate(step: int) -> None:
        if eval_batch is not None:
            e = evaluate_preferences(policy, reference, eval_batch, beta=beta)
            history.eval_steps.append(step)
            history.eval_loss.append(e.loss)
            history.eval_accuracy.append(e.accuracy)
            history.eval_margin.append(e.margin)

    policy.train()
    evaluate(0)
    for step, i in zip(range(1, steps + 1), itertools.cycle(range(len(batch_list)))):
        policy_chosen, policy_rejected = _pair_logprobs(policy, batch_list[i])
        out = dpo_loss(policy_chosen, policy_rejected, *ref_logps[i], beta)
        loss = out.loss
        if sft_weight:                      # + the chosen responses' per-token NLL: keeps their likelihood up
            n_tokens = batch_list[i].chosen_mask.sum(dim=1).clamp(min=1)
            loss = loss + sft_weight * (-(policy_chosen / n_tokens).mean())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        optimizer.step()
        loss, accuracy, margin = _summary(out)
        history.loss.append(loss)
        history.accuracy.append(accuracy)
        history.margin.append(margin)
        history.chosen_logp.append(float(policy_chosen.detach().mean()))
        history.rejected_logp.append(float(policy_rejected.detach().mean()))
        if step % eval_every == 0 or step == steps:
            evaluate(step)
    policy.train(was_training)
    return history


def _check_prompts(policy: nn.Module, prompts, max_new_tokens: int) -> list[list[int]]:
    if isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence) or not prompts:
        raise ArgumentError(f"prompts must be a non-empty list of token-id lists; got {prompts!r:.60}")
    block_size = policy.config.block_size
    out = []
    for i, prompt in enumerate(prompts):
        prompt = _token_list(f"prompts[{i}]", prompt)
        if not prompt or len(prompt) + max_new_tokens > block_size:
            raise ArgumentError(f"prompts[{i}] must hold 1 to block_size - max_new_tokens = "
                                f"{block_size - max_new_tokens} tokens; got {len(prompt)}")
        out.append(prompt)
    return out


@torch.no_grad()
def _sample_responses(policy: nn.Module, prompt: list[int], n: int, max_new_tokens: int, stop_id: int | None,
                      generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` responses to ``prompt`` drawn from ``policy`` at temperature 1: ids (n, L + M) and the mask of the
    response tokens (up to and including the first ``stop_id``), (n, L + M)."""
    device = next(policy.parameters()).device
    x = torch.tensor([prompt] * n, dtype=torch.long, device=device)                  # (n, L)
    ids = policy.generate(x, max_new_tokens, temperature=1.0, generator=generator)   # (n, L + M), eval mode
    mask = torch.zeros_like(ids, dtype=torch.bool)
    mask[:, len(prompt):] = True
    if stop_id is not None:
        is_stop = ids[:, len(prompt):] == stop_id                                    # (n, M)
        after = (is_stop.cumsum(dim=1) - is_stop.long()) > 0                         # past the first stop
        mask[:, len(prompt):] &= ~after
    return ids, mask


@torch.no_grad()
def sequence_kl(policy: nn.Module, reference: nn.Module, prompts, *, n_samples: int, max_new_tokens: int,
                stop_id: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Monte-Carlo KL(π ‖ π_ref) of the responses: (P, n_samples), one value per sampled response.

    For each of the P ``prompts`` (token lists) draws ``n_samples`` responses y ~ π (temperature 1, no top-k
    or top-p, at most ``max_new_tokens``, cut after the first ``stop_id`` if given) and returns
    ``log π(y | x) − log π_ref(y | x)`` summed over each response's tokens. Since y is drawn from π, the mean of
    these values is an unbiased estimate of KL(π ‖ π_ref) between the two distributions over responses (in
    nats per response); each single value, and the mean of a few, can be negative: only the expectation is
    ≥ 0. ``policy`` needs ``generate`` (a :class:`lmcourse.gpt.GPT`).
    """
    _check_pair(policy, reference)
    if reference is None:
        raise ArgumentError("reference must be an nn.Module (the model to compare with); got None")
    n_samples = integer("n_samples", n_samples, min=1)
    max_new_tokens = integer("max_new_tokens", max_new_tokens, min=1)
    if stop_id is not None:
        stop_id = integer("stop_id", stop_id, min=0)
    prompts = _check_prompts(policy, prompts, max_new_tokens)
    was_training = (policy.training, reference.training)
    policy.eval()
    reference.eval()
    rows = []
    for prompt in prompts:
        ids, mask = _sample_responses(policy, prompt, n_samples, max_new_tokens, stop_id, generator)
        rows.append(sequence_logprobs(policy, ids, mask) - sequence_logprobs(reference, ids, mask))
    policy.train(was_training[0])
    reference.train(was_training[1])
    return torch.stack(rows)                                                             # (P, n_samples)


# GRPO: reinforcement learning from a verifiable reward ---------------------------------------------------------

class GRPOStats(NamedTuple):
    """One :func:`grpo_step`: the loss it minimised, the mean reward of the sampled responses and the mean
    per-token KL estimate ``k3 = e^(log π_ref − log π) − (log π_ref − log π) − 1`` against the reference."""

    loss: float
    reward: float
    kl: float


def group_advantages(rewards: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """GRPO's advantages: each reward minus its group's mean, over the group's standard deviation + ``eps``.

    ``rewards`` (P, G): G ≥ 2 sampled responses for each of P prompts -> (P, G). A group whose rewards are all
    equal gets advantage 0 everywhere: it says nothing about which response is better. (The standard deviation
    is the sample one, n − 1 in the denominator, as in TRL's GRPOTrainer.)
    """
    tensor("rewards", rewards, ndim=2, dtype="float")
    if rewards.shape[1] < 2:
        raise ArgumentError(f"rewards must hold a group of at least 2 responses per prompt (P, G >= 2); "
                            f"got shape {tuple(rewards.shape)}")
    eps = number("eps", eps, min=0, min_open=True)
    mean, std = rewards.mean(dim=1, keepdim=True), rewards.std(dim=1, keepdim=True)   # (P, 1) each
    return (rewards - mean) / (std + eps)


def grpo_step(policy: nn.Module, reference: nn.Module, optimizer: torch.optim.Optimizer, prompts, reward_fn, *,
              group_size: int, max_new_tokens: int, beta: float = 0.04, stop_id: int | None = None,
              grad_clip: float | None = 1.0, generator: torch.Generator | None = None) -> GRPOStats:
    """One update of GRPO (Shao et al. 2024, DeepSeekMath, arXiv 2402.03300) with a verifiable reward.

    For each prompt (a token list) ``group_size`` responses are sampled from ``policy`` (temperature 1, at most
    ``max_new_tokens``, cut after ``stop_id``) and scored by ``reward_fn(prompt_ids, response_ids) -> float``;
    :func:`group_advantages` turns the scores into advantages A. The loss, averaged over each response's
    tokens, then over responses and prompts, is ``−(A · log π(token) − β · k3)``, where ``k3`` is the per-token
    KL estimate against the frozen ``reference`` (see :class:`GRPOStats`). One update per sample, so the
    ratio π / π_old of PPO's clipped objective is 1 and the clip never acts. ``optimizer`` updates ``policy``.
    """
    _check_pair(policy, reference)
    if reference is None:
        raise ArgumentError("reference must be an nn.Module (the frozen model the KL penalty compares with); got None")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ArgumentError(f"optimizer must be a torch.optim.Optimizer; got {type(optimizer).__name__}")
    if not callable(reward_fn):
        raise ArgumentError(f"reward_fn must be a function (prompt_ids, response_ids) -> float; "
                            f"got {type(reward_fn).__name__}")
    group_size = integer("group_size", group_size, min=2)
    max_new_tokens = integer("max_new_tokens", max_new_tokens, min=1)
    beta = number("beta", beta, min=0)
    if stop_id is not None:
        stop_id = integer("stop_id", stop_id, min=0)
    if grad_clip is not None:
        grad_clip = number("grad_clip", grad_clip, min=0, min_open=True)
    prompts = _check_prompts(policy, prompts, max_new_tokens)
    reference.eval()
    groups, rewards = [], []
    for prompt in prompts:
        ids, mask = _sample_responses(policy, prompt, group_size, max_new_tokens, stop_id, generator)
        scores = []
        for g in range(group_size):
            r = reward_fn(prompt, ids[g][mask[g]].tolist())
            scores.append(number("reward_fn's return value", r))
        groups.append((ids, mask))
        rewards.append(scores)
    advantages = group_advantages(torch.tensor(rewards, dtype=torch.float32))            # (P, G)
    policy.train()
    loss, kl_sum, n_tokens = 0.0, 0.0, 0
    for (ids, mask), adv in zip(groups, advantages):
        logp = _token_logprobs(policy, ids)                                             # (G, T-1)
        with torch.no_grad():
            ref_logp = _token_logprobs(reference, ids)                                  # (G, T-1)
        m = mask[:, 1:].float()                                                         # response tokens
        diff = ref_logp - logp
        k3 = torch.exp(diff) - diff - 1                                                 # >= 0, 0 where π = π_ref
        per_token = -(adv.to(logp.device)[:, None] * logp - beta * k3)                 # (G, T-1)
        loss = loss + ((per_token * m).sum(dim=1) / m.sum(dim=1)).mean() / len(prompts)
        kl_sum += float((k3.detach() * m).sum())
        n_tokens += int(m.sum())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip is not None:
        torch.nn.utils.clip_grad_norm_([p for p in policy.parameters() if p.requires_grad], grad_clip)
    optimizer.step()
    return GRPOStats(float(loss.detach()), float(torch.tensor(rewards).mean()), kl_sum / n_tokens)
