"""Megatron-style tensor parallelism for the GPT, via ``parallelize_module`` on a 1-D mesh.

Each block's q/k/v and MLP-up projections are split by output columns
(``ColwiseParallel``: every rank computes a slice of the heads / hidden units
from the full input), attention-out and MLP-down by input rows
(``RowwiseParallel``: partial sums all-reduced into the full output). One
all-reduce per attention and per MLP in forward, one each in backward.
Embeddings, layer norms and the tied head stay replicated: every rank sees
the same inputs, so their gradients agree without communication.
"""

from __future__ import annotations

from torch import nn
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.tensor.parallel import (
    ColwiseParallel,
    ParallelStyle,
    RowwiseParallel,
    parallelize_module,
)

BLOCK_PLAN: dict[str, type[ColwiseParallel] | type[RowwiseParallel]] = {
    "attn.q_proj": ColwiseParallel,
    "attn.k_proj": ColwiseParallel,
    "attn.v_proj": ColwiseParallel,
    "attn.out_proj": RowwiseParallel,
    "mlp.up_proj": ColwiseParallel,
    "mlp.down_proj": RowwiseParallel,
}


def apply_tp(model: nn.Module, mesh: DeviceMesh) -> nn.Module:
    """Shard every transformer block of ``model`` over ``mesh`` in place; returns ``model``."""
    transformer = getattr(model, "transformer", None)
    if transformer is None or not hasattr(transformer, "h"):
        raise ValueError(
            f"tensor parallelism needs a transformer with blocks (transformer.h); "
            f"{type(model).__name__} has none: use ddp or fsdp"
        )
    for block in transformer.h:
        plan: dict[str, ParallelStyle] = {name: style() for name, style in BLOCK_PLAN.items()}
        parallelize_module(block, mesh, plan)
    return model
