"""Parameter tensors of a model, from its config alone: names, shapes, counts, weight sizes.

The planner never builds a model to size it. Each built-in model's layout is
written here from its config (the same arithmetic its ``__init__`` does), down
to the parameter names ``named_parameters()`` gives, so a test can compare the
two tensor by tensor. Each tensor also says how tensor parallelism splits it
(``colwise``: dim 0, bias too; ``rowwise``: dim 1, bias kept whole;
``replicate``) and which FSDP unit holds it (a GPT block each; ``""`` is the
root), which is what the memory and communication estimates need.

A generic GPT shape (layers L, width d, heads, vocab, context, MLP ratio,
tied or untied head, biases) has about ``12 L d^2`` parameters in its blocks
(4 d^2 for attention, 2 r d^2 for the MLP with r = 4) plus ``(V + S) d`` of
embeddings and ``V d`` more for an untied head.

Models without a written layout are laid out by building them on the meta
device (shapes only, no memory).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

from backends.plan.errors import PlanError, positive_int

GIB = 2**30
# Bytes per element of the dtypes weights are stored in.
DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


@dataclasses.dataclass(frozen=True)
class ParamTensor:
    """One parameter tensor: its name in ``named_parameters()``, shape and how it is split."""

    name: str
    shape: tuple[int, ...]
    tp: str = "replicate"  # "colwise" | "rowwise" | "replicate"
    unit: str = ""  # FSDP unit holding it; "" = the root module
    embedding: bool = False  # a lookup table (no matmul FLOPs per token)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def local_shape(self, tp: int = 1) -> tuple[int, ...]:
        """The shape one rank holds under tensor parallelism of degree ``tp`` (largest rank)."""
        if tp == 1 or self.tp == "replicate":
            return self.shape
        if self.tp == "colwise" or len(self.shape) == 1:
            # Column-parallel weight and bias split their output dim; a row-parallel
            # bias is 1-D and replicated (it is added once, after the all-reduce).
            if self.tp == "rowwise":
                return self.shape
            return (-(-self.shape[0] // tp), *self.shape[1:])
        return (self.shape[0], -(-self.shape[1] // tp), *self.shape[2:])

    def local_numel(self, tp: int = 1, shard: int = 1) -> int:
        """Elements one rank stores under TP degree ``tp`` and FSDP shard degree ``shard``.

        FSDP2 splits dim 0 of the (TP-local) tensor into ``shard`` equal chunks,
        padding the last, so every rank stores ``ceil(dim0 / shard)`` rows.
        """
        shape = self.local_shape(tp)
        if shard == 1:
            return math.prod(shape)
        return -(-shape[0] // shard) * math.prod(shape[1:])


@dataclasses.dataclass(frozen=True)
class GPTDims:
    """What the activation, FLOP and TP estimates need to know about a GPT."""

    n_layer: int
    n_head: int
    n_embd: int
    vocab_size: int
    block_size: int
    mlp_ratio: int
    dropout: float = 0.0


@dataclasses.dataclass(frozen=True)
class ModelLayout:
    """A model's parameter tensors plus, for a GPT, its dimensions."""

    kind: str
    tensors: tuple[ParamTensor, ...]
    gpt: GPTDims | None = None
    config: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def params(self) -> int:
        return sum(t.numel for t in self.tensors)

    @property
    def embedding_params(self) -> int:
        return sum(t.numel for t in self.tensors if t.embedding)

    @property
    def non_embedding_params(self) -> int:
        return self.params - self.embedding_params

    @property
    def units(self) -> list[str]:
        """FSDP unit names in forward order, root (``""``) first."""
        seen: dict[str, None] = {"": None}
        for t in self.tensors:
            seen.setdefault(t.unit, None)
        return list(seen)

    def unit_numels(self, tp: int = 1) -> dict[str, int]:
        """Elements per FSDP unit (TP-local when ``tp`` > 1), root first."""
        out = dict.fromkeys(self.units, 0)
        for t in self.tensors:
            out[t.unit] += t.local_numel(tp)
        return out

    def local_params(self, tp: int = 1, shard: int = 1) -> int:
        return sum(t.local_numel(tp, shard) for t in self.tensors)

    def tp_split_params(self) -> int:
        """Parameters tensor parallelism splits (the rest stays whole on every rank)."""
        return sum(t.numel for t in self.tensors if t.local_shape(2) != t.shape)

    def breakdown(self) -> dict[str, int]:
        """Parameters by part (embeddings, attention, mlp, norms, head, other)."""
        parts = dict.fromkeys(("embeddings", "attention", "mlp", "norms", "head", "other"), 0)
        for t in self.tensors:
            if t.embedding:
                parts["embeddings"] += t.numel
            elif ".attn." in t.name:
                parts["attention"] += t.numel
            elif ".mlp." in t.name:
                parts["mlp"] += t.numel
            elif ".ln_" in t.name or "ln_f" in t.name:
                parts["norms"] += t.numel
            elif t.name.startswith("lm_head"):
                parts["head"] += t.numel
            else:
                parts["other"] += t.numel
        return {k: v for k, v in parts.items() if v}


# ---- GPT -----------------------------------------------------------------------------------


@dataclasses.dataclass(kw_only=True)
class GPTShape:
    """A generic decoder-only transformer, described by its sizes alone."""

    n_layer: int
    n_embd: int
    n_head: int
    vocab_size: int
    block_size: int
    mlp_ratio: int = 4
    bias: bool = True
    tied: bool = True  # output head shares the token embedding
    dropout: float = 0.0

    def params(self) -> int:
        """The exact parameter count in closed form (what :func:`gpt_layout` adds up tensor by tensor)."""
        d, h, b = self.n_embd, self.mlp_ratio * self.n_embd, int(bool(self.bias))
        per_layer = 2 * d * (1 + b) + 4 * d * d + 4 * d * b + 2 * d * h + (h + d) * b
        head = 0 if self.tied else self.vocab_size * d
        return (self.vocab_size + self.block_size) * d + self.n_layer * per_layer + d * (1 + b) + head

    def validate(self) -> None:
        for name in ("n_layer", "n_embd", "n_head", "vocab_size", "block_size", "mlp_ratio"):
            positive_int(name, getattr(self, name))
        for name, limit in SHAPE_LIMITS.items():
            if getattr(self, name) > limit:
                raise PlanError(
                    f"{name} is {getattr(self, name):,}: the planner lays models out tensor by "
                    f"tensor up to {name} {limit:,}; this one would have {self.params():.3e} "
                    "parameters (closed form), far beyond any device"
                )
        if self.n_embd % self.n_head:
            fits = [h for h in range(1, self.n_embd + 1) if self.n_embd % h == 0]
            near = min(fits, key=lambda h: (abs(h - self.n_head), h))
            raise PlanError(
                f"n_embd (width {self.n_embd}) must be divisible by n_head ({self.n_head}); "
                f"use n_head={near} or n_embd={self.n_head * math.ceil(self.n_embd / self.n_head)}"
            )

    @classmethod
    def from_config(cls, config: Any) -> GPTShape:
        """From a ``GPTConfig`` or its dict (extra keys such as ``activation`` are ignored)."""
        get: Callable[..., Any] = (config.get if isinstance(config, Mapping)
                                   else lambda k, d=None: getattr(config, k, d))
        missing = [
            k for k in ("n_layer", "n_embd", "n_head", "vocab_size", "block_size") if get(k) is None
        ]
        if missing:
            raise PlanError(f"GPT config is missing {', '.join(missing)}")
        return cls(
            n_layer=get("n_layer"),
            n_embd=get("n_embd"),
            n_head=get("n_head"),
            vocab_size=get("vocab_size"),
            block_size=get("block_size"),
            mlp_ratio=get("mlp_ratio", 4),
            bias=get("bias", True),
            tied=get("tied", True),
            dropout=get("dropout", 0.0) or 0.0,
        )


#: The largest dimensions laid out tensor by tensor (GPT-3 has 96 layers, width 12,288).
SHAPE_LIMITS = {
    "n_layer": 10_000,
    "n_embd": 1_000_000,
    "n_head": 100_000,
    "vocab_size": 100_000_000,
    "block_size": 100_000_000,
    "mlp_ratio": 1_000,
}


def gpt_layout(shape: GPTShape | Mapping[str, Any] | Any) -> ModelLayout:
    """The parameters of ``backends.models.gpt.GPT`` (or an untied variant) for a shape."""
    if not isinstance(shape, GPTShape):
        shape = GPTShape.from_config(shape)
    shape.validate()
    d, hidden, b = shape.n_embd, shape.mlp_ratio * shape.n_embd, shape.bias
    tensors = [
        ParamTensor("transformer.wte.weight", (shape.vocab_size, d), embedding=True),
        ParamTensor("transformer.wpe.weight", (shape.block_size, d), embedding=True),
    ]

    def linear(name: str, d_in: int, d_out: int, tp: str, unit: str) -> list[ParamTensor]:
        out = [ParamTensor(f"{name}.weight", (d_out, d_in), tp, unit)]
        if b:
            out.append(ParamTensor(f"{name}.bias", (d_out,), tp, unit))
        return out

    def norm(name: str, unit: str) -> list[ParamTensor]:
        out = [ParamTensor(f"{name}.weight", (d,), unit=unit)]
        if b:
            out.append(ParamTensor(f"{name}.bias", (d,), unit=unit))
        return out

    for i in range(shape.n_layer):
        p = f"transformer.h.{i}"
        tensors += norm(f"{p}.ln_1", p)
        for proj in ("q_proj", "k_proj", "v_proj"):
            tensors += linear(f"{p}.attn.{proj}", d, d, "colwise", p)
        tensors += linear(f"{p}.attn.out_proj", d, d, "rowwise", p)
        tensors += norm(f"{p}.ln_2", p)
        tensors += linear(f"{p}.mlp.up_proj", d, hidden, "colwise", p)
        tensors += linear(f"{p}.mlp.down_proj", hidden, d, "rowwise", p)
    tensors += norm("transformer.ln_f", "")
    if not shape.tied:
        tensors.append(ParamTensor("lm_head.weight", (shape.vocab_size, d)))
    dims = GPTDims(
        n_layer=shape.n_layer,
        n_head=shape.n_head,
        n_embd=d,
        vocab_size=shape.vocab_size,
        block_size=shape.block_size,
        mlp_ratio=shape.mlp_ratio,
        dropout=float(shape.dropout),
    )
    return ModelLayout("gpt", tuple(tensors), dims, dataclasses.asdict(shape))


def gpt_params_approx(n_layer: int, n_embd: int, vocab_size: int, block_size: int) -> int:
    """The textbook estimate ``12 L d^2 + (V + S) d`` (tied head, MLP ratio 4, no biases)."""
    return 12 * n_layer * n_embd**2 + (vocab_size + block_size) * n_embd


# ---- convolutional models --------------------------------------------------------------------


def _conv_plan(image_size: Any, owner: str) -> tuple[int, int]:
    # The models size their conv stacks with this one helper; it has no torch import.
    from backends.models._sizing import conv_plan

    try:
        return conv_plan(image_size, owner)
    except ValueError as exc:
        raise PlanError(str(exc)) from exc


def _conv_t(name: str, c_in: int, c_out: int, k: int, bias: bool) -> list[ParamTensor]:
    # ConvTranspose2d weights are (in, out, k, k); Conv2d's are (out, in, k, k).
    out = [ParamTensor(f"{name}.weight", (c_in, c_out, k, k))]
    if bias:
        out.append(ParamTensor(f"{name}.bias", (c_out,)))
    return out


def _conv_fwd(name: str, c_in: int, c_out: int, k: int, bias: bool) -> list[ParamTensor]:
    out = [ParamTensor(f"{name}.weight", (c_out, c_in, k, k))]
    if bias:
        out.append(ParamTensor(f"{name}.bias", (c_out,)))
    return out


def _bn(name: str, c: int, enabled: bool) -> list[ParamTensor]:
    if not enabled:
        return []
    return [ParamTensor(f"{name}.weight", (c,)), ParamTensor(f"{name}.bias", (c,))]


def _get(config: Any, key: str, default: Any) -> Any:
    if isinstance(config, Mapping):
        return config.get(key, default)
    return getattr(config, key, default)


def dcgan_layout(config: Mapping[str, Any] | Any) -> ModelLayout:
    """The parameters of ``backends.models.dcgan.DCGAN`` (generator and discriminator)."""
    nz, ngf, ndf = (positive_int(k, _get(config, k, 64)) for k in ("nz", "ngf", "ndf"))
    nc = positive_int("nc", _get(config, "nc", 1))
    bn = bool(_get(config, "batch_norm", True))
    base, doublings = _conv_plan(_get(config, "image_size", 28), "DCGANConfig")
    t: list[ParamTensor] = []
    ch = ngf * 2 ** (doublings - 1)
    t += _conv_t("generator.layer1.0", nz, ch, base, not bn) + _bn("generator.layer1.1", ch, bn)
    for i in range(2, doublings + 1):
        t += _conv_t(f"generator.layer{i}.0", ch, ch // 2, 4, not bn)
        t += _bn(f"generator.layer{i}.1", ch // 2, bn)
        ch //= 2
    t += _conv_t("generator.to_image.0", ch, nc, 4, True)
    ch = ndf
    t += _conv_fwd("discriminator.layer1.0", nc, ch, 4, True)
    for i in range(2, doublings + 1):
        t += _conv_fwd(f"discriminator.layer{i}.0", ch, ch * 2, 4, not bn)
        t += _bn(f"discriminator.layer{i}.1", ch * 2, bn)
        ch *= 2
    t += _conv_fwd("discriminator.head", ch, 1, base, True)
    # backends.parallel.fsdp makes each named layer<N> block its own FSDP unit.
    t = [dataclasses.replace(x, unit=_layer_unit(x.name)) for x in t]
    return ModelLayout("dcgan", tuple(t), None, _plain(config))


def _layer_unit(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 and parts[1].startswith("layer") else ""


def vae_layout(config: Mapping[str, Any] | Any) -> ModelLayout:
    """The parameters of ``backends.models.vae.VAE``."""
    latent = positive_int("latent_dim", _get(config, "latent_dim", 16))
    nc = positive_int("nc", _get(config, "nc", 1))
    hidden = positive_int("hidden", _get(config, "hidden", 32))
    base, doublings = _conv_plan(_get(config, "image_size", 28), "VAEConfig")
    t: list[ParamTensor] = []
    ch, width = nc, hidden
    for i in range(doublings):
        t += _conv_fwd(f"encoder.{2 * i}", ch, width, 4, True)
        ch, width = width, width * 2
    flat = ch * base * base
    t += [ParamTensor("to_mu.weight", (latent, flat)), ParamTensor("to_mu.bias", (latent,))]
    t += [ParamTensor("to_logvar.weight", (latent, flat)), ParamTensor("to_logvar.bias", (latent,))]
    t += [ParamTensor("from_latent.weight", (flat, latent)), ParamTensor("from_latent.bias", (flat,))]
    index = 0
    for i in range(doublings):
        out = nc if i == doublings - 1 else ch // 2
        t += _conv_t(f"decoder.{index}", ch, out, 4, True)
        index += 1 if i == doublings - 1 else 2  # a LeakyReLU follows all but the last
        ch = out
    return ModelLayout("vae", tuple(t), None, _plain(config))


def classifier_layout(config: Mapping[str, Any] | Any) -> ModelLayout:
    """The parameters of ``backends.models.classifier.Classifier`` (logistic or MLP)."""
    width = positive_int("n_features", _get(config, "n_features", None))
    n_classes = _get(config, "n_classes", 2)
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise PlanError(f"n_classes must be a whole number of at least 2, got {n_classes!r}")
    hidden = list(_get(config, "hidden", []) or [])
    t: list[ParamTensor] = []
    for k, h in enumerate(hidden):
        positive_int(f"hidden[{k}]", h)
        # Linear, ReLU, Dropout per hidden layer: the Linear sits at index 3k.
        t += [ParamTensor(f"net.{3 * k}.weight", (h, width)), ParamTensor(f"net.{3 * k}.bias", (h,))]
        width = h
    last = 3 * len(hidden)
    t += [ParamTensor(f"net.{last}.weight", (n_classes, width)),
          ParamTensor(f"net.{last}.bias", (n_classes,))]
    return ModelLayout("classifier", tuple(t), None, _plain(config))


def _plain(config: Any) -> dict[str, Any]:
    if isinstance(config, Mapping):
        return dict(config)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    return {}


# ---- any registered model ----------------------------------------------------------------------

_WRITTEN = {
    "gpt": gpt_layout, "dcgan": dcgan_layout, "vae": vae_layout, "classifier": classifier_layout,
}


def model_layout(kind: str, config: Mapping[str, Any] | Any) -> ModelLayout:
    """The layout of the built-in model ``kind`` for ``config`` (a config object or dict).

    The built-in models are computed from the config; any other registered
    model is built on the meta device, which allocates nothing.
    """
    if kind in _WRITTEN:
        return _WRITTEN[kind](config)
    return meta_layout(kind, config)


def meta_layout(kind: str, config: Any) -> ModelLayout:
    """Lay out a registered model by building it on the meta device (shapes, no storage)."""
    import torch

    from backends.models import MODELS, build_model

    if kind not in MODELS:
        raise PlanError(f"model must be one of {', '.join(sorted(set(MODELS) | set(_WRITTEN)))}, "
                        f"got {kind!r}")
    try:
        with torch.device("meta"):
            module = build_model(kind, config)
    except ValueError as exc:
        raise PlanError(str(exc)) from exc
    return layout_from_module(module, kind, _plain(config))


def layout_from_module(module: Any, kind: str = "module", config: Mapping[str, Any] | None = None
                       ) -> ModelLayout:
    """The layout of an ``nn.Module`` that already exists (real or on the meta device)."""
    tensors = tuple(
        ParamTensor(name, tuple(p.shape), embedding=type(_owner(module, name)).__name__ == "Embedding")
        for name, p in module.named_parameters()
    )
    return ModelLayout(kind, tensors, None, dict(config or {}))


def _owner(module: Any, param_name: str) -> Any:
    owner = module
    for part in param_name.split(".")[:-1]:
        owner = getattr(owner, part)
    return owner


# ---- weights table ---------------------------------------------------------------------------


def weights_bytes(params: int) -> dict[str, int]:
    """Bytes of ``params`` weights stored in fp32, bf16 and fp16."""
    return {dtype: params * size for dtype, size in DTYPE_BYTES.items()}


def weights_table(params: int) -> list[dict[str, Any]]:
    """One row per dtype: ``{"dtype", "bytes", "gib"}``."""
    return [
        {"dtype": dtype, "bytes": size, "gib": size / GIB}
        for dtype, size in weights_bytes(params).items()
    ]
