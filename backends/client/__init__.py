"""The client a user's own training script imports to be watched by the workbench.

Two lines in a script::

    from backends import client

    run = client.init(steps=1000, config={"lr": 3e-4})   # every rank calls it
    for step in range(1, 1001):
        ...
        run.log(step, loss=loss, lr=lr)                  # one record per call, on disk at once
        if run.should_stop():                            # Stop in the workbench, or SIGTERM
            save_checkpoint(...); run.checkpoint(step, path)
            break
    run.finish()                                         # or ``with client.init(...) as run:``

What it writes is what the built-in trainer writes (``backends.train.loop``),
so the Monitor, compare, CSV and TensorBoard export read it unchanged:
``metrics/rank_<r>.jsonl`` per rank with ``train``, ``val`` and ``memory``
records, and rank 0's lifecycle events (``started``, ``checkpoint``,
``sample``, ``finished`` / ``stopped``); a rank that raises records an ``error``
event with its rank and traceback. Memory is sampled for every rank without a
call (``backends.client._memory``).

Importing this module imports neither Qt nor pyqtgraph, and torch only if the
script has imported it already. The run folder comes from ``WORKBENCH_RUN_DIR``
(set by the workbench's launcher) or is created under the runs folder when the
script is started by plain ``python`` or ``torchrun`` (``backends.client._folder``).
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from backends.client import _media
from backends.client._folder import RUN_DIR_ENV, RUNS_DIR_ENV, dist_env, resolve_run
from backends.client._memory import MemorySampler, current_device
from backends.runs import (
    TERMINAL_EVENTS,
    MetricsWriter,
    RunDir,
    RunDirError,
    read_events,
    record_event,
)

STOP_FILE = "stop"  # the launch service's Stop writes this file into the run folder
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

__all__ = ["RUNS_DIR_ENV", "RUN_DIR_ENV", "Run", "RunDirError", "init"]


def init(
    name: str | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    steps: int | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    memory_interval: float = 2.0,
    handle_signals: bool = True,
) -> Run:
    """Open this process's run (see the module docstring); every rank calls it once.

    ``name`` names a run the client creates (default: the script's name);
    ``config`` is recorded with the run (hyperparameters, for compare);
    ``steps`` the planned number of steps (progress and ETA in the Monitor);
    ``memory_interval`` how often memory is sampled when nothing is logged
    (0: only at log time). With ``handle_signals`` SIGTERM/SIGINT make
    :meth:`Run.should_stop` true instead of killing a script that asks it.
    """
    run_dir, launched = resolve_run(name, runs_dir, config, steps)
    return Run(run_dir, launched=launched, config=config, steps=steps,
               memory_interval=memory_interval, handle_signals=handle_signals)


class Run:
    """One rank's handle on its run folder: log, sample, stop, finish."""

    def __init__(
        self,
        run: RunDir,
        *,
        launched: bool = False,
        config: Mapping[str, Any] | None = None,
        steps: int | None = None,
        memory_interval: float = 2.0,
        handle_signals: bool = True,
    ) -> None:
        self.dir = run
        self.launched = launched
        self.rank, self.world_size, _local = dist_env()
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.step = 0
        self.last_loss: float | None = None
        self.last_checkpoint: str | None = None
        self.stop_reason: str | None = None
        self.status: str | None = None  # set once the end is recorded
        self._polled = False
        self._stop_seen = False
        self._pid = os.getpid()
        self._lock = threading.RLock()  # a signal handler may finish() while log() holds it
        self._writer = MetricsWriter(run, self.rank)
        self._memory = MemorySampler(self._write_memory, interval=memory_interval)
        self._previous_handlers: dict[int, Any] = {}
        self._previous_excepthook = sys.excepthook
        self._live_fd: int | None = None
        self._register_pid()
        if self.rank == 0:
            started: dict[str, Any] = {
                "step": 0, "world_size": self.world_size, "host": socket.gethostname(),
                "pid": os.getpid(), "source": "script",
            }
            device = current_device()
            if device is not None:
                started["device"] = device.type
            if steps is not None:
                started["steps"] = int(steps)
            if config and launched:  # a run the client created keeps them in config.toml
                started["params"] = dict(config)
            record_event(run, "started", **started)
        if handle_signals:
            self._install_signals()
        sys.excepthook = self._excepthook
        atexit.register(self._at_exit)
        self._memory.start()
        self._memory.sample()

    # ------------------------------------------------------------ what a script calls

    @property
    def path(self) -> Path:
        return self.dir.path

    @property
    def name(self) -> str:
        return self.dir.name

    def log(self, step: int, **scalars: Any) -> None:
        """Write one ``train`` record (loss, lr, any number) for ``step``; memory rides along."""
        self._log(step, "train", scalars)

    def log_eval(self, step: int, **scalars: Any) -> None:
        """Write one ``val`` record (validation loss, accuracy...) for ``step``."""
        self._log(step, "val", scalars)

    def log_images(self, step: int, images: Any, columns: int = 8) -> Path | None:
        """Save an image grid as this step's sample (rank 0 only; others return None)."""
        if self.rank != 0:
            return None
        pixels = _media.grid(images, columns=columns)
        path = _media.save_png(pixels, _media.sample_path(self.dir.samples_dir, step, ".png"))
        record_event(self.dir, "sample", step=int(step), path=str(path))
        return path

    def log_text(self, step: int, text: str) -> Path | None:
        """Save a text sample for ``step`` (rank 0 only; others return None)."""
        if self.rank != 0:
            return None
        path = _media.save_text(str(text), _media.sample_path(self.dir.samples_dir, step, ".txt"))
        record_event(self.dir, "sample", step=int(step), path=str(path))
        return path

    def watch(self, *objects: Any) -> None:
        """Count these models' parameters and gradients and optimizers' state in memory records."""
        for obj in objects:
            if hasattr(obj, "state") and hasattr(obj, "param_groups"):
                self._memory.optimizers.append(obj)
            elif hasattr(obj, "parameters"):
                self._memory.parameters.extend(obj.parameters())
            else:
                raise TypeError(f"watch() takes models and optimizers, not {type(obj).__name__}")
        self._memory.sample_next_log()

    def checkpoint(self, step: int, path: str | os.PathLike[str]) -> None:
        """Tell the workbench the script saved a checkpoint (rank 0 records it)."""
        self.last_checkpoint = str(path)
        self.step = max(self.step, int(step))
        if self.rank == 0:
            record_event(self.dir, "checkpoint", step=int(step), path=str(path))

    def should_stop(self, sync: bool | None = None) -> bool:
        """True once Stop was pressed (the ``stop`` file) or SIGTERM/SIGINT arrived.

        Under ``torch.distributed`` every rank gets the same answer (one
        all-reduce: call it at the same point on every rank, like any
        collective), so all ranks leave the loop at the same step.
        ``sync=False`` skips that and answers for this rank alone.
        """
        self._polled = True
        local = self.stop_reason is not None
        if not local and (self.dir.path / STOP_FILE).exists():
            self.stop_reason, local = "stop file", True
        if sync is not False and _distributed():
            import torch
            import torch.distributed as dist

            device = "cuda" if dist.get_backend() == "nccl" else "cpu"
            flag = torch.tensor([1.0 if local else 0.0], device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            if flag.item() > 0 and not local:
                self.stop_reason = "another rank stopped"
            local = flag.item() > 0
        self._stop_seen = self._stop_seen or local
        return local

    def finish(
        self,
        status: str | None = None,
        *,
        step: int | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        final_loss: float | None = None,
    ) -> None:
        """Record the end (rank 0) and close this rank's files; called again, it does nothing.

        ``status`` defaults to ``stopped`` after :meth:`should_stop` said so,
        else ``finished``.
        """
        with self._lock:
            if self.status is not None:
                return
            self.status = status or ("stopped" if self._stop_seen else "finished")
        if checkpoint is not None:
            self.last_checkpoint = str(checkpoint)
        self._close()
        if self.rank == 0:
            fields: dict[str, Any] = {
                "step": int(self.step if step is None else step),
                "final_loss": self.last_loss if final_loss is None else final_loss,
                "checkpoint": self.last_checkpoint,
            }
            if self.status == "stopped" and self.stop_reason:
                fields["reason"] = self.stop_reason
            record_event(self.dir, self.status, **fields)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.finish()
        elif isinstance(exc, KeyboardInterrupt):
            self.finish("stopped")
        elif not isinstance(exc, SystemExit):
            self._record_error(exc, tb)

    # ------------------------------------------------------------ inside

    def _log(self, step: int, kind: str, scalars: Mapping[str, Any]) -> None:
        values = {name: _plain(value) for name, value in scalars.items()}
        self.step = int(step)
        loss = values.get("loss")
        if kind == "train" and isinstance(loss, int | float):
            self.last_loss = float(loss)
        with self._lock:
            if self.status is not None:
                raise RuntimeError(f"run {self.name} has finished: log before finish()")
            self._writer.write(step, kind, **values)
        self._memory.at_log(self.step)

    def _write_memory(self, step: int, values: dict[str, Any]) -> None:
        with self._lock:
            if self.status is None:
                self._writer.write(step, "memory", **values)

    def _register_pid(self) -> None:
        """Hold the run's live lock and record the pid, so the run reads as live while we run.

        Under torchrun, a guard also ends this rank if its launcher is killed outright.
        """
        try:
            from backends.launch import register_worker
            from backends.launch.ownership import hold_live

            self._live_fd = hold_live(self.dir)
            register_worker(self.dir, self.rank, os.getpid())
        except (ImportError, OSError):  # a read-only run folder still logs
            pass
        if "TORCHELASTIC_RUN_ID" in os.environ:
            from backends.launch.guard import watch_parent

            watch_parent(self.dir)

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in _STOP_SIGNALS:
            if signal.getsignal(sig) is signal.SIG_IGN:  # e.g. SIGINT of a background job
                continue
            self._previous_handlers[sig] = signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if os.getpid() != self._pid:  # a forked child (a DataLoader worker): not this run's
            signal.signal(signum, self._previous_handlers.get(signum, signal.SIG_DFL))
            os.kill(os.getpid(), signum)
            return
        if self._polled:  # the script asks should_stop(): let it finish its step and save
            self.stop_reason = name
            return
        # A script that never asks would not notice: record the end, then let the signal do
        # what it did before the client was imported (SIGINT: KeyboardInterrupt; SIGTERM: exit).
        previous = self._previous_handlers.get(signum, signal.SIG_DFL)
        if self.status is None:
            self.stop_reason = name
            self.finish("stopped")
        signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def _record_error(self, exc: BaseException, tb: TracebackType | None) -> None:
        with self._lock:
            if self.status is not None:
                return
            self.status = "failed"
        self._close()
        text = "".join(traceback.format_exception(type(exc), exc, tb))
        message = f"{type(exc).__name__}: {exc}"
        record_event(self.dir, "error", rank=self.rank, message=message, traceback=text)
        # Launched by the workbench, its supervisor records ``failed`` from torchrun's report.
        # Started by hand, nobody else will: the first rank to fail records it.
        if not self.launched and not _ended(self.dir):
            record_event(self.dir, "failed", rank=self.rank, exit_code=1, message=message,
                         traceback=text, step=self.step)

    def _excepthook(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, KeyboardInterrupt):
            self.finish("stopped")
        else:
            self._record_error(exc, tb)
        self._previous_excepthook(kind, exc, tb)

    def _at_exit(self) -> None:
        if self.status is None:
            self.finish()

    def _close(self) -> None:
        self._memory.stop()
        with self._lock:
            self._writer.close()
        if self._live_fd is not None:
            os.close(self._live_fd)  # the run is no longer live through this process
            self._live_fd = None
        if sys.excepthook == self._excepthook:
            sys.excepthook = self._previous_excepthook
        for sig, handler in self._previous_handlers.items():
            if threading.current_thread() is threading.main_thread():
                signal.signal(sig, handler)
        self._previous_handlers.clear()
        atexit.unregister(self._at_exit)


def _distributed() -> bool:
    if "torch" not in sys.modules:
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _ended(run: RunDir) -> bool:
    return any(e.get("kind") in TERMINAL_EVENTS for e in read_events(run)[-20:])


def _plain(value: Any) -> Any:
    """A JSON-ready number from a Python, numpy or torch scalar (a 1-element tensor too)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return float(value)
