"""Resuming a run: checking a checkpoint fits before launching, then restoring model and optimizer."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from backends.checkpoint.layout import DCP_DIR, CheckpointError, read_meta, resolve_checkpoint
from backends.checkpoint.loading import load_train_state, load_weights_into, read_weights
from backends.checkpoint.safe_dcp import dcp_error, safe_dcp_reader


def check_resumable(
    source: str | os.PathLike[str], *, model: str, model_config: dict[str, Any], sharded: bool
) -> Path:
    """The checkpoint folder to resume from, after checking it fits the run (before any launch).

    Refuses another model, another model_config, the other kind of strategy
    (sharded vs not) and a training state that is damaged or not plain data.
    """
    folder = resolve_checkpoint(source)
    meta = read_meta(folder)
    if meta.get("model") != model:
        raise CheckpointError(
            f"{folder} holds a {meta.get('model')} model but this run trains {model}: "
            "resume with the run's own config"
        )
    theirs = meta.get("model_config", {})
    if theirs != model_config:
        diff = ", ".join(
            f"{k}: {theirs.get(k)!r} vs {model_config.get(k)!r}"
            for k in sorted(set(theirs) | set(model_config))
            if theirs.get(k) != model_config.get(k)
        )
        raise CheckpointError(
            f"{folder} was saved with a different model_config ({diff}): resume with the "
            "same model_config and data, or start a new run"
        )
    if bool(meta.get("sharded")) != sharded:
        raise CheckpointError(
            f"{folder} was saved by a {'sharded' if meta.get('sharded') else 'unsharded'} "
            f"strategy ({meta.get('strategy')}); resume it with "
            + ("fsdp, tp or fsdp_tp" if meta.get("sharded") else "single or ddp")
        )
    load_train_state(folder)
    if not sharded:
        read_weights(folder)
    elif not (folder / DCP_DIR / ".metadata").is_file():
        raise CheckpointError(f"{folder} has no {DCP_DIR}/.metadata: the sharded state is missing")
    return folder


def restore_checkpoint(
    folder: Path,
    *,
    root: nn.Module,
    optimizers: Sequence[torch.optim.Optimizer],
    sharded: bool,
) -> dict[str, Any]:
    """Load model and optimizer state into a freshly built (and parallelised) run; returns train_state."""
    from torch.distributed.checkpoint.state_dict import (
        get_model_state_dict,
        get_optimizer_state_dict,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    state = load_train_state(folder)
    if sharded:
        import torch.distributed.checkpoint as dcp

        if not (folder / DCP_DIR).is_dir():
            raise CheckpointError(
                f"{folder} was saved by an unsharded run: resume it with strategy single or ddp"
            )
        target: dict[str, Any] = {
            "model": get_model_state_dict(root),
            "optim": get_optimizer_state_dict(root, list(optimizers)),
        }
        from torch.distributed.checkpoint.api import CheckpointException

        try:
            dcp.load(target, storage_reader=safe_dcp_reader(folder / DCP_DIR))
        except (CheckpointError, CheckpointException, Exception) as exc:
            raise dcp_error(exc, folder / DCP_DIR) from exc
        set_model_state_dict(root, target["model"])
        set_optimizer_state_dict(root, list(optimizers), target["optim"])
    else:
        if "optim" not in state:
            raise CheckpointError(
                f"{folder} was saved by a sharded run: resume it with strategy fsdp, tp or fsdp_tp"
            )
        load_weights_into(root, read_weights(folder), folder)
        try:
            set_optimizer_state_dict(root, list(optimizers), state["optim"])
        except (KeyError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{folder}: optimizer state does not fit this model ({exc})") from exc
    return state
