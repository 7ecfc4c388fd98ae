"""The evaluation views' shared look: group colours, numbers as text, plot frames, empty whiskers."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from workbench.theme import series_color


def group_color(i: int) -> str:
    """The colour of the ``i``-th group (the theme's series colours, repeating)."""
    return series_color(i)


def number_text(value: float, digits: int = 3) -> str:
    """A rate as text; ``undefined`` where it has no value."""
    return "undefined" if not math.isfinite(value) else f"{value:.{digits}f}"


def category_label(name: str, width: int = 11) -> str:
    """A group name for a category axis: one line per part of an intersection, long words wrapped.

    ``"African-American, Female"`` becomes ``"African-\nAmerican\nFemale"``, so
    neighbouring labels never run into each other.
    """
    lines: list[str] = []
    for part in name.split(", "):
        line = ""
        for word in part.replace("-", "- ").split(" "):
            if not word:
                continue
            joiner = "" if line.endswith("-") or not line else " "
            if line and len(line) + len(joiner) + len(word) > width:
                lines.append(line)
                line = word
            else:
                line += joiner + word
        lines.append(line)
    return "\n".join(lines)


def value_text(value: float, interval: tuple[float, float] | None) -> str:
    """A rate with its interval in brackets when the interval has both ends."""
    text = number_text(value)
    if interval and all(math.isfinite(v) for v in interval):
        text += f" [{interval[0]:.3f}, {interval[1]:.3f}]"
    return text


def frame_plot(plot: pg.PlotWidget, title: str, left: str, bottom: str = "") -> pg.PlotWidget:
    """Give a plot the views' frame: title, axis labels, a light grid, dark axes."""
    set_title(plot, title)
    plot.setLabel("left", left)
    if bottom:
        plot.setLabel("bottom", bottom)
    plot.showGrid(x=False, y=True, alpha=0.3)
    plot.setMenuEnabled(False)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setTextPen("#222")
        plot.getAxis(axis).setPen("#666")
        # Rates and differences read better as they are than as "x0.001".
        plot.getAxis(axis).enableAutoSIPrefix(False)
    return plot


# What a plot says before there is anything to draw, in place of bare axes.
NOTHING_YET = ("Nothing evaluated yet: load the COMPAS demo, a CSV of predictions or a classifier "
               "checkpoint above, then press Evaluate.")


def make_plot(title: str, left: str, bottom: str = "") -> pg.PlotWidget:
    """A white plot with the views' frame, saying what to do until it has data."""
    plot = frame_plot(pg.PlotWidget(background="w"), title, left, bottom)
    hint = pg.TextItem(NOTHING_YET, anchor=(0.5, 0.5), color="#555")
    hint.setTextWidth(320)
    hint.setParentItem(plot.plotItem.vb)
    plot.plotItem.vb.sigResized.connect(
        lambda vb: hint.setPos(vb.boundingRect().center()))
    plot.empty_hint = hint
    set_hint(plot, NOTHING_YET)
    return plot


def set_hint(plot: pg.PlotWidget, text: str | None) -> None:
    """Say ``text`` in place of the axes (None: the plot has data; its axes show)."""
    hint: pg.TextItem = plot.empty_hint
    if text is not None:
        hint.setText(text)
        hint.setPos(plot.plotItem.vb.boundingRect().center())
    hint.setVisible(text is not None)
    for axis in ("left", "bottom"):
        plot.plotItem.showAxis(axis, text is None)
    plot.plotItem.showGrid(x=False, y=text is None, alpha=0.3)


def set_title(plot: pg.PlotWidget, title: str) -> None:
    """Retitle a plot in the views' title style."""
    plot.setTitle(title, color="#222", size="10pt")


def clear_whiskers(whiskers: pg.ErrorBarItem) -> None:
    """Remove every whisker of an error-bar item."""
    whiskers.setData(x=np.zeros(0), y=np.zeros(0), top=np.zeros(0), bottom=np.zeros(0))
