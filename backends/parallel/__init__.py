"""Parallelism strategies, registered by name; the launcher's choices are this registry's keys.

Models are single-device code; a strategy is applied from outside by a small
``apply_*`` function over the plain model (``ddp.py``, ``fsdp.py``, ``tp.py``).
This module holds the registry and the checks that need no process group and
no torch, so a form or the command line can validate a choice cheaply:

==========  ===========================================================  ==========
name        what it does                                                  mesh
==========  ===========================================================  ==========
single      one process, no process group                                 none
ddp         replicate the model, average gradients (DistributedDataPa..)  (dp,)
fsdp        FSDP2 ``fully_shard`` per block, then the root                (dp,)
tp          Megatron tensor parallel: column-parallel q/k/v and MLP-up,   (tp,)
            row-parallel attention-out and MLP-down (``parallelize_module``)
fsdp_tp     2-D: tensor parallel inside, FSDP across                      (dp, tp)
==========  ===========================================================  ==========
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ParallelDims:
    """How the world's ranks divide: ``dp`` data-parallel replicas of ``tp``-way sharded models."""

    world_size: int
    dp: int
    tp: int


@dataclass(frozen=True)
class Strategy:
    """One registered strategy; ``apply(model, mesh, device)`` returns the module to call."""

    name: str
    summary: str
    distributed: bool  # needs a process group (every strategy but single)
    sharded: bool  # parameters are DTensor shards: checkpoints via torch.distributed.checkpoint
    models: tuple[str, ...] | None  # models it supports; None: any
    apply: Callable[..., Any]


def _apply_single(model: Any, mesh: Any = None, device: Any = None) -> Any:
    return model


def _apply_ddp(model: Any, mesh: Any, device: Any) -> Any:
    from backends.parallel.ddp import apply_ddp

    return apply_ddp(model, mesh, device)


def _apply_fsdp(model: Any, mesh: Any, device: Any = None) -> Any:
    from backends.parallel.fsdp import apply_fsdp

    return apply_fsdp(model, mesh)


def _apply_tp(model: Any, mesh: Any, device: Any = None) -> Any:
    from backends.parallel.tp import apply_tp

    return apply_tp(model, mesh)


def _apply_fsdp_tp(model: Any, mesh: Any, device: Any = None) -> Any:
    from backends.parallel.fsdp import apply_fsdp
    from backends.parallel.tp import apply_tp

    # NOTE: TP first, then FSDP over the data-parallel dimension (torchtitan's order):
    # fully_shard turns the TP DTensors into 2-D ones.
    apply_tp(model, mesh["tp"])
    return apply_fsdp(model, mesh["dp"])


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("single", "one process", False, False, None, _apply_single),
        Strategy("ddp", "data parallel: full replicas, gradients averaged", True, False, None, _apply_ddp),
        Strategy("fsdp", "fully sharded data parallel (FSDP2)", True, True, None, _apply_fsdp),
        Strategy("tp", "tensor parallel (Megatron-style) over all processes", True, True, ("gpt",), _apply_tp),
        Strategy("fsdp_tp", "2-D: tensor parallel inside, FSDP across", True, True, ("gpt",), _apply_fsdp_tp),
    )
}


def parallel_dims(strategy: str, world_size: int, tp: int = 0) -> ParallelDims:
    """The data- and tensor-parallel degrees for a strategy; ValueError says what to change."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy {strategy!r} is unknown: choose one of {', '.join(STRATEGIES)}")
    if world_size < 1:
        raise ValueError(f"world size must be at least 1, got {world_size}")
    if strategy == "single":
        if world_size != 1:
            raise ValueError(
                f"strategy single runs one process but nproc x nnodes = {world_size}: set nproc=1 "
                "or choose ddp, fsdp or tp"
            )
        return ParallelDims(1, 1, 1)
    if tp and strategy != "fsdp_tp" and not (strategy == "tp" and tp == world_size):
        raise ValueError(
            f"tp={tp} is only read by strategy fsdp_tp (strategy tp uses all {world_size} "
            "processes): set tp=0 or choose fsdp_tp"
        )
    if strategy in ("ddp", "fsdp"):
        return ParallelDims(world_size, world_size, 1)
    if strategy == "tp":
        return ParallelDims(world_size, 1, world_size)
    # fsdp_tp
    if tp < 2 or world_size % tp or world_size // tp < 2:
        divisors = [d for d in range(2, world_size) if world_size % d == 0]
        hint = (
            f"set tp to one of {', '.join(map(str, divisors))}"
            if divisors
            else "it needs at least 4 processes (e.g. nproc=4 with tp=2)"
        )
        raise ValueError(
            f"strategy fsdp_tp splits {world_size} processes into dp x tp with both at least 2 "
            f"(dp x tp = world size), but tp={tp}: {hint}"
        )
    return ParallelDims(world_size, world_size // tp, tp)


def build_mesh(strategy: str, dims: ParallelDims, device_type: str) -> Any:
    """The DeviceMesh a strategy runs on (``None`` for single); needs the process group."""
    if strategy == "single":
        return None
    from torch.distributed.device_mesh import init_device_mesh

    if strategy in ("ddp", "fsdp"):
        return init_device_mesh(device_type, (dims.dp,), mesh_dim_names=("dp",))
    if strategy == "tp":
        return init_device_mesh(device_type, (dims.tp,), mesh_dim_names=("tp",))
    return init_device_mesh(device_type, (dims.dp, dims.tp), mesh_dim_names=("dp", "tp"))


def dp_coordinates(strategy: str, mesh: Any) -> tuple[int, int]:
    """``(dp_rank, dp_size)`` of this process: which share of the global batch it reads."""
    if mesh is None or strategy == "tp":
        return 0, 1
    dp_mesh = mesh["dp"] if strategy == "fsdp_tp" else mesh
    return dp_mesh.get_local_rank(), dp_mesh.size()


__all__ = ["STRATEGIES", "ParallelDims", "Strategy", "build_mesh", "dp_coordinates", "parallel_dims"]
