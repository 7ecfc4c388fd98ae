"""The export row: the HTML report and metrics CSV buttons with their file dialogs; plots as PNG."""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QIODevice, Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QPushButton, QWidget


def widget_png(widget: QWidget) -> bytes:
    """What a widget shows, as PNG bytes (plots in the HTML report)."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    widget.grab().save(buffer, "PNG")
    return bytes(buffer.data())


class ExportBar(QWidget):
    """Two buttons, enabled once something was evaluated, that ask where to write.

    Signals
    -------
    sig_html_chosen(str)   the HTML report is to be written to this path
    sig_csv_chosen(str)    the metrics CSV is to be written to this path
    """

    sig_html_chosen = Signal(str)
    sig_csv_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        export = QHBoxLayout(self)
        export.setContentsMargins(0, 0, 0, 0)
        self.html_button = QPushButton("Export HTML report…")
        self.html_button.clicked.connect(self._choose_html)
        self.csv_export_button = QPushButton("Export CSV…")
        self.csv_export_button.clicked.connect(self._choose_csv)
        for w in (self.html_button, self.csv_export_button):
            w.setEnabled(False)
            export.addWidget(w)
        export.addStretch(1)

    def set_enabled(self, enabled: bool) -> None:
        for w in (self.html_button, self.csv_export_button):
            w.setEnabled(enabled)

    def _choose_html(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export HTML report", "evaluation.html", "HTML (*.html)"
        )
        if path:
            self.sig_html_chosen.emit(path)

    def _choose_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export metrics", "evaluation.csv", "CSV (*.csv)"
        )
        if path:
            self.sig_csv_chosen.emit(path)
