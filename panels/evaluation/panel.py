"""The evaluation view: fairness per group with intervals, paired tests, thresholds, calibration.

Widgets only; the engines are in :mod:`backends.evaluate`, the pieces of the view
in :mod:`panels.evaluation`. Predictions come from a CSV (a column picker says
which column is the label, the predictions or scores of one or two models, and
the groups), from a shipped demo (COMPAS, Adult), or from a workbench classifier
checkpoint. Three task slots keep the window responsive: ``evaluation`` (reading
and evaluating, with a progress bar; this panel's), ``compare`` (the paired
bootstrap test; the Compare tab's) and ``thresholds`` (live re-evaluation as the
threshold slider moves, newest request wins, and post-processing; the Thresholds
tab's).

Tabs: Groups (per-group bars with interval whiskers, the metrics table, the
2x2 table in ProPublica's form, the three fairness criteria), Compare (the paired
test's histogram with delta and 2 x delta marked, and what p means), Thresholds (a
global slider, per-group thresholds, equalising FPR/TPR/both with the accuracy
it costs, ROC per group with operating points) and Calibration (observed rate
against score per group).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from backends.evaluate.analysis import Analysis, load_and_analyse, write_csv
from backends.evaluate.fairness_report import FairnessReport
from backends.evaluate.paired import PairedTest
from backends.evaluate.prediction_csv import CsvSelection, read_csv_header
from backends.evaluate.predictions import PredictionInputError
from backends.evaluate.report_html import write_html_report
from backends.evaluate.sources import demo_group_columns
from backends.evaluate.thresholds import ThresholdSolution
from panels.evaluation.bootstrap_box import BootstrapBox
from panels.evaluation.calibration_view import CalibrationView
from panels.evaluation.column_picker import ColumnPicker
from panels.evaluation.compare_view import CompareView
from panels.evaluation.error_line import ErrorLine
from panels.evaluation.export import ExportBar, widget_png
from panels.evaluation.groups_view import GroupsView
from panels.evaluation.readers import source_reader
from panels.evaluation.source_bar import SourceBar
from panels.evaluation.state import EvaluationSource, EvaluationState
from panels.evaluation.thresholds_view import ThresholdsView


class EvaluationPanel(QWidget):
    """Fairness metrics per group, bootstrap intervals, paired tests and threshold post-processing.

    ``state`` (:class:`EvaluationState`) holds the source and the results; the tabs
    render them.

    Signals
    -------
    sig_analysis_ready(object)    an :class:`Analysis` was computed and shown
    sig_compare_ready(object)     a :class:`PairedTest` was computed and shown
    sig_thresholds_ready(object)  a :class:`FairnessReport` at moved thresholds was shown
    sig_solution_ready(object)    a :class:`ThresholdSolution` was computed and shown
    sig_error(str)                a message about bad input was shown in the panel
    """

    sig_analysis_ready = Signal(object)
    sig_compare_ready = Signal(object)
    sig_thresholds_ready = Signal(object)
    sig_solution_ready = Signal(object)
    sig_error = Signal(str)

    def __init__(self, context: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.runner = context.task_runner(self, "evaluation")
        self.state = EvaluationState()
        self._build()
        self.runner.sig_idle.connect(self._on_idle)
        self.context.events.sig_checkpoint_opened.connect(self._on_checkpoint_opened)

    # ------------------------------------------------------------ layout

    def _build(self) -> None:
        root = QVBoxLayout(self)
        self.source_bar = SourceBar(self.context)
        self.source_bar.sig_demo_requested.connect(self.load_demo)
        self.source_bar.sig_csv_chosen.connect(self.open_csv)
        self.source_bar.sig_checkpoint_chosen.connect(self.load_checkpoint)
        self.source_bar.cancel_button.clicked.connect(self.runner.cancel)
        root.addWidget(self.source_bar)
        self.error_label = ErrorLine()
        root.addWidget(self.error_label)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._build_controls())
        scroll.setMinimumWidth(200)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        splitter.addWidget(scroll)
        self.tabs = self._build_tabs()
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([270, 900])
        root.addWidget(splitter, 1)

        self.export_bar = ExportBar()
        self.export_bar.sig_html_chosen.connect(self.export_html)
        self.export_bar.sig_csv_chosen.connect(self.export_csv)
        root.addWidget(self.export_bar)
        self._name_widgets()

    def _build_tabs(self) -> QTabWidget:
        """Groups, Compare, Thresholds and Calibration, each reporting back to this panel."""
        self.groups_view = GroupsView()
        self.compare_view = CompareView(self.context, self.bootstrap_box)
        self.compare_view.sig_ready.connect(self._on_compare)
        self.thresholds_view = ThresholdsView(self.context, self.bootstrap_box)
        self.thresholds_view.sig_report_ready.connect(self._on_threshold_report)
        self.thresholds_view.sig_solution_ready.connect(self._on_solution)
        for view in (self.compare_view, self.thresholds_view):
            view.sig_error.connect(self._show_error)
            view.sig_failed.connect(self._on_failure)
        self.calibration_view = CalibrationView()
        tabs = QTabWidget()
        tabs.addTab(self.groups_view, "Groups")
        tabs.addTab(self.compare_view, "Compare")
        tabs.addTab(self.thresholds_view, "Thresholds")
        tabs.addTab(self.calibration_view, "Calibration")
        return tabs

    def _name_widgets(self) -> None:
        """The widgets scripts and tests drive by name, as a person drives them."""
        self.progress = self.source_bar.progress
        self.label_combo = self.columns_box.label_combo
        self.pred_a_combo = self.columns_box.pred_a_combo
        self.score_a_combo = self.columns_box.score_a_combo
        self.resamples_spin = self.bootstrap_box.resamples_spin
        self.metric_combo = self.groups_view.metric_combo
        self.metrics_table = self.groups_view.metrics_table
        self.confusion_group_combo = self.groups_view.confusion_group_combo
        self.confusion_table = self.groups_view.confusion_table
        self.criteria_label = self.groups_view.criteria_label
        self.compare_resamples_spin = self.compare_view.compare_resamples_spin
        self.compare_label = self.compare_view.compare_label
        self.delta_line = self.compare_view.delta_line
        self.double_line = self.compare_view.double_line
        self.cost_curve = self.thresholds_view.cost_plot.curve
        self.roc_curves = self.thresholds_view.roc_plot.curves
        self.calibration_items = self.calibration_view.calibration_items

    def _build_controls(self) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        self.columns_box = ColumnPicker()
        layout.addWidget(self.columns_box)
        self.bootstrap_box = BootstrapBox()
        layout.addWidget(self.bootstrap_box)
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.clicked.connect(self.evaluate)
        layout.addWidget(self.evaluate_button)
        layout.addStretch(1)
        return box

    # ------------------------------------------------------------ loading

    def load_demo(self, name: str) -> None:
        """Load a shipped demo (``compas`` or ``adult``) and evaluate it."""
        demo = EvaluationSource("demo", name)
        if self.state.source != demo:
            self.state.source = demo
            columns = demo_group_columns(name)
            self.columns_box.fill_groups(columns, [columns[0]])
            self.columns_box.clear_columns()
            self.columns_box.set_columns_enabled(False)
        self.evaluate()

    def open_csv(self, path: str | Path) -> bool:
        """Read a CSV's header, guess the columns and fill the pickers; False on a bad file."""
        try:
            header = read_csv_header(path)
        except PredictionInputError as exc:
            self._show_error(str(exc))
            return False
        self._clear_error()
        self.state.source = EvaluationSource("csv", Path(path))
        self.columns_box.fill_from_header(header)
        self.source_bar.set_text(f"{Path(path).name}: choose the columns, then Evaluate")
        return True

    def set_columns(self, selection: CsvSelection) -> None:
        """Set the column pickers (used by scripts and tests as by a person)."""
        self.columns_box.set_columns(selection)

    def load_checkpoint(self, path: str | Path) -> None:
        """Evaluate a workbench classifier checkpoint (or run folder) on its dataset's test split."""
        self.state.source = EvaluationSource("checkpoint", Path(path))
        dataset_groups = ["race", "sex", "age_cat"]
        self.columns_box.fill_groups(dataset_groups, [])
        self.columns_box.set_columns_enabled(False)
        self.evaluate()

    def _on_checkpoint_opened(self, path: Path) -> None:
        # The File menu announces every checkpoint; only classifiers concern this view.
        try:
            from backends.checkpoint import read_meta

            if read_meta(path).get("model") == "classifier":
                self.load_checkpoint(path)
        except Exception:  # noqa: BLE001 - other panels report unusable checkpoints
            return

    def evaluate(self) -> None:
        """Read the chosen source and evaluate it on the worker, with a progress bar."""
        source = self.state.source
        if source is None:
            self._show_error(
                "Nothing to evaluate yet: load a demo, open a CSV of predictions or a checkpoint."
            )
            return
        try:
            reader, label = source_reader(
                source.kind,
                source.value,
                self.columns_box.selection(),
                self.columns_box.checked_groups(),
            )
        except PredictionInputError as exc:
            self._show_error(str(exc))
            return
        self._clear_error()
        self.source_bar.set_text(f"Evaluating {label}…")
        self.source_bar.set_busy(True)
        self.evaluate_button.setEnabled(False)
        self.runner.submit(
            load_and_analyse,
            reader,
            on_done=self._on_analysis,
            on_error=self._on_failure,
            on_progress=self.source_bar.set_progress,
            **self.bootstrap_box.options(),
        )

    def _on_idle(self) -> None:
        self.source_bar.set_busy(False)
        self.evaluate_button.setEnabled(True)

    def _on_failure(self, error: BaseException, details: str) -> None:
        self.progress.setValue(0)
        self.source_bar.set_text("Evaluation failed: see the message above.")
        if isinstance(error, ValueError):
            self._show_error(str(error))
        else:
            self._show_error(
                f"The evaluation failed unexpectedly ({type(error).__name__}: {error})."
            )

    def _show_error(self, text: str) -> None:
        self.error_label.show_message(text)
        self.context.show_error(text)
        self.sig_error.emit(text)

    def _clear_error(self) -> None:
        self.error_label.clear_message()

    # ------------------------------------------------------------ results

    def _on_analysis(self, analysis: Analysis) -> None:
        self.state.show_analysis(analysis)
        self._render_analysis(analysis)
        self.sig_analysis_ready.emit(analysis)

    def _render_analysis(self, analysis: Analysis) -> None:
        """Show a new analysis in the source line and every tab; offer its export."""
        report = analysis.report
        self.progress.setValue(1000)
        self.source_bar.set_text(
            f"{report.source or 'predictions'}: {report.cells.n_rows:,} rows, "
            f"{len(report.group_names)} groups, {report.cells.n_models} model{'s' if report.cells.n_models > 1 else ''}"
        )
        self.bootstrap_box.offer_groups(report.group_names)
        self.groups_view.show_analysis(analysis)
        self.compare_view.setup(analysis)
        self.thresholds_view.setup(analysis)
        self.calibration_view.show_analysis(analysis)
        self.export_bar.set_enabled(True)

    def group_bar_data(self) -> dict[str, Any]:
        """What the per-group bar chart shows: names, bar heights and whisker ends."""
        return self.groups_view.bar_data()

    def run_compare(self, metric: str | None = None) -> None:
        """Run the paired bootstrap test on the worker."""
        self.compare_view.run(metric)

    def _on_compare(self, result: PairedTest) -> None:
        self.state.paired = result
        self.sig_compare_ready.emit(result)

    def compare_histogram(self) -> tuple[np.ndarray, np.ndarray]:
        """The histogram behind the compare plot: bin centres and counts."""
        return self.compare_view.histogram()

    def threshold_from_slider(self, value: int | None = None) -> float:
        """The threshold at a slider position (default: where it is), snapped to a score."""
        return self.thresholds_view.threshold_from_slider(value)

    def set_threshold(self, t: float) -> None:
        """Move the global threshold slider to ``t`` (re-evaluates, debounced)."""
        self.thresholds_view.set_threshold(t)

    def apply_group_thresholds(self, thresholds: list[float] | None = None) -> None:
        """Evaluate model A with one threshold per group (from the table, or given)."""
        self.thresholds_view.apply_group_thresholds(thresholds)

    def threshold_bar_data(self) -> dict[str, np.ndarray]:
        """Heights of the threshold view's bars by metric (selection_rate, tpr, fpr), one per group."""
        return self.thresholds_view.bar_data()

    def _on_threshold_report(self, report: FairnessReport) -> None:
        self.state.threshold_report = report
        self.sig_thresholds_ready.emit(report)

    def solve(self, constraint: str | None = None) -> None:
        """Solve per-group thresholds equalising the chosen rates, on the worker."""
        self.thresholds_view.solve(constraint)

    def _on_solution(self, solution: ThresholdSolution) -> None:
        self.state.solution = solution
        self.sig_solution_ready.emit(solution)

    # ------------------------------------------------------------ export

    def export_html(self, path: str | Path) -> Path | None:
        """Write the HTML report (tables, plots as images, the paired test, post-processing)."""
        state = self.state
        if state.analysis is None:
            self._show_error("Nothing to export yet: evaluate some predictions first.")
            return None
        images = {"Per-group metric": widget_png(self.groups_view.group_plot)}
        if state.paired is not None:
            images["Paired test"] = widget_png(self.compare_view.compare_plot)
        if state.analysis.score_table is not None:
            images["Thresholds"] = widget_png(self.thresholds_view.threshold_plot)
            images["ROC per group"] = widget_png(self.thresholds_view.roc_plot)
            images["Calibration per group"] = widget_png(self.calibration_view.calibration_plot)
        try:
            from importlib.metadata import PackageNotFoundError, version

            try:
                made_by = version("workbench")
            except PackageNotFoundError:
                made_by = ""
            out = write_html_report(
                path,
                state.analysis,
                images=images,
                paired=state.paired,
                solution=state.solution,
                version=made_by,
            )
        except OSError as exc:
            self._show_error(f"Could not write {path} ({exc.strerror}): choose another folder.")
            return None
        self.context.show_status(f"Report written to {out}")
        return out

    def export_csv(self, path: str | Path) -> Path | None:
        """Write every metric of every group and model with its intervals as CSV."""
        if self.state.analysis is None:
            self._show_error("Nothing to export yet: evaluate some predictions first.")
            return None
        try:
            out = write_csv(path, self.state.analysis.report)
        except OSError as exc:
            self._show_error(f"Could not write {path} ({exc.strerror}): choose another folder.")
            return None
        self.context.show_status(f"Metrics written to {out}")
        return out

    # ------------------------------------------------------------ lifetime

    def shutdown(self) -> None:
        """Stop timers and cancel every task; called when the window closes."""
        self.runner.shutdown()
        self.compare_view.shutdown()
        self.thresholds_view.shutdown()
