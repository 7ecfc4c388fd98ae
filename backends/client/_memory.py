"""Per-rank memory of a user's script, in the trainer's ``memory`` records, without a call.

The values are those of :func:`backends.train.metrics.memory_record`: on CUDA
the caching allocator's counters (allocated, reserved, window peaks: no device
sync), everywhere the process RSS, and the bytes of the parameters, gradients
and optimizer state of the models and optimizers the script handed to
``Run.watch`` (none handed: no tensor-byte fields rather than a false zero).
torch is touched only if the script imported it.

A :class:`MemorySampler` writes a record with every ``log`` call (at most one
per ``min_interval``) and, from a daemon thread, whenever nothing was logged
for ``interval`` seconds (a long first step, evaluation, a checkpoint save).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from backends.train.metrics import memory_record, process_rss

_TENSOR_FIELDS = ("param_bytes", "grad_bytes", "optim_bytes")


def current_device() -> Any:
    """The device this rank computes on: its CUDA device once CUDA is in use, else the CPU."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def sample_memory(parameters: list[Any], optimizers: list[Any]) -> dict[str, Any]:
    """One memory record's values for this process now."""
    device = current_device()
    if device is None:  # a script without torch: the process is all there is
        return {"device": "cpu", "rss": process_rss()}
    values = memory_record(device, parameters, optimizers)
    if not parameters and not optimizers:
        for name in _TENSOR_FIELDS:
            values.pop(name, None)
    return values


class MemorySampler:
    """Writes memory records at log time and from a background thread when logging pauses."""

    def __init__(
        self,
        write: Callable[[int, dict[str, Any]], None],
        interval: float = 2.0,
        min_interval: float = 0.1,
    ) -> None:
        self._write = write
        self.interval = interval
        self.min_interval = min_interval
        self.parameters: list[Any] = []
        self.optimizers: list[Any] = []
        self.step = 0
        self._last = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.problem: str | None = None

    def start(self) -> None:
        if self.interval > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="workbench-memory", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5.0)
        self._thread = None

    def sample_next_log(self) -> None:
        """The next ``at_log`` writes a record whatever the interval (new objects watched)."""
        self._last = 0.0

    def at_log(self, step: int) -> None:
        """Called by ``Run.log``: a record at this step unless one was written just now."""
        self.step = step
        if time.monotonic() - self._last >= self.min_interval:
            self.sample()

    def sample(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            try:
                values = sample_memory(self.parameters, self.optimizers)
            except RuntimeError as exc:  # an optimizer's state grew while it was read: next time
                self.problem = str(exc)
                return
            self._last = time.monotonic()
            self._write(self.step, values)

    def _loop(self) -> None:
        while not self._stop.wait(min(self.interval, 0.5)):
            if time.monotonic() - self._last >= self.interval:
                self.sample()
