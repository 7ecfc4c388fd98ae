"""Data parallel: every rank holds the whole model; DistributedDataParallel averages gradients."""

from __future__ import annotations

import torch
from torch import nn
from torch.distributed.device_mesh import DeviceMesh
from torch.nn.parallel import DistributedDataParallel


def apply_ddp(model: nn.Module, mesh: DeviceMesh | None, device: torch.device) -> nn.Module:
    """Wrap ``model`` in DDP over the process group; returns the wrapper to call.

    The plain model keeps its own state dict keys (no ``module.`` prefix) because
    checkpoints are taken from it, not from the wrapper.
    """
    if not any(p.requires_grad for p in model.parameters()):
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    # Gradients live in the reducer's buckets: no second copy of every gradient.
    return DistributedDataParallel(model, device_ids=device_ids, gradient_as_bucket_view=True)
