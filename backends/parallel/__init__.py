"""Parallelism strategies, registered by name; the launcher's choices are this registry's keys.

Models are single-device code; a strategy is applied from outside by a small
``apply_*`` function over the plain model (``ddp.py``, ``fsdp.py``, ``tp.py``).
This module holds the registry (the user-facing catalogue) and the checks that
need no process group and no torch, so a form or the command line can
validate a choice cheaply; ``mesh.py`` turns the parallel dimensions into a
device mesh and applies them (torchtitan's way: from the dimensions, not the
strategy's name).

Each strategy is a choice of parallel dimensions: data parallel (``dp``: the
model replicated, or its parameters sharded) and tensor parallel (``tp``). The
degrees follow from the world size (and ``tp`` for the 2-D one); the mesh has
one named dimension per parallelism in use, outermost first:

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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch
    from torch import nn
    from torch.distributed.device_mesh import DeviceMesh

DataParallel = Literal["replicate", "shard"]


@dataclass(frozen=True)
class ParallelDims:
    """How the world's ranks divide: ``dp`` data-parallel replicas of ``tp``-way sharded models.

    ``mesh_dim_names`` are the parallel dimensions in use, outermost first
    (``"dp"``, ``"tp"``); a dimension in use keeps its place in the mesh even at
    degree 1. None in use: one process, no mesh.
    """

    world_size: int
    dp: int
    tp: int
    mesh_dim_names: tuple[str, ...] = ()

    @property
    def mesh_shape(self) -> tuple[int, ...]:
        """The mesh's size along each of :attr:`mesh_dim_names`."""
        degrees = {"dp": self.dp, "tp": self.tp}
        return tuple(degrees[name] for name in self.mesh_dim_names)

    def uses(self, dim: str) -> bool:
        """Whether parallel dimension ``dim`` (``"dp"`` or ``"tp"``) is a dimension of the mesh."""
        return dim in self.mesh_dim_names


@dataclass(frozen=True)
class Strategy:
    """One registered strategy: the parallel dimensions it uses, and what it offers users."""

    name: str
    summary: str
    data_parallel: DataParallel | None  # replicate (DDP), shard (FSDP2) or no dp dimension
    tensor_parallel: bool  # a tp dimension (Megatron-style, transformer blocks only)
    models: tuple[str, ...] | None  # models it supports; None: any

    @property
    def distributed(self) -> bool:
        """Needs a process group (every strategy but single)."""
        return self.data_parallel is not None or self.tensor_parallel

    @property
    def two_dims(self) -> bool:
        """Both dp and tp: the tp degree is the config's ``tp`` (else tp spans all processes)."""
        return self.data_parallel is not None and self.tensor_parallel

    @property
    def sharded(self) -> bool:
        """Parameters are DTensor shards: checkpoints via torch.distributed.checkpoint."""
        return self.data_parallel == "shard" or self.tensor_parallel

    def apply(self, model: nn.Module, mesh: DeviceMesh | None, device: torch.device) -> nn.Module:
        """The module to call: ``model`` parallelised over ``mesh`` (see ``mesh.parallelize``)."""
        from backends.parallel.mesh import parallelize

        return parallelize(model, mesh, self.data_parallel, device)


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("single", "one process", None, False, None),
        Strategy("ddp", "data parallel: full replicas, gradients averaged", "replicate", False, None),
        Strategy("fsdp", "fully sharded data parallel (FSDP2)", "shard", False, None),
        Strategy("tp", "tensor parallel (Megatron-style) over all processes", None, True, ("gpt",)),
        Strategy("fsdp_tp", "2-D: tensor parallel inside, FSDP across", "shard", True, ("gpt",)),
    )
}


def parallel_dims(strategy: str, world_size: int, tp: int = 0) -> ParallelDims:
    """The data- and tensor-parallel degrees for a strategy; ValueError says what to change."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy {strategy!r} is unknown: choose one of {', '.join(STRATEGIES)}")
    if world_size < 1:
        raise ValueError(f"world size must be at least 1, got {world_size}")
    s = STRATEGIES[strategy]
    if not s.distributed:
        if world_size != 1:
            raise ValueError(
                f"strategy {strategy} runs one process but nproc x nnodes = {world_size}: set nproc=1 "
                "or choose ddp, fsdp or tp"
            )
        return ParallelDims(1, 1, 1)
    if tp and not s.two_dims and not (s.tensor_parallel and tp == world_size):
        raise ValueError(
            f"tp={tp} is only read by strategy fsdp_tp (strategy tp uses all {world_size} "
            "processes): set tp=0 or choose fsdp_tp"
        )
    if not s.tensor_parallel:
        return ParallelDims(world_size, world_size, 1, ("dp",))
    if not s.two_dims:
        return ParallelDims(world_size, 1, world_size, ("tp",))
    _check_two_dims(strategy, world_size, tp)
    return ParallelDims(world_size, world_size // tp, tp, ("dp", "tp"))


def _check_two_dims(strategy: str, world_size: int, tp: int) -> None:
    """A dp x tp split needs both degrees at least 2 and tp dividing the world size."""
    if tp < 2 or world_size % tp or world_size // tp < 2:
        divisors = [d for d in range(2, world_size) if world_size % d == 0]
        hint = (
            f"set tp to one of {', '.join(map(str, divisors))}"
            if divisors
            else "it needs at least 4 processes (e.g. nproc=4 with tp=2)"
        )
        raise ValueError(
            f"strategy {strategy} splits {world_size} processes into dp x tp with both at least 2 "
            f"(dp x tp = world size), but tp={tp}: {hint}"
        )


def build_mesh(dims: ParallelDims, device_type: str) -> DeviceMesh | None:
    """The DeviceMesh of the dimensions in use (``None`` without any); needs the process group."""
    from backends.parallel.mesh import build_device_mesh

    return build_device_mesh(dims, device_type)


def dp_coordinates(dims: ParallelDims, mesh: DeviceMesh | None) -> tuple[int, int]:
    """``(dp_rank, dp_size)`` of this process: which share of the global batch it reads."""
    from backends.parallel.mesh import data_parallel_coordinates

    return data_parallel_coordinates(dims, mesh)


__all__ = [
    "STRATEGIES", "DataParallel", "ParallelDims", "Strategy", "build_mesh", "dp_coordinates",
    "parallel_dims",
]
