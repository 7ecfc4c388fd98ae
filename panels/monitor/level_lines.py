"""Horizontal level lines of a metric plot: a ceiling, reference lines, and an invisible zero.

A ceiling (the device's total memory) stays outside the auto range: an 80 GiB
line would flatten a 2 GiB curve, so it shows once the curves come near it
(or the user zooms out). References (a prediction to compare the curves
with) are inside the auto range, so the line is always in view. The zero
level keeps y = 0 in the auto range for amounts such as bytes. pyqtgraph does
not log-transform lines: :class:`LevelLines` places them in log10 units itself
when the plot's y axis is logarithmic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import Qt

CEILING_COLOR = "#d62728"


@dataclass(frozen=True)
class Reference:
    """A dashed horizontal line at ``value`` (in the plot's units) with a label."""

    key: str
    value: float
    label: str
    color: str = "#b000b0"  # magenta: apart from the rank colours, seen on light and dark


class LevelLines:
    """The level lines of one plot item; see the module docstring."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self._plot = plot
        self._log_y = False
        self.ceiling: pg.InfiniteLine | None = None
        self._ceiling_value: float | None = None
        self._references: dict[str, tuple[Reference, pg.InfiniteLine]] = {}
        self._zero: pg.InfiniteLine | None = None

    def set_log_y(self, log_y: bool) -> None:
        """The y axis became logarithmic (or linear): place every line again."""
        self._log_y = log_y
        if self.ceiling is not None and self._ceiling_value is not None:
            self._place(self.ceiling, self._ceiling_value)
        for ref, line in self._references.values():
            self._place(line, ref.value)
        if self._zero is not None:
            self._place(self._zero, 0.0)

    def set_ceiling(self, value: float | None, label: str = "") -> None:
        """A dashed red line outside the auto range; None removes it."""
        self._ceiling_value = value
        if value is None:
            if self.ceiling is not None:
                self._plot.removeItem(self.ceiling)
                self.ceiling = None
            return
        if self.ceiling is None:
            self.ceiling = pg.InfiniteLine(
                angle=0, movable=False,
                pen=pg.mkPen(CEILING_COLOR, width=1, style=Qt.PenStyle.DashLine),
                label=label, labelOpts={"position": 0.1, "color": CEILING_COLOR},
            )
            self._plot.addItem(self.ceiling, ignoreBounds=True)
        self._place(self.ceiling, value)
        self.ceiling.label.setFormat(label)

    def set_references(self, references: list[Reference]) -> None:
        """Show exactly these reference lines (dashed, labelled, inside the auto range)."""
        wanted = {r.key: r for r in references}
        for key in [k for k in self._references if k not in wanted]:
            self._plot.removeItem(self._references.pop(key)[1])
        for key, ref in wanted.items():
            old = self._references.get(key)
            if old is not None and old[0] == ref:
                continue
            if old is not None:
                self._plot.removeItem(old[1])
            line = pg.InfiniteLine(
                angle=0, movable=False,
                pen=pg.mkPen(ref.color, width=2, style=Qt.PenStyle.DashLine),
                # The label sits under the line, mid-plot: clear of the legend (top right)
                # and of the ceiling's label (left).
                label=ref.label, labelOpts={"position": 0.5, "color": ref.color,
                                            "anchors": [(0.5, 0), (0.5, 0)]},
            )
            line.setZValue(5)  # above the curves: the prediction must stay visible
            self._plot.addItem(line)  # counted in the auto range, unlike the ceiling
            self._place(line, ref.value)
            self._references[key] = (ref, line)

    def references(self) -> dict[str, Reference]:
        return {key: ref for key, (ref, _line) in self._references.items()}

    def reference_line(self, key: str) -> pg.InfiniteLine:
        return self._references[key][1]

    def set_include_zero(self, include: bool) -> None:
        """Keep y = 0 inside the auto range (amounts such as bytes read best from zero)."""
        if include and self._zero is None:
            # An invisible level counted in the auto range (a hidden item would not count).
            self._zero = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(0, 0, 0, 0))
            self._plot.addItem(self._zero)
            self._place(self._zero, 0.0)
            # Headroom above the largest value, so a line there and its label stay in view.
            self._plot.vb.setDefaultPadding(0.08)
        elif not include and self._zero is not None:
            self._plot.removeItem(self._zero)
            self._zero = None
            self._plot.vb.setDefaultPadding(0.02)

    def includes_zero(self) -> bool:
        return self._zero is not None

    def _place(self, line: pg.InfiniteLine, value: float) -> None:
        # A level at or below 0 has no place on a log axis.
        if self._log_y and value <= 0:
            line.hide()
            return
        line.setPos(math.log10(value) if self._log_y else value)
        line.show()
