"""One live metric plot: curves over growing series, smoothing, log-y, step/time x, crosshair.

A :class:`MetricPlot` holds curves bound to :class:`backends.monitor_data.Series`
objects and copies nothing on its own: ``refresh`` (called by the panel's redraw
timer, never per record) hands pyqtgraph views of the series' arrays, and only
for curves whose data or display options changed since the last refresh.
Every curve uses peak downsampling and clip-to-view and draws no symbols, so a
million-point curve repaints in a few milliseconds. With smoothing on, the raw
curve stays behind the smoothed one, faint.

The legend sits in the corner of the view that covers the least of the newest
data (``legend_corner.py``) and moves when the curves grow into it; the log-y
axis labels only as many ticks as fit (``log_axis.py``); a plot with nothing to
draw shows what to do instead of empty 0-1 axes.

Horizontal lines mark levels: a ceiling (the device's total memory; outside
the auto range) and references (a prediction to compare the curves with;
inside the auto range, so the line is always in view).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt

from backends.monitor_data import Series
from panels.monitor.legend_corner import (
    CORNERS,
    Corner,
    choose_corner,
    column_extremes,
    newest_share,
    points,
)
from panels.monitor.log_axis import ReadableLogAxis

# What an empty plot says, unless the panel gives it something more specific.
EMPTY_HINT = "No data yet: pick a run in the list, or launch one from the Training panel."

# Dash styles for a second dimension (several fields of several runs); colours
# come from the theme's series colours.
STYLES = (
    Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine,
)
RAW_ALPHA = 70  # of 255: the raw curve behind a smoothed one


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


@dataclass(frozen=True)
class Reference:
    """A dashed horizontal line at ``value`` (in the plot's units) with a label."""

    key: str
    value: float
    label: str
    color: str = "#b000b0"  # magenta: apart from the rank colours, seen on light and dark


# A wall-time gap longer than this many typical intervals (and at least GAP_FLOOR_S) is a break.
GAP_FACTOR = 20.0
GAP_FLOOR_S = 5.0


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


LEGEND_LIMIT = 16  # plots with more curves than this show no legend


class _Curve:
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
        self.drawn: tuple[int, int, DisplayOptions] | None = None

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

    def refresh(self, options: DisplayOptions) -> bool:
        series = self.spec.series
        state = (series.version, len(series), options)
        if state == self.drawn:
            return False
        self.drawn = state
        x = series.time.view - self.spec.time_origin if options.x_time else series.step.view
        raw = series.value.view
        smooth = options.smoothing > 0.0
        y = series.smoothed(options.smoothing) if smooth else raw
        if self.spec.scale != 1.0:
            raw, y = raw * self.spec.scale, y * self.spec.scale
        # Only finite values are stored; in log mode pyqtgraph must drop non-positive ones.
        skip = not options.log_y
        connect = "all"
        breaks = segment_breaks(series.step.view, series.time.view, options.x_time)
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


class MetricPlot(pg.PlotWidget):
    """A plot of named curves that follows growing series; see the module docstring."""

    def __init__(
        self, title: str, y_label: str = "", parent=None, empty_hint: str = EMPTY_HINT
    ) -> None:
        super().__init__(parent=parent, axisItems={"left": ReadableLogAxis(orientation="left")})
        self.title = title
        self.setObjectName(f"plot_{title.lower().replace(' ', '_')}")
        self.plotItem.setTitle(title)
        # No grid: pyqtgraph draws grid lines as part of each axis picture, which made
        # every repaint of a growing curve ~5x slower (2 -> 10 ms per plot here).
        self.plotItem.setLabel("left", y_label)
        # A half-opaque legend background keeps labels readable over the curves.
        background = pg.mkColor(pg.getConfigOption("background"))
        background.setAlpha(190)
        self.legend = self.plotItem.addLegend(offset=(-10, 10), labelTextSize="8pt", brush=background)
        self.legend_corner: Corner = CORNERS[0]
        self.plotItem.setMenuEnabled(True)
        # Peak downsampling keeps spikes; clip-to-view skips points outside the x range.
        self.plotItem.setDownsampling(auto=True, mode="peak")
        self.plotItem.setClipToView(True)
        self.options = DisplayOptions()
        self._curves: dict[str, _Curve] = {}
        self._note = ""
        self._ceiling: pg.InfiniteLine | None = None
        self._ceiling_value: float | None = None
        self._references: dict[str, tuple[Reference, pg.InfiniteLine]] = {}
        self._zero: pg.InfiniteLine | None = None
        # Crosshair: a vertical line and a read-out pinned to the top left of the view.
        self.crosshair = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#888", width=1))
        self.crosshair.hide()
        self.plotItem.addItem(self.crosshair, ignoreBounds=True)
        self.readout = pg.TextItem(anchor=(0, 0), color="#555")
        self.readout.setParentItem(self.plotItem.vb)
        self.readout.setPos(4, 2)
        self._mouse_proxy = pg.SignalProxy(
            self.plotItem.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse_moved
        )
        # Said in place of empty axes; hidden once any curve has a point.
        # The axes' colour, a little faded: readable on the light and the dark background.
        hint_color = pg.mkColor(pg.getConfigOption("foreground"))
        hint_color.setAlpha(210)
        self.empty_hint = pg.TextItem(empty_hint, anchor=(0.5, 0.5), color=hint_color)
        self.empty_hint.setParentItem(self.plotItem.vb)
        self.empty_hint.setTextWidth(260)
        self._empty: bool | None = None
        vb = self.plotItem.vb
        vb.sigResized.connect(self._on_view_changed)
        vb.sigRangeChanged.connect(self._on_view_changed)
        self._apply_axis_labels()
        self._update_empty()

    # ------------------------------------------------------------ curves

    def set_curves(self, specs: list[CurveSpec]) -> None:
        """Show exactly these curves; unchanged ones keep their items (no flicker, no copy)."""
        wanted = {spec.key: spec for spec in specs}
        for key in [k for k in self._curves if k not in wanted]:
            self._curves.pop(key).remove(self.plotItem)
        for key, spec in wanted.items():
            curve = self._curves.get(key)
            if curve is not None and (
                curve.spec.series is not spec.series
                or curve.spec.color != spec.color
                or curve.spec.style != spec.style
                or curve.spec.label != spec.label
                or curve.spec.width != spec.width
            ):
                self._curves.pop(key).remove(self.plotItem)
                curve = None
            if curve is None:
                # Dozens of ranks: a legend entry per curve would cover the plot (and cost more
                # to lay out than the curves to draw); the hover readout names the curve instead.
                self._curves[key] = _Curve(self.plotItem, spec, legend=len(wanted) <= LEGEND_LIMIT)
            elif curve.spec != spec:  # a new scale or time origin: draw again
                curve.spec = spec
                curve.drawn = None
        self.plotItem.setLabel("bottom", self._x_label())
        self._update_empty()

    def curve_keys(self) -> list[str]:
        return list(self._curves)

    def curve_data(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """The full x and y data a curve holds now (smoothed where smoothing is on)."""
        item = self._curves[key].main
        return np.asarray(item.xData if item.xData is not None else []), np.asarray(
            item.yData if item.yData is not None else []
        )

    def raw_curve_data(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """The faint raw curve's data (empty when smoothing is off)."""
        item = self._curves[key].raw
        return np.asarray(item.xData if item.xData is not None else []), np.asarray(
            item.yData if item.yData is not None else []
        )

    def curve_items(self, key: str) -> tuple[pg.PlotDataItem, pg.PlotDataItem]:
        """The (smoothed or only, faint raw) plot items of a curve."""
        curve = self._curves[key]
        return curve.main, curve.raw

    # ------------------------------------------------------------ options and refresh

    def set_options(self, options: DisplayOptions) -> None:
        if options == self.options:
            return
        log_changed = options.log_y != self.options.log_y
        self.options = options
        if log_changed:
            self.plotItem.setLogMode(x=False, y=options.log_y)
            self._place_lines()
        self._apply_axis_labels()

    def set_ceiling(self, value: float | None, label: str = "") -> None:
        """A dashed horizontal line (e.g. the device's total memory); None removes it."""
        self._ceiling_value = value
        if value is None:
            if self._ceiling is not None:
                self.plotItem.removeItem(self._ceiling)
                self._ceiling = None
            return
        if self._ceiling is None:
            self._ceiling = pg.InfiniteLine(
                angle=0, movable=False, pen=pg.mkPen("#d62728", width=1, style=Qt.PenStyle.DashLine),
                label=label, labelOpts={"position": 0.1, "color": "#d62728"},
            )
            # Outside the auto range: a 80 GiB line would flatten a 2 GiB curve; it shows
            # once the curves come near it (or the user zooms out).
            self.plotItem.addItem(self._ceiling, ignoreBounds=True)
        self._place(self._ceiling, value)
        self._ceiling.label.setFormat(label)

    def set_references(self, references: list[Reference]) -> None:
        """Show exactly these reference lines (dashed, labelled, inside the auto range)."""
        wanted = {r.key: r for r in references}
        for key in [k for k in self._references if k not in wanted]:
            self.plotItem.removeItem(self._references.pop(key)[1])
        for key, ref in wanted.items():
            old = self._references.get(key)
            if old is not None and old[0] == ref:
                continue
            if old is not None:
                self.plotItem.removeItem(old[1])
            line = pg.InfiniteLine(
                angle=0, movable=False,
                pen=pg.mkPen(ref.color, width=2, style=Qt.PenStyle.DashLine),
                # The label sits under the line, mid-plot: clear of the legend (top right)
                # and of the ceiling's label (left).
                label=ref.label, labelOpts={"position": 0.5, "color": ref.color,
                                            "anchors": [(0.5, 0), (0.5, 0)]},
            )
            line.setZValue(5)  # above the curves: the prediction must stay visible
            self.plotItem.addItem(line)  # counted in the auto range, unlike the ceiling
            self._place(line, ref.value)
            self._references[key] = (ref, line)

    def set_include_zero(self, include: bool) -> None:
        """Keep y = 0 inside the auto range (amounts such as bytes read best from zero)."""
        if include and self._zero is None:
            # An invisible level counted in the auto range (a hidden item would not count).
            self._zero = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(0, 0, 0, 0))
            self.plotItem.addItem(self._zero)
            self._place(self._zero, 0.0)
            # Headroom above the largest value, so a line there and its label stay in view.
            self.plotItem.vb.setDefaultPadding(0.08)
        elif not include and self._zero is not None:
            self.plotItem.removeItem(self._zero)
            self._zero = None
            self.plotItem.vb.setDefaultPadding(0.02)

    def includes_zero(self) -> bool:
        return self._zero is not None

    def references(self) -> dict[str, Reference]:
        """The reference lines shown now, by key (their values in the plot's units)."""
        return {key: ref for key, (ref, _line) in self._references.items()}

    def reference_line(self, key: str) -> pg.InfiniteLine:
        return self._references[key][1]

    def _place(self, line: pg.InfiniteLine, value: float) -> None:
        # Lines are not log-transformed by pyqtgraph: place them in log10 units ourselves
        # (a level at or below 0 has no place on a log axis).
        if self.options.log_y and value <= 0:
            line.hide()
            return
        line.setPos(math.log10(value) if self.options.log_y else value)
        line.show()

    def _place_lines(self) -> None:
        if self._ceiling is not None and self._ceiling_value is not None:
            self._place(self._ceiling, self._ceiling_value)
        for ref, line in self._references.values():
            self._place(line, ref.value)
        if self._zero is not None:
            self._place(self._zero, 0.0)

    def set_note(self, text: str) -> None:
        """A short warning under the title (e.g. where a value became NaN)."""
        if text != self._note:
            self._note = text
            title = self.title if not text else (
                f"{self.title} <span style='color:#c0392b; font-size:8pt'>{text}</span>"
            )
            self.plotItem.setTitle(title)

    def refresh(self) -> bool:
        """Hand changed series to their curves; True if anything was redrawn."""
        changed = False
        for curve in self._curves.values():
            changed |= curve.refresh(self.options)
        if changed:
            self._update_empty()
            self.place_legend()
        return changed

    # ------------------------------------------------------------ legend and empty hint

    def is_empty(self) -> bool:
        """True while no curve has a point to draw."""
        return not any(len(c.main.xData if c.main.xData is not None else []) for c in
                       self._curves.values())

    def set_empty_hint(self, text: str) -> None:
        self.empty_hint.setPlainText(text)
        self._center_hint()

    def _update_empty(self) -> None:
        empty = self.is_empty()
        if empty != self._empty:
            self._empty = empty
            self.empty_hint.setVisible(empty)
            self._center_hint()
        # Bare 0-1 axes say nothing: they show with the first point. (Setting an axis
        # label shows the axis again, hence the check on every call.)
        for name in ("left", "bottom"):
            if self.plotItem.getAxis(name).isVisible() == empty:
                self.plotItem.showAxis(name, not empty)

    def _center_hint(self) -> None:
        rect = self.plotItem.vb.boundingRect()
        self.empty_hint.setPos(rect.center())

    def _on_view_changed(self, *_args) -> None:
        self._center_hint()
        self.place_legend()

    def curve_pixels(self) -> tuple[np.ndarray, np.ndarray]:
        """Curve points in view-box pixels (y down): the newest tenth of each, and a sample
        of the rest. The newest are reduced to each pixel column's lowest and highest."""
        vb = self.plotItem.vb
        (x0, x1), (y0, y1) = vb.viewRange()
        rect = vb.boundingRect()
        w, h = rect.width(), rect.height()
        recent, older = [np.empty((0, 3))], [np.empty((0, 3))]
        if x1 == x0 or y1 == y0:
            return recent[0], older[0]

        def pixels(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            if self.options.log_y:
                keep = y > 0
                x, y = x[keep], np.log10(y[keep])
            return (x - x0) / (x1 - x0) * w, (y1 - y) / (y1 - y0) * h

        for curve in self._curves.values():
            x, y = self.curve_data(curve.spec.key)
            if not len(x):
                continue
            start = len(x) - newest_share(len(x))
            recent.append(column_extremes(*pixels(x[start:], y[start:])))
            stride = max(1, start // 2000)
            older.append(points(*pixels(x[:start:stride], y[:start:stride])))
        return np.concatenate(recent), np.concatenate(older)

    def place_legend(self) -> None:
        """Put the legend in the corner that covers the least of the newest data."""
        if not self._curves:
            return
        legend = self.legend.boundingRect()
        vb = self.plotItem.vb.boundingRect()
        recent, older = self.curve_pixels()
        corner = choose_corner(
            recent, older, (vb.width(), vb.height()), (legend.width(), legend.height()),
            self.legend_corner,
        )
        if corner != self.legend_corner:
            self.legend_corner = corner
            # A negative offset anchors the legend to the right or bottom edge.
            self.legend.setOffset(corner.offset)

    def _x_label(self) -> str:
        return "wall time (s)" if self.options.x_time else "step"

    def _apply_axis_labels(self) -> None:
        self.plotItem.setLabel("bottom", self._x_label())
        if self._empty is not None:
            self._update_empty()

    # ------------------------------------------------------------ crosshair

    def readout_at(self, x: float) -> str:
        """The read-out text for x: the nearest point of every curve."""
        lines = []
        for curve in self._curves.values():
            spec = curve.spec
            if not len(spec.series):
                continue
            px, value = spec.series.value_at(x, self.options.x_time, spec.time_origin)
            if math.isnan(px):
                continue
            x_text = f"{px:.1f}s" if self.options.x_time else f"step {int(px)}"
            lines.append(
                f"<span style='color:{spec.color}'>{spec.label}</span>: "
                f"{_fmt(value * spec.scale)} ({x_text})"
            )
        return "<br>".join(lines)

    def _on_mouse_moved(self, event) -> None:
        pos = event[0]
        vb = self.plotItem.vb
        if not self.plotItem.sceneBoundingRect().contains(pos) or not self._curves:
            self.crosshair.hide()
            self.readout.setHtml("")
            return
        point: QPointF = vb.mapSceneToView(pos)
        self.show_crosshair(point.x())

    def show_crosshair(self, x: float) -> None:
        self.crosshair.setPos(x)
        self.crosshair.show()
        self.readout.setHtml(f"<div style='font-size:8pt'>{self.readout_at(x)}</div>")


def _fmt(value: float) -> str:
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-3 or magnitude >= 1e5):
        return f"{value:.3e}"
    return f"{value:.4g}"
