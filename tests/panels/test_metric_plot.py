"""The monitor's plot widget as a user sees it: legend clear of new data, readable log axis, hints.

Each test builds a ``MetricPlot`` alone, shows it offscreen at a fixed size and
checks geometry the user would notice (scene rects of the legend, of the tick
labels, of the newest points), not the code's own bookkeeping.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from backends.monitor_data import Series
from panels.monitor.metric_plot import CurveSpec, DisplayOptions, MetricPlot


def _series(x: np.ndarray, y: np.ndarray) -> Series:
    series = Series()
    series.extend(np.asarray(x, float), np.asarray(x, float), np.asarray(y, float))
    return series


def _add(series: Series, step: float, value: float) -> None:
    series.extend(np.array([step]), np.array([step]), np.array([value]))


def _show(qtbot, plot: MetricPlot, size=(420, 260)) -> MetricPlot:
    qtbot.addWidget(plot)
    plot.resize(*size)
    plot.show()
    qtbot.waitExposed(plot)
    return plot


def _settle(qtbot, plot: MetricPlot) -> None:
    """Let pyqtgraph finish its lazy auto-range and the legend follow it."""
    plot.refresh()
    plot.plotItem.vb.updateAutoRange()
    plot.repaint()
    qtbot.waitUntil(lambda: not plot.plotItem.vb._autoRangeNeedsUpdate, timeout=2000)
    # An axis shown with the first point gets its width from the next layout pass.
    axis = plot.plotItem.getAxis("left")
    qtbot.waitUntil(lambda: plot.is_empty() or axis.width() > 0, timeout=2000)
    plot.place_legend()


def _newest_scene_points(plot: MetricPlot, key: str) -> list[QPointF]:
    x, y = plot.curve_data(key)
    if plot.options.log_y:
        y = np.log10(y)
    n = len(x)
    tail = range(n - max(1, n // 10), n)
    vb = plot.plotItem.vb
    return [vb.mapViewToScene(QPointF(float(x[i]), float(y[i]))) for i in tail]


@pytest.mark.parametrize(
    "shape",
    ["rising", "flat_high", "falling", "flat_low"],
)
def test_the_legend_never_covers_the_newest_tenth_of_a_curve(qtbot, shape):
    x = np.arange(400.0)
    y = {
        "rising": x / 400.0,
        "flat_high": np.r_[np.linspace(0, 1, 40), np.ones(360)],
        "falling": 1.0 - x / 400.0,
        "flat_low": np.r_[np.linspace(1, 0, 40), np.zeros(360)],
    }[shape]
    plot = _show(qtbot, MetricPlot("Loss", "loss"))
    specs = [
        CurveSpec(key="a", label="rank 0 train loss", series=_series(x, y), color="#1f77b4"),
        CurveSpec(key="b", label="rank 1 train loss", series=_series(x, y * 0.98), color="#ff7f0e"),
    ]
    plot.set_curves(specs)
    _settle(qtbot, plot)
    legend = plot.legend.sceneBoundingRect()
    assert legend.width() > 40 and legend.height() > 20  # the legend is really there
    assert plot.plotItem.vb.sceneBoundingRect().contains(legend)
    for key in ("a", "b"):
        covered = [p for p in _newest_scene_points(plot, key) if legend.contains(p)]
        assert not covered, f"{shape}: legend at {plot.legend_corner.name} covers {covered[:3]}"


def test_the_legend_moves_when_the_curve_grows_into_it(qtbot):
    plot = _show(qtbot, MetricPlot("Memory", "GiB"))
    series = Series()
    for step in range(200):  # falling: newest data bottom right, the legend stays top right
        _add(series, float(step), 1.0 - step / 400.0)
    plot.set_curves([CurveSpec(key="m", label="allocated", series=series, color="#1f77b4")])
    _settle(qtbot, plot)
    assert plot.legend_corner.name == "top right"
    for step in range(200, 400):  # then climbs to the top right corner
        _add(series, float(step), 0.5 + (step - 200) / 100.0)
    _settle(qtbot, plot)
    legend = plot.legend.sceneBoundingRect()
    assert plot.legend_corner.name != "top right"
    assert not [p for p in _newest_scene_points(plot, "m") if legend.contains(p)]


@pytest.mark.parametrize(
    ("low", "high", "height"),
    [(2.1, 3.4, 200), (0.5, 40.0, 160), (1e-4, 10.0, 140), (1e-9, 1e6, 120), (0.9, 11.0, 300),
     (1000.0, 1400.0, 160), (1.2e5, 1.5e5, 200)],
)
def test_log_axis_labels_never_overlap_and_some_are_shown(qtbot, low, high, height):
    x = np.arange(300.0)
    y = np.geomspace(high, low, len(x))
    plot = _show(qtbot, MetricPlot("Loss", "loss"), size=(360, height))
    plot.set_curves([CurveSpec(key="l", label="loss", series=_series(x, y), color="#1f77b4")])
    plot.set_options(DisplayOptions(log_y=True))
    _settle(qtbot, plot)
    axis = plot.plotItem.getAxis("left")
    labels = axis.label_rects()
    texts = [text for text, _rect in labels]
    assert len(labels) >= 2, f"only {texts} on a log axis from {low} to {high}"
    for (ta, a), (tb, b) in itertools.combinations(labels, 2):
        assert not a.intersects(b), f"labels {ta!r} and {tb!r} overlap: {a} {b}"
    # No two labels say the same (one significant digit made 1.2e5 and 1.4e5 both '1·10⁵').
    assert len(set(texts)) == len(texts)


def test_pyqtgraph_alone_crowds_the_same_log_axis(qtbot):
    """The check above can fail: the stock axis labels 2..9 of a decade on top of each other."""
    import pyqtgraph as pg

    from panels.monitor.log_axis import ReadableLogAxis

    plot = _show(qtbot, MetricPlot("Loss", "loss"), size=(360, 120))
    x = np.arange(300.0)
    plot.set_curves([CurveSpec(key="l", label="loss",
                               series=_series(x, np.geomspace(9.0, 1.1, 300)), color="#1f77b4")])
    plot.set_options(DisplayOptions(log_y=True))
    _settle(qtbot, plot)
    axis = plot.plotItem.getAxis("left")
    # The same axis with pyqtgraph's own choice of ticks and strings.
    axis.logTickValues = pg.AxisItem.logTickValues.__get__(axis)
    axis.logTickStrings = pg.AxisItem.logTickStrings.__get__(axis)
    axis.picture = None
    crowded = ReadableLogAxis.label_rects(axis)
    assert any(a.intersects(b) for (_, a), (_, b) in itertools.combinations(crowded, 2))


def test_an_empty_plot_says_what_to_do_and_the_hint_goes_with_the_first_point(qtbot):
    plot = _show(qtbot, MetricPlot("Loss", "loss"))
    assert plot.empty_hint.isVisible()
    assert "run" in plot.empty_hint.toPlainText()
    assert not plot.plotItem.getAxis("left").isVisible()  # no bare 0-1 axes
    series = Series()
    plot.set_curves([CurveSpec(key="l", label="loss", series=series, color="#1f77b4")])
    plot.refresh()
    assert plot.empty_hint.isVisible()  # a run with no record yet is still empty
    _add(series, 0.0, 2.5)
    _add(series, 1.0, 2.4)
    plot.refresh()
    assert not plot.empty_hint.isVisible()
    assert plot.plotItem.getAxis("left").isVisible()
    plot.set_curves([])
    assert plot.empty_hint.isVisible()
    # The hint sits inside the view, centred.
    hint = plot.empty_hint.sceneBoundingRect()
    assert plot.plotItem.vb.sceneBoundingRect().contains(hint.center())


def test_an_empty_plot_keeps_its_axes_hidden_when_options_change(qtbot):
    plot = _show(qtbot, MetricPlot("Loss", "loss"))
    plot.set_curves([CurveSpec(key="l", label="loss", series=Series(), color="#1f77b4")])
    plot.set_options(DisplayOptions(x_time=True, log_y=True))
    assert plot.empty_hint.isVisible()
    assert not plot.plotItem.getAxis("bottom").isVisible()
    assert not plot.plotItem.getAxis("left").isVisible()


def test_a_column_whose_ends_miss_the_legend_still_counts_when_its_span_crosses_it():
    """A noisy tail reduced to per-column extremes: the points between them are covered too."""
    from panels.monitor.legend_corner import CORNERS, choose_corner, column_extremes, legend_rect

    view, legend = (400.0, 200.0), (120.0, 40.0)
    left, top, right, bottom = legend_rect(CORNERS[0], view, legend)  # top right
    # Three points in one pixel column under the legend: above it, inside it, below it.
    px = np.array([left + 30.2, left + 30.5, left + 30.8])
    py = np.array([top - 20.0, (top + bottom) / 2, bottom + 60.0])
    columns = column_extremes(px, py)
    assert len(columns) == 1  # one column, kept as its span
    chosen = choose_corner(columns, np.empty((0, 3)), view, legend)
    assert chosen != CORNERS[0]


def test_a_flat_curve_is_shown_around_its_value_and_auto_range_returns_when_it_moves(qtbot):
    """A constant learning rate of 3e-4 reads 3e-4 on the axis, not a line on "0" of a ±0.5
    range; once the values differ the plot ranges over them again."""
    series = _series(np.arange(1, 101), np.full(100, 3e-4))
    plot = _show(qtbot, MetricPlot("Learning rate", "lr"))
    plot.set_curves([CurveSpec("lr", "train/lr", series, "#1f77b4")])
    _settle(qtbot, plot)
    low, high = plot.plotItem.vb.viewRange()[1]
    assert low < 3e-4 < high and high - low < 1e-4
    _add(series, 101, 1e-3)
    _settle(qtbot, plot)
    low, high = plot.plotItem.vb.viewRange()[1]
    assert low <= 3e-4 and high >= 1e-3 and plot.plotItem.vb.autoRangeEnabled()[1]
