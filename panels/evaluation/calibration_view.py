"""The Calibration tab: observed positive rate against score per group, with intervals.

With two models given as scores, a selector above the plot chooses whose curves
are drawn (model A first); it hides when there is nothing to choose.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from backends.evaluate.analysis import Analysis
from backends.evaluate.scores import CalibrationCurves
from panels.evaluation.style import NOTHING_YET, group_color, make_plot, set_hint, set_title

# Bins of a handful of rows say nothing but draw the eye: they are left out.
MIN_CALIBRATION_ROWS = 10


class CalibrationView(QWidget):
    """One curve per group (sufficiency); the diagonal where scores are probabilities."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.model_row = QWidget()
        row = QHBoxLayout(self.model_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Model:"))
        # Item data: the model's index in the analysis (only models given as scores are listed).
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("calibration_model")
        self.model_combo.setToolTip("Whose calibration curves to draw")
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        row.addWidget(self.model_combo)
        row.addStretch(1)
        layout.addWidget(self.model_row)
        self.model_row.hide()
        self._analysis: Analysis | None = None
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
        """Offer the analysis's scored models and draw the chosen one's (model A's at first)."""
        self._analysis = analysis
        previous = self.model_combo.currentText()
        calibrations = self._calibrations(analysis)
        set_hint(self.calibration_plot, None if any(c is not None for c in calibrations) else (
            NOTHING_YET if analysis is None else
            "No calibration: these predictions are labels only; load scores (or a demo) to see "
            "how predicted probabilities match outcomes."))
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        if analysis is not None:
            for model, cal in enumerate(calibrations):
                if cal is not None:
                    self.model_combo.addItem(analysis.report.model_names[model], model)
        keep = self.model_combo.findText(previous)
        self.model_combo.setCurrentIndex(keep if keep >= 0 else 0)
        self.model_combo.blockSignals(False)
        self.model_row.setVisible(self.model_combo.count() > 1)
        self._draw()

    def selected_model(self) -> int | None:
        """The index of the model whose curves are drawn (None: no model has scores)."""
        data = self.model_combo.currentData()
        return int(data) if data is not None else None

    def select_model(self, model: int) -> None:
        """Draw model ``model``'s curves (0: A, 1: B), as choosing it in the selector does."""
        index = self.model_combo.findData(model)
        if index < 0:
            raise ValueError(f"model {model} has no scores to calibrate")
        self.model_combo.setCurrentIndex(index)

    @staticmethod
    def _calibrations(analysis: Analysis | None) -> list[CalibrationCurves | None]:
        if analysis is None:
            return []
        # An analysis from before per-model curves existed holds model A's alone.
        return analysis.calibrations or [analysis.calibration]

    def _on_model_changed(self, _index: int) -> None:
        self._draw()

    def _draw(self) -> None:
        analysis = self._analysis
        self._clear_curves()
        model = self.selected_model()
        cal = self._calibrations(analysis)[model] if model is not None else None
        if analysis is None or cal is None or model is None:
            self.calibration_label.setText(
                "Calibration needs scores: choose a score column for model A."
            )
            return
        plot = self.calibration_plot
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
            self._draw_group(cal, k, name, spread)
        plot.setYRange(0, 1, padding=0.03)
        set_title(
            plot,
            f"Calibration of {analysis.report.model_names[model]} per group: "
            "share of positives by score",
        )
        self.calibration_label.setText(_caption(cal, analysis.report.confidence))

    def _clear_curves(self) -> None:
        plot = self.calibration_plot
        for item in [*self.calibration_items.values(), *self.calibration_whiskers.values()]:
            plot.removeItem(item)
        self.calibration_items.clear()
        self.calibration_whiskers.clear()
        plot.plotItem.legend.clear()

    def _draw_group(self, cal: CalibrationCurves, k: int, name: str, spread: float) -> None:
        """Group ``k``'s curve over bins with enough rows, with its interval whiskers."""
        ok = np.isfinite(cal.observed[k]) & (cal.counts[k] >= MIN_CALIBRATION_ROWS)
        if not ok.any():
            return
        plot = self.calibration_plot
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


def _caption(cal: CalibrationCurves, confidence: float) -> str:
    """What the plot asks (sufficiency), what the whiskers are, and the calibration errors."""
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
    return (
        f"Sufficiency: at the same {scale}, are outcomes equally likely in every group? Whiskers: "
        f"{confidence:.0%} bootstrap intervals; bins with fewer than "
        f"{MIN_CALIBRATION_ROWS} rows of a group are not drawn."
        + (f" Mean calibration error: {errors}." if errors else "")
    )
