"""BERT: a bidirectional Transformer encoder, pretrained by filling in blanks (Devlin et al. 2019).

Notebook 11 builds it from the course's pieces and then loads real weights into it:

    input_ids (B, T) -> word + learned position + segment embeddings -> LayerNorm -> dropout
                     -> n_layer post-norm EncoderLayers (GELU, no causal mask: every token
                        sees every non-padding token) -> hidden states (B, T, C)

:class:`BERT` is the encoder; :class:`MaskedLM` adds the masked-language-model head
(dense -> GELU -> LayerNorm -> vocabulary, tied to the word embeddings) and follows the
course convention ``model(idx, targets) -> (logits, loss)``; :class:`NextSentenceHead`
classifies the [CLS] vector (IsNext / NotNext). :func:`load_hf_bert` copies a Hugging Face
``BertModel`` checkpoint (e.g. all-MiniLM-L6-v2) into :class:`BERT`, name by name, and
:func:`load_minilm_bert` does it for the course's offline MiniLM.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._checks import ArgumentError, integer, number, tensor, token_ids
from .attention import check_head_sizes
from .positions import LearnedPositions
from .pretraining import IGNORE_INDEX
from .transformer import EncoderLayer, LayerNorm


@dataclass
class BertConfig:
    """Sizes of a BERT. The defaults are a tiny character-level model; :meth:`from_hf` reads a HF config."""

    vocab_size: int = 68
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128          # hidden size C
    d_ff: int = 512            # feed-forward width (BERT: 4·C)
    max_len: int = 512         # number of learned positions
    type_vocab_size: int = 2   # segment ids: 0 = first segment, 1 = second
    dropout: float = 0.0
    eps: float = 1e-12         # LayerNorm epsilon (BERT uses 1e-12)
    pad_id: int = 0

    def __post_init__(self):
        sizes = ("vocab_size", "n_layer", "n_head", "n_embd", "d_ff", "max_len", "type_vocab_size")
        check_head_sizes({name: getattr(self, name) for name in sizes}, width="n_embd", dropout=self.dropout)
        number("eps", self.eps, min=0, min_open=True)
        integer("pad_id", self.pad_id, min=0, max=self.vocab_size - 1)

    @classmethod
    def from_hf(cls, hf: dict) -> BertConfig:
        """The config of a Hugging Face BERT ``config.json`` (a dict); only absolute positions and GELU."""
        if hf.get("position_embedding_type", "absolute") != "absolute" or hf.get("hidden_act", "gelu") != "gelu":
            raise ValueError("hf must describe a BERT with absolute positions and hidden_act='gelu'; got "
                             f"{hf.get('position_embedding_type')!r}, {hf.get('hidden_act')!r}")
        return cls(vocab_size=hf["vocab_size"], n_layer=hf["num_hidden_layers"], n_head=hf["num_attention_heads"],
                   n_embd=hf["hidden_size"], d_ff=hf["intermediate_size"], max_len=hf["max_position_embeddings"],
                   type_vocab_size=hf["type_vocab_size"], dropout=0.0, eps=hf["layer_norm_eps"],
                   pad_id=hf.get("pad_token_id", 0) or 0)


class BertEmbeddings(nn.Module):
    """Token + position + segment embeddings, then LayerNorm and dropout: (B, T) ids -> (B, T, C)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        c = config
        self.word = nn.Embedding(c.vocab_size, c.n_embd, padding_idx=c.pad_id)
        self.positions = LearnedPositions(c.max_len, c.n_embd)
        self.token_type = nn.Embedding(c.type_vocab_size, c.n_embd)
        self.norm = LayerNorm(c.n_embd, c.eps)
        self.drop = nn.Dropout(c.dropout)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        x = self.positions(self.word(input_ids)) + self.token_type(token_type_ids)   # (B, T, C)
        return self.drop(self.norm(x))


class BERT(nn.Module):
    """The BERT encoder: ``forward(input_ids, token_type_ids=None, attention_mask=None) -> (B, T, C)``.

    ``token_type_ids`` default to 0 (one segment). ``attention_mask`` (B, T) is 1/True for
    real tokens, 0/False for padding (the Hugging Face convention); by default every token
    that is not ``pad_id`` is real. Attention is bidirectional: no causal mask. With
    ``need_weights=True`` returns ``(hidden, weights)``, weights (n_layer, B, n_head, T, T).
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        if not isinstance(config, BertConfig):
            raise ValueError(f"config must be a BertConfig; got {type(config).__name__}")
        self.config = c = config
        self.embeddings = BertEmbeddings(c)
        self.layers = nn.ModuleList(
            EncoderLayer(c.n_embd, c.n_head, c.d_ff, c.dropout, activation="gelu", norm_first=False, eps=c.eps)
            for _ in range(c.n_layer))
        self.apply(_init_weights)

    def _check(self, input_ids, token_type_ids, attention_mask):
        c = self.config
        token_ids("input_ids", input_ids, c.vocab_size, ndim=2)
        b, t = input_ids.shape
        if b == 0 or t == 0:
            raise ArgumentError(f"input_ids must hold at least one sequence of at least one token; got shape {(b, t)}")
        if t > c.max_len:
            raise ArgumentError(f"input_ids has {t} positions but this BERT has only max_len={c.max_len}; "
                                "split or truncate the text")
        for name, other in (("token_type_ids", token_type_ids), ("attention_mask", attention_mask)):
            if other is not None and tuple(tensor(name, other).shape) != (b, t):
                raise ArgumentError(f"{name} must have the shape of input_ids {(b, t)}; got {tuple(other.shape)}")
        if token_type_ids is not None:
            token_ids("token_type_ids", token_type_ids, c.type_vocab_size)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, *, need_weights: bool = False):
        self._check(input_ids, token_type_ids, attention_mask)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        real = (input_ids != self.config.pad_id) if attention_mask is None else attention_mask.bool()
        mask = real[:, None, None, :]                                       # (B, T) -> (B, 1, 1, T): keys
        x = self.embeddings(input_ids, token_type_ids)                      # (B, T) -> (B, T, C)
        weights = []
        for layer in self.layers:
            if need_weights:
                x, w = layer(x, mask, need_weights=True)                    # w: (B, nh, T, T)
                weights.append(w)
            else:
                x = layer(x, mask)
        return (x, torch.stack(weights)) if need_weights else x

    @torch.no_grad()
    def attention_weights(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                          attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Every layer's attention weights, (n_layer, B, n_head, T, T), in eval mode (for plots and bertviz)."""
        was_training = self.training
        self.eval()
        _, weights = self(input_ids, token_type_ids, attention_mask, need_weights=True)
        self.train(was_training)
        return weights


def _init_weights(module: nn.Module) -> None:
    """BERT's initialisation: N(0, 0.02) for linear and embedding weights, zero biases."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


class MaskedLM(nn.Module):
    """BERT with its masked-LM head: ``forward(idx, targets=None) -> (logits, loss)``.

    ``logits`` (B, T, vocab_size) score every vocabulary entry at every position;
    ``loss`` is the cross-entropy over positions whose target is not ``-100`` (the masked
    ones, see :func:`lmcourse.pretraining.mask_tokens`). The head is BERT's: dense -> GELU
    -> LayerNorm -> a decoder that shares the word-embedding matrix, plus a bias.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.bert = BERT(config)
        c = config
        self.dense = nn.Linear(c.n_embd, c.n_embd)
        self.norm = LayerNorm(c.n_embd, c.eps)
        self.decoder = nn.Linear(c.n_embd, c.vocab_size)
        self.decoder.weight = self.bert.embeddings.word.weight               # weight tying: one (V, C) matrix
        nn.init.normal_(self.dense.weight, std=0.02)
        nn.init.zeros_(self.dense.bias)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, token_type_ids=None,
                attention_mask=None):
        h = self.bert(idx, token_type_ids, attention_mask)                  # (B, T, C)
        logits = self.decoder(self.norm(F.gelu(self.dense(h))))             # (B, T, C) -> (B, T, V)
        if targets is None:
            return logits, None
        tensor("targets", targets, dtype="int")
        if targets.shape != idx.shape:
            raise ArgumentError(f"targets must have the shape of idx {tuple(idx.shape)}; got {tuple(targets.shape)}")
        real = targets[targets != IGNORE_INDEX]
        if real.numel() and (int(real.min()) < 0 or int(real.max()) >= logits.shape[-1]):
            raise ArgumentError(f"targets must be token ids in [0, {logits.shape[-1]}) or {IGNORE_INDEX} (ignored); "
                                f"got ids from {int(real.min())} to {int(real.max())}")
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=IGNORE_INDEX)
        return logits, loss

    @torch.no_grad()
    def fill_mask(self, idx: torch.Tensor, mask_id: int) -> torch.Tensor:
        """``idx`` (B, T) with every ``mask_id`` replaced by the model's most likely token (eval mode)."""
        integer("mask_id", mask_id, min=0, max=self.bert.config.vocab_size - 1)
        was_training = self.training
        self.eval()
        logits, _ = self(idx)
        self.train(was_training)
        out = idx.clone()
        where = idx == mask_id
        out[where] = logits.argmax(-1)[where]
        return out


class NextSentenceHead(nn.Module):
    """BERT's NSP head: the [CLS] vector -> pooler (dense + tanh) -> 2 logits (IsNext, NotNext).

    ``forward(hidden)`` maps the encoder output (B, T, C) to logits (B, 2) using position 0.
    """

    def __init__(self, n_embd: int):
        super().__init__()
        self.n_embd = integer("n_embd", n_embd, min=1)
        self.pooler = nn.Linear(n_embd, n_embd)
        self.classifier = nn.Linear(n_embd, 2)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        tensor("hidden", hidden, shape=("B", "T", self.n_embd))
        return self.classifier(torch.tanh(self.pooler(hidden[:, 0])))    # (B, T, C) -> (B, C) -> (B, 2)


def hf_to_ours(name: str) -> str:
    """Our parameter name for a Hugging Face ``BertModel`` parameter name (without the ``bert.`` prefix).

    ``encoder.layer.3.attention.self.query.weight`` -> ``layers.3.self_attn.q_proj.weight``;
    raises ``KeyError`` for a name BERT's encoder does not have (e.g. the pooler).
    """
    fixed = {
        "embeddings.word_embeddings.weight": "embeddings.word.weight",
        "embeddings.position_embeddings.weight": "embeddings.positions.embedding.weight",
        "embeddings.token_type_embeddings.weight": "embeddings.token_type.weight",
        "embeddings.LayerNorm.weight": "embeddings.norm.weight",
        "embeddings.LayerNorm.bias": "embeddings.norm.bias",
    }
    if name in fixed:
        return fixed[name]
    parts = name.split(".")
    if parts[:2] != ["encoder", "layer"] or len(parts) < 5:
        raise KeyError(f"no place in our BERT for the Hugging Face parameter {name!r}")
    i, rest, kind = parts[2], ".".join(parts[3:-1]), parts[-1]
    inside = {
        "attention.self.query": "self_attn.q_proj", "attention.self.key": "self_attn.k_proj",
        "attention.self.value": "self_attn.v_proj", "attention.output.dense": "self_attn.out_proj",
        "attention.output.LayerNorm": "norm1",                     # post-norm after attention + residual
        "intermediate.dense": "ff.linear1", "output.dense": "ff.linear2",
        "output.LayerNorm": "norm2",                               # post-norm after FFN + residual
    }
    if rest not in inside:
        raise KeyError(f"no place in our BERT for the Hugging Face parameter {name!r}")
    return f"layers.{i}.{inside[rest]}.{kind}"


_UNUSED = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")


@torch.no_grad()
def load_hf_bert(hf_state_dict: dict, config: BertConfig) -> BERT:
    """A :class:`BERT` with ``config`` holding the weights of a Hugging Face ``BertModel`` state dict.

    Names are mapped with :func:`hf_to_ours` (a ``bert.`` prefix is dropped; the pooler and
    the ``position_ids`` buffer are not used). Every parameter of ours must be filled, with
    the right shape and dtype, or a ``ValueError`` names what is wrong; nothing is copied before
    everything has been checked.
    """
    model = BERT(config)
    ours = model.state_dict()
    plan, problems = {}, []
    for hf_name, value in hf_state_dict.items():
        hf_name = hf_name.removeprefix("bert.")
        if hf_name in _UNUSED or hf_name.startswith("cls."):
            continue
        try:
            name = hf_to_ours(hf_name)
        except KeyError as err:
            problems.append(str(err).strip("'\""))
            continue
        if tuple(ours[name].shape) != tuple(value.shape):
            problems.append(f"{hf_name}: shape {tuple(value.shape)}, ours {name} is {tuple(ours[name].shape)}")
        elif value.dtype != ours[name].dtype:
            problems.append(f"{hf_name}: dtype {value.dtype}, ours {name} is {ours[name].dtype}")
        else:
            plan[name] = value
    missing = sorted(set(ours) - set(plan))
    if missing:
        problems.append(f"missing weights for {missing[:5]}" + (" …" if len(missing) > 5 else ""))
    if problems:
        raise ValueError("hf_state_dict does not fit this BertConfig: " + "; ".join(problems[:5]))
    for name, value in plan.items():
        ours[name].copy_(value)
    return model.eval()


def load_minilm_bert(path: str | Path | None = None) -> BERT:
    """all-MiniLM-L6-v2's weights in our :class:`BERT` (eval mode), read from the offline copy's safetensors."""
    from safetensors.torch import load_file

    from .pretrained import minilm_path

    folder = Path(path) if path is not None else minilm_path()
    for name in ("config.json", "model.safetensors"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"path must be a folder holding MiniLM's config.json and model.safetensors; "
                                    f"{name} is missing in {folder}")
    try:
        config = BertConfig.from_hf(json.loads((folder / "config.json").read_text()))
    except (ValueError, KeyError) as err:
        raise ValueError(f"{folder / 'config.json'} is not a BERT config: {err}") from err
    try:
        weights = load_file(folder / "model.safetensors")
    except Exception as err:
        raise ValueError(f"{folder / 'model.safetensors'} cannot be read as safetensors (truncated or corrupt): "
                         f"{err}") from err
    return load_hf_bert(weights, config)
