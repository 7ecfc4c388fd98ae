"""The red banner that says which rank died, how, its last log lines and traceback."""

from __future__ import annotations

import html
import time

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFontDatabase
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from backends.monitor_data import FailureReport


class FailureBanner(QFrame):
    """Shows a :class:`backends.monitor_data.FailureReport`; hidden until there is one.

    Signals
    -------
    sig_dismissed()   the user closed the banner
    """

    sig_dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("failure_banner")
        self.setStyleSheet(
            "QFrame#failure_banner { background: #fbe3e4; border: 1px solid #d62728; "
            "border-radius: 3px; } QLabel { color: #8a1f11; }"
        )
        self.report: FailureReport | None = None
        self.headline = QLabel()
        self.headline.setObjectName("failure_headline")
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hint = QLabel()
        self.hint.setObjectName("failure_hint")
        self.hint.setWordWrap(True)
        self.links = QLabel()
        self.links.setObjectName("failure_links")
        self.links.setWordWrap(True)
        self.links.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.links.linkActivated.connect(self._open_link)
        close = QPushButton("Dismiss")
        close.clicked.connect(self.dismiss)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.log_text = QPlainTextEdit(readOnly=True)
        self.log_text.setObjectName("failure_log")
        self.traceback_text = QPlainTextEdit(readOnly=True)
        self.traceback_text.setObjectName("failure_traceback")
        for box in (self.log_text, self.traceback_text):
            box.setFont(mono)
            box.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details = QTabWidget()
        self.details.setMaximumHeight(180)  # the plots keep most of the room
        self.details.addTab(self.traceback_text, "Traceback")
        self.details.addTab(self.log_text, "Last log lines")

        top = QHBoxLayout()
        top.addWidget(self.headline, 1)
        top.addWidget(close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(top)
        layout.addWidget(self.hint)
        layout.addWidget(self.links)
        layout.addWidget(self.details)
        self.hide()

    def show_report(self, report: FailureReport) -> None:
        self.report = report
        when = time.strftime(" at %H:%M:%S", time.localtime(report.time)) if report.time else ""
        self.headline.setText(f"<b>{html.escape(report.headline)}</b>{when}")
        self.hint.setText(report.hint)
        self.hint.setVisible(bool(report.hint))
        links = " · ".join(
            f"<a href='{QUrl.fromLocalFile(str(p)).toString()}'>{html.escape(p.name)}</a>"
            for p in report.log_files[:6]
        )
        folder = report.log_files[0].parent if report.log_files else None
        if folder is not None:
            links += f" · <a href='{QUrl.fromLocalFile(str(folder)).toString()}'>log folder</a>"
        self.links.setText(f"Logs: {links}" if links else "No log files were found for this run.")
        self.traceback_text.setPlainText(report.traceback or "(no traceback was recorded)")
        self.log_text.setPlainText(report.log_tail or "(no log lines were recorded)")
        self.details.setCurrentIndex(0 if report.traceback else 1)
        self.show()

    def dismiss(self) -> None:
        self.hide()
        self.sig_dismissed.emit()

    def clear(self) -> None:
        self.report = None
        self.hide()

    @property
    def text(self) -> str:
        """Everything the banner says, as plain text (empty when hidden)."""
        if self.report is None or self.isHidden():
            return ""
        return "\n".join(
            (self.report.headline, self.report.hint, self.links.text(),
             self.traceback_text.toPlainText(),
             self.log_text.toPlainText())
        )

    def _open_link(self, url: str) -> None:
        QDesktopServices.openUrl(QUrl(url))
