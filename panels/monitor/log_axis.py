"""An axis whose log-scale labels never run together.

pyqtgraph labels every minor tick of a log axis (2, 3, ... 9 in each decade) once
the view spans less than a few decades, and those labels overlap on a short plot.
:class:`ReadableLogAxis` chooses the labelled ticks itself, by pixel distance:

- two or more decades in view: decades only, every ``stride``-th one so that
  labels are at least a text line apart; the 2..9 ticks stay as unlabelled marks;
- less: decades first, then 5, 2 and the other multiples, each kept only where
  it clears the labels already chosen;
- within one multiple (2.1 to 2.4): a few round linear values, thinned the same way.

In linear mode it is pyqtgraph's own axis.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont, QFontMetricsF

# Order in which multiples of a decade earn a label when there is room.
_PRIORITY = (1, 5, 2, 3, 4, 6, 7, 8, 9)


def _nice_step(span: float, count: int = 4) -> float:
    raw = span / count
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


class ReadableLogAxis(pg.AxisItem):
    """An ``AxisItem`` that labels log ticks sparsely enough to read; see the module docstring."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._labelled: set[float] = set()

    def _min_gap(self) -> float:
        """Pixels between two label centres: a text line (a long label across) and some air."""
        metrics = QFontMetricsF(self.style.get("tickFont") or QFont())
        if self.orientation in ("bottom", "top"):
            return metrics.horizontalAdvance("0.0005") * 1.3
        return metrics.height() * 1.3

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802, N803
        if not (math.isfinite(minVal) and math.isfinite(maxVal)) or maxVal <= minVal or size <= 0:
            self._labelled = set()
            return []
        px_per_unit = size / (maxVal - minVal)
        gap = self._min_gap()
        low, high = math.floor(minVal), math.ceil(maxVal)
        decades = [float(d) for d in range(low, high + 1) if minVal <= d <= maxVal]
        minors = [
            d + math.log10(m) for d in range(low, high) for m in range(2, 10)
            if minVal <= d + math.log10(m) <= maxVal
        ]
        if len(decades) >= 2:
            stride = max(1, math.ceil(gap / px_per_unit))
            labelled = [d for d in decades if int(d) % stride == 0] or decades[:1]
            unlabelled = [d for d in decades if d not in labelled] + minors
        else:
            candidates = sorted(
                decades + minors,
                key=lambda v: _PRIORITY.index(round(10 ** (v - math.floor(v + 1e-9)))),
            )
            labelled = []
            for v in candidates:
                if all(abs(v - w) * px_per_unit >= gap for w in labelled):
                    labelled.append(v)
            if len(labelled) < 2:
                # Inside one multiple: round linear values, as many as fit.
                lo, hi = 10.0**minVal, 10.0**maxVal
                step = _nice_step(hi - lo)
                linear = np.arange(math.ceil(lo / step) * step, hi, step)
                for value in linear:
                    v = math.log10(value) if value > 0 else None
                    if v is not None and all(abs(v - w) * px_per_unit >= gap for w in labelled):
                        labelled.append(v)
            unlabelled = [v for v in minors if v not in labelled]
        self._labelled = {round(v, 9) for v in labelled}
        return [(1.0, sorted(labelled)), (None, sorted(unlabelled))]

    def logTickStrings(self, values, scale, spacing):  # noqa: N802
        strings = super().logTickStrings(values, scale, spacing)
        shown = [10.0**v * scale for v in values if round(v, 9) in self._labelled]
        # Plain numbers where all are short (0.1, 20, 1200); else powers of ten for every
        # decade, never 10000 beside 10⁵.
        plain = all(1e-3 <= value < 1e5 for value in shown)
        out = []
        for v, text in zip(values, strings, strict=True):
            if round(v, 9) not in self._labelled:
                out.append(None)  # pyqtgraph skips a tick whose string is None
            elif plain:
                out.append(f"{10.0**v * scale:.6g}")
            elif abs(v - round(v)) > 1e-9:
                out.append(f"{10.0**v * scale:.3g}")  # more digits than 2·10⁵ would give
            else:
                out.append(text)  # 10⁻⁶, 10⁸
        return out

    def label_rects(self) -> list[tuple[str, object]]:
        """The tick labels the axis would draw now and their rects (axis coordinates)."""
        from PySide6.QtGui import QImage, QPainter

        image = QImage(10, 10, QImage.Format.Format_ARGB32)
        painter = QPainter(image)
        try:
            painter.setFont(self.style.get("tickFont") or QFont())
            specs = self.generateDrawSpecs(painter)
        finally:
            painter.end()
        return [(text, rect) for rect, _flags, text in specs[2]]
