"""The Checkpoints tab: a run's checkpoints with step, time, size and place; resume or open any.

The list comes from the launch service (``backends.launch.run_checkpoints``)
on a worker: a remote run's checkpoints are asked of its host, and each row
says whether it is here or on the host. The row the next plain Resume would
use (the newest) is marked. "Resume from selected" asks the service to
continue the run from that step: it refuses while the run is live, or when the
config's steps are not beyond the checkpoint, and the message says why. "Open
checkpoint" hands it to the panels that load checkpoints (the latent studio,
the playground, the evaluation), fetching it from the host first when it is
there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.tasks import TaskRunner

COLUMNS = ("Step", "Saved", "Size", "Where", "Folder")


def load_checkpoints(path: Path) -> tuple[Path, list[Any], str]:
    """(run, its checkpoints, its state line): read on a worker."""
    from backends import launch
    from backends.runs import RunDir

    run = RunDir(Path(path))
    state = launch.run_state(run)
    line = state.status + (f": {state.reason}" if state.reason else "")
    return run.path, launch.run_checkpoints(run), line


def _is_remote(path: Path) -> bool:
    from backends.remote.record import is_remote
    from backends.runs import RunDir

    return is_remote(RunDir(Path(path)))


def local_checkpoint(path: Path, info: Any) -> Path:
    """The checkpoint's folder here, fetched from the run's host first when it is there."""
    if info.host is None:
        return Path(info.path)
    from backends.remote.launch import fetch_checkpoint
    from backends.runs import RunDir

    return Path(fetch_checkpoint(RunDir(Path(path)), info.step))


def resume_run(path: Path, step: int) -> Any:
    from backends import launch

    return launch.resume(path, checkpoint=step)


class CheckpointsView(QWidget):
    """The checkpoints of the run in front.

    Signals
    -------
    sig_resume(object, int)   resume this run folder from the checkpoint of this step
    sig_listed()              the table shows the current run's checkpoints
    sig_open(object)          open this checkpoint folder (here) in the panels that load one
    """

    sig_resume = Signal(object, int)
    sig_listed = Signal()
    sig_open = Signal(object)

    def __init__(self, tasks: TaskRunner, current: Callable[[], Path | None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        # Fetching has a slot of its own: the list's refreshes supersede each other, not a fetch.
        self._fetch_tasks = TaskRunner(self, "monitor-checkpoint-fetch")
        self._stale = False  # a refresh was put off until the tab shows
        self._current = current
        self.checkpoints: list[Any] = []
        self.run_path: Path | None = None
        self.state_label = QLabel("")
        self.state_label.setObjectName("checkpoint_state")
        self.state_label.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("checkpoint_table")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.resume_button = QPushButton("Resume from selected")
        self.resume_button.setObjectName("resume_checkpoint_button")
        self.resume_button.setToolTip("Continue this run in its folder from the selected checkpoint")
        self.resume_button.clicked.connect(self._resume_selected)
        self.open_button = QPushButton("Open checkpoint")
        self.open_button.setObjectName("open_checkpoint_button")
        self.open_button.setToolTip("Load the selected checkpoint in the Latent studio, the Text "
                                    "playground or the Evaluation, whichever fits its model "
                                    "(a checkpoint on a remote host is fetched first)")
        self.open_button.clicked.connect(self._open_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.state_label)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def refresh(self, when_shown: bool = False) -> None:
        """List the current run's checkpoints. With ``when_shown`` (the Monitor's periodic
        refresh), a remote run's list waits until the tab is shown: it costs a trip to the host."""
        path = self._current()
        if path is None:
            self._show(None, [], "Select a run to see its checkpoints.")
            return
        if when_shown and not self.isVisible() and _is_remote(path):
            self._stale = True
            return
        self._stale = False
        self._tasks.submit(load_checkpoints, path, on_done=lambda r: self._show(*r),
                           on_error=lambda exc, _d: self.state_label.setText(str(exc)),
                           supersede=True)

    def _show(self, path: Path | None, checkpoints: list[Any], line: str) -> None:
        if path is not None and path != self._current():
            return  # an answer for a run no longer in front
        self.run_path, self.checkpoints = path, checkpoints
        self.state_label.setText(
            line if checkpoints or path is None else f"{line} · no checkpoint saved yet")
        self.table.setRowCount(len(checkpoints))
        for row, info in enumerate(checkpoints):
            newest = row == len(checkpoints) - 1
            values = (
                f"{info.step}" + ("  (latest: Resume starts here)" if newest else ""),
                dt.datetime.fromtimestamp(info.saved).strftime("%Y-%m-%d %H:%M:%S"),
                f"{info.size_bytes / 2**20:.1f} MiB",
                "here" if info.host is None else f"on {info.host}",
                str(info.path),
            )
            for column, text in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(text))
        if checkpoints:
            self.table.selectRow(len(checkpoints) - 1)
        self.resume_button.setEnabled(bool(checkpoints))
        self.open_button.setEnabled(bool(checkpoints))
        self.sig_listed.emit()

    def selected(self) -> Any | None:
        rows = self.table.selectionModel().selectedRows()
        return self.checkpoints[rows[0].row()] if rows else None

    def selected_step(self) -> int | None:
        info = self.selected()
        return None if info is None else info.step

    def _open_selected(self) -> None:
        info = self.selected()
        if self.run_path is None or info is None:
            return
        if info.host is not None:
            self.state_label.setText(f"fetching the checkpoint of step {info.step} from {info.host}…")
        self._fetch_tasks.submit(local_checkpoint, self.run_path, info, on_done=self._opened,
                           on_error=lambda exc, _d: self.state_label.setText(str(exc)))

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def shutdown(self) -> None:
        self._fetch_tasks.shutdown()

    def _opened(self, folder: Path) -> None:
        self.refresh()  # a fetched checkpoint now reads "here"
        self.sig_open.emit(folder)

    def _resume_selected(self) -> None:
        step = self.selected_step()
        if self.run_path is not None and step is not None:
            self.sig_resume.emit(self.run_path, step)
