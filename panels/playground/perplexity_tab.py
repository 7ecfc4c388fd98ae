"""The perplexity tab: a pasted text and each model's surprise at it, token by token."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from panels.playground.colors import MAX_BITS, add_legend, surprise_color
from panels.playground.token_text import error_html, html, percent, shown
from panels.playground.token_view import TokenView


class ScoreColumn(QFrame):
    """One model's surprise at a pasted text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        self.title = QLabel()
        self.title.setStyleSheet("font-weight: bold;")
        layout.addWidget(self.title)
        self.view = TokenView()
        self.view.sig_token_hovered.connect(self._on_hover)
        self.view.sig_token_clicked.connect(lambda i, _at: self._on_hover(i))
        layout.addWidget(self.view, 1)
        self.details = QLabel(" ")
        self.details.setWordWrap(True)
        layout.addWidget(self.details)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.score: Any = None

    def show_score(self, name: str, score: Any) -> None:
        """Draw ``score`` (a backends.text.results.TextScore) under the model's ``name``."""
        self.score = score
        self.title.setText(name)
        self.view.clear_tokens()
        self.view.add_plain(score.first_text)
        for token in score.tokens:
            self.view.add_token(token.text, surprise_color(token.bits))
        self.summary.setText(
            f"{len(score.tokens)} tokens scored · {score.total_bits:.1f} bits in all · "
            f"{score.bits_per_token:.3f} bits/token · perplexity {score.perplexity:.3f}"
        )

    def show_error(self, message: str) -> None:
        self.view.clear_tokens()
        self.summary.setText("")
        self.details.setText(error_html(message))

    def _on_hover(self, index: int) -> None:
        if self.score is not None and 0 <= index < len(self.score.tokens):
            token = self.score.tokens[index]
            self.details.setText(
                f"{html(shown(token.text))}: {token.bits:.2f} bits (p = {percent(2**-token.bits)})"
            )


class PerplexityTab(QWidget):
    """The text to score, the Score button and one :class:`ScoreColumn` per distinct model."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Paste a text; each model chosen in the Generate columns scores it. "
            "Colour = surprise (bits) of each token given the text before it."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.text = QPlainTextEdit()
        self.text.setPlainText(
            "In the beginning God created the heaven and the earth.\n"
            "And the earth was without form, and void."
        )
        self.text.setMaximumHeight(90)
        layout.addWidget(self.text)
        bar = QHBoxLayout()
        self.button = QPushButton("Score with the columns' models")
        bar.addWidget(self.button)
        add_legend(bar, "surprise: 0 bits", f"{MAX_BITS:.0f}+ bits", reverse=True)
        bar.addStretch(1)
        layout.addLayout(bar)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        layout.addWidget(self.splitter, 1)
        self.columns: list[ScoreColumn] = []  # grows, never shrinks: extra ones are hidden

    def prepare(self, count: int) -> None:
        """Show ``count`` columns waiting for their scores, hide the rest."""
        while len(self.columns) < count:
            column = ScoreColumn()
            self.columns.append(column)
            self.splitter.addWidget(column)
        for i, column in enumerate(self.columns):
            column.setVisible(i < count)
            column.score = None
            column.title.setText(f"{i + 1}: scoring\u2026")
