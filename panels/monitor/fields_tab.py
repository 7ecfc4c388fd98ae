"""The Monitor's All metrics tab: any field of any kind the shown runs wrote, one curve per rank.

The list names every ``kind / field`` pair the shown runs have (memory
last); the plot shows the selected one.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QWidget

from backends.monitor_data import RunMetrics
from panels.monitor.metric_plot import MetricPlot
from panels.monitor.plot_views import MEMORY_KIND, build_curves, field_view


class FieldsTab(QWidget):
    """The fields list and its plot.

    Signals
    -------
    sig_field_changed()   the user picked another field
    """

    sig_field_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fields_list = QListWidget()
        self.fields_list.setObjectName("fields_list")
        self.fields_list.setMaximumWidth(220)
        self.fields_list.currentItemChanged.connect(lambda *_: self.sig_field_changed.emit())
        self.plot = MetricPlot("Metric", "")
        self.plot.setObjectName("plot_field")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.fields_list)
        layout.addWidget(self.plot, 1)

    def rebuild(self, shown: list[tuple[str, RunMetrics]]) -> None:
        """List the shown runs' fields and bind the plot to the selected one."""
        self._list_fields([m for _, m in shown])
        selected = self.selected_field()
        if selected is not None:
            view = field_view(*selected)
            self.plot.title = view.title
            self.plot.plotItem.setTitle(view.title)
            self.plot.set_curves(build_curves(view, shown))
        else:
            self.plot.set_curves([])

    def selected_field(self) -> tuple[str, str] | None:
        item = self.fields_list.currentItem()
        if item is None:
            return None
        kind, name = item.data(Qt.ItemDataRole.UserRole)
        return str(kind), str(name)

    def select_field(self, kind: str, name: str) -> None:
        """Select ``kind / name`` in the list; KeyError when the shown runs do not have it."""
        for i in range(self.fields_list.count()):
            item = self.fields_list.item(i)
            if tuple(item.data(Qt.ItemDataRole.UserRole)) == (kind, name):
                self.fields_list.setCurrentItem(item)
                return
        raise KeyError(f"no field {kind} / {name} in the shown runs")

    def _list_fields(self, metrics: list[RunMetrics]) -> None:
        pairs: list[tuple[str, str]] = []
        for m in metrics:
            for kind, names in m.kinds().items():
                pairs.extend((kind, n) for n in names if (kind, n) not in pairs)
        pairs.sort(key=lambda p: (p[0] == MEMORY_KIND, p))
        existing = [
            self.fields_list.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.fields_list.count())
        ]
        if existing == pairs:
            return
        current = self.selected_field()
        self.fields_list.blockSignals(True)
        self.fields_list.clear()
        for kind, name in pairs:
            item = QListWidgetItem(f"{kind} / {name}")
            item.setData(Qt.ItemDataRole.UserRole, (kind, name))
            self.fields_list.addItem(item)
            if (kind, name) == current:
                self.fields_list.setCurrentItem(item)
        if self.fields_list.currentItem() is None and self.fields_list.count():
            self.fields_list.setCurrentRow(0)
        self.fields_list.blockSignals(False)
