"""A decoder-only transformer language model (GPT) with a KV cache.

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
cannot simply slide). ``last_only=True`` computes the output head for the last
position only, which is all a next-token step needs.

:meth:`GPT.use_decoding_layout` re-stores the weights in the memory layout
that CPU decoding reads fastest, q/k/v side by side so that inference
projects them in one product; names, shapes and values do not change, so TP
and checkpoints see the same module. The fused product runs only without
autograd and on plain tensors, and is found from the parameters' memory each
time, so it can never use stale weights.

A Hugging Face GPT-2 folder loads into this same module with
``backends.models.hf_gpt2.from_hf_gpt2``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from typing import cast

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


# Tensor types the fused q/k/v path accepts; DTensor (TP, FSDP) and other subclasses do not pass.
_PLAIN = (torch.Tensor, nn.Parameter)


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

    def share_qkv_storage(self) -> None:
        """Re-store q/k/v weights as column blocks of one (in, 3 * out) matrix, biases likewise.

        Values, shapes and parameter objects stay as they were (so state
        dicts, optimizers and loading are unaffected); only the memory behind
        them changes, so that inference can project q, k and v with one
        matrix product (see :meth:`_fused_qkv`) at no extra memory.
        """
        projections = (self.q_proj, self.k_proj, self.v_proj)
        # inference_mode(False): the new storage must be an ordinary tensor, or
        # the parameters could never be trained again.
        with torch.inference_mode(False), torch.no_grad():
            weight = torch.cat([p.weight.t() for p in projections], dim=1).contiguous()
            out = self.q_proj.out_features
            for j, proj in enumerate(projections):
                proj.weight.data = weight[:, j * out : (j + 1) * out].t()
            if self.q_proj.bias is not None:
                bias = torch.cat([p.bias for p in projections])
                for j, proj in enumerate(projections):
                    proj.bias.data = bias[j * out : (j + 1) * out]

    def _fused_qkv(self) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        """The (in, 3 * out) weight and (3 * out) bias that q/k/v are slices of, or None.

        Found from the parameters' memory itself, never cached, so it is
        always current: present only after :meth:`share_qkv_storage` and while
        the three parameters still lie side by side in one block (replacing,
        moving or converting any of them ends it). Used only without autograd:
        gradients must reach the three parameters, not the shared block.
        ``DTensor`` parameters (TP, FSDP) never take this path.
        """
        if torch.is_grad_enabled():
            return None
        q, k, v = self.q_proj.weight, self.k_proj.weight, self.v_proj.weight
        if not (type(q) in _PLAIN and type(k) in _PLAIN and type(v) in _PLAIN):
            return None
        out, inp = q.shape
        step = out * q.element_size()
        if (
            q.stride() != (1, 3 * out)
            or k.shape != q.shape
            or v.shape != q.shape
            or k.stride() != q.stride()
            or v.stride() != q.stride()
            or k.data_ptr() != q.data_ptr() + step
            or v.data_ptr() != q.data_ptr() + 2 * step
            or k.untyped_storage().data_ptr() != q.untyped_storage().data_ptr()
            or v.untyped_storage().data_ptr() != q.untyped_storage().data_ptr()
        ):
            return None
        weight = q.as_strided((inp, 3 * out), (3 * out, 1))
        qb, kb, vb = self.q_proj.bias, self.k_proj.bias, self.v_proj.bias
        if qb is None and kb is None and vb is None:
            return weight, None
        if (
            qb is None
            or kb is None
            or vb is None
            or not (type(qb) in _PLAIN and type(kb) in _PLAIN and type(vb) in _PLAIN)
            or qb.stride() != (1,)
            or kb.data_ptr() != qb.data_ptr() + step
            or vb.data_ptr() != qb.data_ptr() + 2 * step
            or kb.untyped_storage().data_ptr() != qb.untyped_storage().data_ptr()
            or vb.untyped_storage().data_ptr() != qb.untyped_storage().data_ptr()
        ):
            return None
        return weight, qb.as_strided((3 * out,), (1,))

    def forward(
        self, x: torch.Tensor, kv_cache: KVCache | None = None, layer: int = 0
    ) -> torch.Tensor:
        B, T, _ = x.shape
        fused = self._fused_qkv()
        if fused is not None:
            weight, bias = fused
            flat = x.reshape(B * T, -1)
            qkv = flat @ weight if bias is None else torch.addmm(bias, flat, weight)
            # (B, T, 3, heads, head_dim) -> three (B, heads, T, head_dim) views.
            q, k, v = qkv.view(B, T, 3, -1, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        else:
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


class Transformer(nn.Module):
    """The body under the head: embeddings, blocks, final norm, named as GPT-2 names them."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)

    def blocks(self) -> Iterator[Block]:
        """The blocks in order (FSDP and TP keep them ``Block`` instances)."""
        return cast(Iterator[Block], iter(self.h))


class GPT(nn.Module):
    """The language model: ``forward(idx, targets=None, kv_cache=None) -> (logits, loss)``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.transformer = Transformer(config)
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

    def use_decoding_layout(self) -> GPT:
        """Store the weights the way token-by-token decoding on a CPU reads them fastest.

        A decoding step multiplies a single row of activations by each weight
        matrix. With CPU BLAS (MKL) that product is faster when a matrix with
        at least as many outputs as inputs is stored input-major, the layout
        of Hugging Face's ``Conv1D`` (measured: 30-40% for the MLP
        up-projection and the 50 k-row output head, ~8% for a square one).
        So stored here: q/k/v (one shared block, projected in one product,
        see :meth:`CausalSelfAttention.share_qkv_storage`), the attention
        output, the MLP up-projection and the tied embedding / output head.
        The MLP down-projection (more inputs than outputs) keeps its layout,
        which is the faster one for it.

        Only memory changes: values, shapes, names and parameter objects stay,
        so state dicts, checkpoints, loading and further training work as
        before (training may run slower). Moving or converting the model
        (``.to``) may restore the usual layout; call this again after it.
        Returns ``self``.
        """

        def input_major(param: torch.Tensor) -> None:
            param.data = param.data.t().contiguous().t()

        # inference_mode(False): new storage must be ordinary tensors, or the
        # parameters could never be trained again.
        with torch.inference_mode(False), torch.no_grad():
            for block in self.transformer.blocks():
                block.attn.share_qkv_storage()
                input_major(block.attn.out_proj.weight)
                input_major(block.mlp.up_proj.weight)
            input_major(self.lm_head.weight)  # tied: the embedding table too
        return self

    def new_kv_cache(self) -> KVCache:
        """An empty cache for incremental decoding; see the module docstring."""
        return KVCache(self.config.n_layer, self.config.block_size)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        kv_cache: KVCache | None = None,
        last_only: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (B, T, vocab) for token ids ``idx`` (B, T); mean cross-entropy if ``targets``.

        With ``kv_cache``, ``idx`` holds only the new tokens; their positions
        continue after the ones already in the cache, which is advanced.
        ``last_only`` gives the logits of the last position only, (B, 1,
        vocab): all a next-token step needs, and reading a prompt then skips
        the output head for every other position (a large share of a small
        model's work, with a 50 k vocabulary).
        """
        if last_only and targets is not None:
            raise ValueError("last_only gives one position's logits; a loss needs all of them")
        _, T = idx.shape
        past = kv_cache.length if kv_cache is not None else 0
        if past + T > self.config.block_size:
            raise ValueError(
                f"sequence of {past + T} tokens exceeds the context of {self.config.block_size} "
                "(block_size); crop the input or start a new KV cache"
            )
        pos = torch.arange(past, past + T, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for layer, block in enumerate(self.transformer.blocks()):
            x = block(x, kv_cache, layer)
        if kv_cache is not None:
            kv_cache.length += T
        if last_only:
            x = x[:, -1:]
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(
                logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-100
            )
        return logits, loss
