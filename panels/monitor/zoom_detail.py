"""Full resolution on zoom: every point of a large run's zoomed-in range, read on a worker.

A large run's history reaches the plots as min/max overviews (see
:mod:`backends.runs.columns`). When a plot is zoomed in on part of it, the
plot asks for the detail of the visible steps; :class:`ZoomDetail` reads it
from the run's metric columns on one task slot per plot (a newer zoom of that
plot supersedes an older one) and hands it back to the plot.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject

from panels.monitor.metric_plot import DetailRequest, MetricPlot
from panels.monitor.plot_curve import CurveDetail
from workbench.context import AppContext
from workbench.tasks import TaskRunner


def read_details(requests: list[DetailRequest]) -> dict[str, CurveDetail]:
    """Runs on a worker: each curve's points between its steps, at most about its buckets."""
    from backends.runs import RunDir
    from backends.runs.column_reader import read_detail

    details = {}
    for key, source, first, last, buckets in requests:
        step, time, value = read_detail(RunDir(source.run_path), source.rank, source.kind,
                                        source.name, first, last, buckets)
        details[key] = CurveDetail(first, last, step, time, value)
    return details


class ZoomDetail:
    """The Monitor's detail reader: one task slot per plot it serves."""

    def __init__(self, context: AppContext, owner: QObject) -> None:
        self._context, self._owner = context, owner
        self._runners: list[TaskRunner] = []

    def serve(self, plot: MetricPlot) -> None:
        runner = self._context.task_runner(self._owner, f"monitor-zoom-{len(self._runners)}")
        self._runners.append(runner)

        def load(requests: list[DetailRequest],
                 deliver: Callable[[dict[str, CurveDetail]], None]) -> None:
            runner.submit(read_details, requests, on_done=deliver, supersede=True)

        plot.set_detail_loader(load)

    def shutdown(self) -> None:
        for runner in self._runners:
            runner.shutdown()
