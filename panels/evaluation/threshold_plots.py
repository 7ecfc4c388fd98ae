"""The Thresholds tab's plots: rates per group at the threshold, ROC per group, accuracy cost."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from backends.evaluate.fairness_report import FairnessReport
from backends.evaluate.scores import RocCurves
from backends.evaluate.thresholds import CONSTRAINT_NAMES, ThresholdSolution
from panels.evaluation.style import (
    category_label,
    clear_whiskers,
    frame_plot,
    group_color,
    set_title,
)

# The three rates drawn side by side for each group, with their bar colours.
RATE_BARS = (("selection_rate", "#7f7f7f"), ("tpr", "#2ca02c"), ("fpr", "#d62728"))


def _shift(k: int) -> float:
    """Where the ``k``-th rate's bar sits beside its group's tick."""
    return (k - 1) * 0.27


class RatesPlot(pg.PlotWidget):
    """Selection rate, TPR and FPR of model A per group, with percentile whiskers."""

    def __init__(self) -> None:
        super().__init__(background="w")
        frame_plot(self, "Rates per group at the threshold", "rate")
        # The legend has a row of its own under the group names: inside the view it sat
        # on the tallest bars (a TPR near 1) and their whiskers.
        self.legend = pg.LegendItem(labelTextColor="#222", colCount=3)
        self.plotItem.layout.addItem(self.legend, 4, 1)
        self.plotItem.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignHCenter)
        self.plotItem.legend = self.legend  # items added with a name get their entry here
        self.bars: dict[str, pg.BarGraphItem] = {}
        self.whiskers: dict[str, pg.ErrorBarItem] = {}
        for metric, colour in RATE_BARS:
            bars = pg.BarGraphItem(x=[], height=[], width=0.25, brush=colour, name=metric)
            whiskers = pg.ErrorBarItem(
                x=np.zeros(0), y=np.zeros(0), beam=0.08, pen=pg.mkPen("#222")
            )
            self.addItem(bars)
            self.addItem(whiskers)
            self.bars[metric], self.whiskers[metric] = bars, whiskers

    def bar_data(self) -> dict[str, np.ndarray]:
        """Bar heights by metric (selection_rate, tpr, fpr), one per group."""
        return {m: np.asarray(b.opts.get("height", [])) for m, b in self.bars.items()}

    def clear_bars(self) -> None:
        for bars in self.bars.values():
            bars.setOpts(x=[], height=[])

    def show_report(self, report: FairnessReport, group_thresholds: list[float]) -> None:
        """The rates of a report (at the given thresholds), undefined ones left out."""
        names = report.group_names
        x = np.arange(len(names), dtype=float)
        for k, (metric, _) in enumerate(RATE_BARS):
            heights = np.array([report.value(0, metric, g) for g in names])
            shift = _shift(k)
            finite = np.isfinite(heights)
            self.bars[metric].setOpts(x=x[finite] + shift, height=heights[finite], width=0.25)
            if report.intervals:
                iv = np.array([report.interval(0, metric, g, "percentile") for g in names])
                ok = finite & np.isfinite(iv[:, 0])
                self.whiskers[metric].setData(
                    x=x[ok] + shift,
                    y=heights[ok],
                    top=(iv[:, 1] - heights)[ok],
                    bottom=(heights - iv[:, 0])[ok],
                    beam=0.08,
                )
            else:
                clear_whiskers(self.whiskers[metric])
        self._name_groups(names)
        self.setYRange(0, 1.02, padding=0)  # a rate of 1 and its whisker stay in view
        acc = report.value(0, "accuracy")
        shown = ", ".join(f"{t:.4g}" for t in dict.fromkeys(group_thresholds))
        set_title(self, f"Rates per group at threshold {shown} (accuracy {acc:.3f})")

    def show_solution(self, solution: ThresholdSolution) -> None:
        """The expected rates per group under a post-processing solution."""
        names = solution.group_names
        x = np.arange(len(names), dtype=float)
        for k, (metric, _) in enumerate(RATE_BARS):
            self.bars[metric].setOpts(
                x=x + _shift(k), height=solution.rates[metric][:-1], width=0.25
            )
            clear_whiskers(self.whiskers[metric])
        self._name_groups(names)
        kind = "randomised rules (expected rates)" if solution.randomized else "plain thresholds"
        set_title(self, f"{CONSTRAINT_NAMES[solution.constraint]}: {kind}")

    def _name_groups(self, names: list[str]) -> None:
        labels = [category_label(n) for n in names]
        axis = self.getAxis("bottom")
        axis.setTicks([list(enumerate(labels))])
        axis.setHeight(16 * max((label.count("\n") + 1 for label in labels), default=1) + 12)
        self.setXRange(-1.0, len(names), padding=0)  # room for long first names


class RocPlot(pg.PlotWidget):
    """ROC curves per group and overall (dashed), with each group's operating point."""

    def __init__(self) -> None:
        super().__init__(background="w")
        frame_plot(self, "ROC per group (dots: operating points)", "TPR", "FPR")
        self.setXRange(0, 1)
        self.setYRange(0, 1)
        self.addLegend(offset=(-10, 150), labelTextColor="#222")
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.points = pg.ScatterPlotItem(size=10, pen=pg.mkPen("#000"))
        self.addItem(self.points)

    def clear_curves(self) -> None:
        for item in self.curves.values():
            self.removeItem(item)
        self.curves.clear()
        self.plotItem.legend.clear()
        self.points.setData([], [])

    def show_curves(self, roc: RocCurves) -> None:
        for k, name in enumerate(roc.names):
            colour = "#000" if name == "overall" else group_color(k)
            style = Qt.PenStyle.DashLine if name == "overall" else Qt.PenStyle.SolidLine
            label = name if roc.auc_ci is None else f"{name} (AUC {roc.auc[k]:.3f})"
            self.curves[name] = self.plot(
                roc.fpr[k], roc.tpr[k], pen=pg.mkPen(colour, width=2, style=style), name=label
            )

    def show_points(self, fpr, tpr) -> None:
        """Each group's operating point (FPR, TPR), in its colour."""
        self.points.setData(
            x=fpr, y=tpr, brush=[pg.mkBrush(group_color(i)) for i in range(len(fpr))]
        )


class CostPlot(pg.PlotWidget):
    """Accuracy against the shared rate: what equalising costs, against one threshold for all."""

    def __init__(self) -> None:
        super().__init__(background="w")
        frame_plot(
            self,
            "Accuracy against the shared rate (cost of the constraint)",
            "accuracy",
            "shared rate",
        )
        self.curve = self.plot([], [], pen=pg.mkPen("#1f77b4", width=2))
        self.best = pg.ScatterPlotItem(size=11, brush="#d62728")
        self.addItem(self.best)
        self.baseline = pg.InfiniteLine(
            angle=0,
            pen=pg.mkPen("#444", style=Qt.PenStyle.DashLine),
            label="best single threshold",
            labelOpts={"color": "#444", "position": 0.15},
        )
        self.baseline.hide()
        self.addItem(self.baseline)

    def clear_cost(self) -> None:
        self.curve.setData([], [])
        self.best.setData([], [])
        self.baseline.hide()

    def show_solution(self, solution: ThresholdSolution) -> None:
        self.curve.setData(solution.grid, solution.accuracy_curve)
        self.best.setData([solution.shared_rate], [solution.accuracy])
        self.baseline.setValue(solution.baseline_accuracy)
        self.baseline.show()
        low = float(np.nanmin(solution.accuracy_curve))
        self.setYRange(low - 0.01, solution.baseline_accuracy + 0.02, padding=0)
