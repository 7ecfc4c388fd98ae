"""The page shown for a panel whose engine is not in this build yet.

It says so plainly; it never shows made-up data.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class NotBuiltPanel(QWidget):
    """A plain "not built yet" page with the panel's title and purpose."""

    def __init__(self, title: str, purpose: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        label = QLabel(
            f"<h2>{title}</h2><p>{purpose}</p><p><i>This panel is not built yet.</i></p>"
        )
        label.setObjectName("not_built_label")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(label)

    def shutdown(self) -> None:
        """Nothing runs here."""
