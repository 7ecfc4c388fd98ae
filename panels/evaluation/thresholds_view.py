"""The Thresholds tab: a live global threshold, per-group thresholds, and the post-processing solver.

Moving the slider re-evaluates model A at the new threshold on the tab's own task
slot, debounced, the newest position superseding any still running. Per-group
thresholds come from the table or from the solver, which equalises FPR, TPR or
both and shows the accuracy that costs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backends.evaluate.analysis import Analysis, evaluate_at_thresholds
from backends.evaluate.fairness_report import FairnessReport
from backends.evaluate.thresholds import (
    CONSTRAINT_NAMES,
    CONSTRAINTS,
    ThresholdSolution,
    solve_thresholds,
)
from panels.evaluation.bootstrap_box import BootstrapBox
from panels.evaluation.threshold_plots import CostPlot, RatesPlot, RocPlot

SLIDER_STEPS = 1000
# Few resamples keep the slider live; the intervals only need to show their spread.
LIVE_RESAMPLES = 500


class ThresholdsView(QWidget):
    """Model A's rates per group as its threshold moves, ROC per group, post-processing.

    Signals
    -------
    sig_report_ready(object)     a :class:`FairnessReport` at moved thresholds was shown
    sig_solution_ready(object)   a :class:`ThresholdSolution` was computed and shown
    sig_error(str)               the request needs what these predictions lack (says what)
    sig_failed(object, str)      a request raised (the error and its details)
    """

    sig_report_ready = Signal(object)
    sig_solution_ready = Signal(object)
    sig_error = Signal(str)
    sig_failed = Signal(object, str)

    def __init__(self, context: Any, settings: BootstrapBox, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings  # confidence and seed of the live intervals
        self.runner = context.task_runner(self, "evaluation-thresholds")
        self.analysis: Analysis | None = None
        self._score_range = (0.0, 1.0)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(60)
        self._debounce.timeout.connect(self._evaluate_threshold)
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_slider_row())
        plots = QHBoxLayout()
        self.threshold_plot = RatesPlot()
        plots.addWidget(self.threshold_plot, 1)
        self.roc_plot = RocPlot()
        plots.addWidget(self.roc_plot, 1)
        layout.addLayout(plots, 3)
        post = QHBoxLayout()
        post.addLayout(self._build_group_thresholds())
        self.cost_plot = CostPlot()
        post.addWidget(self.cost_plot, 1)
        layout.addLayout(post, 2)
        self.solution_label = QLabel(
            "Solve to equalise error rates across groups with per-group thresholds."
        )
        self.solution_label.setWordWrap(True)
        self.solution_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.solution_label)
        self._set_controls(False)

    def _build_slider_row(self) -> QHBoxLayout:
        """Model A's one threshold for all groups, and its value."""
        row = QHBoxLayout()
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(0, SLIDER_STEPS)
        self.threshold_slider.valueChanged.connect(self._on_slider)
        self.threshold_value = QLabel("threshold: –")
        self.threshold_value.setMinimumWidth(140)
        row.addWidget(QLabel("Model A threshold (all groups)"))
        row.addWidget(self.threshold_slider, 1)
        row.addWidget(self.threshold_value)
        return row

    def _build_group_thresholds(self) -> QVBoxLayout:
        """The per-group threshold table (the one state the slider, solver and chart share)."""
        self.group_threshold_table = QTableWidget(0, 2)
        self.group_threshold_table.setHorizontalHeaderLabels(["group", "threshold"])
        self.group_threshold_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.Stretch
        )
        self.group_threshold_table.setMaximumWidth(280)
        self.group_threshold_table.setMinimumWidth(150)
        side = QVBoxLayout()
        side.addWidget(QLabel("Per-group thresholds (model A)"))
        side.addWidget(self.group_threshold_table)
        self.apply_groups_button = QPushButton("Apply per-group thresholds")
        self.apply_groups_button.clicked.connect(lambda: self.apply_group_thresholds())
        side.addWidget(self.apply_groups_button)
        solve_row = QHBoxLayout()
        self.constraint_combo = QComboBox()
        self.constraint_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.constraint_combo.setMinimumContentsLength(12)
        for c in CONSTRAINTS:
            self.constraint_combo.addItem(CONSTRAINT_NAMES[c], c)
        self.constraint_combo.setCurrentIndex(CONSTRAINTS.index("both"))
        self.randomize_check = QCheckBox("randomise")
        self.randomize_check.setChecked(True)
        self.randomize_check.setToolTip("exact equality needs randomising between two thresholds")
        self.solve_button = QPushButton("Solve")
        self.solve_button.clicked.connect(self.solve)
        for w in (self.constraint_combo, self.randomize_check, self.solve_button):
            solve_row.addWidget(w)
        side.addLayout(solve_row)
        return side

    def _set_controls(self, enabled: bool) -> None:
        for w in (
            self.threshold_slider,
            self.apply_groups_button,
            self.solve_button,
            self.constraint_combo,
            self.randomize_check,
        ):
            w.setEnabled(enabled)

    def _has_scores(self) -> bool:
        return self.analysis is not None and self.analysis.score_table is not None

    def setup(self, analysis: Analysis) -> None:
        """Show a new analysis at its own threshold; without scores, say what is needed."""
        self.analysis = analysis
        has_scores = analysis.score_table is not None
        self._set_controls(has_scores)
        self.roc_plot.clear_curves()
        self.cost_plot.clear_cost()
        if not has_scores:
            self.threshold_value.setText("threshold: model A has labels, not scores")
            self.solution_label.setText(
                "Thresholds need scores: choose a score column for model A."
            )
            self.threshold_plot.clear_bars()
            return
        scores = analysis.predictions.scores[0]
        self._score_range = (float(scores.min()), float(scores.max()))
        t = analysis.predictions.thresholds[0]
        self.threshold_slider.blockSignals(True)
        self.threshold_slider.setValue(self._slider_from_threshold(t))
        self.threshold_slider.blockSignals(False)
        self.threshold_value.setText(f"threshold: {t:.4g}")
        self.roc_plot.show_curves(analysis.roc)
        self.group_threshold_table.setRowCount(len(analysis.report.group_names))
        for r, name in enumerate(analysis.report.group_names):
            self.group_threshold_table.setItem(r, 0, QTableWidgetItem(name))
            spin = QDoubleSpinBox()
            spin.setDecimals(4)
            spin.setRange(self._score_range[0] - 1, self._score_range[1] + 1)
            spin.setValue(t)
            self.group_threshold_table.setCellWidget(r, 1, spin)
        self._show_report(analysis.report, [t] * len(analysis.report.group_names))

    # ------------------------------------------------------------ the global threshold

    def _slider_from_threshold(self, t: float) -> int:
        lo, hi = self._score_range
        return int(round((t - lo) / (hi - lo) * SLIDER_STEPS)) if hi > lo else 0

    def threshold_from_slider(self, value: int | None = None) -> float:
        """The threshold at a slider position (default: where it is), snapped to a score."""
        lo, hi = self._score_range
        value = self.threshold_slider.value() if value is None else value
        t = lo + (hi - lo) * value / SLIDER_STEPS
        # Snap to a score that occurs, so the shown threshold is one the data can tell apart.
        edges = self.analysis.score_table.edges
        i = int(np.clip(np.searchsorted(edges, t), 1, len(edges) - 1)) if len(edges) > 1 else 0
        return float(
            edges[i]
            if len(edges) == 1 or abs(edges[i] - t) < abs(edges[i - 1] - t)
            else edges[i - 1]
        )

    def set_threshold(self, t: float) -> None:
        """Move the global threshold slider to ``t`` (re-evaluates, debounced)."""
        self.threshold_slider.setValue(self._slider_from_threshold(t))

    def _on_slider(self, value: int) -> None:
        if not self._has_scores():
            return
        self.threshold_value.setText(f"threshold: {self.threshold_from_slider(value):.4g}")
        self._debounce.start()

    def _evaluate_threshold(self) -> None:
        pred = self.analysis.predictions
        t = self.threshold_from_slider()
        thresholds = [t] + [pred.thresholds[i] for i in range(1, pred.n_models)]
        self.runner.submit(
            evaluate_at_thresholds,
            pred,
            thresholds,
            resamples=LIVE_RESAMPLES,
            confidence=self.settings.confidence_spin.value(),
            seed=self.settings.seed_spin.value(),
            supersede=True,
            on_done=lambda report, _t=t: self._show_report(report, [_t] * len(report.group_names)),
            on_error=self.sig_failed.emit,
        )

    # ------------------------------------------------------------ per-group thresholds

    def apply_group_thresholds(self, thresholds: list[float] | None = None) -> None:
        """Evaluate model A with one threshold per group (from the table, or given)."""
        if not self._has_scores():
            return
        rows = self.group_threshold_table.rowCount()
        if thresholds is not None:
            for r, t in enumerate(thresholds):
                self.group_threshold_table.cellWidget(r, 1).setValue(t)
        values = [self.group_threshold_table.cellWidget(r, 1).value() for r in range(rows)]
        self.runner.submit(
            evaluate_at_thresholds,
            self.analysis.predictions,
            None,
            group_thresholds=values,
            resamples=LIVE_RESAMPLES,
            seed=self.settings.seed_spin.value(),
            supersede=True,
            on_done=lambda report, _v=values: self._show_report(report, _v),
            on_error=self.sig_failed.emit,
        )

    def _show_report(self, report: FairnessReport, group_thresholds: list[float]) -> None:
        self.threshold_plot.show_report(report, group_thresholds)
        names = report.group_names
        self.roc_plot.show_points(
            [report.value(0, "fpr", g) for g in names], [report.value(0, "tpr", g) for g in names]
        )
        self.sig_report_ready.emit(report)

    def bar_data(self) -> dict[str, np.ndarray]:
        """Heights of the bars by metric (selection_rate, tpr, fpr), one per group."""
        return self.threshold_plot.bar_data()

    # ------------------------------------------------------------ post-processing

    def solve(self, constraint: str | None = None) -> None:
        """Solve per-group thresholds equalising the chosen rates, on the worker."""
        if not self._has_scores():
            self.sig_error.emit(
                "Per-group thresholds need scores: choose a score column for model A."
            )
            return
        if constraint:
            self.constraint_combo.setCurrentIndex(CONSTRAINTS.index(constraint))
        self.runner.submit(
            solve_thresholds,
            self.analysis.score_table,
            self.constraint_combo.currentData(),
            randomize=self.randomize_check.isChecked(),
            on_done=self._show_solution,
            on_error=self.sig_failed.emit,
        )

    def _show_solution(self, solution: ThresholdSolution) -> None:
        # One state: the table and the threshold line say what the chart shows. For a
        # randomised rule the table holds the score from which a group is always positive.
        edges = self.analysis.score_table.edges
        for r, accept in enumerate(solution.acceptance):
            positive = np.flatnonzero(accept >= 1.0 - 1e-9)
            t = float(edges[positive[0]]) if positive.size else float(edges[-1]) + 1.0
            spin = self.group_threshold_table.cellWidget(r, 1)
            if spin is not None:
                spin.blockSignals(True)
                spin.setValue(t)
                spin.setToolTip(
                    f"solved: {solution.rules[r]}" if r < len(solution.rules) else "solved"
                )
                spin.blockSignals(False)
        self.threshold_value.setText(
            "threshold: solved per group"
            + (" (randomised: see the rules below)" if solution.randomized else "")
        )
        self.cost_plot.show_solution(solution)
        self.threshold_plot.show_solution(solution)
        self.roc_plot.show_points(solution.rates["fpr"][:-1], solution.rates["tpr"][:-1])
        names = solution.group_names
        rules = "; ".join(f"<b>{n}</b>: {r}" for n, r in zip(names, solution.rules, strict=True))
        self.solution_label.setText(
            f"{CONSTRAINT_NAMES[solution.constraint]}: accuracy {solution.accuracy:.4f} against "
            f"{solution.baseline_accuracy:.4f} for the best single threshold ({solution.baseline_threshold:.4g}); "
            f"cost {solution.baseline_accuracy - solution.accuracy:.4f}. Rules: {rules}"
        )
        self.sig_solution_ready.emit(solution)

    def shutdown(self) -> None:
        """Stop the debounce timer and the task slot."""
        self._debounce.stop()
        self.runner.shutdown()
