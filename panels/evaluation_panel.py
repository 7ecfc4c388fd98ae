"""The evaluation view: fairness per group with intervals, paired tests, thresholds, calibration.

Widgets only; the engines are in :mod:`backends.evaluate`. Predictions come from
a CSV (a column picker says which column is the label, the predictions or scores
of one or two models, and the groups), from a shipped demo (COMPAS, Adult), or
from a workbench classifier checkpoint. Three task slots keep the window
responsive: ``evaluation`` (reading and evaluating, with a progress bar),
``compare`` (the paired bootstrap test) and ``thresholds`` (live re-evaluation as
the threshold slider moves, newest request wins, and post-processing).

Tabs: Groups (per-group bars with interval whiskers, the metrics table, the
2x2 table in ProPublica's form, the three fairness criteria), Compare (the paired
test's histogram with delta and 2 x delta marked, and what p means), Thresholds (a
global slider, per-group thresholds, equalising FPR/TPR/both with the accuracy
it costs, ROC per group with operating points) and Calibration (observed rate
against score per group).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from backends.evaluate.analysis import (
    Analysis,
    evaluate_at_thresholds,
    load_and_analyse,
    write_csv,
    write_html_report,
)
from backends.evaluate.fairness import OVERALL, FairnessReport
from backends.evaluate.metrics import METRIC_DESCRIPTIONS, RATE_METRICS
from backends.evaluate.paired import PairedTest, compare_models, metric_choices
from backends.evaluate.predictions import (
    CsvSelection,
    PredictionInputError,
    predictions_from_csv,
    read_csv_header,
)
from backends.evaluate.scores import (
    CONSTRAINT_NAMES,
    CONSTRAINTS,
    ThresholdSolution,
    solve_thresholds,
)
from backends.evaluate.sources import (
    DEMOS,
    demo_group_columns,
    load_demo,
    predictions_from_checkpoint,
)

# Group colours: distinguishable, and readable on light and dark backgrounds.
PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
]
_NONE = "(none)"
_SLIDER_STEPS = 1000
_LIVE_RESAMPLES = 500
_MIN_CALIBRATION_ROWS = 10
_LABEL_GUESSES = ("label", "y", "y_true", "target", "truth", "two_year_recid", "income", "outcome")
_GROUP_GUESSES = ("group", "race", "sex", "gender", "ethnicity", "age_cat")


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _p_text(p: float, resamples: int) -> str:
    if math.isfinite(p) and p * resamples < 1:
        return f"p < {1 / resamples:.1g}"
    return f"p = {p:.4f}"


def _fmt(value: float, digits: int = 3) -> str:
    return "undefined" if not math.isfinite(value) else f"{value:.{digits}f}"


class EvaluationPanel(QWidget):
    """Fairness metrics per group, bootstrap intervals, paired tests and threshold post-processing.

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
        self.compare_runner = context.task_runner(self, "evaluation-compare")
        self.threshold_runner = context.task_runner(self, "evaluation-thresholds")
        self.analysis: Analysis | None = None
        self.paired: PairedTest | None = None
        self.solution: ThresholdSolution | None = None
        self.threshold_report: FairnessReport | None = None
        self._csv_path: Path | None = None
        self._source: tuple[str, Any] | None = (
            None  # ("demo", name) | ("csv", path) | ("checkpoint", path)
        )
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(60)
        self._debounce.timeout.connect(self._evaluate_threshold)
        self._build()
        self.runner.sig_idle.connect(self._on_idle)
        self.context.events.sig_checkpoint_opened.connect(self._on_checkpoint_opened)

    # ------------------------------------------------------------ layout

    def _build(self) -> None:
        root = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.demo_combo = QComboBox()
        self.demo_combo.addItems([d.upper() if d == "compas" else d.capitalize() for d in DEMOS])
        self.demo_button = QPushButton("Load")
        self.demo_button.setToolTip("COMPAS: ProPublica's two-year data; Adult: UCI census income")
        self.demo_button.clicked.connect(
            lambda: self.load_demo(DEMOS[self.demo_combo.currentIndex()])
        )
        self.csv_button = QPushButton("CSV…")
        self.csv_button.setToolTip("Open a CSV file of predictions")
        self.csv_button.clicked.connect(self._choose_csv)
        self.checkpoint_button = QPushButton("Open checkpoint…")
        self.checkpoint_button.setToolTip(
            "A classifier trained by the workbench on compas or adult"
        )
        self.checkpoint_button.clicked.connect(self._choose_checkpoint)
        self.source_label = QLabel("No predictions loaded: load a demo, a CSV or a checkpoint.")
        # A long file name must not force the window wider: the label gives way.
        self.source_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(False)
        self.progress.hide()  # shown while something is read or evaluated
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.cancel_button.setEnabled(False)
        for w in (
            QLabel("Demo:"),
            self.demo_combo,
            self.demo_button,
            self.csv_button,
            self.checkpoint_button,
        ):
            bar.addWidget(w)
        bar.addWidget(self.source_label, 1)
        bar.addWidget(self.progress)
        bar.addWidget(self.cancel_button)
        root.addLayout(bar)

        self.error_label = QLabel()
        self.error_label.setObjectName("evaluation_error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(
            "QLabel { color: #8a1f11; background: #fbe3e4; padding: 4px; }"
        )
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        root.addWidget(self.error_label)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._build_controls())
        scroll.setMinimumWidth(200)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        splitter.addWidget(scroll)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_groups_tab(), "Groups")
        self.tabs.addTab(self._build_compare_tab(), "Compare")
        self.tabs.addTab(self._build_threshold_tab(), "Thresholds")
        self.tabs.addTab(self._build_calibration_tab(), "Calibration")
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([270, 900])
        root.addWidget(splitter, 1)

        export = QHBoxLayout()
        self.html_button = QPushButton("Export HTML report…")
        self.html_button.clicked.connect(self._choose_html)
        self.csv_export_button = QPushButton("Export CSV…")
        self.csv_export_button.clicked.connect(self._choose_csv_export)
        for w in (self.html_button, self.csv_export_button):
            w.setEnabled(False)
            export.addWidget(w)
        export.addStretch(1)
        root.addLayout(export)

    def _build_controls(self) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        columns = QGroupBox("Columns (CSV)")
        form = QFormLayout(columns)
        self.label_combo = QComboBox()
        self.positive_edit = QLineEdit()
        self.positive_edit.setPlaceholderText("only if not 0/1, true/false")
        self.pred_a_combo, self.score_a_combo = QComboBox(), QComboBox()
        self.pred_b_combo, self.score_b_combo = QComboBox(), QComboBox()
        self.threshold_a_spin, self.threshold_b_spin = QDoubleSpinBox(), QDoubleSpinBox()
        for spin in (self.threshold_a_spin, self.threshold_b_spin):
            spin.setRange(-1e9, 1e9)
            spin.setDecimals(4)
            spin.setValue(0.5)
            spin.setToolTip("predicted positive when score >= threshold")
        self.group_list = QListWidget()
        self.group_list.setMaximumHeight(120)
        self.group_list.setToolTip("tick one or more: several make intersectional groups")
        form.addRow("True label", self.label_combo)
        form.addRow("Positive label", self.positive_edit)
        form.addRow("Model A labels", self.pred_a_combo)
        form.addRow("or A scores", self.score_a_combo)
        form.addRow("A threshold", self.threshold_a_spin)
        form.addRow("Model B labels", self.pred_b_combo)
        form.addRow("or B scores", self.score_b_combo)
        form.addRow("B threshold", self.threshold_b_spin)
        form.addRow("Groups", self.group_list)
        layout.addWidget(columns)
        self.columns_box = columns

        boot = QGroupBox("Bootstrap")
        bform = QFormLayout(boot)
        self.resamples_spin = QSpinBox()
        self.resamples_spin.setRange(0, 100_000)
        self.resamples_spin.setSingleStep(1000)
        self.resamples_spin.setValue(2000)
        self.resamples_spin.setToolTip("0 turns intervals off")
        self.confidence_spin = QDoubleSpinBox()
        self.confidence_spin.setRange(0.5, 0.999)
        self.confidence_spin.setDecimals(3)
        self.confidence_spin.setSingleStep(0.01)
        self.confidence_spin.setValue(0.95)
        self.method_combo = QComboBox()
        self.method_combo.addItems(["bca", "percentile", "basic"])
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.reference_combo = QComboBox()
        self.reference_combo.addItem("largest group")
        bform.addRow("Resamples", self.resamples_spin)
        bform.addRow("Confidence", self.confidence_spin)
        bform.addRow("Interval", self.method_combo)
        bform.addRow("Seed", self.seed_spin)
        bform.addRow("Reference", self.reference_combo)
        layout.addWidget(boot)
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.clicked.connect(self.evaluate)
        layout.addWidget(self.evaluate_button)
        layout.addStretch(1)
        return box

    def _plot(self, title: str, left: str, bottom: str = "") -> pg.PlotWidget:
        plot = pg.PlotWidget(background="w")
        plot.setTitle(title, color="#222", size="10pt")
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

    def _build_groups_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        row = QHBoxLayout()
        self.metric_combo = QComboBox()
        for metric in RATE_METRICS:
            self.metric_combo.addItem(metric, metric)
            self.metric_combo.setItemData(
                self.metric_combo.count() - 1,
                METRIC_DESCRIPTIONS[metric],
                Qt.ItemDataRole.ToolTipRole,
            )
        self.metric_combo.setCurrentText("fpr")
        self.metric_combo.currentIndexChanged.connect(self._draw_groups)
        self.model_combo = QComboBox()
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.model_combo.currentIndexChanged.connect(self._draw_groups)
        self.view_combo = QComboBox()
        self.view_combo.addItems(["per group", "minus reference"])
        self.view_combo.setToolTip(
            "each group's value, or its signed difference from the reference group"
        )
        self.view_combo.currentIndexChanged.connect(self._draw_groups)
        for w in (
            QLabel("Metric"),
            self.metric_combo,
            QLabel("Model"),
            self.model_combo,
            self.view_combo,
        ):
            row.addWidget(w)
        row.addStretch(1)
        layout.addLayout(row)
        self.group_plot = self._plot("", "rate")
        self.group_bars = pg.BarGraphItem(x=[], height=[], width=0.6)
        self.group_whiskers = pg.ErrorBarItem(
            x=np.zeros(0), y=np.zeros(0), beam=0.2, pen=pg.mkPen("#222", width=1.5)
        )
        self.group_plot.addItem(self.group_bars)
        self.group_plot.addItem(self.group_whiskers)
        layout.addWidget(self.group_plot, 3)
        self.criteria_label = QLabel()
        self.criteria_label.setWordWrap(True)
        self.criteria_label.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.criteria_label)
        lower = QHBoxLayout()
        self.metrics_table = QTableWidget()
        self.metrics_table.setMinimumWidth(120)
        self.metrics_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        lower.addWidget(self.metrics_table, 3)
        side = QVBoxLayout()
        self.confusion_group_combo = QComboBox()
        self.confusion_group_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.confusion_group_combo.setMinimumContentsLength(8)
        self.confusion_group_combo.currentIndexChanged.connect(self._draw_confusion)
        side.addWidget(self.confusion_group_combo)
        self.confusion_table = QTableWidget(3, 3)
        self.confusion_table.setMinimumWidth(120)
        self.confusion_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.confusion_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        side.addWidget(self.confusion_table)
        lower.addLayout(side, 2)
        layout.addLayout(lower, 2)
        self.warnings_label = QLabel()
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setStyleSheet("QLabel { color: #8a4b00; }")
        layout.addWidget(self.warnings_label)
        return tab

    def _build_compare_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        row = QHBoxLayout()
        self.compare_metric_combo = QComboBox()
        self.compare_metric_combo.setEditable(False)
        self.compare_resamples_spin = QSpinBox()
        self.compare_resamples_spin.setRange(100, 200_000)
        self.compare_resamples_spin.setSingleStep(1000)
        self.compare_resamples_spin.setValue(10_000)
        self.compare_button = QPushButton("Run paired test")
        self.compare_button.clicked.connect(self.run_compare)
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
        self.compare_plot = self._plot(
            "Paired bootstrap: A - B on resampled test sets", "resamples", "A - B"
        )
        self.compare_hist = pg.BarGraphItem(
            x=[], height=[], width=1.0, brush=pg.mkBrush(31, 119, 180, 150), pen=pg.mkPen(None)
        )
        self.compare_plot.addItem(self.compare_hist)
        self.delta_line = pg.InfiniteLine(
            angle=90,
            pen=pg.mkPen("#d62728", width=2),
            label="δ",
            labelOpts={"color": "#d62728", "position": 0.9},
        )
        self.double_line = pg.InfiniteLine(
            angle=90,
            pen=pg.mkPen("#ff7f0e", width=2, style=Qt.PenStyle.DashLine),
            label="2δ",
            labelOpts={"color": "#ff7f0e", "position": 0.8},
        )
        self.zero_line = pg.InfiniteLine(
            angle=90,
            pen=pg.mkPen("#444", width=1, style=Qt.PenStyle.DotLine),
            label="0",
            labelOpts={"color": "#444", "position": 0.95},
        )
        for line in (self.delta_line, self.double_line, self.zero_line):
            line.hide()
            self.compare_plot.addItem(line)
        layout.addWidget(self.compare_plot, 1)
        self.compare_label = QLabel(
            "Load predictions of two models (model B) to compare them on the same rows."
        )
        self.compare_label.setWordWrap(True)
        self.compare_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.compare_label)
        return tab

    def _build_threshold_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        row = QHBoxLayout()
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(0, _SLIDER_STEPS)
        self.threshold_slider.valueChanged.connect(self._on_slider)
        self.threshold_value = QLabel("threshold: –")
        self.threshold_value.setMinimumWidth(140)
        row.addWidget(QLabel("Model A threshold (all groups)"))
        row.addWidget(self.threshold_slider, 1)
        row.addWidget(self.threshold_value)
        layout.addLayout(row)
        plots = QHBoxLayout()
        self.threshold_plot = self._plot("Rates per group at the threshold", "rate")
        self.threshold_plot.addLegend(offset=(10, 5), labelTextColor="#222", colCount=3)
        self.threshold_bars: dict[str, pg.BarGraphItem] = {}
        self.threshold_whiskers: dict[str, pg.ErrorBarItem] = {}
        for k, (metric, colour) in enumerate(
            (("selection_rate", "#7f7f7f"), ("tpr", "#2ca02c"), ("fpr", "#d62728"))
        ):
            bars = pg.BarGraphItem(x=[], height=[], width=0.25, brush=colour, name=metric)
            whiskers = pg.ErrorBarItem(
                x=np.zeros(0), y=np.zeros(0), beam=0.08, pen=pg.mkPen("#222")
            )
            self.threshold_plot.addItem(bars)
            self.threshold_plot.addItem(whiskers)
            self.threshold_bars[metric], self.threshold_whiskers[metric] = bars, whiskers
            del k
        plots.addWidget(self.threshold_plot, 1)
        self.roc_plot = self._plot("ROC per group (dots: operating points)", "TPR", "FPR")
        self.roc_plot.setXRange(0, 1)
        self.roc_plot.setYRange(0, 1)
        self.roc_plot.addLegend(offset=(-10, 150), labelTextColor="#222")
        self.roc_curves: dict[str, pg.PlotDataItem] = {}
        self.roc_points = pg.ScatterPlotItem(size=10, pen=pg.mkPen("#000"))
        self.roc_plot.addItem(self.roc_points)
        plots.addWidget(self.roc_plot, 1)
        layout.addLayout(plots, 3)

        post = QHBoxLayout()
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
        self.apply_groups_button.clicked.connect(self.apply_group_thresholds)
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
        post.addLayout(side)
        self.cost_plot = self._plot(
            "Accuracy against the shared rate (cost of the constraint)", "accuracy", "shared rate"
        )
        self.cost_curve = self.cost_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2))
        self.cost_best = pg.ScatterPlotItem(size=11, brush="#d62728")
        self.cost_plot.addItem(self.cost_best)
        self.cost_baseline = pg.InfiniteLine(
            angle=0,
            pen=pg.mkPen("#444", style=Qt.PenStyle.DashLine),
            label="best single threshold",
            labelOpts={"color": "#444", "position": 0.15},
        )
        self.cost_baseline.hide()
        self.cost_plot.addItem(self.cost_baseline)
        post.addWidget(self.cost_plot, 1)
        layout.addLayout(post, 2)
        self.solution_label = QLabel(
            "Solve to equalise error rates across groups with per-group thresholds."
        )
        self.solution_label.setWordWrap(True)
        self.solution_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.solution_label)
        self._set_threshold_controls(False)
        return tab

    def _build_calibration_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        self.calibration_plot = self._plot(
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
        return tab

    # ------------------------------------------------------------ loading

    def _options(self) -> dict[str, Any]:
        reference = self.reference_combo.currentText()
        return {
            "resamples": self.resamples_spin.value(),
            "confidence": self.confidence_spin.value(),
            "methods": tuple(dict.fromkeys([self.method_combo.currentText(), "percentile"])),
            "seed": self.seed_spin.value(),
            "reference": None if self.reference_combo.currentIndex() == 0 else reference,
        }

    def _checked_groups(self) -> list[str]:
        return [
            self.group_list.item(i).text()
            for i in range(self.group_list.count())
            if self.group_list.item(i).checkState() == Qt.CheckState.Checked
        ]

    def _fill_groups(self, names: list[str], checked: list[str]) -> None:
        self.group_list.clear()
        for name in names:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if name in checked else Qt.CheckState.Unchecked
            )
            self.group_list.addItem(item)

    def load_demo(self, name: str) -> None:
        """Load a shipped demo (``compas`` or ``adult``) and evaluate it."""
        if not self._source or self._source != ("demo", name):
            self._source = ("demo", name)
            columns = demo_group_columns(name)
            self._fill_groups(columns, [columns[0]])
            for combo in (
                self.label_combo,
                self.pred_a_combo,
                self.score_a_combo,
                self.pred_b_combo,
                self.score_b_combo,
            ):
                combo.clear()
            self._set_column_pickers(False)
        self.evaluate()

    def open_csv(self, path: str | Path) -> bool:
        """Read a CSV's header, guess the columns and fill the pickers; False on a bad file."""
        try:
            header = read_csv_header(path)
        except PredictionInputError as exc:
            self._show_error(str(exc))
            return False
        self._clear_error()
        self._csv_path = Path(path)
        self._source = ("csv", self._csv_path)
        lowered = {h.lower(): h for h in header}
        label = next((lowered[g] for g in _LABEL_GUESSES if g in lowered), header[0])
        for combo in (
            self.label_combo,
            self.pred_a_combo,
            self.score_a_combo,
            self.pred_b_combo,
            self.score_b_combo,
        ):
            combo.blockSignals(True)
            combo.clear()
            if combo is not self.label_combo:
                combo.addItem(_NONE)
            combo.addItems(header)
            combo.blockSignals(False)
        self.label_combo.setCurrentText(label)
        guesses = [h for h in header if h.lower() in _GROUP_GUESSES]
        self._fill_groups(header, guesses[:1])
        scoreish = [h for h in header if "score" in h.lower() or "prob" in h.lower()]
        predish = [h for h in header if h.lower().startswith(("pred", "yhat", "y_pred"))]
        if predish:
            self.pred_a_combo.setCurrentText(predish[0])
            if len(predish) > 1:
                self.pred_b_combo.setCurrentText(predish[1])
        elif scoreish:
            self.score_a_combo.setCurrentText(scoreish[0])
            if len(scoreish) > 1:
                self.score_b_combo.setCurrentText(scoreish[1])
        self._set_column_pickers(True)
        self.source_label.setText(f"{self._csv_path.name}: choose the columns, then Evaluate")
        return True

    def set_columns(self, selection: CsvSelection) -> None:
        """Set the column pickers (used by scripts and tests as by a person)."""
        self.label_combo.setCurrentText(selection.label)
        self.positive_edit.setText(selection.positive_label)
        for combo, value in (
            (self.pred_a_combo, selection.pred_a),
            (self.score_a_combo, selection.score_a),
            (self.pred_b_combo, selection.pred_b),
            (self.score_b_combo, selection.score_b),
        ):
            combo.setCurrentText(value or _NONE)
        self.threshold_a_spin.setValue(selection.threshold_a)
        self.threshold_b_spin.setValue(selection.threshold_b)
        for i in range(self.group_list.count()):
            item = self.group_list.item(i)
            item.setCheckState(
                Qt.CheckState.Checked
                if item.text() in selection.groups
                else Qt.CheckState.Unchecked
            )

    def _selection(self) -> CsvSelection:
        def pick(combo: QComboBox) -> str:
            return "" if combo.currentText() in ("", _NONE) else combo.currentText()

        pred_a, score_a, pred_b, score_b = (
            pick(c)
            for c in (self.pred_a_combo, self.score_a_combo, self.pred_b_combo, self.score_b_combo)
        )
        return CsvSelection(
            label=self.label_combo.currentText(),
            groups=self._checked_groups(),
            pred_a="" if score_a else pred_a,
            score_a=score_a,
            threshold_a=self.threshold_a_spin.value(),
            pred_b="" if score_b else pred_b,
            score_b=score_b,
            threshold_b=self.threshold_b_spin.value(),
            positive_label=self.positive_edit.text().strip(),
            model_names=(score_a or pred_a or "model A", score_b or pred_b or "model B"),
        )

    def _set_column_pickers(self, enabled: bool) -> None:
        for w in (
            self.label_combo,
            self.positive_edit,
            self.pred_a_combo,
            self.score_a_combo,
            self.threshold_a_spin,
            self.pred_b_combo,
            self.score_b_combo,
            self.threshold_b_spin,
        ):
            w.setEnabled(enabled)

    def load_checkpoint(self, path: str | Path) -> None:
        """Evaluate a workbench classifier checkpoint (or run folder) on its dataset's test split."""
        self._source = ("checkpoint", Path(path))
        dataset_groups = ["race", "sex", "age_cat"]
        self._fill_groups(dataset_groups, [])
        self._set_column_pickers(False)
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
        if self._source is None:
            self._show_error(
                "Nothing to evaluate yet: load a demo, open a CSV of predictions or a checkpoint."
            )
            return
        kind, value = self._source
        groups = self._checked_groups()
        if kind == "csv":
            selection = self._selection()
            try:
                selection.check(read_csv_header(value))
            except PredictionInputError as exc:
                self._show_error(str(exc))
                return

            def source(progress=None, _path=value, _sel=selection):
                return predictions_from_csv(_path, _sel, progress=progress)

            label = Path(value).name
        elif kind == "demo":

            def source(progress=None, _name=value, _groups=groups or None):
                return load_demo(_name, _groups, progress=progress)

            label = f"{value.upper() if value == 'compas' else value.capitalize()} demo"
        else:

            def source(progress=None, _path=value, _groups=groups or None):
                return predictions_from_checkpoint(_path, group=_groups, progress=progress)

            label = Path(value).name
        self._clear_error()
        self.source_label.setText(f"Evaluating {label}…")
        self.progress.setValue(0)
        self.cancel_button.setEnabled(True)
        self.evaluate_button.setEnabled(False)
        self.progress.show()
        self.runner.submit(
            load_and_analyse,
            source,
            on_done=self._on_analysis,
            on_error=self._on_failure,
            on_progress=lambda f: self.progress.setValue(int(f * 1000)),
            **self._options(),
        )

    def _on_idle(self) -> None:
        self.progress.hide()
        self.cancel_button.setEnabled(False)
        self.evaluate_button.setEnabled(True)

    def _on_failure(self, error: BaseException, details: str) -> None:
        self.progress.setValue(0)
        self.source_label.setText("Evaluation failed: see the message above.")
        if isinstance(error, ValueError):
            self._show_error(str(error))
        else:
            self._show_error(
                f"The evaluation failed unexpectedly ({type(error).__name__}: {error})."
            )

    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()
        self.context.show_error(text)
        self.sig_error.emit(text)

    def _clear_error(self) -> None:
        self.error_label.clear()
        self.error_label.hide()

    # ------------------------------------------------------------ results

    def _on_analysis(self, analysis: Analysis) -> None:
        self.analysis = analysis
        self.paired = None
        self.solution = None
        self.threshold_report = None
        report = analysis.report
        self.progress.setValue(1000)
        self.source_label.setText(
            f"{report.source or 'predictions'}: {report.cells.n_rows:,} rows, "
            f"{len(report.group_names)} groups, {report.cells.n_models} model{'s' if report.cells.n_models > 1 else ''}"
        )
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for i, name in enumerate(report.model_names):
            self.model_combo.addItem(f"{'AB'[i]}: {name}", i)
        if report.cells.n_models == 2:
            self.model_combo.addItem("A - B", "delta")
        self.model_combo.blockSignals(False)
        current_ref = self.reference_combo.currentText()
        self.reference_combo.blockSignals(True)
        self.reference_combo.clear()
        self.reference_combo.addItem("largest group")
        self.reference_combo.addItems(report.group_names)
        if current_ref in report.group_names:
            self.reference_combo.setCurrentText(current_ref)
        self.reference_combo.blockSignals(False)
        self.confusion_group_combo.blockSignals(True)
        self.confusion_group_combo.clear()
        self.confusion_group_combo.addItems([*report.group_names, OVERALL])
        self.confusion_group_combo.blockSignals(False)
        self._draw_groups()
        self._fill_metrics_table()
        self._draw_confusion()
        self._draw_criteria()
        self._setup_compare()
        self._setup_thresholds()
        self._draw_calibration()
        for w in (self.html_button, self.csv_export_button):
            w.setEnabled(True)
        self.sig_analysis_ready.emit(analysis)

    def _current_model(self) -> int | str:
        data = self.model_combo.currentData()
        return 0 if data is None else data

    def group_bar_data(self) -> dict[str, Any]:
        """What the per-group bar chart shows: names, bar heights and whisker ends."""
        return dict(self._bar_data)

    def _draw_groups(self) -> None:
        if self.analysis is None:
            self._bar_data = {}
            return
        report = self.analysis.report
        metric = self.metric_combo.currentData() or "fpr"
        model = self._current_model()
        versus = self.view_combo.currentIndex() == 1
        names = list(report.group_names)
        if versus:
            heights = report.versus_reference(model, metric)
            intervals = report.versus_reference_intervals(model, metric)
            title = f"{metric}: each group minus {report.reference_group}"
        else:
            heights = np.array([report.value(model, metric, g) for g in names])
            intervals = np.array(
                [report.interval(model, metric, g) or (np.nan, np.nan) for g in names]
            )
            if not report.intervals:
                intervals = None
            title = f"{metric} per group" + (" (A - B)" if model == "delta" else "")
        x = np.arange(len(names), dtype=float)
        finite = np.isfinite(heights)
        brushes = [pg.mkBrush(_color(i)) for i in range(len(names))]
        self.group_bars.setOpts(
            x=x[finite],
            height=heights[finite],
            width=0.6,
            brushes=[b for b, f in zip(brushes, finite, strict=True) if f],
        )
        low = high = None
        if intervals is not None:
            low, high = intervals[:, 0], intervals[:, 1]
            ok = finite & np.isfinite(low) & np.isfinite(high)
            self.group_whiskers.setData(
                x=x[ok],
                y=heights[ok],
                top=(high - heights)[ok],
                bottom=(heights - low)[ok],
                beam=0.2,
            )
        else:
            self.group_whiskers.setData(
                x=np.zeros(0), y=np.zeros(0), top=np.zeros(0), bottom=np.zeros(0)
            )
        undefined = [
            f"{names[i]}: {report.undefined(model, metric, names[i])}"
            for i in np.flatnonzero(~finite)
        ]
        ticks = [(float(i), n if finite[i] else f"{n}\n(undefined)") for i, n in enumerate(names)]
        self.group_plot.getAxis("bottom").setTicks([ticks])
        method = report.methods[0] if report.methods else ""
        suffix = f" with {report.confidence:.0%} {method} intervals" if report.intervals else ""
        self.group_plot.setTitle(title + suffix, color="#222", size="10pt")
        self.group_plot.setXRange(-0.6, len(names) - 0.4, padding=0)
        top = (
            np.nanmax(
                np.concatenate(
                    [heights[finite], high[np.isfinite(high)] if high is not None else []]
                )
            )
            if finite.any()
            else 1.0
        )
        bottom = (
            np.nanmin(
                np.concatenate([heights[finite], low[np.isfinite(low)] if low is not None else []])
            )
            if finite.any()
            else 0.0
        )
        self.group_plot.setYRange(min(0.0, bottom) - 0.02, max(top, 0.0) * 1.08 + 0.02, padding=0)
        self._bar_data = {
            "names": names,
            "heights": heights,
            "low": low,
            "high": high,
            "metric": metric,
            "model": model,
            "undefined": undefined,
        }
        self.group_plot.setToolTip("\n".join(undefined))

    def _fill_metrics_table(self) -> None:
        report = self.analysis.report
        model = self._current_model() if self._current_model() != "delta" else 0
        rows = [*report.group_names, OVERALL]
        columns = ["count", *RATE_METRICS]
        table = self.metrics_table
        table.clear()
        table.setRowCount(len(rows))
        table.setColumnCount(len(columns))
        table.setHorizontalHeaderLabels(columns)
        table.setVerticalHeaderLabels(rows)
        for r, group in enumerate(rows):
            for c, metric in enumerate(columns):
                if metric == "count":
                    item = QTableWidgetItem(f"{report.count(group):,}")
                else:
                    value = report.value(model, metric, group)
                    interval = report.interval(model, metric, group)
                    if not math.isfinite(value):
                        item = QTableWidgetItem("undefined")
                        item.setToolTip(report.undefined(model, metric, group) or "")
                        item.setForeground(pg.mkColor("#8a1f11"))
                    elif interval and all(math.isfinite(v) for v in interval):
                        item = QTableWidgetItem(
                            f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"
                        )
                    else:
                        item = QTableWidgetItem(f"{value:.3f}")
                    if metric in METRIC_DESCRIPTIONS and not item.toolTip():
                        item.setToolTip(METRIC_DESCRIPTIONS[metric])
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(r, c, item)
        table.resizeColumnsToContents()

    def _draw_confusion(self) -> None:
        if self.analysis is None:
            return
        report = self.analysis.report
        group = self.confusion_group_combo.currentText() or OVERALL
        model = self._current_model() if self._current_model() != "delta" else 0
        conf = report.confusion(int(model), group)
        cells = report.cells
        table = self.confusion_table
        table.setHorizontalHeaderLabels([cells.label_names[0], cells.label_names[1], "FPR / FNR"])
        table.setVerticalHeaderLabels(
            [cells.prediction_names[0], cells.prediction_names[1], "total"]
        )
        # ProPublica's layout: rows are the prediction, columns the outcome.
        values = [
            [
                f"{int(conf[0, 0]):,}",
                f"{int(conf[1, 0]):,}",
                f"FNR {_fmt(report.value(model, 'fnr', group))}",
            ],
            [
                f"{int(conf[0, 1]):,}",
                f"{int(conf[1, 1]):,}",
                f"FPR {_fmt(report.value(model, 'fpr', group))}",
            ],
            [f"{int(conf[0].sum()):,}", f"{int(conf[1].sum()):,}", f"n {int(conf.sum()):,}"],
        ]
        for r in range(3):
            for c in range(3):
                table.setItem(r, c, QTableWidgetItem(values[r][c]))

    def _draw_criteria(self) -> None:
        report = self.analysis.report
        model = 0 if self._current_model() == "delta" else int(self._current_model())
        if report.cells.n_groups < 2:
            self.criteria_label.setText(
                "<b>Criteria</b>: one group only; between-group criteria need at least two."
            )
        else:

            def g(metric: str, kind: str = "gap") -> str:
                value = report.gap(model, metric, kind)
                interval = report.gap_interval(model, metric, kind)
                text = _fmt(value)
                if interval and all(math.isfinite(v) for v in interval):
                    text += f" [{interval[0]:.3f}, {interval[1]:.3f}]"
                return text

            ratio = report.gap(model, "selection_rate", "ratio")
            rule = (
                ""
                if not math.isfinite(ratio)
                else (
                    " — passes the 80 % rule" if ratio >= 0.8 else " — <b>fails</b> the 80 % rule"
                )
            )
            eo, _ = report.equalized_odds(model)
            self.criteria_label.setText(
                f"<b>Independence</b> (selection rates): gap {g('selection_rate')}, min/max ratio {g('selection_rate', 'ratio')}{rule}. "
                f"<b>Separation</b> (error rates): TPR gap {g('tpr')}, FPR gap {g('fpr')}, equalised odds {_fmt(eo)}. "
                f"<b>Sufficiency</b> (outcome given prediction): PPV gap {g('ppv')}, NPV gap {g('npv')}. "
                "<i>Gaps are max − min: biased upward near parity; use the signed differences view.</i>"
            )
        shown = report.warnings[:4]
        more = len(report.warnings) - len(shown)
        text = "\n".join(f"• {w}" for w in shown)
        if more > 0:
            text += f"\n• … {more} more notes (hover to read them all)"
        self.warnings_label.setText(text)
        self.warnings_label.setToolTip("\n".join(report.warnings))

    # ------------------------------------------------------------ compare

    def _setup_compare(self) -> None:
        report = self.analysis.report
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
        for line in (self.delta_line, self.double_line, self.zero_line):
            line.hide()

    def run_compare(self, metric: str | None = None) -> None:
        """Run the paired bootstrap test on the worker."""
        if self.analysis is None or self.analysis.predictions.n_models != 2:
            self._show_error(
                "The paired test needs two models' predictions on the same rows: choose model B."
            )
            return
        if metric:
            self.compare_metric_combo.setCurrentText(metric)
        self.compare_button.setEnabled(False)
        self.compare_runner.submit(
            compare_models,
            self.analysis.predictions,
            self.compare_metric_combo.currentText() or "accuracy",
            resamples=self.compare_resamples_spin.value(),
            confidence=self.confidence_spin.value(),
            ci_method=self.method_combo.currentText(),
            seed=self.seed_spin.value(),
            on_done=self._on_compare,
            on_error=self._on_failure,
        )

    def _on_compare(self, result: PairedTest) -> None:
        self.compare_button.setEnabled(True)
        self.paired = result
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
        for line in (self.delta_line, self.double_line, self.zero_line):
            line.show()
        mcnemar = (
            f" Exact McNemar (two-sided) cross-check: p = {result.mcnemar_p:.4f}."
            if result.mcnemar_p is not None
            else ""
        )
        self.compare_plot.setTitle(
            f"{result.description}: δ = A − B = {result.delta:+.4f}, {_p_text(result.p_value, result.resamples)} "
            f"({result.resamples:,} resamples)",
            color="#222",
            size="10pt",
        )
        self.compare_label.setText(
            result.explanation
            + " p counts the resampled differences beyond 2δ: shifting the distribution by −δ centres it on 'no difference'."
            + mcnemar
        )
        self.sig_compare_ready.emit(result)

    def compare_histogram(self) -> tuple[np.ndarray, np.ndarray]:
        """The histogram behind the compare plot: bin centres and counts."""
        opts = self.compare_hist.opts
        return np.asarray(opts.get("x", [])), np.asarray(opts.get("height", []))

    # ------------------------------------------------------------ thresholds

    def _set_threshold_controls(self, enabled: bool) -> None:
        for w in (
            self.threshold_slider,
            self.apply_groups_button,
            self.solve_button,
            self.constraint_combo,
            self.randomize_check,
        ):
            w.setEnabled(enabled)

    def _setup_thresholds(self) -> None:
        analysis = self.analysis
        table = analysis.score_table
        has_scores = table is not None
        self._set_threshold_controls(has_scores)
        for item in self.roc_curves.values():
            self.roc_plot.removeItem(item)
        self.roc_curves.clear()
        self.roc_plot.plotItem.legend.clear()
        self.roc_points.setData([], [])
        self.cost_curve.setData([], [])
        self.cost_best.setData([], [])
        self.cost_baseline.hide()
        if not has_scores:
            self.threshold_value.setText("threshold: model A has labels, not scores")
            self.solution_label.setText(
                "Thresholds need scores: choose a score column for model A."
            )
            for bars in self.threshold_bars.values():
                bars.setOpts(x=[], height=[])
            return
        scores = analysis.predictions.scores[0]
        self._score_range = (float(scores.min()), float(scores.max()))
        t = analysis.predictions.thresholds[0]
        self.threshold_slider.blockSignals(True)
        self.threshold_slider.setValue(self._slider_from_threshold(t))
        self.threshold_slider.blockSignals(False)
        self.threshold_value.setText(f"threshold: {t:.4g}")
        roc = analysis.roc
        for k, name in enumerate(roc.names):
            colour = "#000" if name == "overall" else _color(k)
            style = Qt.PenStyle.DashLine if name == "overall" else Qt.PenStyle.SolidLine
            label = name if roc.auc_ci is None else f"{name} (AUC {roc.auc[k]:.3f})"
            item = self.roc_plot.plot(
                roc.fpr[k], roc.tpr[k], pen=pg.mkPen(colour, width=2, style=style), name=label
            )
            self.roc_curves[name] = item
        self.group_threshold_table.setRowCount(len(analysis.report.group_names))
        for r, name in enumerate(analysis.report.group_names):
            self.group_threshold_table.setItem(r, 0, QTableWidgetItem(name))
            spin = QDoubleSpinBox()
            spin.setDecimals(4)
            spin.setRange(self._score_range[0] - 1, self._score_range[1] + 1)
            spin.setValue(t)
            self.group_threshold_table.setCellWidget(r, 1, spin)
        self._show_threshold_report(analysis.report, [t] * len(analysis.report.group_names))

    def _slider_from_threshold(self, t: float) -> int:
        lo, hi = self._score_range
        return int(round((t - lo) / (hi - lo) * _SLIDER_STEPS)) if hi > lo else 0

    def threshold_from_slider(self, value: int | None = None) -> float:
        lo, hi = self._score_range
        value = self.threshold_slider.value() if value is None else value
        t = lo + (hi - lo) * value / _SLIDER_STEPS
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
        if self.analysis is None or self.analysis.score_table is None:
            return
        self.threshold_value.setText(f"threshold: {self.threshold_from_slider(value):.4g}")
        self._debounce.start()

    def _evaluate_threshold(self) -> None:
        pred = self.analysis.predictions
        t = self.threshold_from_slider()
        thresholds = [t] + [pred.thresholds[i] for i in range(1, pred.n_models)]
        self.threshold_runner.submit(
            evaluate_at_thresholds,
            pred,
            thresholds,
            resamples=_LIVE_RESAMPLES,
            confidence=self.confidence_spin.value(),
            seed=self.seed_spin.value(),
            supersede=True,
            on_done=lambda report, _t=t: self._show_threshold_report(
                report, [_t] * len(report.group_names)
            ),
            on_error=self._on_failure,
        )

    def apply_group_thresholds(self, thresholds: list[float] | None = None) -> None:
        """Evaluate model A with one threshold per group (from the table, or given)."""
        if self.analysis is None or self.analysis.score_table is None:
            return
        rows = self.group_threshold_table.rowCount()
        if thresholds is not None:
            for r, t in enumerate(thresholds):
                self.group_threshold_table.cellWidget(r, 1).setValue(t)
        values = [self.group_threshold_table.cellWidget(r, 1).value() for r in range(rows)]
        self.threshold_runner.submit(
            evaluate_at_thresholds,
            self.analysis.predictions,
            None,
            group_thresholds=values,
            resamples=_LIVE_RESAMPLES,
            seed=self.seed_spin.value(),
            supersede=True,
            on_done=lambda report, _v=values: self._show_threshold_report(report, _v),
            on_error=self._on_failure,
        )

    def threshold_bar_data(self) -> dict[str, np.ndarray]:
        """Heights of the threshold view's bars by metric (selection_rate, tpr, fpr), one per group."""
        return {m: np.asarray(b.opts.get("height", [])) for m, b in self.threshold_bars.items()}

    def _show_threshold_report(self, report: FairnessReport, group_thresholds: list[float]) -> None:
        self.threshold_report = report
        names = report.group_names
        x = np.arange(len(names), dtype=float)
        for k, metric in enumerate(("selection_rate", "tpr", "fpr")):
            heights = np.array([report.value(0, metric, g) for g in names])
            shift = (k - 1) * 0.27
            finite = np.isfinite(heights)
            self.threshold_bars[metric].setOpts(
                x=x[finite] + shift, height=heights[finite], width=0.25
            )
            if report.intervals:
                iv = np.array([report.interval(0, metric, g, "percentile") for g in names])
                ok = finite & np.isfinite(iv[:, 0])
                self.threshold_whiskers[metric].setData(
                    x=x[ok] + shift,
                    y=heights[ok],
                    top=(iv[:, 1] - heights)[ok],
                    bottom=(heights - iv[:, 0])[ok],
                    beam=0.08,
                )
            else:
                self.threshold_whiskers[metric].setData(
                    x=np.zeros(0), y=np.zeros(0), top=np.zeros(0), bottom=np.zeros(0)
                )
        self.threshold_plot.getAxis("bottom").setTicks(
            [[(float(i), n) for i, n in enumerate(names)]]
        )
        self.threshold_plot.setYRange(0, 1.15, padding=0)  # room for the legend
        self.threshold_plot.setXRange(-1.0, len(names), padding=0)  # room for long first names
        fpr = [report.value(0, "fpr", g) for g in names]
        tpr = [report.value(0, "tpr", g) for g in names]
        brushes = [pg.mkBrush(_color(i)) for i in range(len(names))]
        self.roc_points.setData(x=fpr, y=tpr, brush=brushes)
        acc = report.value(0, "accuracy")
        shown = ", ".join(f"{t:.4g}" for t in dict.fromkeys(group_thresholds))
        self.threshold_plot.setTitle(
            f"Rates per group at threshold {shown} (accuracy {acc:.3f})", color="#222", size="10pt"
        )
        self.sig_thresholds_ready.emit(report)

    def solve(self, constraint: str | None = None) -> None:
        """Solve per-group thresholds equalising the chosen rates, on the worker."""
        if self.analysis is None or self.analysis.score_table is None:
            self._show_error("Per-group thresholds need scores: choose a score column for model A.")
            return
        if constraint:
            self.constraint_combo.setCurrentIndex(CONSTRAINTS.index(constraint))
        self.threshold_runner.submit(
            solve_thresholds,
            self.analysis.score_table,
            self.constraint_combo.currentData(),
            randomize=self.randomize_check.isChecked(),
            on_done=self._on_solution,
            on_error=self._on_failure,
        )

    def _on_solution(self, solution: ThresholdSolution) -> None:
        self.solution = solution
        self.cost_curve.setData(solution.grid, solution.accuracy_curve)
        self.cost_best.setData([solution.shared_rate], [solution.accuracy])
        self.cost_baseline.setValue(solution.baseline_accuracy)
        self.cost_baseline.show()
        low = float(np.nanmin(solution.accuracy_curve))
        self.cost_plot.setYRange(low - 0.01, solution.baseline_accuracy + 0.02, padding=0)
        names = solution.group_names
        x = np.arange(len(names), dtype=float)
        for k, metric in enumerate(("selection_rate", "tpr", "fpr")):
            self.threshold_bars[metric].setOpts(
                x=x + (k - 1) * 0.27, height=solution.rates[metric][:-1], width=0.25
            )
            self.threshold_whiskers[metric].setData(
                x=np.zeros(0), y=np.zeros(0), top=np.zeros(0), bottom=np.zeros(0)
            )
        self.roc_points.setData(
            x=solution.rates["fpr"][:-1],
            y=solution.rates["tpr"][:-1],
            brush=[pg.mkBrush(_color(i)) for i in range(len(names))],
        )
        self.threshold_plot.getAxis("bottom").setTicks(
            [[(float(i), n) for i, n in enumerate(names)]]
        )
        self.threshold_plot.setXRange(-1.0, len(names), padding=0)  # room for long first names
        kind = "randomised rules (expected rates)" if solution.randomized else "plain thresholds"
        self.threshold_plot.setTitle(
            f"{CONSTRAINT_NAMES[solution.constraint]}: {kind}", color="#222", size="10pt"
        )
        rules = "; ".join(f"<b>{n}</b>: {r}" for n, r in zip(names, solution.rules, strict=True))
        self.solution_label.setText(
            f"{CONSTRAINT_NAMES[solution.constraint]}: accuracy {solution.accuracy:.4f} against "
            f"{solution.baseline_accuracy:.4f} for the best single threshold ({solution.baseline_threshold:.4g}); "
            f"cost {solution.baseline_accuracy - solution.accuracy:.4f}. Rules: {rules}"
        )
        self.sig_solution_ready.emit(solution)

    # ------------------------------------------------------------ calibration

    def _draw_calibration(self) -> None:
        plot = self.calibration_plot
        for item in [*self.calibration_items.values(), *self.calibration_whiskers.values()]:
            plot.removeItem(item)
        self.calibration_items.clear()
        self.calibration_whiskers.clear()
        plot.plotItem.legend.clear()
        cal = self.analysis.calibration if self.analysis else None
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
            # Bins of a handful of rows say nothing but draw the eye: they are left out.
            ok = np.isfinite(cal.observed[k]) & (cal.counts[k] >= _MIN_CALIBRATION_ROWS)
            if not ok.any():
                continue
            # A small sideways offset per group keeps the whiskers apart.
            offset = (k - (len(cal.names) - 1) / 2) * 0.006 * spread
            x, y = cal.mean_score[k][ok] + offset, cal.observed[k][ok]
            item = plot.plot(
                x,
                y,
                pen=pg.mkPen(_color(k), width=2),
                symbol="o",
                symbolSize=7,
                symbolBrush=_color(k),
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
                    pen=pg.mkPen(_color(k)),
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
            f"{self.analysis.report.confidence:.0%} bootstrap intervals; bins with fewer than "
            f"{_MIN_CALIBRATION_ROWS} rows of a group are not drawn."
            + (f" Mean calibration error: {errors}." if errors else "")
        )

    # ------------------------------------------------------------ export

    def _choose_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open predictions", "", "CSV files (*.csv *.txt);;All files (*)"
        )
        if path:
            self.open_csv(path)

    def _choose_checkpoint(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Open a classifier checkpoint or run folder", str(self.context.runs_dir)
        )
        if path:
            self.load_checkpoint(path)

    def _choose_html(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export HTML report", "evaluation.html", "HTML (*.html)"
        )
        if path:
            self.export_html(path)

    def _choose_csv_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export metrics", "evaluation.csv", "CSV (*.csv)"
        )
        if path:
            self.export_csv(path)

    def _png(self, widget: QWidget) -> bytes:
        from PySide6.QtCore import QBuffer, QIODevice

        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        widget.grab().save(buffer, "PNG")
        return bytes(buffer.data())

    def export_html(self, path: str | Path) -> Path | None:
        """Write the HTML report (tables, plots as images, the paired test, post-processing)."""
        if self.analysis is None:
            self._show_error("Nothing to export yet: evaluate some predictions first.")
            return None
        images = {"Per-group metric": self._png(self.group_plot)}
        if self.paired is not None:
            images["Paired test"] = self._png(self.compare_plot)
        if self.analysis.score_table is not None:
            images["Thresholds"] = self._png(self.threshold_plot)
            images["ROC per group"] = self._png(self.roc_plot)
            images["Calibration per group"] = self._png(self.calibration_plot)
        try:
            out = write_html_report(
                path, self.analysis, images=images, paired=self.paired, solution=self.solution
            )
        except OSError as exc:
            self._show_error(f"Could not write {path} ({exc.strerror}): choose another folder.")
            return None
        self.context.show_status(f"Report written to {out}")
        return out

    def export_csv(self, path: str | Path) -> Path | None:
        """Write every metric of every group and model with its intervals as CSV."""
        if self.analysis is None:
            self._show_error("Nothing to export yet: evaluate some predictions first.")
            return None
        try:
            out = write_csv(path, self.analysis.report)
        except OSError as exc:
            self._show_error(f"Could not write {path} ({exc.strerror}): choose another folder.")
            return None
        self.context.show_status(f"Metrics written to {out}")
        return out

    # ------------------------------------------------------------ lifetime

    def shutdown(self) -> None:
        """Stop timers and cancel every task; called when the window closes."""
        self._debounce.stop()
        for runner in (self.runner, self.compare_runner, self.threshold_runner):
            runner.shutdown()
