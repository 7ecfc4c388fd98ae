"""The Monitor's Memory per rank tab: two per-rank memory plots, each with the field it shows.

Each plot's unit follows its values (B to GiB); CUDA fields get the smallest
device's total memory as a ceiling, and every plot gets the planner's
prediction for each shown run as a reference line
(``panels.monitor.predicted_memory``). Byte amounts are drawn from zero, so a
prediction and a measurement show in proportion; memory is never smoothed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from backends.monitor_data import RunMetrics
from panels.monitor.level_lines import Reference
from panels.monitor.metric_plot import MetricPlot
from panels.monitor.plot_views import (
    MEMORY_KIND,
    build_curves,
    is_memory_bytes,
    memory_fields,
    memory_unit,
    memory_view,
)
from panels.monitor.predicted_memory import MemoryPredictor
from workbench.theme import series_color

# Default memory fields for the two memory plots (CUDA first, then CPU).
MEMORY_DEFAULTS = (("allocated", "rss"), ("peak_allocated", "tensor_bytes"))
CUDA_MEMORY_FIELDS = ("allocated", "reserved", "peak_allocated", "peak_reserved", "active_peak")

# (field, scale to the plot's unit) -> the reference lines to draw
References = Callable[[str, float], list[Reference]]


class MemoryTab(QWidget):
    """Two memory plots with their field boxes.

    Signals
    -------
    sig_field_changed()   the user picked another field for a plot
    """

    sig_field_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.boxes: list[QComboBox] = []
        self.plots: list[MetricPlot] = []
        for index in range(2):
            box = QComboBox()
            box.setObjectName(f"memory_field_{index}")
            box.currentTextChanged.connect(lambda _text: self.sig_field_changed.emit())
            plot = MetricPlot("Memory", "GiB")
            plot.setObjectName(f"plot_memory_{index}")
            column = QVBoxLayout()
            row = QHBoxLayout()
            row.addWidget(QLabel("Field"))
            row.addWidget(box, 1)
            column.addLayout(row)
            column.addWidget(plot, 1)
            layout.addLayout(column)
            self.boxes.append(box)
            self.plots.append(plot)

    def layout_key(self, shown: list[tuple[str, RunMetrics]]) -> tuple[tuple[str, str], ...]:
        """What the plots' curves depend on besides the runs: each field and its unit."""
        # The memory plots rebuild when their field or its unit (MiB -> GiB) changes.
        return tuple((box.currentText(), memory_unit(shown, box.currentText())[0])
                     for box in self.boxes)

    def rebuild(self, shown: list[tuple[str, RunMetrics]], references: References) -> None:
        """Offer the shown runs' memory fields and bind each plot to its field's curves."""
        fields = memory_fields([m for _, m in shown])
        for index, box in enumerate(self.boxes):
            self._offer(index, box, fields)
            field_name = box.currentText()
            plot = self.plots[index]
            if not field_name:
                plot.set_curves([])
                plot.set_references([])
                continue
            view = memory_view(field_name)
            unit, scale = memory_unit(shown, field_name)
            plot.plotItem.setTitle(view.title)
            plot.title = view.title
            plot.plotItem.setLabel("left", unit)
            plot.set_curves(build_curves(view, shown, memory_scale=scale))
            plot.set_ceiling(*device_total(shown, field_name, scale))
            plot.set_references(references(field_name, scale))
            # Bytes are amounts: from zero, a prediction and a measurement show in proportion.
            plot.set_include_zero(is_memory_bytes(field_name))

    def _offer(self, index: int, box: QComboBox, fields: list[str]) -> None:
        """Fill a box with these fields, keeping its choice (else the plot's default)."""
        current = box.currentText()
        if [box.itemText(i) for i in range(box.count())] == fields:
            return
        box.blockSignals(True)
        box.clear()
        box.addItems(fields)
        wanted = current if current in fields else next(
            (f for f in MEMORY_DEFAULTS[index] if f in fields),
            fields[min(index, len(fields) - 1)] if fields else "",
        )
        box.setCurrentText(wanted)
        box.blockSignals(False)


def device_total(shown: list[tuple[str, RunMetrics]], field_name: str,
                 scale: float) -> tuple[float | None, str]:
    """The smallest device's total memory, as the ceiling of CUDA memory plots."""
    if field_name not in CUDA_MEMORY_FIELDS:
        return None, ""
    totals = [
        m.latest(MEMORY_KIND, "device_total", r)
        for _, m in shown
        for r in m.ranks(MEMORY_KIND, "device_total")
    ]
    totals = [t for t in totals if t]
    if not totals:
        return None, ""
    return min(totals) * scale, "device total"


def predicted_lines(predictor: MemoryPredictor, shown: list[Path], field_name: str,
                    scale: float) -> list[Reference]:
    """The planner's bytes for this field, per shown run, in the plot's unit."""
    lines = []
    several = len(shown) > 1
    for index, path in enumerate(shown):
        prediction = predictor.get(path)
        if prediction is None:
            continue
        value, label = prediction.for_field(field_name)
        if value is None:
            continue
        lines.append(Reference(
            key=f"{path.name}|predicted|{field_name}", value=value * scale,
            label=f"{path.name}: {label}" if several else label,
            **({"color": series_color(index)} if several else {}),
        ))
    return lines
