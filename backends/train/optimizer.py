"""The optimizer of one trained network: AdamW, weight decay on matrices and embeddings only."""

from __future__ import annotations

import torch
from torch import nn

from backends.train.config import TrainConfig
from backends.train.schedule import lr_at


def build_adamw(module: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over ``module``'s trainable parameters, at the schedule's first learning rate.

    No weight decay on biases and norm scales (1-D); matrices and embeddings
    decay. Plain tensors and DTensors on different meshes go in separate
    groups: the fused multi-tensor update cannot mix them.
    """
    groups: dict[tuple[bool, object], list[nn.Parameter]] = {}
    for p in module.parameters():
        if not p.requires_grad:
            continue
        mesh = getattr(p, "device_mesh", None)
        layout = (id(mesh), tuple(getattr(p, "placements", ()))) if hasattr(p, "device_mesh") else None
        groups.setdefault((p.dim() >= 2, layout), []).append(p)
    param_groups = [
        {"params": params, "weight_decay": config.weight_decay if decay else 0.0}
        for (decay, _), params in groups.items()
    ]
    return torch.optim.AdamW(param_groups, lr=lr_at(0, config), betas=(config.beta1, config.beta2))
