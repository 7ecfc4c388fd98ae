"""The Checkpoints tab: a run's checkpoints with step, time and size; resume from any of them.

The list comes from the launch service (``backends.launch.list_checkpoints``)
on a worker; the row the next plain Resume would use (the newest) is marked.
"Resume from selected" asks the service to continue the run from that step:
it refuses while the run is live, or when the config's steps are not beyond
the checkpoint, and the message says why.
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

COLUMNS = ("Step", "Saved", "Size", "Folder")


def load_checkpoints(path: Path) -> tuple[Path, list[Any], str]:
    """(run, its checkpoints, its state line): read on a worker."""
    from backends import launch
    from backends.runs import RunDir

    run = RunDir(Path(path))
    state = launch.run_state(run)
    line = state.status + (f": {state.reason}" if state.reason else "")
    return run.path, launch.list_checkpoints(run), line


def resume_run(path: Path, step: int) -> Any:
    from backends import launch

    return launch.resume(path, checkpoint=step)


class CheckpointsView(QWidget):
    """The checkpoints of the run in front.

    Signals
    -------
    sig_resume(object, int)   resume this run folder from the checkpoint of this step
    sig_listed()              the table shows the current run's checkpoints
    """

    sig_resume = Signal(object, int)
    sig_listed = Signal()

    def __init__(self, tasks: TaskRunner, current: Callable[[], Path | None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
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
        buttons = QHBoxLayout()
        buttons.addWidget(self.resume_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.state_label)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def refresh(self) -> None:
        path = self._current()
        if path is None:
            self._show(None, [], "Select a run to see its checkpoints.")
            return
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
                str(info.path),
            )
            for column, text in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(text))
        if checkpoints:
            self.table.selectRow(len(checkpoints) - 1)
        self.resume_button.setEnabled(bool(checkpoints))
        self.sig_listed.emit()

    def selected_step(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return self.checkpoints[rows[0].row()].step if rows else None

    def _resume_selected(self) -> None:
        step = self.selected_step()
        if self.run_path is not None and step is not None:
            self.sig_resume.emit(self.run_path, step)
