"""One plan for one training job: parameters, per-rank memory, traffic, compute, and "does it fit".

:func:`build_plan` puts the pieces of this package together for a model
layout and a :class:`~backends.plan.setup.TrainSetup`; :func:`plan_strategies`
does it for every strategy at once (the launcher's planner table: one column
per strategy). :func:`layout_from_train_config` reads a training config
(``backends.train.config.TrainConfig`` as a dict or TOML file) into the
planner's terms: its ``batch_size`` is the global batch, the planner's the
per-rank micro-batch.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backends.plan.comms import CommEstimate, estimate_comms, link_bandwidth
from backends.plan.compute import GPU, compute_summary
from backends.plan.errors import PlanError
from backends.plan.memory import MemoryEstimate, estimate_memory
from backends.plan.setup import TrainSetup
from backends.plan.shapes import GIB, ModelLayout, model_layout, weights_bytes

# Above this share of a device's memory the plan warns (allocator fragmentation,
# CUDA context and communication buffers are not in the estimate).
FIT_FRACTION = 0.9
DEFAULT_LINK = "pcie4"

# Model-config fields the trainer takes from the data; the planner assumes these.
_DATA_DEFAULTS = {
    "gpt": {"vocab_size": 256},
    "dcgan": {"nc": 1, "image_size": 28},
    "vae": {"nc": 1, "image_size": 28},
    "classifier": {"n_features": 16, "n_classes": 2},
}


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything the planner predicts for one job; :meth:`as_dict` is the JSON form."""

    layout: ModelLayout
    setup: TrainSetup
    memory: MemoryEstimate
    comms: CommEstimate
    compute: dict[str, Any]
    bandwidth: float
    link: str
    device_memory: int | None
    notes: tuple[str, ...] = ()

    @property
    def fits(self) -> bool | None:
        """Whether the busiest rank stays under 90 % of the device (None: no device given)."""
        if not self.device_memory:
            return None
        return self.memory.total <= FIT_FRACTION * self.device_memory

    @property
    def comm_seconds(self) -> float:
        return self.comms.seconds(self.bandwidth)

    def as_dict(self) -> dict[str, Any]:
        lay = self.layout
        seq = self.setup.seq_len or (lay.gpt.block_size if lay.gpt else None)
        out: dict[str, Any] = {
            "model": lay.kind,
            "model_config": dict(lay.config),
            "setup": {**self.setup.to_dict(), "seq_len": seq, "dp": self.setup.dp,
                      "tp": self.setup.tp_degree},
            "params": lay.params,
            "non_embedding_params": lay.non_embedding_params,
            "params_by_part": lay.breakdown(),
            "weights_bytes": weights_bytes(lay.params),
            "per_rank_bytes": self.memory.as_dict(),
            "memory_details": dict(self.memory.details),
            "comm_bytes_per_step": self.comms.bytes_per_step,
            "comm": {**self.comms.as_dict(), "link": self.link, "bandwidth": self.bandwidth,
                     "seconds_per_step": self.comm_seconds},
            "compute": self.compute,
            "device_memory_bytes": self.device_memory,
            "fits": self.fits,
            "notes": list(self.notes),
        }
        return out


def build_plan(
    layout: ModelLayout,
    setup: TrainSetup,
    *,
    link: str | float = DEFAULT_LINK,
    gpu: GPU | None = None,
    device_memory: int | None = None,
    tokens: float | None = None,
    tokens_per_second: float | None = None,
    activation_bytes: int | None = None,
    notes: tuple[str, ...] | list[str] = (),
) -> Plan:
    """The plan for ``layout`` trained under ``setup``.

    ``link`` is a preset of :data:`backends.plan.comms.LINKS` or bytes/s;
    ``gpu`` (from :data:`backends.plan.compute.GPUS`) gives the peak FLOP/s and
    the device memory unless ``device_memory`` is given; ``tokens`` is the
    training budget (default: Chinchilla's 20 per parameter);
    ``tokens_per_second`` a measured throughput, for MFU and time.
    """
    setup.check(layout)
    notes = list(notes)
    if layout.gpt is None and activation_bytes is None:
        from backends.plan.measure import model_activation_bytes

        activation_bytes = model_activation_bytes(layout.kind, dict(layout.config),
                                                  setup.batch_size)
        notes.append("activations traced from a forward pass in fp32 (an upper bound for 16-bit)")
    memory = estimate_memory(layout, setup, activation_bytes)
    comms = estimate_comms(layout, setup)
    bandwidth = link_bandwidth(link)
    dtype = "fp32" if setup.precision == "fp32" else setup.precision.split("-")[0]
    compute = compute_summary(
        layout, setup.seq_len, tokens=tokens, tokens_per_second=tokens_per_second, gpu=gpu,
        n_gpus=setup.world_size, dtype="tf32" if dtype == "fp32" else dtype,
    )
    if device_memory is None and gpu is not None:
        device_memory = gpu.memory_bytes
    link_name = link if isinstance(link, str) else "custom"
    plan = Plan(layout, setup, memory, comms, compute, bandwidth, link_name, device_memory,
                tuple(notes))
    if plan.fits is False and device_memory is not None:  # fits says False only with a device
        plan = dataclasses.replace(plan, notes=(*plan.notes, (
            f"{memory.total / GIB:.1f} GiB per rank is above {FIT_FRACTION:.0%} of the "
            f"{device_memory / GIB:.0f} GiB device: shard more (fsdp), add ranks, lower the "
            "batch or turn on activation checkpointing")))
    return plan


def plan_strategies(
    layout: ModelLayout, base: TrainSetup, world_size: int, tp: int = 2, **kwargs: Any
) -> dict[str, Plan | str]:
    """A plan per strategy on ``world_size`` ranks (``single`` on one), or why it cannot run.

    ``base`` gives batch, precision, optimizer and checkpointing; ``tp`` is the
    TP degree tried for ``fsdp_tp``. Keyword arguments go to :func:`build_plan`.
    """
    out: dict[str, Plan | str] = {}
    for strategy in ("single", "ddp", "fsdp", "fsdp_grad_op", "tp", "fsdp_tp"):
        world = 1 if strategy == "single" else world_size
        setup = dataclasses.replace(
            base, strategy=strategy, world_size=world,
            tp=tp if strategy == "fsdp_tp" else world if strategy == "tp" else 1,
        )
        try:
            out[strategy] = build_plan(layout, setup, **kwargs)
        except PlanError as exc:
            out[strategy] = str(exc)
    return out


def strategy_table(plans: Mapping[str, Plan | str]) -> list[dict[str, Any]]:
    """Rows for a table with one column per strategy: bytes by part, traffic, fits."""
    rows: list[dict[str, Any]] = []
    for name, plan in plans.items():
        if isinstance(plan, str):
            rows.append({"strategy": name, "error": plan})
            continue
        rows.append({
            "strategy": name,
            "world_size": plan.setup.world_size,
            **plan.memory.as_dict(),
            "comm_bytes_per_step": plan.comms.bytes_per_step,
            "comm_seconds_per_step": plan.comm_seconds,
            "fits": plan.fits,
        })
    return rows


# ---- from a training config ------------------------------------------------------------------


def layout_from_train_config(config: Mapping[str, Any]) -> tuple[ModelLayout, list[str]]:
    """The model layout of a training config dict, with notes on values assumed."""
    kind = config.get("model", "gpt")
    if isinstance(kind, Mapping):
        kind = kind.get("name", "gpt")
    model_config = dict(config.get("model_config") or {})
    notes = []
    defaults = dict(_DATA_DEFAULTS.get(str(kind), {}))
    data = config.get("data")
    if isinstance(data, Mapping) and data.get("dataset") == "digits" and "image_size" in defaults:
        defaults["image_size"] = 8  # scikit-learn's digits are 8 x 8
    for key, value in defaults.items():
        if key not in model_config:
            model_config[key] = value
            notes.append(f"model_config.{key} comes from the data; assumed {value}")
    return model_layout(str(kind), model_config), notes


def setup_from_train_config(config: Mapping[str, Any], layout: ModelLayout) -> TrainSetup:
    """The :class:`TrainSetup` of a training config dict (global batch -> micro-batch)."""
    strategy = str(config.get("strategy", "single"))
    world = int(config.get("nproc", 1)) * int(config.get("nnodes", 1))
    tp = int(config.get("tp", 0) or 0)
    if strategy == "tp":
        tp = world
    elif strategy == "fsdp_tp" and tp == 0:
        tp = 2
    tp = tp or 1
    accum = int(config.get("grad_accum", 1))
    setup = TrainSetup(
        strategy=strategy, world_size=world, tp=tp,
        precision=str(config.get("precision", "fp32")),
        grad_accum=accum,
        seq_len=layout.gpt.block_size if layout.gpt else None,
    )
    dp = max(1, setup.dp)
    setup.batch_size = max(1, int(config.get("batch_size", 32)) // (dp * accum))
    return setup


def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML file as a dict, or a :class:`PlanError` saying what is wrong with it."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise PlanError(f"{path} is not UTF-8 text (byte {exc.start}): save it as UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{path} is not valid TOML ({exc}): fix the file") from exc


def plan_from_train_config(config: Mapping[str, Any], **kwargs: Any) -> Plan:
    """The plan of a training config dict (``config.toml`` of a run, or a preset)."""
    layout, notes = layout_from_train_config(config)
    setup = setup_from_train_config(config, layout)
    return build_plan(layout, setup, notes=notes, **kwargs)
