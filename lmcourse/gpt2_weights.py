"""GPT-2's released weights in our :class:`lmcourse.gpt.GPT`: a checkpoint conversion, name by name.

Notebook 09 loads a random ``GPT2LMHeadModel`` through it and checks the logits and greedy tokens.

Our GPT *is* GPT-2's architecture (learned positions, pre-norm blocks, a 4C MLP, a head tied to the
token embedding), so a Hugging Face ``GPT2LMHeadModel`` fits it with three translations:

- names: ``transformer.h.3.mlp.c_fc.weight`` -> ``blocks.3.mlp.linear1.weight`` (:func:`hf_to_ours`);
- Conv1D: GPT-2's linear layers are ``transformers``' ``Conv1D``, which stores its weight as
  (in, out) and computes ``x @ W + b``; ``nn.Linear`` stores (out, in) and computes ``x @ W.T + b``,
  so every Conv1D weight is transposed (``attn.c_proj`` is square, C×C: untransposed it would still
  load, silently wrong);
- the activation: GPT-2 was trained with the tanh approximation of GELU (``"gelu_new"``), our
  ``mlp="gelu_tanh"``.

:func:`config_from_hf` turns a ``GPT2Config`` into a :class:`lmcourse.gpt.GPTConfig` (refusing what
our GPT cannot compute exactly), :func:`state_dict_from_hf` maps and transposes a state dict (with
or without the ``transformer.`` prefix; old checkpoints' ``attn.bias`` mask buffers are skipped) and
checks every name and shape before anything is loaded, and :func:`load_gpt2` does both. With
internet (about 500 MB, downloaded once)::

    from transformers import GPT2LMHeadModel, GPT2TokenizerFast
    model = load_gpt2(GPT2LMHeadModel.from_pretrained("gpt2"))
    tok = GPT2TokenizerFast.from_pretrained("gpt2")
    idx = torch.tensor([tok.encode("The meaning of life is")])
    print(tok.decode(model.generate(idx, 40, top_k=50, top_p=0.95)[0]))
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ._checks import ArgumentError
from .gpt import GPT, GPTConfig

ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu"}
CONV1D = ("c_attn", "c_proj", "c_fc")          # GPT-2's Conv1D layers: weight (in, out), transposed on load
_BUFFERS = ("attn.bias", "attn.masked_bias")   # causal-mask buffers old transformers versions saved
_INSIDE = {"ln_1": "ln_1", "attn.c_attn": "attn.c_attn", "attn.c_proj": "attn.c_proj", "ln_2": "ln_2",
           "mlp.c_fc": "mlp.linear1", "mlp.c_proj": "mlp.linear2"}
_FIXED = {"wte.weight": "wte.weight", "wpe.weight": "wpe.embedding.weight",
          "ln_f.weight": "ln_f.weight", "ln_f.bias": "ln_f.bias"}


def _as_dict(hf_config) -> dict:
    if isinstance(hf_config, dict):
        return hf_config
    if callable(getattr(hf_config, "to_dict", None)):
        return hf_config.to_dict()
    raise ArgumentError(f"hf_config must be a transformers GPT2Config (model.config) or its dict; "
                        f"got {type(hf_config).__name__}")


def config_from_hf(hf_config) -> GPTConfig:
    """The :class:`GPTConfig` of a Hugging Face ``GPT2Config`` (or its ``config.json`` dict).

    ``n_positions`` -> ``block_size``; ``vocab_size``, ``n_layer``, ``n_head``, ``n_embd`` as they are;
    ``n_inner`` -> ``d_ff``; biases, learned positions, LayerNorm; ``activation_function`` ``"gelu_new"``
    or ``"gelu_pytorch_tanh"`` -> ``mlp="gelu_tanh"``, ``"gelu"`` -> ``"gelu"``. Dropout is 0 (the
    model is for inference). A setting our GPT cannot compute exactly raises an :class:`ArgumentError`
    naming it: another activation, ``layer_norm_epsilon`` other than 1e-5, untied embeddings,
    unscaled or layer-scaled or upcast attention, cross-attention.
    """
    hf = _as_dict(hf_config)
    if hf.get("model_type", "gpt2") != "gpt2":
        raise ArgumentError(f"hf_config must be a GPT-2 config (model_type 'gpt2'); got {hf['model_type']!r}")
    missing = [k for k in ("n_positions", "vocab_size", "n_layer", "n_head", "n_embd") if k not in hf]
    if missing:
        raise ArgumentError(f"hf_config must have GPT-2's sizes; got no {', '.join(missing)}")
    act = hf.get("activation_function", "gelu_new")
    if act not in ACTIVATIONS:
        raise ArgumentError(f"hf_config.activation_function must be one of {tuple(ACTIVATIONS)} "
                            f"(the GELUs our GPT computes); got {act!r}")
    refused = {"layer_norm_epsilon": (1e-5, "our LayerNorm's eps"),
               "tie_word_embeddings": (True, "our head is tied to the token embedding"),
               "scale_attn_weights": (True, "our attention divides the scores by sqrt(head_dim)"),
               "scale_attn_by_inverse_layer_idx": (False, "our attention does not scale by layer"),
               "reorder_and_upcast_attn": (False, "our attention does not upcast"),
               "add_cross_attention": (False, "our GPT has no cross-attention")}
    for key, (want, why) in refused.items():
        if hf.get(key, want) != want:
            raise ArgumentError(f"hf_config.{key} must be {want!r} ({why}); got {hf[key]!r}")
    n_inner = hf.get("n_inner")
    return GPTConfig(block_size=hf["n_positions"], vocab_size=hf["vocab_size"], n_layer=hf["n_layer"],
                     n_head=hf["n_head"], n_embd=hf["n_embd"], dropout=0.0, bias=True, position="learned",
                     mlp=ACTIVATIONS[act], d_ff=None if n_inner in (None, 4 * hf["n_embd"]) else n_inner)


def hf_to_ours(name: str) -> str:
    """Our parameter name for a GPT-2 parameter name, with or without the ``transformer.`` prefix.

    ``transformer.h.3.mlp.c_fc.weight`` -> ``blocks.3.mlp.linear1.weight``; ``lm_head.weight`` ->
    ``lm_head.weight`` (tied to ``wte.weight``); raises ``KeyError`` for a name our GPT has no place for.
    """
    short = name.removeprefix("transformer.")
    if short in _FIXED:
        return _FIXED[short]
    if name == "lm_head.weight":
        return name
    parts = short.split(".")
    inside = ".".join(parts[2:-1])
    if parts[0] != "h" or len(parts) < 4 or not parts[1].isdigit() or inside not in _INSIDE \
            or parts[-1] not in ("weight", "bias"):
        raise KeyError(f"no place in our GPT for the GPT-2 parameter {name!r}")
    return f"blocks.{parts[1]}.{_INSIDE[inside]}.{parts[-1]}"


def _is_conv1d_weight(name: str) -> bool:
    parts = name.split(".")
    return parts[-1] == "weight" and len(parts) >= 2 and parts[-2] in CONV1D


def _check_gpt2_block(config) -> None:
    if not isinstance(config, GPTConfig):
        raise ArgumentError(f"config must be a GPTConfig (config_from_hf(model.config)); got {type(config).__name__}")
    block = dict(position="learned", norm="layernorm", bias=True)
    wrong = {k: getattr(config, k) for k, v in block.items() if getattr(config, k) != v}
    if config.mlp not in ("gelu", "gelu_tanh"):
        wrong["mlp"] = config.mlp
    if config.kv_heads != config.n_head:
        wrong["n_kv_head"] = config.n_kv_head
    if wrong:
        raise ArgumentError("config must be GPT-2's block (position='learned', norm='layernorm', bias=True, "
                            f"mlp 'gelu' or 'gelu_tanh', n_kv_head=None); got {wrong}")


def state_dict_from_hf(hf_state_dict: dict, config: GPTConfig) -> dict[str, torch.Tensor]:
    """A state dict for ``GPT(config)`` from a GPT-2 state dict: names mapped, Conv1D weights transposed.

    ``hf_state_dict`` comes from a ``GPT2LMHeadModel`` (keys ``transformer.…`` and ``lm_head.weight``)
    or a ``GPT2Model`` / a checkpoint file (keys without the prefix). Conv1D weights (in, out) become
    ``nn.Linear``'s (out, in); ``lm_head.weight``, when present, must equal ``wte.weight`` (GPT-2 ties
    them; our ``lm_head.weight`` is the token embedding again). Every unknown, repeated or missing key
    and every wrong shape is named in one ``ValueError``; nothing is returned unless everything fits.
    Tensors keep their dtype and are not copied (the transposes are views).
    """
    _check_gpt2_block(config)
    if not isinstance(hf_state_dict, dict):
        raise ArgumentError(f"hf_state_dict must be a dict of tensors (model.state_dict()); "
                            f"got {type(hf_state_dict).__name__}")
    with torch.device("meta"):                                            # shapes only, no memory, no init cost
        want = {k: tuple(v.shape) for k, v in GPT(config).state_dict().items()}
    out, source, problems, head, named = {}, {}, [], None, set()
    for hf_name, value in hf_state_dict.items():
        if hf_name.removeprefix("transformer.").split(".", 2)[-1] in _BUFFERS:
            continue                                                      # a mask, not a weight
        if not isinstance(value, torch.Tensor):
            problems.append(f"{hf_name}: a {type(value).__name__}, not a tensor")
            continue
        try:
            name = hf_to_ours(hf_name)
        except KeyError as err:
            problems.append(err.args[0])
            continue
        if name == "lm_head.weight":
            head = (hf_name, value)
            continue
        if name in out:
            problems.append(f"{hf_name}: given twice (also as {source[name]})")
            continue
        tensor = value.T if _is_conv1d_weight(hf_name) else value         # Conv1D (in, out) -> Linear (out, in)
        if name in want and tuple(tensor.shape) != want[name]:
            layout = " as Conv1D (in, out)" if _is_conv1d_weight(hf_name) else ""
            problems.append(f"{hf_name}: shape {tuple(value.shape)}{layout}, but our {name} needs "
                            f"{want[name]}" + (" transposed" if layout else ""))
            named.add(name)
            continue
        out[name], source[name] = tensor, hf_name
    if head is not None and "wte.weight" in out:
        hf_name, value = head
        if tuple(value.shape) != tuple(out["wte.weight"].shape) or not torch.equal(value, out["wte.weight"]):
            problems.append(f"{hf_name} must equal the token embedding {source['wte.weight']} (GPT-2 ties them; "
                            "our GPT has no separate output matrix)")
    if "wte.weight" in out:
        out["lm_head.weight"] = out["wte.weight"]                         # the tied head: the same matrix
    missing = [k for k in want if k not in out and k not in named]
    if missing:
        problems.append(f"missing weights for our {missing[:5]}" + (" …" if len(missing) > 5 else ""))
    if problems:
        sizes = f"n_layer={config.n_layer}, n_head={config.n_head}, n_embd={config.n_embd}, " \
                f"block_size={config.block_size}, vocab_size={config.vocab_size}"
        more = f" (and {len(problems) - 6} more)" if len(problems) > 6 else ""
        raise ValueError(f"hf_state_dict does not fit GPT-2 with {sizes}: " + "; ".join(problems[:6]) + more)
    return out


def load_gpt2(source, config=None) -> GPT:
    """Our :class:`GPT` holding GPT-2's weights, in eval mode, float32.

    ``source`` is a ``transformers`` ``GPT2LMHeadModel`` (or ``GPT2Model``), whose ``config`` is used,
    or a GPT-2 state dict, for which ``config`` must be given: the ``GPT2Config`` (or its dict) or a
    :class:`GPTConfig`. The logits equal the Hugging Face model's. The weights are copied; float16 or
    bfloat16 checkpoints become float32 exactly (call ``.half()`` or ``.double()`` on the result to change it).
    """
    if isinstance(source, nn.Module):
        if not callable(getattr(source, "state_dict", None)) or getattr(source, "config", None) is None:
            raise ArgumentError(f"source must be a transformers GPT2LMHeadModel; got {type(source).__name__}")
        hf_state_dict, config = source.state_dict(), source.config if config is None else config
    elif isinstance(source, dict):
        if config is None:
            raise ArgumentError("config must be given with a state dict (the GPT2Config, e.g. "
                                "GPT2Config.from_pretrained('gpt2')); got None")
        hf_state_dict = source
    else:
        raise ArgumentError("source must be a transformers GPT2LMHeadModel or a GPT-2 state dict (with config=…); "
                            f"got {type(source).__name__}")
    ours = config if isinstance(config, GPTConfig) else config_from_hf(config)
    mapped = state_dict_from_hf(hf_state_dict, ours)
    bad = sorted({str(v.dtype) for v in mapped.values() if not v.is_floating_point()})
    if bad:
        raise ArgumentError(f"hf_state_dict must hold floating-point weights; got {', '.join(bad)}")
    mapped = {k: v.detach().to(torch.float32) for k, v in mapped.items()}
    return GPT.from_state_dict(mapped, ours).eval()
