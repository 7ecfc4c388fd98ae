"""Every rank's random state, saved with a checkpoint and restored on resume."""

from __future__ import annotations

import random
from typing import Any

import torch
import torch.distributed as dist


def rng_state(device: torch.device) -> dict[str, Any]:
    """This process's torch, Python (and CUDA, on a GPU) random states."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def gather_rng_states(device: torch.device, world_size: int) -> list[dict[str, Any]]:
    """Every rank's :func:`rng_state`, in rank order (a collective under a process group)."""
    mine = rng_state(device)
    if not dist.is_initialized():
        return [mine]
    gathered: list[Any] = [None] * world_size
    dist.all_gather_object(gathered, mine)
    return gathered


def restore_rng_state(state: dict[str, Any], device: torch.device) -> None:
    """Put back one rank's states as :func:`rng_state` took them."""
    torch.set_rng_state(state["torch"])
    random.setstate(_as_tuple(state["python"]))
    if device.type == "cuda" and state.get("cuda") is not None:
        torch.cuda.set_rng_state(state["cuda"], device)


def seed_everything(seed: int) -> None:
    """Seed torch and Python's ``random`` alike."""
    torch.manual_seed(seed)
    random.seed(seed)


def _as_tuple(value: Any) -> Any:
    """Python's RNG state back from the lists a checkpoint may hold."""
    if isinstance(value, list | tuple):
        return tuple(_as_tuple(v) for v in value)
    return value
