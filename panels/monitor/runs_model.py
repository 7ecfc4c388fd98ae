"""The runs list as a Qt table model: one row per run folder, updated live for watched runs."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from backends.runs import RunSummary

COLUMNS = ("Run", "Status", "Started", "Model", "Strategy", "Step", "Loss")
STATUS_COLORS = {
    "running": "#1f77b4",
    "finished": "#2ca02c",
    "stopped": "#b8860b",
    "killed": "#8c564b",
    "failed": "#d62728",
    "lost": "#7f7f7f",
    "unreadable": "#e377c2",
}

_Index = QModelIndex | QPersistentModelIndex


class RunsModel(QAbstractTableModel):
    """Rows are :class:`backends.runs.RunSummary` values; ``update`` replaces fields of one."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[RunSummary] = []

    # ------------------------------------------------------------ content

    def set_runs(self, runs: list[RunSummary]) -> None:
        """Show these runs; when the same runs are listed, only changed rows are redrawn."""
        runs = list(runs)
        if [r.path for r in runs] == [r.path for r in self._rows]:
            for row, (old, new) in enumerate(zip(self._rows, runs, strict=True)):
                if old != new:
                    self._rows[row] = new
                    self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self._rows = runs
        self.endResetModel()

    def runs(self) -> list[RunSummary]:
        return list(self._rows)

    def row_of(self, path: Path) -> int:
        for row, summary in enumerate(self._rows):
            if summary.path == Path(path):
                return row
        return -1

    def summary(self, row: int) -> RunSummary:
        return self._rows[row]

    def find(self, path: Path) -> RunSummary | None:
        row = self.row_of(path)
        return self._rows[row] if row >= 0 else None

    def update(self, path: Path, **changes: Any) -> None:
        """Change some fields of a run's row (status, last_step, last_loss) in place."""
        row = self.row_of(path)
        if row < 0:
            return
        old = self._rows[row]
        new = dataclasses.replace(old, **changes)
        if new != old:
            self._rows[row] = new
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def remove(self, path: Path) -> None:
        row = self.row_of(path)
        if row >= 0:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            self.endRemoveRows()

    # ------------------------------------------------------------ Qt model API

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = 0) -> Any:
        if not index.isValid():
            return None
        run = self._rows[index.row()]
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return _cell(run, column)
        if role == Qt.ItemDataRole.ForegroundRole and column == "Status":
            color = STATUS_COLORS.get(run.status)
            return QColor(color) if color else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return run.problem or run.reason or str(run.path)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("Step", "Loss"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def _cell(run: RunSummary, column: str) -> str:
    if column == "Run":
        return run.name
    if column == "Status":
        return run.status
    if column == "Started":
        if run.created is None:
            return ""
        return time.strftime("%m-%d %H:%M", time.localtime(run.created))
    if column == "Model":
        return run.model or ""
    if column == "Strategy":  # with the world size: "ddp × 2"
        world = "" if run.world_size is None else f" × {run.world_size}"
        return f"{run.strategy or ''}{world}"
    if column == "Step":
        return "" if run.last_step is None else str(run.last_step)
    if column == "Loss":
        return "" if run.last_loss is None else f"{run.last_loss:.4g}"
    return ""
