"""Turns records appended to run folders into Qt signals, for live views.

A :class:`RunWatcher` polls the watched runs on its own thread (every 0.1 s
by default, so a record reaches a plot in well under a second) with the
incremental :class:`backends.runs.RunReader` (or, for a folder of TensorBoard
event files, ``backends.tensorboard.reader.TensorBoardReader``: see
``backends.run_sources``), which reads only the bytes added since the last
poll. New records are emitted in batches: one signal per run and rank per
poll, never one per record. The GUI thread receives them through
queued signals and never touches a file.

A large run (see :mod:`backends.runs.columns`) is read through its metric
columns instead: each rank's history arrives once as reduced arrays
(``sig_history``), built from the columns (parsed once and kept on disk), and
only the records appended after it arrive as records.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from backends.run_sources import open_reader
from backends.runs import RunDir, RunReader
from backends.runs.column_reader import ColumnReader, is_large


class RunWatcher(QObject):
    """Watches run folders and emits what was appended to them.

    Signals
    -------
    sig_metrics(object, int, object)   run path, rank, list of new metric records
    sig_events(object, object)         run path, list of new lifecycle events
    sig_problem(object, str)           run path, a skipped line or unreadable file
    sig_history(object, int, object)   run path, rank, (arrays by (kind, field), records, last step)
    """

    sig_metrics = Signal(object, int, object)
    sig_events = Signal(object, object)
    sig_problem = Signal(object, str)
    sig_history = Signal(object, int, object)

    def __init__(self, parent: QObject | None = None, interval: float = 0.1) -> None:
        super().__init__(parent)
        self.interval = interval
        # RunReader, ColumnReader or TensorBoardReader; None until chosen on the thread.
        self._readers: dict[Path, Any] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, run_path: Path) -> None:
        """Start following a run folder from its beginning (existing records are emitted too)."""
        path = Path(run_path)
        with self._lock:
            if path not in self._readers:
                self._readers[path] = None  # chosen on the thread: sizing a run reads the disk
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, name="workbench-run-watcher", daemon=True
            )
            self._thread.start()

    def unwatch(self, run_path: Path) -> None:
        with self._lock:
            self._readers.pop(Path(run_path), None)

    def watched(self) -> list[Path]:
        with self._lock:
            return list(self._readers)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the polling thread (the watched list is kept; ``watch`` restarts it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def poll_once(self) -> None:
        """Read every watched run once and emit what is new (the thread's loop body)."""
        with self._lock:
            readers = list(self._readers.items())
        for path, reader in readers:
            history: dict[int, Any] = {}
            try:
                if reader is None:
                    reader = self._choose_reader(path)
                if isinstance(reader, ColumnReader):
                    update, history = reader.poll()
                else:
                    update = reader.poll()
            except OSError as exc:
                self.sig_problem.emit(path, f"cannot read {path}: {exc.strerror or exc}")
                continue
            except ImportError as exc:  # a TensorBoard log without the tensorboard extra
                self.sig_problem.emit(path, str(exc))
                self.unwatch(path)
                continue
            for rank, arrays in history.items():
                self.sig_history.emit(path, rank, arrays)
            if update.events:
                self.sig_events.emit(path, update.events)
            for rank, records in update.metrics.items():
                self.sig_metrics.emit(path, rank, records)
            for problem in update.problems:
                self.sig_problem.emit(path, problem)

    def _choose_reader(self, path: Path) -> Any:
        run = RunDir(path)
        reader: Any = open_reader(path)  # a run folder, or a TensorBoard log folder
        if isinstance(reader, RunReader) and is_large(run):
            try:
                reader = ColumnReader(run)
            except OSError:  # a read-only folder: read it whole
                pass
        with self._lock:
            if path in self._readers:
                self._readers[path] = reader
        return reader

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.interval)
