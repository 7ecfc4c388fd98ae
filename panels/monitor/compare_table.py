"""The table of config keys whose values differ between the runs being compared."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from backends.monitor_data import MISSING, differing_keys


class CompareTable(QTableWidget):
    """Rows: config keys that differ; columns: the runs (their last loss in the last row)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compare_table")
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.rows: list[tuple[str, list[Any]]] = []

    def show_runs(
        self,
        names: Sequence[str],
        configs: Sequence[Mapping[str, Any]],
        last_losses: Sequence[float | None] = (),
    ) -> None:
        self.rows = differing_keys(configs) if len(configs) > 1 else []
        extra = [("last loss", list(last_losses))] if last_losses else []
        shown = self.rows + extra
        self.clear()
        self.setColumnCount(len(names))
        self.setHorizontalHeaderLabels(list(names))
        self.setRowCount(len(shown))
        self.setVerticalHeaderLabels([key for key, _ in shown])
        for row, (_key, values) in enumerate(shown):
            for column, value in enumerate(values):
                self.setItem(row, column, QTableWidgetItem(_text(value)))

    def differing(self) -> list[str]:
        """The keys shown as differing (read by tests and the panel's summary)."""
        return [key for key, _ in self.rows]


def _text(value: Any) -> str:
    if value is MISSING:
        return "—"
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
