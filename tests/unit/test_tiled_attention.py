"""The helpers beside tiled attention: the sliding-window mask and the bytes of the score table.

The mask against Hugging Face's ``sliding_window_causal_mask_function`` (the pattern Mistral
uses) and against SDPA given the same band; the byte count against what :func:`attention`
really allocates.
"""

import pytest
import torch
import torch.nn.functional as F

from lmcourse._checks import ArgumentError
from lmcourse.attention import attention, attention_scores_bytes, causal_mask, sliding_window_mask


@pytest.mark.parametrize("t_q, t_k, window", [(8, 8, 3), (8, 8, 1), (5, 12, 4), (1, 9, 2), (6, 6, 6)])
def test_sliding_window_mask_equals_hugging_face_pattern(t_q, t_k, window):
    from transformers.masking_utils import sliding_window_causal_mask_function
    visible = sliding_window_causal_mask_function(window)
    shift = t_k - t_q                                             # query i sits at position i + shift
    expected = torch.tensor([[bool(visible(0, 0, torch.tensor(i + shift), torch.tensor(j))) for j in range(t_k)]
                             for i in range(t_q)])
    assert torch.equal(sliding_window_mask(t_q, t_k, window=window), expected)


def test_sliding_window_mask_keeps_at_most_window_keys_per_query():
    T, W = 50, 7
    mask = sliding_window_mask(T, window=W)
    assert mask.sum(-1).max() == W and mask.sum() == T * W - W * (W - 1) // 2
    assert torch.equal(mask & ~causal_mask(T), torch.zeros(T, T, dtype=torch.bool))


def test_a_window_as_long_as_the_text_is_the_causal_mask():
    assert torch.equal(sliding_window_mask(9, window=9), causal_mask(9))
    assert torch.equal(sliding_window_mask(4, 9, window=100), causal_mask(4, 9))


def test_attention_with_a_sliding_window_equals_sdpa_with_the_same_band(seeded):
    q, k, v = (torch.randn(2, 3, 12, 8, dtype=torch.float64) for _ in range(3))
    band = sliding_window_mask(12, window=4)
    out, weights = attention(q, k, v, band)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v, attn_mask=band), atol=1e-12)
    assert torch.all(weights[..., ~band] == 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_scores_bytes_equal_what_written_out_attention_allocates(dtype):
    q, k, v = torch.zeros(2, 3, 5, 4, dtype=dtype), torch.zeros(2, 3, 7, 4, dtype=dtype), torch.zeros(2, 3, 7, 4,
                                                                                                       dtype=dtype)
    weights = attention(q, k, v)[1]
    assert attention_scores_bytes(5, 7, batch=2, n_head=3, dtype=dtype) == weights.numel() * weights.element_size()


def test_scores_bytes_grow_with_the_square_of_the_length():
    assert attention_scores_bytes(1024, n_head=12) == 48 * 2**20       # GPT-2 small, one layer, float32
    assert attention_scores_bytes(2048, n_head=12) == 4 * attention_scores_bytes(1024, n_head=12)


@pytest.mark.parametrize("call, fragment", [
    (lambda: sliding_window_mask(4, window=0), "window must be an int >= 1; got 0"),
    (lambda: sliding_window_mask(4, window=2.0), "window must be an int"),
    (lambda: sliding_window_mask(5, 4, window=2), "t_k must be >= t_q"),
    (lambda: attention_scores_bytes(0), "t_q must be an int >= 1; got 0"),
    (lambda: attention_scores_bytes(4, n_head=0), "n_head must be an int >= 1; got 0"),
    (lambda: attention_scores_bytes(4, batch=-1), "batch must be an int >= 1; got -1"),
    (lambda: attention_scores_bytes(4, dtype="float32"), "dtype must be a torch.dtype such as torch.float32; got"),
])
def test_bad_input_names_the_argument(call, fragment):
    with pytest.raises(ArgumentError) as info:
        call()
    assert fragment in str(info.value)
