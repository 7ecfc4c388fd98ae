"""The Monitor's tabs and their redraw: what the shown runs' data becomes on the tab in front.

:class:`PlotTabs` holds the Training, Memory per rank, All metrics, Compare,
Scaling and Checkpoints tabs. ``refresh`` (called by the panel's 25 Hz redraw
timer, and after changes) binds curves to series only when what is shown
changed (the layout key), and then only for the tab in front, since making a
curve costs a few milliseconds; plots on hidden tabs catch up when shown.
Memory is never smoothed: a smoothed peak would hide the peak.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QTabWidget, QWidget

from backends.monitor_data import RunMetrics
from panels.monitor.checkpoints_view import CheckpointsView
from panels.monitor.compare_table import CompareTable
from panels.monitor.fields_tab import FieldsTab
from panels.monitor.memory_tab import MemoryTab, References
from panels.monitor.metric_plot import MetricPlot
from panels.monitor.monitor_state import MonitorState
from panels.monitor.plot_curve import DisplayOptions
from panels.monitor.scaling_view import ScalingView
from panels.monitor.training_tab import TrainingTab
from workbench.tasks import TaskRunner


class PlotTabs(QTabWidget):
    """The monitor's tabs; see the module docstring."""

    def __init__(self, scaling_tasks: TaskRunner, checkpoint_tasks: TaskRunner,
                 current_run_path: Callable[[], Path | None], references: References,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("monitor_tabs")
        self._references = references
        self._layout_key: Any = None
        self._compare_key: tuple[float | None, ...] = ()
        self.training_tab = TrainingTab()
        self.memory_tab = MemoryTab()
        self.fields_tab = FieldsTab()
        self.compare_table = CompareTable()
        self.scaling_view = ScalingView(scaling_tasks)
        self.scaling_view.plot.title = "Scaling law"  # names the file an export writes
        self.checkpoints = CheckpointsView(checkpoint_tasks, current_run_path)
        self.addTab(self.training_tab, "Training")
        self.addTab(self.memory_tab, "Memory per rank")
        self.addTab(self.fields_tab, "All metrics")
        self.addTab(self.compare_table, "Compare")
        self.addTab(self.scaling_view, "Scaling")
        self.addTab(self.checkpoints, "Checkpoints")

    def all_plots(self) -> list[MetricPlot]:
        """Every live metric plot (the Scaling plot is not one)."""
        return [*self.training_tab.plots.values(), *self.memory_tab.plots, self.fields_tab.plot]

    def current_plots(self) -> list[MetricPlot]:
        """The plots on the tab in front (what "Export plots" writes)."""
        tab = self.currentWidget()
        if tab is self.memory_tab:
            return list(self.memory_tab.plots)
        if tab is self.fields_tab:
            return [self.fields_tab.plot]
        if tab is self.scaling_view:
            return [self.scaling_view.plot]
        return list(self.training_tab.plots.values())

    def invalidate(self) -> None:
        """Bind the curves again at the next refresh (the shown runs or a field changed)."""
        self._layout_key = None

    def refresh(self, state: MonitorState, visible: bool) -> bool:
        """Hand changed data to the plots in view; True if any curve got new data."""
        shown = state.shown_metrics()
        key = self._key(state, shown, visible)
        if key != self._layout_key:
            self._rebuild(shown, visible)
            # The key reads the memory boxes and the fields list, which may have just been filled.
            self._layout_key = self._key(state, shown, visible)
        changed = self._refresh_plots(state.options)
        if self.currentWidget() is self.compare_table:
            losses = tuple(
                state.runs[p].metrics.latest("train", "loss") for p in state.shown if p in state.runs
            )
            if losses != self._compare_key:
                self._compare_key = losses
                self.show_compare(state)
        return changed

    def show_compare(self, state: MonitorState) -> None:
        """Fill the Compare table with the shown runs' configs and last losses."""
        runs = [state.runs[p] for p in state.shown if p in state.runs]
        self.compare_table.show_runs(
            [r.name for r in runs], [r.config for r in runs],
            [r.metrics.latest("train", "loss") for r in runs],
        )

    def _key(self, state: MonitorState, shown: list[tuple[str, RunMetrics]],
             visible: bool) -> tuple[Any, ...]:
        return (
            tuple(state.shown),
            tuple(m.version for _, m in shown),
            self.memory_tab.layout_key(shown),
            self.fields_tab.selected_field(),
            self.currentWidget(),
            visible,
        )

    def _rebuild(self, shown: list[tuple[str, RunMetrics]], visible: bool) -> None:
        # Only the tab in front gets its curves now; the layout key holds the current tab,
        # so the others are built when they are shown.
        tab = self.currentWidget() if visible else None
        if tab is self.training_tab:
            self.training_tab.rebuild(shown)
        if tab is self.memory_tab:
            self.memory_tab.rebuild(shown, self._references)
        if tab is self.fields_tab:
            self.fields_tab.rebuild(shown)

    def _refresh_plots(self, options: DisplayOptions) -> bool:
        changed = False
        unsmoothed = dataclasses.replace(options, smoothing=0.0)
        for plot in self.all_plots():
            plot.set_options(unsmoothed if plot in self.memory_tab.plots else options)
            # Plots on hidden tabs (or a hidden panel) wait: they catch up when shown.
            if plot.isVisible():
                changed |= plot.refresh()
        return changed
