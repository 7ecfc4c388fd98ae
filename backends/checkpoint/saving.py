"""Writing a run's checkpoint atomically (every rank takes part) and keeping the newest K.

It is written into ``.tmp_step_<N>`` and renamed when complete, so a crash or
a kill mid-write never leaves a half checkpoint under a real name; a full
disk removes the partial folder and says so.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from backends.checkpoint.layout import (
    DCP_DIR,
    FORMAT_VERSION,
    META_FILE,
    MODEL_FILE,
    TRAIN_STATE_FILE,
    checkpoint_name,
    list_checkpoints,
)


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def save_checkpoint(
    checkpoints_dir: Path,
    step: int,
    *,
    root: nn.Module,
    optimizers: Sequence[torch.optim.Optimizer],
    train_state: dict[str, Any],
    meta: dict[str, Any],
    sharded: bool,
    full_weights: bool,
    rank: int,
    keep: int,
) -> Path:
    """Write one checkpoint (every rank calls this; sharded runs write collectively).

    ``root`` is the plain model (not a DDP wrapper); its state dict names are
    the checkpoint's. ``train_state`` holds the gathered per-rank RNG states and
    the data position; returns the final folder.
    """
    name = checkpoint_name(step)
    final, tmp = checkpoints_dir / name, checkpoints_dir / f".tmp_{name}"
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    _barrier()
    try:
        return _write_checkpoint(tmp, final, checkpoints_dir, step, root=root, optimizers=optimizers,
                                 train_state=train_state, meta=meta, sharded=sharded,
                                 full_weights=full_weights, rank=rank, keep=keep)
    except Exception as exc:
        # A full disk (or any write error): no half-written checkpoint is left to mislead a resume.
        # torch.save and safetensors report a full disk in errors of their own: ask the disk.
        full = _disk_full(checkpoints_dir, exc)
        if rank == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        if full:
            raise OSError(errno.ENOSPC, f"no space left while writing checkpoint {name}",
                          str(tmp)) from exc
        raise


def _disk_full(folder: Path, exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    try:
        return shutil.disk_usage(folder).free < 1024 * 1024
    except OSError:
        return False


def _write_checkpoint(
    tmp: Path, final: Path, checkpoints_dir: Path, step: int, *, root: nn.Module,
    optimizers: Sequence[torch.optim.Optimizer], train_state: dict[str, Any], meta: dict[str, Any],
    sharded: bool, full_weights: bool, rank: int, keep: int,
) -> Path:
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    state = dict(train_state)
    full: dict[str, Any] | None = None
    if sharded:
        import torch.distributed.checkpoint as dcp

        dcp.save(
            {"model": get_model_state_dict(root), "optim": get_optimizer_state_dict(root, list(optimizers))},
            checkpoint_id=str(tmp / DCP_DIR),
        )
        if full_weights:
            full = get_model_state_dict(root, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    else:
        full = get_model_state_dict(root)
        state["optim"] = get_optimizer_state_dict(root, list(optimizers))
    if rank == 0:
        if full is not None:
            _write_safetensors(tmp / MODEL_FILE, full, meta)
        torch.save(state, tmp / TRAIN_STATE_FILE)
        payload = {"format": FORMAT_VERSION, **meta, "step": int(step),
                   "weights": MODEL_FILE if full is not None else DCP_DIR, "sharded": sharded}
        (tmp / META_FILE).write_text(json.dumps(payload, indent=1), encoding="utf-8")
        if final.exists():  # a stop right after a periodic save at the same step
            shutil.rmtree(final)
        os.replace(tmp, final)
        prune_checkpoints(checkpoints_dir, keep)
    _barrier()
    return final


def _write_safetensors(path: Path, state: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    seen: dict[int, str] = {}
    tensors: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        tensor = value.detach().cpu()
        # safetensors refuses two names for one storage (tied weights): keep the first name;
        # load_weights_into maps the tied name back.
        ptr = tensor.untyped_storage().data_ptr() if tensor.numel() else None
        if ptr is not None and ptr in seen:
            continue
        if ptr is not None:
            seen[ptr] = key
        tensors[key] = tensor.contiguous()
    save_file(tensors, str(path), metadata={"model": str(meta.get("model", ""))})


def prune_checkpoints(checkpoints_dir: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints (and leftovers of interrupted writes)."""
    found = list_checkpoints(checkpoints_dir)
    for old in found[: max(0, len(found) - keep)]:
        shutil.rmtree(old, ignore_errors=True)


