"""The line under the source bar that shows bad input in words, with its fix."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget


class ErrorLine(QLabel):
    """A selectable red line, hidden while there is nothing wrong."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("evaluation_error")
        self.setWordWrap(True)
        self.setStyleSheet("QLabel { color: #8a1f11; background: #fbe3e4; padding: 4px; }")
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hide()

    def show_message(self, text: str) -> None:
        self.setText(text)
        self.show()

    def clear_message(self) -> None:
        self.clear()
        self.hide()
