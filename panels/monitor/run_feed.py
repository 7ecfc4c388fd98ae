"""The Monitor's data path: watched run folders in, growing series and lifecycle events filed.

A :class:`RunFeed` owns the :class:`workbench.run_watcher.RunWatcher` (which
tails the watched folders on its own thread) and the
:class:`workbench.remote_follower.RemoteFollower` (which keeps local copies of
remote runs up to date), and files what they send into the
:class:`~panels.monitor.monitor_state.WatchedRun` objects of the panel's
state. A live batch is filed at once; a long history arriving in one batch is
filed in slices between events, so the window stays responsive while the
curves fill in. Lifecycle events update the run's status (as the events say;
the listing's liveness check is the truth) and its failure report, then
``sig_events`` tells the panel.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from backends.monitor_data import failure_report
from backends.remote.record import is_remote
from backends.runs import RunDir, RunDirError, read_config, status_from_events
from backends.tensorboard import is_tensorboard_run
from panels.monitor.monitor_state import MonitorState, WatchedRun
from workbench.remote_follower import RemoteFollower
from workbench.run_watcher import RunWatcher

WATCH_INTERVAL_S = 0.05  # how often the watcher thread reads the files
BATCH_SLICE = 2000  # records filed per event-loop turn (~20 ms) when a long history arrives
# A remote run in one of these states is mirrored while watched.
FOLLOWED_REMOTE_STATES = ("running", "created", "unknown")


class RunFeed(QObject):
    """Files what the watched runs append into the panel's state.

    Signals
    -------
    sig_events(object, object, object)  run path, its new lifecycle events (already filed),
                                        the failure reports they raised (oldest first)
    sig_history(object)          run path: a large run's reduced history was filed
    sig_problem(object, str)     run path, a skipped line or an unreadable file
    sig_remote_news(object)      run path: a remote run's link changed or it ended
    """

    sig_events = Signal(object, object, object)
    sig_history = Signal(object)
    sig_problem = Signal(object, str)
    sig_remote_news = Signal(object)

    def __init__(self, state: MonitorState, show_status: Callable[[str], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._show_status = show_status
        self.watcher = RunWatcher(self, interval=WATCH_INTERVAL_S)
        # Runs launched on a remote host: their local copies are kept up to date over SSH.
        self.remote = RemoteFollower(self)
        self.remote.sig_link.connect(self._on_remote_news)
        self.remote.sig_ended.connect(self._on_remote_news)
        self.watcher.sig_metrics.connect(self._on_metrics)
        self.watcher.sig_events.connect(self._on_events)
        self.watcher.sig_history.connect(self._on_history)
        self.watcher.sig_problem.connect(self.sig_problem)
        self._backlog: deque[tuple[Path, int, list[dict[str, Any]]]] = deque()
        self._backlog_timer = QTimer(self)
        self._backlog_timer.setInterval(0)
        self._backlog_timer.timeout.connect(self._drain_backlog)

    # ------------------------------------------------------------ watching

    def watch(self, path: Path, listed_status: str) -> None:
        """Watch a run (no-op when watched); a remote one still going is mirrored too."""
        if path in self.state.runs:
            return
        run = WatchedRun(path)
        try:
            run.config = read_config(RunDir(path))
        except RunDirError as exc:
            if not is_tensorboard_run(path):  # a TensorBoard log has no config to read
                self._show_status(str(exc))
        self.state.runs[path] = run
        self.watcher.watch(path)
        if is_remote(RunDir(path)) and listed_status in FOLLOWED_REMOTE_STATES:
            self.remote.follow(path)

    def unwatch(self, path: Path) -> None:
        """Stop watching a run and drop its data (records still queued for it too)."""
        self.watcher.unwatch(path)
        self.remote.unfollow(path)
        self.state.runs.pop(path, None)
        self._backlog = deque(entry for entry in self._backlog if entry[0] != path)

    def stop(self) -> None:
        """Stop the watcher thread, the mirrors and the filing of queued records."""
        self._backlog_timer.stop()
        self.watcher.stop()
        self.remote.stop()

    def _on_remote_news(self, path: Path, *_args: Any) -> None:
        """A remote run's link changed or it ended (queued from the mirror's thread)."""
        self.sig_remote_news.emit(Path(path))

    # ------------------------------------------------------------ records

    def _on_metrics(self, path: Path, rank: int, records: list[dict[str, Any]]) -> None:
        # A live batch is small and filed at once. Opening a long run delivers its whole
        # history in one batch: that is filed in slices between events, so the window
        # stays responsive while the curves fill in (order is kept by the queue).
        path = Path(path)
        if not self._backlog and len(records) <= BATCH_SLICE:
            self.file_records(path, rank, records)
            return
        for start in range(0, len(records), BATCH_SLICE):
            self._backlog.append((path, rank, records[start : start + BATCH_SLICE]))
        if not self._backlog_timer.isActive():
            self._backlog_timer.start()

    def _on_history(self, path: Path, rank: int, history: Any) -> None:
        """A large run's history for one rank, already reduced to what the plots show."""
        run = self.state.runs.get(Path(path))
        if run is not None:
            columns, records, last_step = history
            run.metrics.add_columns(rank, columns, records, last_step, source=Path(path))
            self.sig_history.emit(Path(path))

    def _drain_backlog(self) -> None:
        if self._backlog:
            self.file_records(*self._backlog.popleft())
        if not self._backlog:
            self._backlog_timer.stop()

    def file_records(self, path: Path, rank: int, records: list[dict[str, Any]]) -> None:
        """Add one batch of a rank's metric records to the run's series."""
        run = self.state.runs.get(path)
        if run is not None:
            run.metrics.add_records(rank, records)

    # ------------------------------------------------------------ lifecycle events

    def _on_events(self, path: Path, events: list[dict[str, Any]]) -> None:
        if self.state.closed:  # a batch the watcher sent just before it stopped
            return
        path = Path(path)
        run = self.state.runs.get(path)
        if run is None:
            return
        run.events.extend(events)
        run.status = status_from_events(run.events)
        failures = []
        for event in events:
            if event.get("kind") == "failed":
                errors = [e for e in run.events if e.get("kind") == "error"]
                run.failure = failure_report(RunDir(path), event, errors)
                failures.append(run.failure)
            elif event.get("kind") in ("started", "resumed"):
                run.failure = None  # resumed in the same folder: the old failure is history
        self.sig_events.emit(path, events, failures)
