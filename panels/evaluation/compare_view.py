"""The Compare tab: the paired bootstrap test of model A against B, its histogram with δ and 2δ."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from backends.evaluate.analysis import Analysis
from backends.evaluate.paired import PairedTest, compare_models, metric_choices
from panels.evaluation.bootstrap_box import BootstrapBox
from panels.evaluation.style import make_plot, set_hint, set_title


def p_text(p: float, resamples: int) -> str:
    """A p-value as text; below the resolution of the resamples it is an upper bound."""
    if math.isfinite(p) and p * resamples < 1:
        return f"p < {1 / resamples:.1g}"
    return f"p = {p:.4f}"


class CompareView(QWidget):
    """Runs the paired test on its own task slot and shows the resampled differences.

    Signals
    -------
    sig_ready(object)          a :class:`PairedTest` was computed and shown
    sig_error(str)             the test cannot run on these predictions (the text says why)
    sig_failed(object, str)    the test raised (the error and its details)
    """

    sig_ready = Signal(object)
    sig_error = Signal(str)
    sig_failed = Signal(object, str)

    def __init__(self, context: Any, settings: BootstrapBox, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings  # confidence, interval method and seed of the test
        self.runner = context.task_runner(self, "evaluation-compare")
        self.analysis: Analysis | None = None
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.compare_metric_combo = QComboBox()
        self.compare_metric_combo.setEditable(False)
        self.compare_resamples_spin = QSpinBox()
        self.compare_resamples_spin.setRange(100, 200_000)
        self.compare_resamples_spin.setSingleStep(1000)
        self.compare_resamples_spin.setValue(10_000)
        self.compare_button = QPushButton("Run paired test")
        self.compare_button.clicked.connect(self.run)
        self.compare_button.setEnabled(False)
        for w in (
            QLabel("Metric"),
            self.compare_metric_combo,
            QLabel("Resamples"),
            self.compare_resamples_spin,
            self.compare_button,
        ):
            row.addWidget(w)
        row.addStretch(1)
        layout.addLayout(row)
        self.compare_plot = make_plot(
            "Paired bootstrap: A - B on resampled test sets", "resamples", "A - B"
        )
        self.compare_hist = pg.BarGraphItem(
            x=[], height=[], width=1.0, brush=pg.mkBrush(31, 119, 180, 150), pen=pg.mkPen(None)
        )
        self.compare_plot.addItem(self.compare_hist)
        self.delta_line = _marker("δ", "#d62728", 2, Qt.PenStyle.SolidLine, 0.9)
        self.double_line = _marker("2δ", "#ff7f0e", 2, Qt.PenStyle.DashLine, 0.8)
        self.zero_line = _marker("0", "#444", 1, Qt.PenStyle.DotLine, 0.95)
        for line in self._lines():
            line.hide()
            self.compare_plot.addItem(line)
        layout.addWidget(self.compare_plot, 1)
        self.compare_label = QLabel(
            "Load predictions of two models (model B) to compare them on the same rows."
        )
        self.compare_label.setWordWrap(True)
        self.compare_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.compare_label)

    def _lines(self) -> tuple[pg.InfiniteLine, ...]:
        return (self.delta_line, self.double_line, self.zero_line)

    def setup(self, analysis: Analysis) -> None:
        """Offer the metrics of a new analysis and clear the last test."""
        self.analysis = analysis
        report = analysis.report
        two = report.cells.n_models == 2
        self.compare_button.setEnabled(two)
        self.compare_metric_combo.clear()
        if two:
            self.compare_metric_combo.addItems(metric_choices(report.group_names))
            self.compare_label.setText(
                "Choose a metric and run the paired test: both models are scored on the same resampled rows."
            )
        else:
            self.compare_label.setText(
                "Only one model: choose model B's column (or use a demo) to compare two models on the same rows."
            )
        self.compare_hist.setOpts(x=[], height=[])
        set_hint(self.compare_plot, "Choose a metric and press the paired test's button: the "
                 "distribution of A − B over resampled rows appears here." if two else
                 "The paired test needs two models: choose model B's column, or load a demo.")
        for line in self._lines():
            line.hide()

    def run(self, metric: str | None = None) -> None:
        """Run the paired bootstrap test on the worker."""
        if self.analysis is None or self.analysis.predictions.n_models != 2:
            self.sig_error.emit(
                "The paired test needs two models' predictions on the same rows: choose model B."
            )
            return
        if metric:
            self.compare_metric_combo.setCurrentText(metric)
        self.compare_button.setEnabled(False)
        self.runner.submit(
            compare_models,
            self.analysis.predictions,
            self.compare_metric_combo.currentText() or "accuracy",
            resamples=self.compare_resamples_spin.value(),
            confidence=self.settings.confidence_spin.value(),
            ci_method=self.settings.method_combo.currentText(),
            seed=self.settings.seed_spin.value(),
            on_done=self._show_result,
            on_error=self.sig_failed.emit,
        )

    def _show_result(self, result: PairedTest) -> None:
        self.compare_button.setEnabled(True)
        set_hint(self.compare_plot, None)
        values = result.distribution[np.isfinite(result.distribution)]
        if values.size:
            bins = min(60, max(10, int(np.sqrt(values.size))))
            lo, hi = (
                float(min(values.min(), 0.0, 2 * result.delta)),
                float(max(values.max(), 0.0, 2 * result.delta)),
            )
            if hi <= lo:
                hi = lo + 1e-9
            counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
            centres = (edges[:-1] + edges[1:]) / 2
            self.compare_hist.setOpts(x=centres, height=counts, width=float(edges[1] - edges[0]))
        self.delta_line.setValue(result.delta)
        self.double_line.setValue(2 * result.delta)
        self.zero_line.setValue(0.0)
        for line in self._lines():
            line.show()
        mcnemar = (
            f" Exact McNemar (two-sided) cross-check: p = {result.mcnemar_p:.4f}."
            if result.mcnemar_p is not None
            else ""
        )
        set_title(
            self.compare_plot,
            f"{result.description}: δ = A − B = {result.delta:+.4f}, {p_text(result.p_value, result.resamples)} "
            f"({result.resamples:,} resamples)",
        )
        self.compare_label.setText(
            result.explanation
            + " p counts the resampled differences beyond 2δ: shifting the distribution by −δ centres it on 'no difference'."
            + mcnemar
        )
        self.sig_ready.emit(result)

    def histogram(self) -> tuple[np.ndarray, np.ndarray]:
        """The histogram behind the plot: bin centres and counts."""
        opts = self.compare_hist.opts
        return np.asarray(opts.get("x", [])), np.asarray(opts.get("height", []))

    def shutdown(self) -> None:
        self.runner.shutdown()


def _marker(
    label: str, colour: str, width: int, style: Qt.PenStyle, position: float
) -> pg.InfiniteLine:
    """A labelled vertical line marking a value on the histogram."""
    return pg.InfiniteLine(
        angle=90,
        pen=pg.mkPen(colour, width=width, style=style),
        label=label,
        labelOpts={"color": colour, "position": position},
    )
