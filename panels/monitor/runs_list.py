"""The Monitor's runs list: the table of runs, its selection, Refresh and Delete, listing lines.

:class:`RunsList` is the left side of the panel: the runs of the runs folder
(a :class:`~panels.monitor.runs_model.RunsModel`), selected by the user or by
the panel (``select``, which does not count as the user's choice), with the
Refresh and Delete buttons. The functions below make the lines it shows:
the listing's line updated with the live records (:func:`with_live_records`),
and a stand-in line for a run opened or launched before the next listing
finds it (:func:`opened_run_line`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backends.launch import with_news
from backends.runs import RunDir, RunDirError, RunSummary, read_config
from backends.tensorboard import is_tensorboard_run
from backends.tensorboard import summarize as summarize_tensorboard
from panels.monitor.monitor_state import WatchedRun, config_text
from panels.monitor.runs_model import RunsModel


class RunsList(QWidget):
    """The runs table with its buttons; see the module docstring.

    Signals
    -------
    sig_selected(object)   the user selected these runs (a list of paths, never empty)
    """

    sig_selected = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._selecting = False
        self.model = RunsModel(self)
        self.view = QTableView()
        self.view.setObjectName("runs_view")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.refresh_button = QPushButton("Refresh")
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setObjectName("delete_button")
        hint = QLabel("Select several runs to compare them.")
        hint.setStyleSheet("color: gray;")
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("<b>Runs</b>"))
        layout.addWidget(self.view, 1)
        layout.addWidget(hint)
        layout.addLayout(buttons)

    def selected_paths(self) -> list[Path]:
        rows = sorted({index.row() for index in self.view.selectionModel().selectedRows()})
        return [self.model.summary(row).path for row in rows]

    def select(self, paths: list[Path]) -> None:
        """Select these runs' rows (not a choice of the user's: ``sig_selected`` stays quiet)."""
        self._selecting = True
        try:
            selection = self.view.selectionModel()
            selection.clearSelection()
            for path in paths:
                row = self.model.row_of(path)
                if row >= 0:
                    selection.select(
                        self.model.index(row, 0),
                        QItemSelectionModel.SelectionFlag.Select
                        | QItemSelectionModel.SelectionFlag.Rows,
                    )
        finally:
            self._selecting = False

    def set_runs(self, summaries: list[RunSummary], selected: list[Path]) -> None:
        """Show these lines, keeping ``selected`` selected."""
        self._selecting = True
        try:
            self.model.set_runs(summaries)
        finally:
            self._selecting = False
        self.select(selected)

    def add_opened(self, path: Path) -> None:
        """List a run that was opened or launched, until the next listing finds it."""
        if self.model.row_of(path) < 0:
            self.model.set_runs([opened_run_line(path), *self.model.runs()])

    def is_listed_running(self, path: Path) -> bool:
        summary = self.model.find(path)
        return summary is not None and summary.status == "running"

    def _on_selection_changed(self, *_args: Any) -> None:
        if self._selecting:
            return
        paths = self.selected_paths()
        if paths:
            self.sig_selected.emit(paths)


def with_live_records(summary: RunSummary, run: WatchedRun) -> RunSummary:
    """The listing's line with the newest loss and step of the live records
    (the rule is :func:`backends.launch.with_news`)."""
    return with_news(summary, run.status, run.metrics.latest("train", "loss"),
                     run.metrics.last_step)


def opened_run_line(path: Path) -> RunSummary:
    """A stand-in line for a run the listing has not found yet (``created`` until it does)."""
    if is_tensorboard_run(path):
        return summarize_tensorboard(path, path.name)
    try:
        config = read_config(RunDir(path))
    except RunDirError:
        config = {}
    nproc, nnodes = config.get("nproc", 1), config.get("nnodes", 1)
    return RunSummary(
        name=path.name, path=path, status="created", created=time.time(),
        model=config_text(config.get("model")), strategy=config_text(config.get("strategy")),
        world_size=nproc * nnodes if isinstance(nproc, int) and isinstance(nnodes, int) else None,
    )
