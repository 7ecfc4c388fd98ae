"""A text view made of tokens: each an anchor on a coloured background, known by its index."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QUrl, Signal
from PySide6.QtGui import QColor, QCursor, QFont, QTextCharFormat, QTextCursor, QTextOption
from PySide6.QtWidgets import QTextBrowser, QWidget

_HREF = "token:"


class TokenView(QTextBrowser):
    """Text made of clickable tokens, each on a coloured background.

    Signals
    -------
    sig_token_clicked(int, QPoint)  a token was clicked (index, global position)
    sig_token_hovered(int)          the mouse is over a token (index), -1 when it left
    """

    sig_token_clicked = Signal(int, QPoint)
    sig_token_hovered = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        # Runs of spaces are drawn as no-break spaces (see add_token); a line may then
        # need to break inside such a run, so breaking anywhere is allowed as a fallback.
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.anchorClicked.connect(self._on_anchor_clicked)
        self.highlighted.connect(self._on_highlighted)
        self.count = 0  # tokens drawn so far
        self._last_char = "\n"

    def clear_tokens(self) -> None:
        self.clear()
        self.count = 0
        self._last_char = "\n"

    def add_plain(self, text: str, color: str = "#777777") -> None:
        """Text that is not a token (the prompt), in grey."""
        fmt = QTextCharFormat()
        fmt.setForeground(QColor(color))
        self._cursor_at_end().insertText(self._drawable(text), fmt)

    def add_token(self, text: str, background: QColor, *, marked: bool = False) -> int:
        """Append one token; returns its index. ``marked`` underlines it (chosen by hand)."""
        index = self.count
        fmt = QTextCharFormat()
        fmt.setAnchor(True)
        fmt.setAnchorHref(f"{_HREF}{index}")
        fmt.setBackground(background)
        fmt.setForeground(QColor("#111111"))
        if marked:
            fmt.setFontUnderline(True)
            fmt.setFontWeight(QFont.Weight.Bold)
        # A newline token gets a visible mark so it can be clicked like any other; a
        # token still waiting for the rest of its character shows as an ellipsis.
        shown = self._drawable(text).replace("\n", "\u21b5\n") if text else "\u2026"
        self._cursor_at_end().insertText(shown, fmt)
        self.count += 1
        return index

    def _drawable(self, text: str) -> str:
        """Spaces after a space become no-break spaces: Qt draws no trailing spaces at a line
        end, so a run of space tokens would otherwise be invisible and unclickable."""
        out = []
        for ch in text:
            out.append("\u00a0" if ch == " " and self._last_char in " \u00a0\n" else ch)
            self._last_char = out[-1]
        return "".join(out)

    def _cursor_at_end(self) -> QTextCursor:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    @staticmethod
    def _index(url: QUrl) -> int:
        """The token index an anchor stands for; -1 for anything else."""
        text = url.toString()
        if text.startswith(_HREF):
            try:
                return int(text.split(":", 1)[1])
            except ValueError:
                return -1
        return -1

    def _on_anchor_clicked(self, url: QUrl) -> None:
        index = self._index(url)
        if index >= 0:
            self.sig_token_clicked.emit(index, QCursor.pos())

    def _on_highlighted(self, url: QUrl) -> None:
        self.sig_token_hovered.emit(self._index(url) if not url.isEmpty() else -1)
