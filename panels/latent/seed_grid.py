"""The thumbnail grid: seed cells (or strip frames) with the current cell and numbered anchors marked."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from panels.latent.images import qimage_from_array


class SeedGrid(QWidget):
    """Thumbnails in a grid; shows the current cell and numbered anchors.

    Signals
    -------
    sig_cell_clicked(int, bool)   a cell index, and whether shift was held (add as anchor)
    """

    sig_cell_clicked = Signal(int, bool)

    def __init__(self, columns: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.images: np.ndarray | None = None
        self.labels: list[str] = []
        self.current: int | None = None
        self.anchors: dict[int, int] = {}  # cell -> anchor number
        self.columns = columns
        self.setMinimumSize(120, 80)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_images(self, images: np.ndarray | None, labels: list[str] | None = None) -> None:
        self.images = images
        self.labels = labels or []
        self._qimages = [qimage_from_array(i) for i in images] if images is not None else []
        self.update()

    def _layout(self) -> tuple[int, int, float]:
        n = len(self._qimages) if self.images is not None else 0
        if n == 0:
            return 0, 0, 0.0
        cols = self.columns or max(1, math.ceil(math.sqrt(n)))
        rows = math.ceil(n / cols)
        cell = min(self.width() / cols, (self.height()) / rows)
        return cols, rows, cell

    def cell_rect(self, index: int) -> QRectF:
        cols, _, cell = self._layout()
        r, c = divmod(index, cols)
        return QRectF(c * cell + 2, r * cell + 2, cell - 4, cell - 4)

    def index_at(self, pos: QPointF) -> int | None:
        cols, rows, cell = self._layout()
        if cell <= 0:
            return None
        c, r = int(pos.x() // cell), int(pos.y() // cell)
        index = r * cols + c
        if 0 <= c < cols and 0 <= r < rows and index < len(self._qimages):
            return index
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        index = self.index_at(event.position())
        if index is not None:
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.sig_cell_clicked.emit(index, shift)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        if self.images is None:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "open a model")
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        for i, image in enumerate(self._qimages):
            rect = self.cell_rect(i)
            painter.drawImage(rect, image)
            if i == self.current:
                painter.setPen(QPen(QColor(0, 170, 255), 3))
                painter.drawRect(rect)
            if i in self.anchors:
                painter.setPen(QPen(QColor(255, 120, 0), 2))
                painter.drawRect(rect.adjusted(2, 2, -2, -2))
                badge = QRectF(rect.x() + 2, rect.y() + 2, 16, 14)
                painter.fillRect(badge, QColor(255, 120, 0))
                painter.setPen(QColor("white"))
                painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, str(self.anchors[i]))
            if i < len(self.labels) and self.labels[i] and rect.height() > 40:
                painter.setPen(QColor(255, 255, 255, 200))
                painter.drawText(rect.adjusted(2, 0, -2, -1),
                                 Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignRight, self.labels[i])
