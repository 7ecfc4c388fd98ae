"""Gradient norm and clipping over parameters that may be DTensor shards on different meshes.

``torch.nn.utils.clip_grad_norm_`` cannot add norms of plain tensors and of
DTensors from different meshes (TP params next to replicated embeddings, or
2-D and 1-D shards under FSDP x TP). Here each group of gradients sharing one
layout adds its squared local norms and sums them over the mesh dimensions it
is sharded on (replicated dimensions hold copies and are not summed), so
every rank gets the norm of the full gradient, as one process would.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.distributed as dist
from torch.distributed.tensor import DTensor


def _squared_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    return sum((g.float().pow(2).sum() for g in grads), torch.zeros((), device=grads[0].device))


def grad_norm(parameters: Iterable[torch.nn.Parameter]) -> torch.Tensor:
    """The L2 norm of all gradients (a 0-d float32 tensor, equal on every rank)."""
    plain: list[torch.Tensor] = []
    groups: dict[tuple, list[DTensor]] = {}
    for p in parameters:
        g = p.grad
        if g is None:
            continue
        if isinstance(g, DTensor):
            groups.setdefault((id(g.device_mesh), g.placements), []).append(g)
        else:
            plain.append(g)
    device = (plain[0] if plain else next(iter(groups.values()))[0].to_local()).device if (plain or groups) else "cpu"
    total = torch.zeros((), device=device, dtype=torch.float32)
    if plain:
        total = total + _squared_norm(plain)
    for grads in groups.values():
        mesh, placements = grads[0].device_mesh, grads[0].placements
        local = _squared_norm([g.to_local() for g in grads]).to(device)
        for dim, placement in enumerate(placements):
            if placement.is_replicate():
                continue
            if placement.is_partial():
                raise ValueError(f"gradient with placement {placement} cannot be measured")
            # Shard, or the strided shard FSDP puts over a TP shard: each rank holds a part.
            dist.all_reduce(local, group=mesh.get_group(dim))
        total = total + local
    return total.sqrt()


def clip_grad_norm(parameters: Iterable[torch.nn.Parameter], max_norm: float) -> torch.Tensor:
    """Scale gradients so their total norm is at most ``max_norm`` (0: measure only)."""
    params = [p for p in parameters if p.grad is not None]
    if not params:
        return torch.zeros(())
    norm = grad_norm(params)
    if max_norm > 0:
        coef = (max_norm / (norm + 1e-6)).clamp(max=1.0)
        for p in params:
            g = p.grad
            if g is not None:
                (g.to_local() if isinstance(g, DTensor) else g).mul_(coef.to(g.device))
    return norm
