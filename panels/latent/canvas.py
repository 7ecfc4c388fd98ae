"""The image view: one image scaled up with square pixels, mask overlays and brush painting."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from panels.latent.images import mask_edges, mask_image, qimage_from_array

# The stroke being painted: stronger than the overlays, so the hand's path stands out.
_LIVE = QColor(255, 40, 40, 90)


class ImageCanvas(QWidget):
    """One image, scaled up with square pixels, an optional mask overlay and brush painting.

    Signals
    -------
    sig_painting(object)   the mask (H, W) bool of the stroke being painted, while dragging
    sig_painted(object)    the finished stroke's mask, on release
    """

    sig_painting = Signal(object)
    sig_painted = Signal(object)

    def __init__(self, caption: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = caption
        self.image: np.ndarray | None = None
        self._qimage: QImage | None = None
        self.overlays: list[tuple[np.ndarray, QColor]] = []
        self.paint_enabled = False
        self.brush_radius = 2.0  # in image pixels
        self._stroke: np.ndarray | None = None
        self.setMinimumSize(120, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(300, 320)

    def set_image(self, image: np.ndarray | None) -> None:
        self.setToolTip(self.caption)  # the full text when the caption is elided
        self.image = image
        self._qimage = qimage_from_array(image) if image is not None else None
        self.update()

    def set_overlays(self, overlays: list[tuple[np.ndarray, QColor]]) -> None:
        self.overlays = overlays
        self.update()

    @property
    def painting(self) -> bool:
        return self._stroke is not None

    def image_rect(self) -> QRectF:
        """Where the image is drawn: the largest whole-number scale that fits, centred."""
        if self.image is None:
            return QRectF()
        h, w = self.image.shape[:2]
        top = 20
        avail_w, avail_h = self.width(), self.height() - top
        scale = max(1, min(avail_w // w, avail_h // h))
        x = (self.width() - w * scale) / 2
        y = top + (avail_h - h * scale) / 2
        return QRectF(x, y, w * scale, h * scale)

    def to_image_coords(self, pos: QPointF) -> tuple[float, float] | None:
        rect = self.image_rect()
        if self.image is None or rect.isEmpty():
            return None
        h, w = self.image.shape[:2]
        return ((pos.x() - rect.x()) / rect.width() * w, (pos.y() - rect.y()) / rect.height() * h)

    def _dab(self, pos: QPointF) -> None:
        coords = self.to_image_coords(pos)
        if coords is None or self._stroke is None:
            return
        x, y = coords
        h, w = self._stroke.shape
        yy, xx = np.mgrid[0:h, 0:w]
        self._stroke |= (xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 <= self.brush_radius**2
        self.sig_painting.emit(self._stroke.copy())
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self.paint_enabled and self.image is not None and event.button() == Qt.MouseButton.LeftButton:
            self._stroke = np.zeros(self.image.shape[:2], bool)
            self._dab(event.position())
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._stroke is not None:
            self._dab(event.position())
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._stroke is not None:
            stroke, self._stroke = self._stroke, None
            self.update()
            if stroke.any():
                self.sig_painted.emit(stroke)
        else:
            super().mouseReleaseEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        caption = painter.fontMetrics().elidedText(self.caption, Qt.TextElideMode.ElideMiddle, self.width() - 4)
        painter.drawText(QRect(0, 0, self.width(), 18), Qt.AlignmentFlag.AlignCenter, caption)
        if self._qimage is None:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no image")
            return
        rect = self.image_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(rect, self._qimage)
        layers = list(self.overlays)
        if self._stroke is not None:
            layers.append((self._stroke.astype(np.float32), _LIVE))
        for mask, colour in layers:
            painter.drawImage(rect, mask_image(mask, colour))
            painter.setPen(QPen(QColor(colour.red(), colour.green(), colour.blue()), 2))
            h, w = mask.shape
            sx, sy = rect.width() / w, rect.height() / h
            for x1, y1, x2, y2 in mask_edges(mask > 0):
                painter.drawLine(QPointF(rect.x() + x1 * sx, rect.y() + y1 * sy),
                                 QPointF(rect.x() + x2 * sx, rect.y() + y2 * sy))
        if self.paint_enabled:
            painter.setPen(QPen(QColor(255, 120, 0), 1, Qt.PenStyle.DashLine))
            painter.drawRect(rect.adjusted(-1, -1, 0, 0))
