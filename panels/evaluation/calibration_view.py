"""The Calibration tab: observed positive rate against score per group, with intervals."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from backends.evaluate.analysis import Analysis
from panels.evaluation.style import group_color, make_plot

# Bins of a handful of rows say nothing but draw the eye: they are left out.
MIN_CALIBRATION_ROWS = 10


class CalibrationView(QWidget):
    """One curve per group (sufficiency); the diagonal where scores are probabilities."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.calibration_plot = make_plot(
            "Calibration per group: share of positives by score", "observed positive rate", "score"
        )
        self.calibration_plot.addLegend(offset=(10, 5), labelTextColor="#222")
        self.calibration_items: dict[str, pg.PlotDataItem] = {}
        self.calibration_whiskers: dict[str, pg.ErrorBarItem] = {}
        layout.addWidget(self.calibration_plot, 1)
        self.calibration_label = QLabel(
            "Calibration needs scores: choose a score column for model A."
        )
        self.calibration_label.setWordWrap(True)
        layout.addWidget(self.calibration_label)

    def show_analysis(self, analysis: Analysis | None) -> None:
        plot = self.calibration_plot
        for item in [*self.calibration_items.values(), *self.calibration_whiskers.values()]:
            plot.removeItem(item)
        self.calibration_items.clear()
        self.calibration_whiskers.clear()
        plot.plotItem.legend.clear()
        cal = analysis.calibration if analysis else None
        if cal is None:
            self.calibration_label.setText(
                "Calibration needs scores: choose a score column for model A."
            )
            return
        if cal.scores_are_probabilities:
            diagonal = plot.plot(
                [0, 1],
                [0, 1],
                pen=pg.mkPen("#999", style=Qt.PenStyle.DashLine),
                name="perfect calibration",
            )
            self.calibration_items["diagonal"] = diagonal
        spread = float(np.nanmax(cal.mean_score) - np.nanmin(cal.mean_score)) or 1.0
        for k, name in enumerate(cal.names):
            ok = np.isfinite(cal.observed[k]) & (cal.counts[k] >= MIN_CALIBRATION_ROWS)
            if not ok.any():
                continue
            # A small sideways offset per group keeps the whiskers apart.
            offset = (k - (len(cal.names) - 1) / 2) * 0.006 * spread
            x, y = cal.mean_score[k][ok] + offset, cal.observed[k][ok]
            item = plot.plot(
                x,
                y,
                pen=pg.mkPen(group_color(k), width=2),
                symbol="o",
                symbolSize=7,
                symbolBrush=group_color(k),
                name=name,
            )
            self.calibration_items[name] = item
            if cal.ci is not None:
                ci = cal.ci[k][ok]
                good = np.isfinite(ci[:, 0])
                whiskers = pg.ErrorBarItem(
                    x=x[good],
                    y=y[good],
                    top=(ci[good, 1] - y[good]),
                    bottom=(y[good] - ci[good, 0]),
                    beam=0.0,
                    pen=pg.mkPen(group_color(k)),
                )
                plot.addItem(whiskers)
                self.calibration_whiskers[name] = whiskers
        plot.setYRange(0, 1, padding=0.03)
        scale = (
            "probability"
            if cal.scores_are_probabilities
            else "score (not a probability: no diagonal)"
        )
        errors = ", ".join(
            f"{n} {e:.3f}"
            for n, e in zip(cal.names, cal.calibration_error, strict=True)
            if math.isfinite(e)
        )
        self.calibration_label.setText(
            f"Sufficiency: at the same {scale}, are outcomes equally likely in every group? Whiskers: "
            f"{analysis.report.confidence:.0%} bootstrap intervals; bins with fewer than "
            f"{MIN_CALIBRATION_ROWS} rows of a group are not drawn."
            + (f" Mean calibration error: {errors}." if errors else "")
        )
