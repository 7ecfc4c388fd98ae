"""Token backgrounds: red (unlikely or surprising) through amber to green, and their legend."""

from __future__ import annotations

import math

from PySide6.QtGui import QBrush, QColor, QLinearGradient, QPainter, QPixmap
from PySide6.QtWidgets import QBoxLayout, QLabel

MAX_BITS = 10.0  # surprise at which the perplexity colour saturates


def probability_color(p: float) -> QColor:
    """Background for a token of probability ``p``: red (unlikely) through amber to green."""
    p = 0.0 if not math.isfinite(p) else min(1.0, max(0.0, p))
    hue = 120.0 * p  # 0 = red, 60 = yellow, 120 = green
    return QColor.fromHsvF(hue / 360.0, 0.45, 1.0)


def surprise_color(bits: float) -> QColor:
    """Background for a token that cost ``bits``: green (expected) to red (surprising)."""
    return probability_color(1.0 - min(1.0, max(0.0, bits / MAX_BITS)))


def legend_pixmap(width: int = 140, height: int = 12, reverse: bool = False) -> QPixmap:
    """The colour scale as a strip: low probability on the left (high, if ``reverse``)."""
    pixmap = QPixmap(width, height)
    painter = QPainter(pixmap)
    gradient = QLinearGradient(0, 0, width, 0)
    for i in range(11):
        p = i / 10
        gradient.setColorAt(p, probability_color(1 - p if reverse else p))
    painter.fillRect(0, 0, width, height, QBrush(gradient))
    painter.end()
    return pixmap


def add_legend(
    layout: QBoxLayout, low: str, high: str, *, width: int = 140, reverse: bool = False,
    tip: str = "",
) -> None:
    """The colour scale between its two captions, added to ``layout``."""
    layout.addWidget(QLabel(low))
    swatch = QLabel()
    swatch.setPixmap(legend_pixmap(width, reverse=reverse))
    if tip:
        swatch.setToolTip(tip)
    layout.addWidget(swatch)
    layout.addWidget(QLabel(high))
