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
torch.distributed.checkpoint's own record classes (:class:`SafeDCPReader`).
"""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import torch
from torch import nn

FORMAT_VERSION = 1
MODEL_FILE = "model.safetensors"
META_FILE = "meta.json"
TRAIN_STATE_FILE = "train_state.pt"
DCP_DIR = "dcp"
_STEP_DIR = re.compile(r"^step_(\d+)$")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says what is wrong and what to do."""


@dataclass
class LoadedModel:
    """A model rebuilt from a checkpoint, in eval mode on the requested device."""

    model: nn.Module
    kind: str  # "gpt" | "dcgan" | "vae" | "classifier"
    config: Any  # the model's config dataclass
    meta: dict[str, Any]
    path: Path  # the checkpoint folder it came from


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


# ---------------------------------------------------------------- safe loading


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
        weights = _read_dcp_weights(folder / DCP_DIR, model)
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


class _SafeMetadataUnpickler(pickle.Unpickler):
    """Builds only the record classes a DCP ``.metadata`` file is made of; refuses anything else."""

    _TORCH_NAMES = {"Size", "device", "float32", "float16", "bfloat16", "float64", "int64",
                    "int32", "int16", "int8", "uint8", "bool", "complex64", "complex128",
                    "strided", "contiguous_format", "preserve_format", "channels_last"}
    _BUILTINS = {"set", "frozenset", "slice", "complex", "bytearray"}

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in self._TORCH_NAMES:
            return getattr(torch, name)
        if module == "builtins" and name in self._BUILTINS:
            return getattr(__import__("builtins"), name)
        if module == "torch.serialization" and name == "_get_layout":  # layout from its name
            from torch.serialization import _get_layout

            return _get_layout
        if module == "pathlib" and name in ("PosixPath", "PurePosixPath", "WindowsPath", "PureWindowsPath"):
            import pathlib

            return getattr(pathlib, name)  # the checkpoint id: a path, built from text
        if module == "collections" and name == "OrderedDict":
            from collections import OrderedDict

            return OrderedDict
        if module.startswith("torch.distributed.checkpoint."):
            obj = getattr(__import__(module, fromlist=[name]), name, None)
            if isinstance(obj, type) and (is_dataclass(obj) or issubclass(obj, Enum)):
                return obj
        raise pickle.UnpicklingError(f"refused to load {module}.{name} from checkpoint metadata")


def _safe_dcp_reader(path: Path) -> Any:
    from torch.distributed.checkpoint import FileSystemReader
    from torch.distributed.checkpoint.metadata import StorageMeta

    class SafeDCPReader(FileSystemReader):
        """A FileSystemReader whose metadata is read with :class:`_SafeMetadataUnpickler`."""

        def read_metadata(self, *args: Any, **kwargs: Any) -> Any:
            rank = kwargs.get("rank")
            meta_path = self._get_metadata_path(rank)
            with self.fs.create_stream(meta_path, "rb") as stream:
                data = stream.read()
            try:
                metadata = _SafeMetadataUnpickler(io.BytesIO(data)).load()
            except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
                raise CheckpointError(
                    f"{meta_path} was refused: it is not torch.distributed.checkpoint metadata "
                    f"({exc})"
                ) from exc
            if getattr(metadata, "storage_meta", None) is None:
                metadata.storage_meta = StorageMeta()
            metadata.storage_meta.load_id = self.load_id
            return metadata

    return SafeDCPReader(str(path))


def _read_dcp_weights(path: Path, model: nn.Module) -> dict[str, torch.Tensor]:
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.api import CheckpointException

    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        dcp.load({"model": state}, storage_reader=_safe_dcp_reader(path), no_dist=True)
    except (CheckpointError, CheckpointException, Exception) as exc:
        raise _dcp_error(exc, path) from exc
    return state


def _dcp_error(exc: BaseException, path: Path) -> CheckpointError:
    """DCP wraps every rank's error in its own exception; say what went wrong in one line."""
    if isinstance(exc, CheckpointError):
        return exc
    text = str(exc)
    if "was refused" in text:
        return CheckpointError(
            f"{path / '.metadata'} was refused: it holds Python objects that are not "
            "checkpoint records (it may be malicious or written by another program)"
        )
    last = text.strip().splitlines()[-1] if text.strip() else type(exc).__name__
    return CheckpointError(f"{path} cannot be read into this model ({last[:300]})")


# ---------------------------------------------------------------- saving and restoring a run


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
    full = None
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
        target = {
            "model": get_model_state_dict(root),
            "optim": get_optimizer_state_dict(root, list(optimizers)),
        }
        from torch.distributed.checkpoint.api import CheckpointException

        try:
            dcp.load(target, storage_reader=_safe_dcp_reader(folder / DCP_DIR))
        except (CheckpointError, CheckpointException, Exception) as exc:
            raise _dcp_error(exc, folder / DCP_DIR) from exc
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
