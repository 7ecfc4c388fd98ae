"""The Groups tab: per-group bars with interval whiskers, the metrics and 2x2 tables, the criteria."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from backends.evaluate.analysis import Analysis
from backends.evaluate.cells import OVERALL
from backends.evaluate.fairness_report import FairnessReport
from backends.evaluate.metrics import METRIC_DESCRIPTIONS, RATE_METRICS
from panels.evaluation.group_tables import (
    ConfusionTable,
    MetricsTable,
    criteria_html,
    warnings_text,
)
from panels.evaluation.style import (
    category_label,
    clear_whiskers,
    group_color,
    make_plot,
    set_hint,
    set_title,
)


class GroupsView(QWidget):
    """One metric per group as bars (or each group minus the reference), tables and criteria."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.analysis: Analysis | None = None
        self._bar_data: dict[str, Any] = {}
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_choices())
        self.group_plot = make_plot("", "rate")
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
        layout.addLayout(self._build_tables(), 2)
        self.warnings_label = QLabel()
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setStyleSheet("QLabel { color: #8a4b00; }")
        layout.addWidget(self.warnings_label)

    def _build_choices(self) -> QHBoxLayout:
        """The metric, the model (or A - B) and per group or minus the reference."""
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
        return row

    def _build_tables(self) -> QHBoxLayout:
        """The metrics table, and the 2x2 table of the group chosen beside it."""
        lower = QHBoxLayout()
        self.metrics_table = MetricsTable()
        lower.addWidget(self.metrics_table, 3)
        side = QVBoxLayout()
        self.confusion_group_combo = QComboBox()
        self.confusion_group_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.confusion_group_combo.setMinimumContentsLength(8)
        self.confusion_group_combo.currentIndexChanged.connect(self._draw_confusion)
        side.addWidget(self.confusion_group_combo)
        self.confusion_table = ConfusionTable()
        side.addWidget(self.confusion_table)
        lower.addLayout(side, 2)
        return lower

    def show_analysis(self, analysis: Analysis) -> None:
        """Offer the analysis's models and groups, and draw everything for model A."""
        self.analysis = analysis
        set_hint(self.group_plot, None)
        report = analysis.report
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for i, name in enumerate(report.model_names):
            self.model_combo.addItem(f"{'AB'[i]}: {name}", i)
        if report.cells.n_models == 2:
            self.model_combo.addItem("A - B", "delta")
        self.model_combo.blockSignals(False)
        self.confusion_group_combo.blockSignals(True)
        self.confusion_group_combo.clear()
        self.confusion_group_combo.addItems([*report.group_names, OVERALL])
        self.confusion_group_combo.blockSignals(False)
        self._draw_groups()
        self.metrics_table.show_report(report, self._single_model())
        self._draw_confusion()
        self.criteria_label.setText(criteria_html(report, self._single_model()))
        self.warnings_label.setText(warnings_text(report.warnings))
        self.warnings_label.setToolTip("\n".join(report.warnings))

    def bar_data(self) -> dict[str, Any]:
        """What the bar chart shows: names, bar heights and whisker ends."""
        return dict(self._bar_data)

    def _current_model(self) -> int | str:
        data = self.model_combo.currentData()
        return 0 if data is None else data

    def _single_model(self) -> int:
        """The chosen model, or model A while A - B is chosen (tables show one model)."""
        model = self._current_model()
        return 0 if model == "delta" else int(model)

    def _draw_confusion(self) -> None:
        if self.analysis is None:
            return
        group = self.confusion_group_combo.currentText() or OVERALL
        self.confusion_table.show_group(self.analysis.report, self._single_model(), group)

    def _draw_groups(self) -> None:
        if self.analysis is None:
            self._bar_data = {}
            return
        report = self.analysis.report
        metric = self.metric_combo.currentData() or "fpr"
        model = self._current_model()
        versus = self.view_combo.currentIndex() == 1
        names = list(report.group_names)
        heights, intervals, title = _bars(report, model, metric, versus)
        finite = np.isfinite(heights)
        low, high = self._draw_bars(heights, intervals)
        undefined = [
            f"{names[i]}: {report.undefined(model, metric, names[i])}"
            for i in np.flatnonzero(~finite)
        ]
        self._set_ticks(names, finite)
        set_title(self.group_plot, title + _interval_note(report, model, metric, versus))
        # The axis says what the bars are: rates, or differences of rates.
        if model == "delta":
            left = f"{metric}: model A − model B"
        elif versus:
            left = f"{metric} − reference group's"
        else:
            left = "rate"
        self.group_plot.setLabel("left", left)
        self.group_plot.setXRange(-0.6, len(names) - 0.4, padding=0)
        self._fit_y(heights, finite, low, high)
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

    def _draw_bars(
        self, heights: np.ndarray, intervals: np.ndarray | None
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Bars where defined, whiskers where their interval is; the whisker ends."""
        x = np.arange(len(heights), dtype=float)
        finite = np.isfinite(heights)
        brushes = [pg.mkBrush(group_color(i)) for i in range(len(heights))]
        self.group_bars.setOpts(
            x=x[finite],
            height=heights[finite],
            width=0.6,
            brushes=[b for b, f in zip(brushes, finite, strict=True) if f],
        )
        if intervals is None:
            clear_whiskers(self.group_whiskers)
            return None, None
        low, high = intervals[:, 0], intervals[:, 1]
        ok = finite & np.isfinite(low) & np.isfinite(high)
        self.group_whiskers.setData(
            x=x[ok],
            y=heights[ok],
            top=(high - heights)[ok],
            bottom=(heights - low)[ok],
            beam=0.2,
        )
        return low, high

    def _set_ticks(self, names: list[str], finite: np.ndarray) -> None:
        """Group names under the bars, marked where the metric is undefined."""
        ticks = [
            (float(i), category_label(n) + ("" if finite[i] else "\n(undefined)"))
            for i, n in enumerate(names)
        ]
        axis = self.group_plot.getAxis("bottom")
        axis.setTicks([ticks])
        lines = max((label.count("\n") + 1 for _, label in ticks), default=1)
        axis.setHeight(16 * lines + 12)

    def _fit_y(
        self,
        heights: np.ndarray,
        finite: np.ndarray,
        low: np.ndarray | None,
        high: np.ndarray | None,
    ) -> None:
        """A y range holding 0, every bar and every whisker, with a little room."""
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


def _bars(
    report: FairnessReport, model: int | str, metric: str, versus: bool
) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Bar heights, their intervals (None without a bootstrap) and the plot's title."""
    names = list(report.group_names)
    if versus:
        heights = report.versus_reference(model, metric)
        intervals = report.versus_reference_intervals(model, metric)
        return heights, intervals, f"{metric}: each group minus {report.reference_group}"
    heights = np.array([report.value(model, metric, g) for g in names])
    intervals: np.ndarray | None = np.array(
        [report.interval(model, metric, g) or (np.nan, np.nan) for g in names]
    )
    if not report.intervals:
        intervals = None
    return heights, intervals, f"{metric} per group" + (" (A - B)" if model == "delta" else "")


def _interval_note(report: FairnessReport, model: int | str, metric: str, versus: bool) -> str:
    """What the whiskers are, and whether some are Wilson score intervals."""
    method = report.methods[0] if report.methods else ""
    suffix = f" with {report.confidence:.0%} {method} intervals" if report.intervals else ""
    if report.intervals and not versus and any(
        report.interval_method(model, metric, g) == "wilson" for g in report.group_names
    ):
        suffix += " (Wilson score where counts are few, marked * in the table)"
    return suffix
