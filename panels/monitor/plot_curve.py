"""One curve of a live metric plot: what it draws (spec), how it is shown (options), its items.

A :class:`PlotCurve` binds a :class:`CurveSpec` (a growing
:class:`backends.monitor_data.Series`, its label, colour and scale) to its
pyqtgraph items and hands them views of the series' arrays, only when the
data or the :class:`DisplayOptions` changed since it last drew. Every item
uses peak downsampling and clip-to-view and draws no symbols; with smoothing
on, the raw curve stays behind the smoothed one, faint. A resume (steps that
do not increase) or, on the wall-time axis, a long pause breaks the line
(:func:`segment_breaks`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from backends.monitor_data import Series, ema

# Dash styles for a second dimension (several fields of several runs); colours
# come from the theme's series colours.
STYLES = (
    Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine,
)
RAW_ALPHA = 70  # of 255: the raw curve behind a smoothed one
# A wall-time gap longer than this many typical intervals (and at least GAP_FLOOR_S) is a break.
GAP_FACTOR = 20.0
GAP_FLOOR_S = 5.0


@dataclass(frozen=True)
class DisplayOptions:
    """How every plot shows its curves; changing any of it redraws all of them."""

    smoothing: float = 0.0  # EMA weight in [0, 1)
    log_y: bool = False
    x_time: bool = False  # x axis: seconds since the run's first record instead of steps


@dataclass
class CurveSpec:
    """What one curve draws: a series, its legend label, look and scale."""

    key: str  # unique within the plot
    label: str
    series: Series
    color: str
    style: Qt.PenStyle = Qt.PenStyle.SolidLine
    scale: float = 1.0  # multiply values (bytes -> GiB)
    width: float = 1.5  # per-rank curves: lower ranks wider, so equal values still show both
    time_origin: float = 0.0  # the run's start, for the wall-time axis

    def looks_like(self, other: CurveSpec) -> bool:
        """Same series, drawn the same way (a new scale or time origin only redraws)."""
        return (self.series is other.series and self.color == other.color
                and self.style == other.style and self.label == other.label
                and self.width == other.width)


@dataclass(frozen=True)
class CurveDetail:
    """Every point of a curve between two steps, read when the plot is zoomed in on them."""

    first: float
    last: float
    step: np.ndarray
    time: np.ndarray
    value: np.ndarray


def with_detail(step: np.ndarray, time: np.ndarray, value: np.ndarray, detail: CurveDetail
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An overview's points outside the detail's steps, and the detail's every point inside."""
    before, after = step < detail.first, step > detail.last

    def merged(overview: np.ndarray, inside: np.ndarray) -> np.ndarray:
        return np.concatenate([overview[before], inside, overview[after]])

    return merged(step, detail.step), merged(time, detail.time), merged(value, detail.value)


def segment_breaks(step: np.ndarray, time: np.ndarray, x_time: bool) -> np.ndarray:
    """Indices ``i`` after which the curve must not connect to point ``i + 1``.

    Steps that do not increase mark a resume from an earlier checkpoint; on the
    wall-time axis a pause much longer than the usual interval marks a stop
    and a later resume.
    """
    if len(step) < 2:
        return np.empty(0, dtype=np.intp)
    breaks = np.diff(step) <= 0
    if x_time:
        gaps = np.diff(time)
        typical = float(np.median(gaps)) if gaps.size else 0.0
        breaks |= gaps > max(GAP_FLOOR_S, GAP_FACTOR * typical)
    return np.flatnonzero(breaks)


class PlotCurve:
    """A spec with its two plot items (faint raw, smoothed) and what it last drew."""

    def __init__(self, plot: pg.PlotItem, spec: CurveSpec, legend: bool = True) -> None:
        self.spec = spec
        self._plot = plot
        color = pg.mkColor(spec.color)
        self.main = pg.PlotDataItem(
            pen=pg.mkPen(color, width=spec.width, style=spec.style),
            name=spec.label if legend else None,
        )
        self._add(self.main)
        self._raw: pg.PlotDataItem | None = None  # made when smoothing is first turned on
        self.drawn: tuple[int, int, DisplayOptions, int] | None = None
        self.detail: CurveDetail | None = None  # every point of the zoomed-in range, if read

    def set_detail(self, detail: CurveDetail | None) -> None:
        """Draw these points in place of the overview's between their steps (None: overview)."""
        self.detail = detail
        self.drawn = None

    def _add(self, item: pg.PlotDataItem) -> None:
        self._plot.addItem(item)  # (adding applies the plot's downsampling settings: set ours after)
        item.setDownsampling(auto=True, method="peak")
        item.setClipToView(True)

    @property
    def raw(self) -> pg.PlotDataItem:
        if self._raw is None:
            faint = pg.mkColor(self.spec.color)
            faint.setAlpha(RAW_ALPHA)
            self._raw = pg.PlotDataItem(pen=pg.mkPen(faint, width=1))
            self._add(self._raw)
            self._raw.setZValue(self.main.zValue() - 1)  # behind the smoothed curve
        return self._raw

    def remove(self, plot: pg.PlotItem) -> None:
        if self._raw is not None:
            plot.removeItem(self._raw)
        plot.removeItem(self.main)

    def has_points(self) -> bool:
        return bool(len(self.main.xData if self.main.xData is not None else []))

    def refresh(self, options: DisplayOptions) -> bool:
        """Hand the items the series' data as ``options`` show it; False when nothing changed."""
        series = self.spec.series
        state = (series.version, len(series), options, id(self.detail))
        if state == self.drawn:
            return False
        self.drawn = state
        step, time, raw = series.step.view, series.time.view, series.value.view
        smooth = options.smoothing > 0.0
        if self.detail is not None:
            step, time, raw = with_detail(step, time, raw, self.detail)
            y = ema(raw, options.smoothing) if smooth else raw
        else:
            y = series.smoothed(options.smoothing) if smooth else raw
        x = time - self.spec.time_origin if options.x_time else step
        if self.spec.scale != 1.0:
            raw, y = raw * self.spec.scale, y * self.spec.scale
        # Only finite values are stored; in log mode pyqtgraph must drop non-positive ones.
        skip = not options.log_y
        connect = "all"
        breaks = segment_breaks(step, time, options.x_time)
        if breaks.size:
            # A stop and a resume (or a resume from an earlier checkpoint): no line across the gap.
            x, y, raw = (np.insert(np.asarray(a, dtype=float), breaks + 1, np.nan) for a in (x, y, raw))
            connect, skip = "finite", False
        self.main.setData(x, y, skipFiniteCheck=skip, connect=connect)
        if smooth:
            self.raw.setData(x, raw, skipFiniteCheck=skip, connect=connect)
            self.raw.show()
        elif self._raw is not None:
            self._raw.setData([], [])
            self._raw.hide()
        return True
