"""Hugging Face GPT-2 checkpoints loaded into the workbench's own :class:`~backends.models.gpt.GPT`.

:func:`from_hf_gpt2` reads a GPT-2 folder (``config.json`` plus
``model.safetensors``, its sharded index, or ``pytorch_model.bin`` read with
``weights_only=True``), checks that the config is one this GPT can express,
and renames, transposes and splits the weights into its parameters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from backends.models.gpt import GPT, GPTConfig

_HF_TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")


def _config_from_hf(hf: dict[str, Any], folder: Path) -> GPTConfig:
    def need(*keys: str) -> int:
        for key in keys:
            if key in hf:
                return hf[key]
        raise ValueError(f"{folder / 'config.json'} has no {' or '.join(keys)}; is it GPT-2?")

    if hf.get("model_type", "gpt2") != "gpt2":
        raise ValueError(
            f"{folder} holds a {hf['model_type']!r} model; only GPT-2 checkpoints load here"
        )
    if hf.get("scale_attn_by_inverse_layer_idx") or hf.get("reorder_and_upcast_attn"):
        raise ValueError(
            f"{folder}: scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported"
        )
    if hf.get("scale_attn_weights", True) is False:
        raise ValueError(f"{folder}: scale_attn_weights=false is not supported")
    activation = hf.get("activation_function", "gelu_new")
    if activation not in _HF_TANH_GELUS + ("gelu",):
        raise ValueError(f"{folder}: activation_function {activation!r} is not supported")
    n_embd = need("n_embd", "hidden_size")
    n_inner = hf.get("n_inner") or 4 * n_embd
    if n_inner % n_embd:
        raise ValueError(f"{folder}: n_inner={n_inner} is not a multiple of n_embd={n_embd}")
    if abs(hf.get("layer_norm_epsilon", 1e-5) - 1e-5) > 1e-12:
        raise ValueError(f"{folder}: layer_norm_epsilon other than 1e-5 is not supported")
    return GPTConfig(
        vocab_size=need("vocab_size"),
        block_size=need("n_positions", "n_ctx", "max_position_embeddings"),
        n_layer=need("n_layer", "num_hidden_layers"),
        n_head=need("n_head", "num_attention_heads"),
        n_embd=n_embd,
        dropout=0.0,
        bias=True,
        mlp_ratio=n_inner // n_embd,
        activation="gelu" if activation == "gelu" else "gelu_tanh",
    )


def _read_hf_tensors(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    single = folder / "model.safetensors"
    index = folder / "model.safetensors.index.json"
    binary = folder / "pytorch_model.bin"
    if single.is_file():
        return load_file(str(single))
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        tensors: dict[str, torch.Tensor] = {}
        for shard in shards:
            tensors.update(load_file(str(folder / shard)))
        return tensors
    if binary.is_file():
        # weights_only: a .bin is a pickle; never let it run code.
        try:
            state = torch.load(binary, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(
                f"{binary} is not a plain tensor checkpoint (refused to unpickle: {exc})"
            ) from exc
        if not isinstance(state, dict):
            raise ValueError(f"{binary} does not hold a state dict")
        return state
    raise FileNotFoundError(
        f"{folder} has no model.safetensors, model.safetensors.index.json or pytorch_model.bin"
    )


def from_hf_gpt2(folder: str | Path) -> GPT:
    """Load a Hugging Face GPT-2 checkpoint folder into :class:`GPT` (eval mode, CPU, fp32).

    HF GPT-2 stores linear weights as ``Conv1D`` (in, out), the transpose of
    ``nn.Linear``, and fuses q, k, v into one ``c_attn``; both are undone here
    (the separate ``nn.Linear`` parameters are what TP and checkpoints see).
    The model is then put in the decoding layout
    (:meth:`GPT.use_decoding_layout`), which stores most weights input-major
    again and q, k, v side by side, for speed only.
    """
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{folder} has no config.json; pick a Hugging Face GPT-2 folder")
    config = _config_from_hf(json.loads(config_path.read_text()), folder)
    # GPT2LMHeadModel prefixes "transformer."; a bare GPT2Model does not.
    hf = {k.removeprefix("transformer."): v for k, v in _read_hf_tensors(folder).items()}
    state = _state_from_hf(hf, config, folder)
    model = GPT(config)
    _check_shapes(model, state, folder)
    # lm_head.weight is the tied wte.weight, filled through it.
    state["lm_head.weight"] = state["transformer.wte.weight"]
    model.load_state_dict({k: v.contiguous() for k, v in state.items()}, strict=True)
    # A loaded GPT-2 is for reading and writing text: lay it out for decoding.
    return model.use_decoding_layout().eval()


def _state_from_hf(hf: dict[str, torch.Tensor], config: GPTConfig, folder: Path) -> dict[str, torch.Tensor]:
    """HF GPT-2 tensors renamed to this module's names; Conv1D transposed, c_attn split in three."""

    def take(key: str) -> torch.Tensor:
        if key not in hf:
            raise ValueError(f"{folder}: weight {key!r} is missing; is this a GPT-2 checkpoint?")
        return hf[key].float()

    d = config.n_embd
    state: dict[str, torch.Tensor] = {
        "transformer.wte.weight": take("wte.weight"),
        "transformer.wpe.weight": take("wpe.weight"),
        "transformer.ln_f.weight": take("ln_f.weight"),
        "transformer.ln_f.bias": take("ln_f.bias"),
    }
    for i in range(config.n_layer):
        src, dst = f"h.{i}.", f"transformer.h.{i}."
        for ln in ("ln_1", "ln_2"):
            state[dst + ln + ".weight"] = take(src + ln + ".weight")
            state[dst + ln + ".bias"] = take(src + ln + ".bias")
        c_attn_w = take(src + "attn.c_attn.weight").t()  # (3d, d) after transpose
        c_attn_b = take(src + "attn.c_attn.bias")
        for j, name in enumerate(("q_proj", "k_proj", "v_proj")):
            state[dst + f"attn.{name}.weight"] = c_attn_w[j * d : (j + 1) * d]
            state[dst + f"attn.{name}.bias"] = c_attn_b[j * d : (j + 1) * d]
        state[dst + "attn.out_proj.weight"] = take(src + "attn.c_proj.weight").t()
        state[dst + "attn.out_proj.bias"] = take(src + "attn.c_proj.bias")
        state[dst + "mlp.up_proj.weight"] = take(src + "mlp.c_fc.weight").t()
        state[dst + "mlp.up_proj.bias"] = take(src + "mlp.c_fc.bias")
        state[dst + "mlp.down_proj.weight"] = take(src + "mlp.c_proj.weight").t()
        state[dst + "mlp.down_proj.bias"] = take(src + "mlp.c_proj.bias")
    return state


def _check_shapes(model: GPT, state: dict[str, torch.Tensor], folder: Path) -> None:
    """Every tensor has the shape the model built from config.json expects."""
    expected = {name: p.shape for name, p in model.state_dict().items()}
    for name, tensor in state.items():
        if tensor.shape != expected[name]:
            raise ValueError(
                f"{folder}: {name} has shape {tuple(tensor.shape)}, config.json implies "
                f"{tuple(expected[name])}"
            )
