"""torch.distributed.checkpoint folders read safely: metadata unpickled only into DCP's own records.

A ``dcp/.metadata`` file is a pickle. :class:`_SafeMetadataUnpickler` builds
only the record classes (dataclasses and enums of
``torch.distributed.checkpoint``) and a few torch and builtin values it is
made of, and refuses anything else, so a malicious file is never run.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import torch
from torch import nn

from backends.checkpoint.layout import CheckpointError


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


def safe_dcp_reader(path: Path) -> Any:
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


def read_dcp_weights(path: Path, model: nn.Module) -> dict[str, torch.Tensor]:
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.api import CheckpointException

    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        dcp.load({"model": state}, storage_reader=safe_dcp_reader(path), no_dist=True)
    except (CheckpointError, CheckpointException, Exception) as exc:
        raise dcp_error(exc, path) from exc
    return state


def dcp_error(exc: BaseException, path: Path) -> CheckpointError:
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


