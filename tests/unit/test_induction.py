"""The induction task and model: data is a true repeat, scores find the right keys, training learns to copy."""

import pytest
import torch

from lmcourse.induction import (
    AttentionOnlyTransformer,
    InductionConfig,
    duplicate_token_score,
    induction_score,
    previous_token_score,
    repeat_mask,
    repeated_sequences,
    split_losses,
    train_induction,
)


def test_sequences_end_with_a_repeat_of_the_given_length():
    idx, halves = repeated_sequences(50, 20, 30, min_half=3, generator=torch.Generator().manual_seed(0))
    assert idx.shape == (50, 20) and ((halves >= 3) & (halves <= 10)).all() and len(set(halves.tolist())) > 1
    for row, h in zip(idx, halves.tolist()):
        assert torch.equal(row[20 - h:], row[20 - 2 * h:20 - h])


def test_scores_are_one_for_a_perfect_pattern():
    idx, halves = repeated_sequences(3, 12, 10, generator=torch.Generator().manual_seed(1))
    T = 12
    ind, dup = torch.zeros(3, 1, T, T), torch.zeros(3, 1, T, T)
    for b, h in enumerate(halves.tolist()):
        for t in range(T):
            ind[b, 0, t, t - h + 1 if t >= T - h else 0] = 1.0
            dup[b, 0, t, t - h if t >= T - h else 0] = 1.0
    assert torch.allclose(induction_score(ind, halves), torch.ones(1))
    assert torch.allclose(duplicate_token_score(dup, halves), torch.ones(1))
    prev = torch.zeros(2, T, T)
    prev[:, torch.arange(1, T), torch.arange(T - 1)] = 1.0
    assert torch.allclose(previous_token_score(prev), torch.ones(2))


def test_model_is_causal_and_returns_one_weight_map_per_layer():
    torch.manual_seed(0)
    cfg = InductionConfig(vocab_size=16, seq_len=12, min_half=3, n_layer=2, n_head=2, n_embd=16)
    model = AttentionOnlyTransformer(cfg)
    idx = torch.randint(16, (2, 12))
    logits, weights = model(idx)
    assert logits.shape == (2, 12, 16) and weights.shape == (2, 2, 2, 12, 12)
    changed = idx.clone()
    changed[:, 8:] = (changed[:, 8:] + 1) % 16
    assert torch.allclose(model(changed)[0][:, :8], logits[:, :8], atol=1e-6)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 2, 2, 12))


def test_split_losses_separates_the_repeat():
    idx, halves = repeated_sequences(4, 10, 8, generator=torch.Generator().manual_seed(2))
    logits = torch.full((4, 10, 8), -20.0)
    logits.scatter_(2, idx.roll(-1, dims=1).unsqueeze(-1), 20.0)     # a perfect predictor of the next token
    other, repeat = split_losses(logits, idx, halves)
    assert repeat < 1e-6 and other < 1e-6
    assert repeat_mask(halves, 10).sum().item() == int((halves - 1).sum())


def test_training_learns_to_copy():
    torch.manual_seed(0)
    model = AttentionOnlyTransformer(InductionConfig(vocab_size=16, seq_len=16, min_half=3, n_embd=32, n_head=2))
    history = train_induction(model, 400, eval_every=100, batch_size=32)
    assert history.repeat_loss[-1] < history.repeat_loss[0] - 0.3
    assert history.steps == [100, 200, 300, 400]


@pytest.mark.parametrize("call, fragment", [
    (lambda: repeated_sequences(0, 10, 5), "batch_size must be an int >= 1; got 0"),
    (lambda: repeated_sequences(2, 10, 5, min_half=6), r"min_half must be an int in \[2, 5\]; got 6"),
    (lambda: InductionConfig(n_embd=30, n_head=4), "divisible"),
    (lambda: InductionConfig(seq_len=8, min_half=5), "min_half"),
    (lambda: AttentionOnlyTransformer("cfg"), "InductionConfig"),
    (lambda: InductionConfig(n_layer=0), "n_layer must be"),
    (lambda: AttentionOnlyTransformer(InductionConfig(seq_len=8))(torch.zeros(1, 9, dtype=torch.long)),
     "idx has 9 positions but this model has only seq_len=8"),
    (lambda: AttentionOnlyTransformer(InductionConfig())(torch.zeros(1, 4)), "idx must be an integer tensor"),
    (lambda: AttentionOnlyTransformer(InductionConfig())(torch.tensor([[0, 64]])),
     r"idx must be token ids in \[0, 64\) \(the vocabulary size\); got ids from 0 to 64"),
    (lambda: AttentionOnlyTransformer(InductionConfig())(torch.tensor([[-1, 3]])), "got ids from -1 to 3"),
    (lambda: AttentionOnlyTransformer(InductionConfig())(torch.zeros(4, dtype=torch.long)), "idx must be a 2-d tensor"),
    (lambda: induction_score(torch.zeros(2, 1, 4, 4), torch.tensor([2])),
     r"halves must be of shape \(B\) with B=2; got shape \(1,\)"),
    (lambda: duplicate_token_score(torch.zeros(2, 1, 4, 5), torch.tensor([2, 2])),
     r"weights must be of shape \(B, H, T, T\)"),
    (lambda: train_induction(AttentionOnlyTransformer(InductionConfig()), 0), "steps must be an int >= 1; got 0"),
    (lambda: train_induction(AttentionOnlyTransformer(InductionConfig()), 5, lr=float("nan")),
     "lr must be a finite number > 0"),
    (lambda: train_induction(AttentionOnlyTransformer(InductionConfig()), 5, drop_below=float("nan")), "drop_below"),
    (lambda: train_induction(AttentionOnlyTransformer(InductionConfig()), 5, settle_steps=-1), "settle_steps"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()


def test_training_can_stop_a_fixed_number_of_steps_after_the_drop():
    torch.manual_seed(0)
    model = AttentionOnlyTransformer(InductionConfig(vocab_size=16, seq_len=16, min_half=3, n_embd=32, n_head=2))
    history = train_induction(model, 3000, eval_every=20, drop_below=2.0, settle_steps=30)
    assert history.drop_step is not None and history.repeat_loss[history.steps.index(history.drop_step)] < 2.0
    assert history.drop_step > 20
    assert all(r >= 2.0 for s, r in zip(history.steps, history.repeat_loss) if s < history.drop_step)
    assert history.steps[-1] == history.drop_step + 30
    never = train_induction(AttentionOnlyTransformer(InductionConfig(vocab_size=16, seq_len=16, min_half=3)),
                            40, eval_every=20, drop_below=1e-9)
    assert never.drop_step is None and never.steps == [20, 40]
