"""Where checkpoints are and what they are called: the folder layout, finding the latest, meta.json.

A checkpoint is a folder ``<run>/checkpoints/step_<NNNNNNN>/`` holding
:data:`META_FILE` and the files named below; a folder counts once its
``meta.json`` is there (it is written last, then the folder renamed).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
MODEL_FILE = "model.safetensors"
META_FILE = "meta.json"
TRAIN_STATE_FILE = "train_state.pt"
DCP_DIR = "dcp"
_STEP_DIR = re.compile(r"^step_(\d+)$")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says what is wrong and what to do."""


# ---------------------------------------------------------------- finding checkpoints


def checkpoint_name(step: int) -> str:
    return f"step_{int(step):07d}"


def list_checkpoints(folder: str | os.PathLike[str]) -> list[Path]:
    """Complete checkpoints in a ``checkpoints/`` folder (or a run folder), oldest first."""
    folder = Path(folder)
    if (folder / "checkpoints").is_dir():
        folder = folder / "checkpoints"
    if not folder.is_dir():
        return []
    found = [
        (int(m.group(1)), entry)
        for entry in folder.iterdir()
        if (m := _STEP_DIR.match(entry.name)) and (entry / META_FILE).is_file()
    ]
    return [path for _, path in sorted(found)]


def resolve_checkpoint(path: str | os.PathLike[str]) -> Path:
    """A checkpoint folder for ``path``: itself, or a run's (or checkpoints folder's) latest."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"{path} does not exist: pick a checkpoint folder or a run folder")
    if (path / META_FILE).is_file():
        return path
    found = list_checkpoints(path)
    if not found:
        raise CheckpointError(
            f"{path} holds no checkpoint (no {META_FILE} and no checkpoints/step_* folder): "
            "pick a checkpoint folder, or a run that has saved one"
        )
    return found[-1]


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    folder = resolve_checkpoint(path)
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{folder / META_FILE} cannot be read ({exc}): the checkpoint is damaged") from exc
    if not isinstance(meta, dict) or "model" not in meta or "model_config" not in meta:
        raise CheckpointError(
            f"{folder / META_FILE} lacks 'model' or 'model_config': it is not a workbench checkpoint"
        )
    return meta


