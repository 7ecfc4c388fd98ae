"""The Groups tab's words and numbers: the metrics table, ProPublica's 2x2 table, the criteria."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from backends.evaluate.cells import OVERALL
from backends.evaluate.fairness_report import FairnessReport
from backends.evaluate.metrics import METRIC_DESCRIPTIONS, RATE_METRICS
from panels.evaluation.style import number_text, value_text


class MetricsTable(QTableWidget):
    """Every rate of one model per group and overall, with its interval; undefined says why."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(120)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)

    def show_report(self, report: FairnessReport, model: int) -> None:
        rows = [*report.group_names, OVERALL]
        columns = ["count", *RATE_METRICS]
        self.clear()
        self.setRowCount(len(rows))
        self.setColumnCount(len(columns))
        self.setHorizontalHeaderLabels(columns)
        self.setVerticalHeaderLabels(rows)
        for r, group in enumerate(rows):
            for c, metric in enumerate(columns):
                if metric == "count":
                    item = QTableWidgetItem(f"{report.count(group):,}")
                else:
                    value = report.value(model, metric, group)
                    if not math.isfinite(value):
                        item = QTableWidgetItem("undefined")
                        item.setToolTip(report.undefined(model, metric, group) or "")
                        item.setForeground(pg.mkColor("#8a1f11"))
                    else:
                        text = value_text(value, report.interval(model, metric, group))
                        wilson = report.interval_method(model, metric, group) == "wilson"
                        item = QTableWidgetItem(text + (" *" if wilson else ""))
                        if wilson:
                            item.setToolTip(
                                "Wilson score interval: few rows in this rate's denominator, "
                                "where a bootstrap interval would be too narrow"
                            )
                    if metric in METRIC_DESCRIPTIONS and not item.toolTip():
                        item.setToolTip(METRIC_DESCRIPTIONS[metric])
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(r, c, item)
        self.resizeColumnsToContents()


class ConfusionTable(QTableWidget):
    """One group's confusion counts in ProPublica's layout, with its FNR and FPR."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(3, 3, parent)
        self.setMinimumWidth(120)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

    def show_group(self, report: FairnessReport, model: int, group: str) -> None:
        conf = report.confusion(model, group)
        cells = report.cells
        self.setHorizontalHeaderLabels([cells.label_names[0], cells.label_names[1], "FPR / FNR"])
        self.setVerticalHeaderLabels(
            [cells.prediction_names[0], cells.prediction_names[1], "total"]
        )
        # ProPublica's layout: rows are the prediction, columns the outcome.
        values = [
            [
                f"{int(conf[0, 0]):,}",
                f"{int(conf[1, 0]):,}",
                f"FNR {number_text(report.value(model, 'fnr', group))}",
            ],
            [
                f"{int(conf[0, 1]):,}",
                f"{int(conf[1, 1]):,}",
                f"FPR {number_text(report.value(model, 'fpr', group))}",
            ],
            [f"{int(conf[0].sum()):,}", f"{int(conf[1].sum()):,}", f"n {int(conf.sum()):,}"],
        ]
        for r in range(3):
            for c in range(3):
                self.setItem(r, c, QTableWidgetItem(values[r][c]))


def criteria_html(report: FairnessReport, model: int) -> str:
    """Independence, separation and sufficiency of one model in a paragraph (rich text)."""
    if report.cells.n_groups < 2:
        return "<b>Criteria</b>: one group only; between-group criteria need at least two."

    def g(metric: str, kind: str = "gap") -> str:
        return value_text(report.gap(model, metric, kind), report.gap_interval(model, metric, kind))

    ratio = report.gap(model, "selection_rate", "ratio")
    rule = (
        ""
        if not math.isfinite(ratio)
        else (" — passes the 80 % rule" if ratio >= 0.8 else " — <b>fails</b> the 80 % rule")
    )
    eo, _ = report.equalized_odds(model)
    return (
        f"<b>Independence</b> (selection rates): gap {g('selection_rate')}, min/max ratio {g('selection_rate', 'ratio')}{rule}. "
        f"<b>Separation</b> (error rates): TPR gap {g('tpr')}, FPR gap {g('fpr')}, equalised odds {number_text(eo)}. "
        f"<b>Sufficiency</b> (outcome given prediction): PPV gap {g('ppv')}, NPV gap {g('npv')}. "
        "<i>Gaps are max − min: biased upward near parity; use the signed differences view.</i>"
    )


def warnings_text(warnings: list[str], shown: int = 4) -> str:
    """The first few cautions as bullets, and how many more there are."""
    text = "\n".join(f"• {w}" for w in warnings[:shown])
    more = len(warnings) - len(warnings[:shown])
    if more > 0:
        text += f"\n• … {more} more notes (hover to read them all)"
    return text
