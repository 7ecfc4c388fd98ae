"""Fully sharded data parallel (FSDP2): parameters, gradients and optimizer state split across ranks."""

from __future__ import annotations

import re

from torch import nn
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import fully_shard

_LAYER = re.compile(r"^layer\d+$")


def shard_units(model: nn.Module) -> list[nn.Module]:
    """The blocks that become their own FSDP unit (gathered one at a time in forward/backward).

    A transformer's blocks (``transformer.h``); for conv nets the named
    ``layer<N>`` blocks of each sub-network; everything else stays with the root.
    """
    transformer = getattr(model, "transformer", None)
    if transformer is not None and hasattr(transformer, "h"):
        return list(transformer.h)
    units = []
    for module in model.modules():
        for name, child in module.named_children():
            if _LAYER.match(name) and any(True for _ in child.parameters()):
                units.append(child)
    return units


def apply_fsdp(model: nn.Module, mesh: DeviceMesh) -> nn.Module:
    """``fully_shard`` each unit, then the root (which keeps embeddings, norms, heads)."""
    for unit in shard_units(model):
        fully_shard(unit, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model
