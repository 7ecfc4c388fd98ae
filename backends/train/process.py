"""One training rank's process: joining the process group, and hearing that it should stop.

:func:`init_distributed` reads torchrun's environment (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``), picks the device and joins the process group
for every strategy but ``single``. :class:`StopSignals` turns SIGTERM and
SIGINT (torchrun forwards them) into a flag; together with a ``stop`` file
in the run folder that is how a run is asked to save and stop.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from backends.parallel import STRATEGIES
from backends.train.config import TrainConfig, TrainConfigError, resolve_device

STOP_FILE = "stop"


@dataclass
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device


def init_distributed(config: TrainConfig) -> DistInfo:
    """Join the process group (every strategy but single) on the right device and backend."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if world != config.world_size:
        raise TrainConfigError(
            f"started with {world} processes but the config asks for nproc x nnodes = "
            f"{config.world_size}: launch with the command the workbench builds"
        )
    device_type = resolve_device(config.device)
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if STRATEGIES[config.strategy].distributed and not dist.is_initialized():
        if device_type == "cuda":
            dist.init_process_group("nccl", device_id=device)
        else:
            dist.init_process_group("gloo")
    return DistInfo(rank, world, local_rank, device)


class StopSignals:
    """Set by SIGTERM / SIGINT; the loop checks it (and the stop file) once per step."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (in-process use): the stop file still works
                pass

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def stop_requested(self, run_folder: Path) -> bool:
        """A signal came, or someone wrote the ``stop`` file into the run folder."""
        return self.requested or (run_folder / STOP_FILE).exists()
