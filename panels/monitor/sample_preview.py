"""The newest sample a run wrote (an image grid or generated text), shown beside the curves."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QPixmap
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QStackedWidget, QVBoxLayout, QWidget

# Text samples are short continuations; a larger file is shown from its start only.
_TEXT_LIMIT = 64 * 1024


class SamplePreview(QWidget):
    """Shows one sample file; ``show_file`` reloads only when the file changed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sample_preview")
        self.caption = QLabel("No samples yet")
        self.caption.setObjectName("sample_caption")
        self.caption.setWordWrap(True)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(160, 160)
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.stack = QStackedWidget()
        self.stack.addWidget(self.image)
        self.stack.addWidget(self.text)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.stack, 1)
        self.path: Path | None = None
        self._stamp: tuple[Path, float, int] | None = None
        self._pixmap = QPixmap()

    def show_file(self, path: Path | None) -> None:
        if path is None:
            self.path, self._stamp = None, None
            self.caption.setText("No samples yet")
            self.image.clear()
            self.text.clear()
            return
        try:
            stat = path.stat()
        except OSError:
            return
        stamp = (path, stat.st_mtime, stat.st_size)
        if stamp == self._stamp:
            return
        self._stamp, self.path = stamp, path
        self.caption.setText(f"Latest sample: {path.name}")
        if path.suffix.lower() == ".txt":
            with open(path, encoding="utf-8", errors="replace") as f:
                self.text.setPlainText(f.read(_TEXT_LIMIT))
            self.stack.setCurrentWidget(self.text)
        else:
            self._pixmap = QPixmap(str(path))
            self._fit_image()
            self.stack.setCurrentWidget(self.image)

    def is_image(self) -> bool:
        return self.stack.currentWidget() is self.image and not self._pixmap.isNull()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit_image()

    def _fit_image(self) -> None:
        if self._pixmap.isNull():
            self.image.clear()
            return
        # Small sample grids are scaled up without smoothing so pixels stay sharp.
        size = self.image.size()
        self.image.setPixmap(
            self._pixmap.scaled(
                size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
            )
        )
