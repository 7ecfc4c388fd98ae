"""A decoder-only transformer language model (GPT) with a KV cache and a GPT-2 loader.

Pre-LayerNorm blocks of causal self-attention and an MLP, learned position
embeddings, and an output head tied to the token embedding, as in GPT-2
(Radford et al., 2019). The file is single-device code: tensor parallelism
and FSDP are applied from outside (``backends/parallel``) by module name, so
the names below are part of the contract:

- ``transformer.wte`` / ``wpe`` / ``drop`` / ``h[i]`` / ``ln_f``, ``lm_head``;
- in each block ``ln_1``, ``attn``, ``ln_2``, ``mlp``;
- ``attn.q_proj``, ``attn.k_proj``, ``attn.v_proj`` (column-parallel under
  TP), ``attn.out_proj`` (row-parallel); ``mlp.up_proj`` (column-parallel),
  ``mlp.down_proj`` (row-parallel).

Attention reads the number of heads from the projected tensor, not from the
config, so a TP rank that holds only some heads runs the same code.

Incremental decoding::

    cache = model.new_kv_cache()            # empty; sized on first use
    logits, _ = model(prompt, kv_cache=cache)          # prefill
    logits, _ = model(next_token, kv_cache=cache)      # one step, (B, 1, V)

The cache holds at most ``block_size`` positions; past that the caller starts
a new cache and re-feeds the last tokens (positions are absolute, so a cache
cannot simply slide).

:func:`from_hf_gpt2` loads a Hugging Face GPT-2 folder (``config.json`` plus
``model.safetensors`` or ``pytorch_model.bin``, read with
``weights_only=True``) into this same module.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from backends.models._config import ConfigError, ModelConfig


@dataclasses.dataclass(kw_only=True)
class GPTConfig(ModelConfig):
    vocab_size: int  # number of token ids; a char tokenizer's len()
    block_size: int  # longest context, in tokens (size of the position table)
    n_layer: int
    n_head: int
    n_embd: int  # must be divisible by n_head
    dropout: float = 0.0
    bias: bool = True  # biases in Linear and LayerNorm (GPT-2 has them)
    mlp_ratio: int = 4  # MLP hidden width = mlp_ratio * n_embd
    # "gelu" is exact; "gelu_tanh" is the tanh approximation GPT-2 was trained with.
    activation: str = "gelu"

    def validate(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "mlp_ratio"):
            self._positive_int(name)
        if self.n_embd % self.n_head:
            raise ConfigError(
                f"GPTConfig.n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}); "
                f"try n_embd={self.n_head * math.ceil(self.n_embd / self.n_head)}"
            )
        self._fraction("dropout")
        self._choice("activation", ("gelu", "gelu_tanh"))

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


class KVCache:
    """Keys and values of the positions already seen, one pair per layer.

    Buffers are allocated on first use, shaped from the keys a layer actually
    produces (so the local head count under TP and the autocast dtype are
    right), with room for ``block_size`` positions. ``length`` is the number
    of positions stored; the model advances it after each forward.
    """

    def __init__(self, n_layer: int, block_size: int) -> None:
        self.n_layer = n_layer
        self.block_size = block_size
        self.length = 0
        self._keys: list[torch.Tensor | None] = [None] * n_layer
        self._values: list[torch.Tensor | None] = [None] * n_layer

    def reset(self) -> None:
        """Forget every position (buffers are kept for reuse)."""
        self.length = 0

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store new ``k``/``v`` (B, H, T, D) after the cached ones; return all so far."""
        start, end = self.length, self.length + k.size(2)
        buf_k = self._keys[layer]
        if buf_k is None or buf_k.shape[:2] != k.shape[:2] or buf_k.dtype != k.dtype:
            if start:
                raise RuntimeError("KV cache shape changed mid-sequence; start a new cache")
            shape = (k.size(0), k.size(1), self.block_size, k.size(3))
            buf_k = k.new_empty(shape)
            self._keys[layer] = buf_k
            self._values[layer] = v.new_empty(shape)
        buf_v = self._values[layer]
        assert buf_v is not None
        buf_k[:, :, start:end] = k
        buf_v[:, :, start:end] = v
        return buf_k[:, :, :end], buf_v[:, :, :end]


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        d = config.n_embd
        self.head_dim = config.head_dim
        self.q_proj = nn.Linear(d, d, bias=config.bias)
        self.k_proj = nn.Linear(d, d, bias=config.bias)
        self.v_proj = nn.Linear(d, d, bias=config.bias)
        self.out_proj = nn.Linear(d, d, bias=config.bias)
        self.dropout = config.dropout
        self.resid_drop = nn.Dropout(config.dropout)

    def forward(
        self, x: torch.Tensor, kv_cache: KVCache | None = None, layer: int = 0
    ) -> torch.Tensor:
        B, T, _ = x.shape
        # NOTE: -1 heads, not config.n_head: under TP each rank holds a slice of heads.
        q = self.q_proj(x).view(B, T, -1, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(B, T, -1, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, T, -1, self.head_dim).transpose(1, 2)
        past = 0
        if kv_cache is not None:
            past = kv_cache.length
            k, v = kv_cache.update(layer, k, v)
        dropout_p = self.dropout if self.training else 0.0
        if past == 0:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
        elif T == 1:
            # One new token may look at everything before it: no mask needed.
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
        else:
            # New query i sits at absolute position past + i and may see keys 0..past + i.
            rows = torch.arange(T, device=x.device)[:, None] + past
            cols = torch.arange(past + T, device=x.device)[None, :]
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=cols <= rows, dropout_p=dropout_p)
        y = y.transpose(1, 2).reshape(B, T, -1)
        return self.resid_drop(self.out_proj(y))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        hidden = config.mlp_ratio * config.n_embd
        self.up_proj = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.down_proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.approximate = "tanh" if config.activation == "gelu_tanh" else "none"
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.up_proj(x), approximate=self.approximate)
        return self.drop(self.down_proj(x))


class Block(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(
        self, x: torch.Tensor, kv_cache: KVCache | None = None, layer: int = 0
    ) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), kv_cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """The language model: ``forward(idx, targets=None, kv_cache=None) -> (logits, loss)``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList(Block(config) for _ in range(config.n_layer)),
                ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # Tied: the output head reuses the token embedding (fewer parameters, GPT-2 does it).
        self.lm_head.weight = self.transformer.wte.weight
        self.apply(self._init_weights)
        # Residual outputs are scaled down with depth so the residual stream's
        # variance does not grow with the number of layers (GPT-2 paper, section 2.3).
        for name, param in self.named_parameters():
            if name.endswith(("out_proj.weight", "down_proj.weight")):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self, non_embedding: bool = False) -> int:
        """Parameter count (the tied head counted once); optionally without position embeddings."""
        total = sum(p.numel() for p in self.parameters())
        if non_embedding:
            total -= self.transformer.wpe.weight.numel()
        return total

    def new_kv_cache(self) -> KVCache:
        """An empty cache for incremental decoding; see the module docstring."""
        return KVCache(self.config.n_layer, self.config.block_size)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        kv_cache: KVCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (B, T, vocab) for token ids ``idx`` (B, T); mean cross-entropy if ``targets``.

        With ``kv_cache``, ``idx`` holds only the new tokens; their positions
        continue after the ones already in the cache, which is advanced.
        """
        _, T = idx.shape
        past = kv_cache.length if kv_cache is not None else 0
        if past + T > self.config.block_size:
            raise ValueError(
                f"sequence of {past + T} tokens exceeds the context of {self.config.block_size} "
                "(block_size); crop the input or start a new KV cache"
            )
        pos = torch.arange(past, past + T, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for layer, block in enumerate(self.transformer.h):
            x = block(x, kv_cache, layer)
        if kv_cache is not None:
            kv_cache.length += T
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(
                logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-100
            )
        return logits, loss


# ---- Hugging Face GPT-2 checkpoints --------------------------------------------------------

_HF_TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")


def _config_from_hf(hf: dict, folder: Path) -> GPTConfig:
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
    ``nn.Linear``, and fuses q, k, v into one ``c_attn``; both are undone here.
    """
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{folder} has no config.json; pick a Hugging Face GPT-2 folder")
    config = _config_from_hf(json.loads(config_path.read_text()), folder)
    hf = _read_hf_tensors(folder)
    # GPT2LMHeadModel prefixes "transformer."; a bare GPT2Model does not.
    hf = {k.removeprefix("transformer."): v for k, v in hf.items()}

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

    model = GPT(config)
    expected = {name: p.shape for name, p in model.state_dict().items()}
    for name, tensor in state.items():
        if tensor.shape != expected[name]:
            raise ValueError(
                f"{folder}: {name} has shape {tuple(tensor.shape)}, config.json implies "
                f"{tuple(expected[name])}"
            )
    # lm_head.weight is the tied wte.weight, filled through it.
    state["lm_head.weight"] = state["transformer.wte.weight"]
    model.load_state_dict({k: v.contiguous() for k, v in state.items()}, strict=True)
    return model.eval()
