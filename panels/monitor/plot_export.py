"""Saving monitor plots as PNG or SVG files."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QPainter
from PySide6.QtSvg import QSvgGenerator

from panels.monitor.metric_plot import MetricPlot

FORMATS = ("png", "svg")


def export_plot(plot: MetricPlot, path: Path) -> Path:
    """Write one plot to ``path``; the suffix (.png or .svg) picks the format.

    SVG is drawn through Qt's SVG painter, so curves stay vector paths
    (pyqtgraph's own SVG exporter cannot parse the paths this Qt writes).
    """
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(
            f"cannot export a plot as {path.suffix or 'a file without suffix'}: use .png or .svg"
        )
    size = plot.size() if plot.width() > 10 and plot.height() > 10 else QSize(800, 500)
    if fmt == "png":
        if not plot.grab(QRect(0, 0, size.width(), size.height())).save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
        return path
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(size)
    generator.setViewBox(QRect(0, 0, size.width(), size.height()))
    generator.setTitle(plot.title)
    painter = QPainter(generator)
    try:
        plot.render(painter)
    finally:
        painter.end()
    if not path.is_file():
        raise OSError(f"could not write {path}")
    return path


def export_plots(plots: Sequence[MetricPlot], base: Path) -> list[Path]:
    """Write each plot next to ``base`` as ``<stem>_<plot title>.<suffix>``; returns the paths."""
    written = []
    for plot in plots:
        slug = re.sub(r"[^A-Za-z0-9]+", "_", plot.title).strip("_").lower() or "plot"
        written.append(export_plot(plot, base.with_name(f"{base.stem}_{slug}{base.suffix}")))
    return written
