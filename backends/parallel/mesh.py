"""The device mesh from the parallel dimensions, and a model parallelised over it.

Like torchtitan, nothing here asks which strategy was chosen: the mesh has one
named dimension per parallelism in use (``ParallelDims.mesh_dim_names``), and
:func:`parallelize` applies each parallelism whose dimension the mesh has, in
torchtitan's order: tensor parallel first, then data parallel over ``dp``
(``fully_shard`` turns the TP DTensors into 2-D ones).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh

if TYPE_CHECKING:
    from backends.parallel import DataParallel, ParallelDims


def build_device_mesh(dims: ParallelDims, device_type: str) -> DeviceMesh | None:
    """One mesh dimension per parallelism in use, named as in ``dims`` (``None`` without any)."""
    if not dims.mesh_dim_names:
        return None
    return init_device_mesh(device_type, dims.mesh_shape, mesh_dim_names=dims.mesh_dim_names)


def mesh_dims(mesh: DeviceMesh | None) -> tuple[str, ...]:
    """The names of ``mesh``'s dimensions (none without a mesh)."""
    return tuple(mesh.mesh_dim_names or ()) if mesh is not None else ()


def data_parallel_coordinates(dims: ParallelDims, mesh: DeviceMesh | None) -> tuple[int, int]:
    """``(dp_rank, dp_size)``: this process's place along ``dp`` (``(0, 1)`` without one)."""
    if mesh is None or not dims.uses("dp"):
        return 0, 1
    dp_mesh = mesh["dp"]
    return dp_mesh.get_local_rank(), dp_mesh.size()


def parallelize(
    model: nn.Module, mesh: DeviceMesh | None, data_parallel: DataParallel | None, device: torch.device
) -> nn.Module:
    """``model`` with every parallelism of ``mesh`` applied; returns the module to call.

    ``data_parallel`` says how the ``dp`` dimension holds the model: replicated
    (DDP, whose wrapper is returned) or sharded (FSDP2, in place).
    """
    names = mesh_dims(mesh)
    if mesh is None or not names:
        return model
    if "tp" in names:
        from backends.parallel.tp import apply_tp

        apply_tp(model, mesh["tp"])
    if "dp" not in names or data_parallel is None:
        return model
    if data_parallel == "shard":
        from backends.parallel.fsdp import apply_fsdp

        return apply_fsdp(model, mesh["dp"])
    from backends.parallel.ddp import apply_ddp

    return apply_ddp(model, mesh["dp"], device)
