"""Reading a checkpoint without running code from it: training state, weights, a whole model.

``train_state.pt`` goes through ``torch.load(weights_only=True)``, weights
come from safetensors (or, for a sharded run, from its ``dcp/`` shards via
``safe_dcp``), and a model is rebuilt from ``meta.json``'s name and config.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from backends.checkpoint.layout import (
    DCP_DIR,
    META_FILE,
    MODEL_FILE,
    TRAIN_STATE_FILE,
    CheckpointError,
    read_meta,
    resolve_checkpoint,
)
from backends.checkpoint.safe_dcp import read_dcp_weights


@dataclass
class LoadedModel:
    """A model rebuilt from a checkpoint, in eval mode on the requested device."""

    model: nn.Module
    kind: str  # "gpt" | "dcgan" | "vae" | "classifier"
    config: Any  # the model's config dataclass
    meta: dict[str, Any]
    path: Path  # the checkpoint folder it came from


def load_train_state(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """``train_state.pt`` read with ``weights_only=True``: tensors and plain values only."""
    path = Path(folder) / TRAIN_STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{path.parent} has no {TRAIN_STATE_FILE}: it cannot be resumed from")
    with open(path, "rb") as f:
        is_archive = f.read(4) == b"PK\x03\x04"  # torch.save writes a zip archive
    if not is_archive:
        raise CheckpointError(f"{path} is damaged or not a checkpoint file (not a torch.save archive)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path} contains Python objects other than tensors and plain values, so it was "
            "refused unread (it may be malicious or written by another program)"
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"{path} is damaged or not a checkpoint file ({exc})") from exc
    if not isinstance(state, dict) or "step" not in state:
        raise CheckpointError(f"{path} is not a workbench training state (no 'step')")
    return state


def read_weights(folder: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The full model weights of a checkpoint (safetensors, else the ``dcp/`` shards)."""
    folder = Path(folder)
    if (folder / MODEL_FILE).is_file():
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(folder / MODEL_FILE, device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{folder / MODEL_FILE} is damaged ({exc})") from exc
    raise CheckpointError(
        f"{folder} has no {MODEL_FILE}; for a sharded run, resume it or re-save with "
        "full_weights=true"
    )


def load_weights_into(model: nn.Module, weights: dict[str, torch.Tensor], source: Path) -> None:
    """Copy ``weights`` into ``model``; a missing, extra or misshapen tensor is a clear error."""
    own = model.state_dict()
    tied = _tied_aliases(model)
    missing = [k for k in own if k not in weights and tied.get(k) not in weights]
    extra = [k for k in weights if k not in own]
    wrong = [
        f"{k} {tuple(weights[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in weights and weights[k].shape != own[k].shape
    ]
    if missing or extra or wrong:
        detail = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing[:3])}" if missing else "",
                f"unexpected {', '.join(extra[:3])}" if extra else "",
                f"shape {', '.join(wrong[:3])}" if wrong else "",
            )
            if part
        )
        raise CheckpointError(
            f"{source} does not fit this model ({detail}): its meta.json model_config and the "
            "weights disagree, or it belongs to another model"
        )
    full = {k: weights[k] if k in weights else weights[tied[k]] for k in own}
    model.load_state_dict(full, strict=True)


def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> LoadedModel:
    """A model from a checkpoint folder, a run folder (its latest checkpoint) or a demo folder."""
    from backends.models import MODELS, ConfigError

    folder = resolve_checkpoint(path)
    meta = read_meta(folder)
    kind = meta["model"]
    if kind not in MODELS:
        raise CheckpointError(
            f"{folder} holds a {kind!r} model, which this workbench does not know "
            f"(known: {', '.join(MODELS)})"
        )
    spec = MODELS[kind]
    try:
        config = spec.config_class.from_dict(meta["model_config"])
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"{folder / META_FILE}: bad model_config ({exc})") from exc
    model = spec.build(config)
    if (folder / MODEL_FILE).is_file():
        weights = read_weights(folder)
    elif (folder / DCP_DIR).is_dir():
        weights = read_dcp_weights(folder / DCP_DIR, model)
    else:
        raise CheckpointError(f"{folder} has neither {MODEL_FILE} nor {DCP_DIR}/: no weights to load")
    load_weights_into(model, weights, folder)
    model.to(device).eval()
    return LoadedModel(model=model, kind=kind, config=config, meta=meta, path=folder)


def _tied_aliases(model: nn.Module) -> dict[str, str]:
    """Parameter names that are the same tensor as an earlier name (e.g. a tied output head)."""
    first: dict[int, str] = {}
    aliases: dict[str, str] = {}
    for name, tensor in model.named_parameters(remove_duplicate=False):
        key = id(tensor)
        if key in first:
            aliases[name] = first[key]
        else:
            first[key] = name
    return aliases


