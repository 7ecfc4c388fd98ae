"""The popup listing one step's top alternatives, raw and after samplers; click one to continue."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget

from panels.playground.colors import probability_color
from panels.playground.token_text import html, percent, shown


class AlternativesPopup(QFrame):
    """The top alternatives of one step, raw and after samplers; click one to continue from it.

    Signals
    -------
    sig_chosen(object)  an alternative (backends.text.results.Alternative) was clicked
    """

    sig_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("alternativesPopup")
        self.setStyleSheet(
            "#alternativesPopup { background: palette(base); border: 1px solid palette(mid); }"
        )
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(8, 8, 8, 8)
        self._layout.setSpacing(3)
        self.buttons: list[QPushButton] = []

    def show_token(self, token: Any, at: QPoint | None = None) -> None:
        """List ``token``'s alternatives (a backends.text.results.GeneratedToken), near ``at``."""
        while self._layout.count():
            item = self._layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.buttons = []
        title = QLabel(
            f"<b>{html(shown(token.text))}</b> &nbsp; p = {percent(token.prob_raw)} "
            f"(after samplers {percent(token.prob)}) · entropy {token.entropy_bits:.2f} bits"
        )
        self._layout.addWidget(title)
        header = QLabel(
            "<small>alternative &nbsp;·&nbsp; model p &nbsp;→&nbsp; after samplers"
            " &nbsp;·&nbsp; click to continue from it</small>"
        )
        self._layout.addWidget(header)
        for alt in token.alternatives:
            button = QPushButton(
                f"{shown(alt.text):<8}  {percent(alt.prob_raw):>8}  →  {percent(alt.prob):>8}"
            )
            button.setFont(QFont("DejaVu Sans Mono"))
            button.setToolTip("continue the text from this token")
            button.setStyleSheet(_bar_style(alt.prob_raw, bold=alt.token_id == token.token_id))
            button.clicked.connect(lambda _=False, a=alt: self._choose(a))
            self._layout.addWidget(button)
            self.buttons.append(button)
        self.adjustSize()
        if at is not None:
            self.move(at + QPoint(8, 12))
        self.show()

    def _choose(self, alternative: Any) -> None:
        self.hide()
        self.sig_chosen.emit(alternative)


def _bar_style(p: float, *, bold: bool) -> str:
    """A button filled, like a bar chart, as far as probability ``p`` in its colour."""
    stop = max(0.001, min(0.999, p))
    color = probability_color(p).name()
    chosen = " font-weight: bold;" if bold else ""
    return (
        "QPushButton { text-align: left; padding: 3px 6px; color: #111;"
        f"{chosen} border: 1px solid #bbb; background: qlineargradient(x1:0, y1:0, x2:1,"
        f" y2:0, stop:0 {color}, stop:{stop:.3f} "
        f"{color}, stop:{min(1.0, stop + 0.001):.3f} "
        "#f4f4f4, stop:1 #f4f4f4); }"
    )
