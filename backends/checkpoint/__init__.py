"""Checkpoints: write them atomically, keep the last K, resume exactly, load without unpickling code.

A checkpoint is a folder ``<run>/checkpoints/step_<NNNNNNN>/``::

    model.safetensors   full model weights (sharded runs: when ``full_weights`` is on)
    dcp/                torch.distributed.checkpoint shards of model + optimizer (FSDP, TP)
    train_state.pt      step, data position, LR schedule, every rank's RNG state and,
                        for unsharded runs, the optimizer state (plain tensors only)
    meta.json           {"format", "model", "model_config", "step", "tokenizer", "dataset", ...}

It is written into ``.tmp_step_<N>`` and renamed when complete, so a crash or
a kill mid-write never leaves a half checkpoint under a real name. Demo
checkpoints shipped in ``resources/demo/<name>/`` use the same format.

Loading never runs code from a file: weights come from safetensors,
``train_state.pt`` goes through ``torch.load(weights_only=True)``, and the
pickled metadata of a ``dcp/`` folder is read by an unpickler that only builds
torch.distributed.checkpoint's own record classes (``safe_dcp``).

The rooms: ``layout`` (names, finding checkpoints, ``meta.json``),
``loading`` (training state, weights, a whole model), ``safe_dcp`` (DCP
folders read safely), ``saving`` (writing and pruning) and ``resume``
(checking a checkpoint fits a run, restoring it). Everything is imported
from here.
"""

from __future__ import annotations

from backends.checkpoint.layout import (
    DCP_DIR,
    FORMAT_VERSION,
    META_FILE,
    MODEL_FILE,
    TRAIN_STATE_FILE,
    CheckpointError,
    checkpoint_name,
    list_checkpoints,
    read_meta,
    resolve_checkpoint,
)
from backends.checkpoint.loading import (
    LoadedModel,
    load_model,
    load_train_state,
    load_weights_into,
    read_weights,
)
from backends.checkpoint.resume import check_resumable, restore_checkpoint
from backends.checkpoint.saving import prune_checkpoints, save_checkpoint

__all__ = [
    "DCP_DIR", "FORMAT_VERSION", "META_FILE", "MODEL_FILE", "TRAIN_STATE_FILE", "CheckpointError",
    "LoadedModel", "check_resumable", "checkpoint_name", "list_checkpoints", "load_model",
    "load_train_state", "load_weights_into", "prune_checkpoints", "read_meta", "read_weights",
    "resolve_checkpoint", "restore_checkpoint", "save_checkpoint",
]
