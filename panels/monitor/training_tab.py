"""The Monitor's Training tab: the dedicated plots (loss, learning rate, gradient norm, speed).

One :class:`~panels.monitor.metric_plot.MetricPlot` per view of
``panels.monitor.plot_views.TRAINING_VIEWS``, the loss plot large on top; the
loss plot also says where a value of the current run first became NaN or inf.
"""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QWidget

from backends.monitor_data import RunMetrics
from panels.monitor.metric_plot import MetricPlot
from panels.monitor.monitor_state import WatchedRun
from panels.monitor.plot_views import MEMORY_KIND, TRAINING_VIEWS, PlotView, build_curves

# Grid cell (row, column, rows, columns) of each training view.
POSITIONS = {"loss": (0, 0, 1, 2), "lr": (1, 0, 1, 1), "grad_norm": (1, 1, 1, 1),
             "step_time": (2, 0, 1, 1), "throughput": (2, 1, 1, 1)}
ROW_STRETCH = (3, 2, 2)


class TrainingTab(QWidget):
    """The training plots, by view name (``plots["loss"]``...)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots: dict[str, MetricPlot] = {}
        self.views: dict[str, PlotView] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        for view in TRAINING_VIEWS:
            plot = MetricPlot(view.title, view.y_label)
            self.plots[view.name] = plot
            self.views[view.name] = view
            grid.addWidget(plot, *POSITIONS[view.name])
        for row, stretch in enumerate(ROW_STRETCH):
            grid.setRowStretch(row, stretch)

    def rebuild(self, shown: list[tuple[str, RunMetrics]]) -> None:
        """Bind every plot's curves to the shown runs' series."""
        for name, plot in self.plots.items():
            plot.set_curves(build_curves(self.views[name], shown))

    def note_nonfinite(self, run: WatchedRun | None) -> None:
        """Say on the loss plot where the run's first NaN/inf value is (nothing when none)."""
        note = ""
        if run is not None:
            bad = [
                (s.first_nonfinite_step, k[1])
                for k, s in run.metrics.series.items()
                if s.first_nonfinite_step is not None and k[0] != MEMORY_KIND
            ]
            if bad:
                step, name = min(bad)
                note = f"{name} is NaN/inf from step {step}"
        self.plots["loss"].set_note(note)
