"""One live metric plot: curves over growing series, smoothing, log-y, step/time x, crosshair.

A :class:`MetricPlot` holds curves (``plot_curve.py``) bound to
:class:`backends.monitor_data.Series` objects and copies nothing on its own:
``refresh`` (called by the panel's redraw timer, never per record) hands
pyqtgraph views of the series' arrays, and only for curves whose data or
display options changed since the last refresh. Every curve uses peak
downsampling and clip-to-view and draws no symbols, so a million-point curve
repaints in a few milliseconds. With smoothing on, the raw curve stays behind
the smoothed one, faint.

The legend sits in the corner of the view that covers the least of the newest
data (``legend_corner.py``) and moves when the curves grow into it; the log-y
axis labels only as many ticks as fit (``log_axis.py``); a plot with nothing to
draw shows what to do instead of empty 0-1 axes.

Horizontal lines mark levels (``level_lines.py``): a ceiling (the device's
total memory; outside the auto range) and references (a prediction to compare
the curves with; inside the auto range, so the line is always in view).

A large run's history arrives as min/max overviews; when the plot is zoomed in
on part of it, the plot asks its detail loader for every point of the visible
steps (on the wall-time axis, the steps written in the visible seconds) and
draws them there (``plot_curve.CurveDetail``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QTimer

from backends.monitor_data import DetailSource
from panels.monitor.legend_corner import (
    CORNERS,
    Corner,
    choose_corner,
    column_extremes,
    newest_share,
    points,
)
from panels.monitor.level_lines import LevelLines, Reference
from panels.monitor.log_axis import ReadableLogAxis
from panels.monitor.plot_curve import CurveDetail, CurveSpec, DisplayOptions, PlotCurve

__all__ = ["CurveSpec", "DisplayOptions", "MetricPlot", "Reference"]

# What an empty plot says, unless the panel gives it something more specific.
EMPTY_HINT = "No data yet: pick a run in the list, or launch one from the Training panel."

LEGEND_LIMIT = 16  # plots with more curves than this show no legend
DETAIL_DELAY_MS = 150  # a zoom settles this long before its detail is read

# One zoomed-in curve's wish: its key, where its points are, the step range, how many buckets.
DetailRequest = tuple[str, DetailSource, float, float, int]
DetailLoader = Callable[[list[DetailRequest], Callable[[dict[str, CurveDetail]], None]], None]


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
        self._curves: dict[str, PlotCurve] = {}
        self._note = ""
        self.levels = LevelLines(self.plotItem)
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
        self._detail_loader: DetailLoader | None = None
        self._flat_y = False  # the y range was set around a flat curve
        self._detail_timer = QTimer(self)
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(DETAIL_DELAY_MS)
        self._detail_timer.timeout.connect(self.request_detail)
        vb.sigXRangeChanged.connect(lambda *_args: self._detail_timer.start())
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
            if curve is not None and not curve.spec.looks_like(spec):
                self._curves.pop(key).remove(self.plotItem)
                curve = None
            if curve is None:
                # Dozens of ranks: a legend entry per curve would cover the plot (and cost more
                # to lay out than the curves to draw); the hover readout names the curve instead.
                self._curves[key] = PlotCurve(self.plotItem, spec, legend=len(wanted) <= LEGEND_LIMIT)
            elif curve.spec != spec:  # a new scale or time origin: draw again
                curve.spec = spec
                curve.drawn = None
        self.plotItem.setLabel("bottom", self._x_label())
        self._update_empty()

    def curve_keys(self) -> list[str]:
        return list(self._curves)

    def curve_spec(self, key: str) -> CurveSpec:
        """What a curve draws (its series, label, look and scale)."""
        return self._curves[key].spec

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
            self.levels.set_log_y(options.log_y)
        self._apply_axis_labels()

    def set_ceiling(self, value: float | None, label: str = "") -> None:
        """A dashed horizontal line (e.g. the device's total memory); None removes it."""
        self.levels.set_ceiling(value, label)

    def set_references(self, references: list[Reference]) -> None:
        """Show exactly these reference lines (dashed, labelled, inside the auto range)."""
        self.levels.set_references(references)

    def set_include_zero(self, include: bool) -> None:
        """Keep y = 0 inside the auto range (amounts such as bytes read best from zero)."""
        self.levels.set_include_zero(include)

    def includes_zero(self) -> bool:
        return self.levels.includes_zero()

    def references(self) -> dict[str, Reference]:
        """The reference lines shown now, by key (their values in the plot's units)."""
        return self.levels.references()

    def reference_line(self, key: str) -> pg.InfiniteLine:
        return self.levels.reference_line(key)

    def ceiling_line(self) -> pg.InfiniteLine | None:
        """The ceiling's line while there is one."""
        return self.levels.ceiling

    # ------------------------------------------------------------ detail on zoom

    def set_detail_loader(self, loader: DetailLoader | None) -> None:
        """Who reads every point of a zoomed-in range (the panel, on a worker)."""
        self._detail_loader = loader

    def request_detail(self) -> None:
        """Ask for every point of the visible steps of each overview curve zoomed in on (on the
        wall-time axis, the steps written in the visible seconds)."""
        if self._detail_loader is None:
            return
        (first, last), _y = self.plotItem.vb.viewRange()
        buckets = max(200, int(self.plotItem.vb.width()))
        wanted: list[DetailRequest] = []
        for key, curve in self._curves.items():
            series = curve.spec.series
            source, steps = series.detail_source, series.step.view
            if source is None or not len(steps):
                continue
            x = series.time.view - curve.spec.time_origin if self.options.x_time else steps
            if first <= x[0] and last >= x[-1]:  # all of it in view: the overview shows it
                if curve.detail is not None:
                    curve.set_detail(None)
                continue
            if self.options.x_time:  # seconds to steps, through the overview's own points
                low, high = np.interp([first, last], x, steps)
                wanted.append((key, source, math.floor(low), math.ceil(high), buckets))
            else:
                wanted.append((key, source, first, last, buckets))
        if wanted:
            self._detail_loader(wanted, self.show_detail)

    def show_detail(self, details: dict[str, CurveDetail]) -> None:
        """Draw the points read for a zoomed-in range."""
        for key, detail in details.items():
            if key in self._curves:
                self._curves[key].set_detail(detail)
        self.refresh()

    def curve_detail(self, key: str) -> CurveDetail | None:
        return self._curves[key].detail

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
            self._fit_flat_curves()
            self.place_legend()
        return changed

    def _fit_flat_curves(self) -> None:
        """A flat curve (a constant learning rate) in a range around its value: pyqtgraph's
        auto range gives flat data ±0.5, which puts 3e-4 on a "0" line. Auto range returns
        as soon as the values differ; a range the user set is left alone, and so is a plot with
        reference lines (the auto range keeps them in view)."""
        vb = self.plotItem.vb
        if self.options.log_y or self.references() or not (self._flat_y or vb.autoRangeEnabled()[1]):
            return
        level = self._flat_level()
        if level:
            vb.setYRange(level - 0.1 * abs(level), level + 0.1 * abs(level), padding=0)
            self._flat_y = True  # setYRange turned the y auto range off
        elif self._flat_y:
            self._flat_y = False
            vb.enableAutoRange(axis="y")

    def _flat_level(self) -> float | None:
        """The one value every curve holds, if they all hold one (the first curve that varies
        ends the look: a live plot of many curves pays for one, not all)."""
        level: float | None = None
        for key in self._curves:
            y = self.curve_data(key)[1]
            y = y[np.isfinite(y)]
            if not y.size:
                continue
            low, high = float(y.min()), float(y.max())
            if low != high or (level is not None and low != level):
                return None
            level = low
        return level

    # ------------------------------------------------------------ legend and empty hint

    def is_empty(self) -> bool:
        """True while no curve has a point to draw."""
        return not any(c.has_points() for c in self._curves.values())

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
