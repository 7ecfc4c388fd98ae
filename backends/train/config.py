"""The training config: one dataclass, saved as TOML, validated in one place.

The same :class:`TrainConfig` serves the training form, ``workbench train``
(``--set key=value``) and the trainer that torchrun starts, so a value is
checked once, before anything is launched, and the message names the field
and the fix. Importing this module does not import torch; the checks that need
the model registry import it when they run.

On disk (``config.toml`` in a run folder, or a preset)::

    model = "gpt"
    strategy = "fsdp"
    nproc = 2
    steps = 200
    batch_size = 32          # samples per optimizer step, all ranks together
    [model_config]           # the model's own config (backends.models)
    n_layer = 2
    [data]
    dataset = "auto"

``batch_size`` is the global batch: each data-parallel rank takes
``batch_size / (dp * grad_accum)`` samples per micro-step, so changing the
strategy or the number of processes does not change what is learnt.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from backends.fields import field_names, unknown_fields
from backends.parallel import STRATEGIES, parallel_dims
from backends.runs import valid_run_name

PRECISIONS = ("fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")
MODEL_NAMES = ("gpt", "dcgan", "vae", "classifier")
GAN_LOSSES = ("non_saturating", "minimax")

# Model config fields the data decides (a char tokenizer's size, image shape,
# feature count); the trainer fills them in, a preset may leave them out.
DATA_FIELDS: dict[str, tuple[str, ...]] = {
    "gpt": ("vocab_size",),
    "dcgan": ("nc", "image_size"),
    "vae": ("nc", "image_size"),
    "classifier": ("n_features", "n_classes"),
}
# Values used only to validate a model config before the data is read.
_PLACEHOLDERS = {"vocab_size": 256, "nc": 1, "image_size": 8, "n_features": 4, "n_classes": 2}


#: Scales the steps of every run started from the command line (e.g. 0.02), so
#: tests can run the README's training examples as written, only shorter.
STEPS_SCALE_ENV = "WORKBENCH_STEPS_SCALE"

class TrainConfigError(ValueError):
    """A training config value is wrong; the message names the field and the fix."""


@dataclasses.dataclass(kw_only=True)
class DataConfig:
    """Where the training data comes from (see ``backends.train.data``)."""

    # "auto" picks the best dataset available offline for the model; others
    # name one: text "excerpt" / "kjv" / "file" (with path); images
    # "fashion-mnist" / "fashion-mnist-subset" / "digits"; tabular
    # "breast-cancer" / "synthetic" / "adult" / "compas".
    dataset: str = "auto"
    path: str = ""  # a text file or a folder of IDX files, for datasets read from disk
    val_fraction: float = 0.1  # held-out share, split deterministically
    limit: int = 0  # use at most this many training examples (0: all)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(kw_only=True)
class TrainConfig:
    """Everything one training run needs; see the module docstring for the file format."""

    name: str = ""  # run folder name; empty: the model name
    model: str = "gpt"
    model_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    # parallelism and processes
    strategy: str = "single"
    nproc: int = 1  # processes per node
    nnodes: int = 1
    node_rank: int = 0  # this node's rank when exporting one node's command
    rdzv_endpoint: str = ""  # host:port of the rendezvous for multi-node runs
    tp: int = 0  # tensor-parallel degree for fsdp_tp (tp uses every process); 0: auto
    device: str = "auto"  # auto: CUDA when available, else CPU
    # optimisation
    steps: int = 100
    batch_size: int = 32  # global: samples per optimizer step over all ranks
    grad_accum: int = 1
    lr: float = 3e-4
    min_lr_ratio: float = 0.1  # cosine decay ends at lr * min_lr_ratio
    warmup_steps: int = 0
    decay_steps: int = 0  # length of the cosine schedule; 0: steps (set it to extend a run later)
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0  # 0: no clipping
    precision: str = "fp32"
    seed: int = 0
    gan_loss: str = "non_saturating"  # dcgan generator loss: or "minimax"
    # what gets written, and when (in optimizer steps; 0: never, or only at the end)
    log_every: int = 1
    eval_every: int = 0
    eval_batches: int = 4
    sample_every: int = 0
    checkpoint_every: int = 0
    keep_checkpoints: int = 3
    full_weights: bool = True  # sharded runs: also write model.safetensors
    resume: str = ""  # a checkpoint or run folder to continue from

    # ---------------------------------------------------------------- dict / TOML

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build from plain values; unknown keys and wrong types name the field."""
        values = dict(data)
        unknown = unknown_fields(cls, values)
        if unknown:
            raise TrainConfigError(
                f"unknown config key(s) {', '.join(unknown)}; valid keys are "
                f"{', '.join(sorted(field_names(cls)))}"
            )
        data_values = values.pop("data", {}) or {}
        if not isinstance(data_values, Mapping):
            raise TrainConfigError("data must be a table ([data] in TOML)")
        unknown = unknown_fields(DataConfig, data_values)
        if unknown:
            raise TrainConfigError(
                f"unknown data key(s) {', '.join('data.' + k for k in unknown)}; valid keys are "
                f"{', '.join('data.' + k for k in sorted(field_names(DataConfig)))}"
            )
        config = cls(**values, data=DataConfig(**data_values))
        config._check_types()
        return config

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Self:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TrainConfigError(f"cannot read config {path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise TrainConfigError(
                f"{path} is not UTF-8 text (byte {exc.start}): save it as UTF-8"
            ) from exc
        try:
            return cls.from_dict(tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise TrainConfigError(f"{path} is not valid TOML ({exc}): fix the file") from exc

    def with_overrides(self, assignments: list[str]) -> Self:
        """A copy with ``key=value`` strings applied (``data.path=...``, ``model_config.n_layer=4``)."""
        values = self.to_dict()
        for text in assignments:
            key, value = parse_assignment(text)
            target, parts = values, key.split(".")
            for part in parts[:-1]:
                if part not in ("data", "model_config") or target is not values:
                    raise TrainConfigError(
                        f"--set {text}: only data.<key> and model_config.<key> can be nested"
                    )
                target = target.setdefault(part, {})
            target[parts[-1]] = value
        return type(self).from_dict(values)

    # ---------------------------------------------------------------- derived values

    @property
    def world_size(self) -> int:
        return self.nproc * self.nnodes

    def _check_types(self) -> None:
        fields = [(f, f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]
        fields += [(f, f"data.{f.name}", getattr(self.data, f.name)) for f in dataclasses.fields(DataConfig)]
        for f, name, value in fields:
            kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise TrainConfigError(f"{name} must be an integer, got {value!r}")
            if kind == "float" and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise TrainConfigError(f"{name} must be a number, got {value!r}")
            if kind == "str" and not isinstance(value, str):
                raise TrainConfigError(f"{name} must be text, got {value!r}")
            if kind == "bool" and not isinstance(value, bool):
                raise TrainConfigError(f"{name} must be true or false, got {value!r}")
        if not isinstance(self.model_config, dict):
            raise TrainConfigError("model_config must be a table ([model_config] in TOML)")


def scale_steps(steps: int) -> int:
    """``steps`` times ``$WORKBENCH_STEPS_SCALE`` (at least 1); unchanged when it is unset.

    Tests run the README's training lines as written, only shorter. The command
    line applies it to the steps a user asks for (a preset's, a config's or
    ``--set steps=``), never to a run's stored config.
    """
    scale = os.environ.get(STEPS_SCALE_ENV)
    if not scale:
        return steps
    try:
        factor = float(scale)
    except ValueError:
        raise TrainConfigError(
            f"{STEPS_SCALE_ENV}={scale!r} is not a number: unset it or give e.g. 0.02"
        ) from None
    return max(1, math.ceil(steps * factor))


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"lr=1e-3"`` -> ``("lr", 0.001)``: the value is read as TOML, else kept as text."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise TrainConfigError(f"--set {text!r}: write it as key=value, e.g. --set steps=20")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # bare words: strategy=fsdp, data.path=/some/file
    return key, value


def validate(config: TrainConfig, *, cuda_devices: int | None = None) -> None:
    """Raise :class:`TrainConfigError` for the first value that cannot work.

    ``cuda_devices`` is the number of visible GPUs (``None``: ask torch when
    ``device`` is ``auto`` or ``cuda``). Checks that need the data (a dataset
    path) run in ``backends.train.data.check_data``.
    """
    c = config
    if c.model not in MODEL_NAMES:
        raise TrainConfigError(f"model {c.model!r} is unknown: choose one of {', '.join(MODEL_NAMES)}")
    _positive(c, "nproc", "nnodes", "steps", "batch_size", "grad_accum", "log_every", "eval_batches")
    _at_least_zero(c, "warmup_steps", "decay_steps", "eval_every", "sample_every", "checkpoint_every", "tp", "seed")
    if c.keep_checkpoints < 1:
        raise TrainConfigError("keep_checkpoints must be at least 1 (the latest checkpoint is kept)")
    if not 0 <= c.node_rank < c.nnodes:
        raise TrainConfigError(f"node_rank must be in 0..{c.nnodes - 1} (nnodes={c.nnodes})")
    if not (isinstance(c.lr, int | float) and c.lr > 0 and math.isfinite(c.lr)):
        raise TrainConfigError(f"lr must be a positive number, got {c.lr!r} (try 3e-4)")
    for name in ("min_lr_ratio", "beta1", "beta2"):
        if not 0 <= getattr(c, name) < 1 + (name == "min_lr_ratio"):
            raise TrainConfigError(f"{name} must be between 0 and 1, got {getattr(c, name)!r}")
    if c.weight_decay < 0 or c.grad_clip < 0:
        raise TrainConfigError("weight_decay and grad_clip must be >= 0 (grad_clip=0 turns clipping off)")
    if c.precision not in PRECISIONS:
        raise TrainConfigError(f"precision {c.precision!r} is unknown: choose {', '.join(PRECISIONS)}")
    if c.device not in DEVICES:
        raise TrainConfigError(f"device {c.device!r} is unknown: choose {', '.join(DEVICES)}")
    if c.gan_loss not in GAN_LOSSES:
        raise TrainConfigError(f"gan_loss {c.gan_loss!r} is unknown: choose {', '.join(GAN_LOSSES)}")
    if not 0 <= c.data.val_fraction < 1:
        raise TrainConfigError(f"data.val_fraction must be in [0, 1), got {c.data.val_fraction!r}")
    if c.data.limit < 0:
        raise TrainConfigError("data.limit must be >= 0 (0 uses the whole dataset)")
    if c.name and not valid_run_name(c.name):
        raise TrainConfigError(
            f"name {c.name!r} is not a valid run name: use letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if c.nnodes > 1 and not _valid_endpoint(c.rdzv_endpoint):
        raise TrainConfigError(
            f"a run on {c.nnodes} nodes needs rdzv_endpoint=host:port, the address of node 0 "
            "that every node can reach (e.g. --set rdzv_endpoint=node0.cluster:29500)"
        )
    model_config = _validate_model_config(c)
    _validate_parallelism(c, model_config, cuda_devices)
    if c.precision == "fp16" and resolve_device(c.device, cuda_devices) == "cpu":
        raise TrainConfigError("precision fp16 needs a CUDA device: on CPU use bf16 or fp32")
    if c.resume:
        path = Path(c.resume).expanduser()
        if not path.exists():
            raise TrainConfigError(
                f"resume: {path} does not exist; give a checkpoint folder or a run folder"
            )


def resolve_device(device: str, cuda_devices: int | None = None) -> str:
    """``cpu`` or ``cuda`` for a config's ``device`` setting."""
    if device != "auto":
        return device
    return "cuda" if (_cuda_count() if cuda_devices is None else cuda_devices) > 0 else "cpu"


def model_config_for_validation(config: TrainConfig) -> dict[str, Any]:
    """The model config with placeholders for the fields the data decides."""
    values = dict(config.model_config)
    for name in DATA_FIELDS.get(config.model, ()):
        values.setdefault(name, _PLACEHOLDERS[name])
    return values


def _validate_model_config(c: TrainConfig) -> Any:
    from backends.models import MODELS, ConfigError

    if c.model not in MODELS:
        raise TrainConfigError(
            f"model {c.model!r} is not available in this installation "
            f"(available: {', '.join(MODELS)})"
        )
    try:
        return MODELS[c.model].config_class.from_dict(model_config_for_validation(c))
    except ConfigError as exc:
        raise TrainConfigError(f"model_config: {exc}") from exc
    except TypeError as exc:
        raise TrainConfigError(f"model_config: {exc}") from exc


def _validate_parallelism(c: TrainConfig, model_config: Any, cuda_devices: int | None) -> None:
    if c.strategy not in STRATEGIES:
        raise TrainConfigError(
            f"strategy {c.strategy!r} is unknown: choose one of {', '.join(STRATEGIES)}"
        )
    strategy = STRATEGIES[c.strategy]
    try:
        dims = parallel_dims(c.strategy, c.world_size, c.tp)
    except ValueError as exc:
        raise TrainConfigError(str(exc)) from exc
    if strategy.models is not None and c.model not in strategy.models:
        raise TrainConfigError(
            f"strategy {c.strategy} shards transformer layers and works for "
            f"{', '.join(strategy.models)} only; for {c.model} choose single, ddp or fsdp"
        )
    if dims.tp > 1:
        heads = model_config.n_head
        if heads % dims.tp:
            raise TrainConfigError(
                f"the tensor-parallel degree ({dims.tp}) must divide model_config.n_head "
                f"({heads}): choose tp (or nproc for strategy tp) among "
                f"{', '.join(str(d) for d in range(1, heads + 1) if heads % d == 0)}"
            )
    per_step = dims.dp * c.grad_accum
    if c.batch_size % per_step:
        lower = max(per_step, c.batch_size // per_step * per_step)
        raise TrainConfigError(
            f"batch_size ({c.batch_size}) must be a multiple of data-parallel ranks x grad_accum "
            f"({dims.dp} x {c.grad_accum} = {per_step}): try batch_size={lower} or "
            f"{lower + per_step}"
        )
    if resolve_device(c.device, cuda_devices) == "cuda":
        visible = _cuda_count() if cuda_devices is None else cuda_devices
        if visible == 0:
            raise TrainConfigError("device cuda: no CUDA device is visible; use device=cpu or auto")
        if c.nproc > visible:
            raise TrainConfigError(
                f"nproc={c.nproc} but this machine has {visible} CUDA device(s): one process per "
                f"GPU, so set nproc <= {visible}, or device=cpu"
            )
    if c.precision == "fp16" and strategy.sharded:
        raise TrainConfigError(
            f"precision fp16 needs a gradient scaler that {c.strategy} does not have: use bf16"
        )


def _positive(c: TrainConfig, *names: str) -> None:
    for name in names:
        if getattr(c, name) < 1:
            raise TrainConfigError(f"{name} must be at least 1, got {getattr(c, name)}")


def _at_least_zero(c: TrainConfig, *names: str) -> None:
    for name in names:
        if getattr(c, name) < 0:
            raise TrainConfigError(f"{name} must be >= 0, got {getattr(c, name)}")


def _valid_endpoint(text: str) -> bool:
    host, sep, port = text.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)


def _cuda_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0
