"""The live monitor: the runs list, live curves and per-rank memory, samples, failures, compare.

The panel assembles its parts and renders its state (:class:`MonitorState`):
the runs list (``runs_list.py``) on the left; on the right the failure banner
and the current run's header (``run_header.py``), the display options
(``options_bar.py``), the tabs (``plot_tabs.py``: Training, Memory per rank,
All metrics, Compare, Scaling, Checkpoints) and the latest sample.

Data path (``run_feed.py``): a :class:`workbench.run_watcher.RunWatcher` tails
the watched run folders on its own thread and sends batches of records; they
are filed into growing numpy series (:class:`backends.monitor_data.RunMetrics`)
and nothing else happens per batch. A redraw timer at 25 Hz hands changed
series to the plots (views of the arrays, no copies), so the cost of drawing
does not grow with the record rate. Runs still running are watched again when
the panel starts (reattach), a run launched from the training panel is shown
at once, and a ``failed`` event raises the failure banner as soon as it is
read. A run's state is the listing's (``backends.launch.state``: liveness
checked there), updated by the events read since.

Selecting several runs overlays their curves and fills the compare table with
the config keys that differ. The memory plots carry the planner's prediction
for each shown run as a dashed line (``panels.monitor.predicted_memory``),
and the Scaling tab fits a scaling law to the runs folder's finished runs
(``panels.monitor.scaling_view``). Deleting, resuming and exporting are
``run_actions.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QSplitter, QVBoxLayout, QWidget

from backends.monitor_data import FailureReport, RunProgress
from backends.run_list_cache import RunListCache
from backends.run_sources import latest_sample_of
from backends.runs import ENDED, RunDir, RunSummary
from panels.monitor.checkpoints_view import CheckpointsView
from panels.monitor.compare_table import CompareTable
from panels.monitor.failure_banner import FailureBanner
from panels.monitor.level_lines import Reference
from panels.monitor.memory_tab import predicted_lines
from panels.monitor.metric_plot import MetricPlot
from panels.monitor.monitor_state import MonitorState, WatchedRun
from panels.monitor.options_bar import OptionsBar
from panels.monitor.plot_curve import DisplayOptions
from panels.monitor.plot_tabs import PlotTabs
from panels.monitor.predicted_memory import MemoryPredictor
from panels.monitor.run_actions import RunActions
from panels.monitor.run_feed import RunFeed
from panels.monitor.run_header import RunHeader, host_note, run_progress
from panels.monitor.runs_list import RunsList, with_live_records
from panels.monitor.runs_model import RunsModel
from panels.monitor.sample_preview import SamplePreview
from panels.monitor.scaling_view import ScalingView
from panels.monitor.zoom_detail import ZoomDetail
from workbench.context import AppContext
from workbench.remote_follower import RemoteFollower

REDRAW_INTERVAL_MS = 40  # 25 Hz: smooth to the eye, and never once per record
LIST_REFRESH_MS = 5000  # runs started elsewhere (a terminal, a cluster) appear this fast
SAMPLE_POLL_MS = 1000

_RUN_LIST = RunListCache()


def _list_runs(runs_dir: Path) -> list[RunSummary]:
    """Runs of the runs folder with their true state (the launch service decides it); runs that
    ended and did not change since the last listing are not read again."""
    return _RUN_LIST.list_runs(runs_dir)


class MonitorPanel(QWidget):
    """Watch running and finished runs; see the module docstring.

    Signals
    -------
    sig_plots_updated()           a redraw put new data into at least one curve
    sig_runs_listed()             the runs list was (re)loaded from the runs folder
    sig_run_failed(object, object)  a shown run failed: its path and FailureReport
    sig_exported(object)          files were written by an export (list of paths)
    """

    sig_plots_updated = Signal()
    sig_runs_listed = Signal()
    sig_run_failed = Signal(object, object)
    sig_exported = Signal(object)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.state = MonitorState()
        self._list_tasks = context.task_runner(self, "monitor-list")
        self._file_tasks = context.task_runner(self, "monitor-files")
        self._checkpoint_tasks = context.task_runner(self, "monitor-checkpoints")
        self._action_tasks = context.task_runner(self, "monitor-actions")
        self._plan_tasks = context.task_runner(self, "monitor-plan")
        self._scaling_tasks = context.task_runner(self, "monitor-scaling")
        self.zoom_detail = ZoomDetail(context, self)
        self.feed = RunFeed(self.state, context.show_status, self)
        self.feed.sig_events.connect(self._on_run_events)
        self.feed.sig_history.connect(lambda _path: self.tabs.invalidate())
        self.feed.sig_problem.connect(
            lambda path, text: self.context.show_status(f"{Path(path).name}: {text}"))
        self.feed.sig_remote_news.connect(self._on_remote_news)
        self.predictor = MemoryPredictor(self._plan_tasks, self)
        self.predictor.sig_predicted.connect(self._on_predicted)
        self.actions = RunActions(context, self, self._file_tasks, self._action_tasks)
        self.actions.sig_removing.connect(self._remove_runs)
        self.actions.sig_deleted.connect(self.refresh_runs)
        self.actions.sig_exported.connect(self.sig_exported)
        self._build_ui()
        # A benchmark drives the frames itself: it stops the redraw timer.
        self.redraw_timer = self._started_timer(REDRAW_INTERVAL_MS, self.redraw)
        self._sample_timer = self._started_timer(SAMPLE_POLL_MS, self._update_sample)
        self._list_timer = self._started_timer(LIST_REFRESH_MS, self.refresh_runs)
        events = context.events
        events.sig_run_launched.connect(self.follow_run)
        events.sig_run_opened.connect(self.follow_run)
        events.sig_runs_dir_changed.connect(lambda _path: self.refresh_runs())
        self.refresh_runs()

    # ------------------------------------------------------------ layout

    def _build_ui(self) -> None:
        self.runs_list = RunsList()
        self.runs_list.sig_selected.connect(self._on_user_selected)
        self.runs_list.refresh_button.clicked.connect(self.refresh_runs)
        self.runs_list.delete_button.clicked.connect(self.delete_selected)
        self.header = RunHeader()
        self.options_bar = OptionsBar()
        self.options_bar.sig_changed.connect(self._on_options_changed)
        self.options_bar.sig_export.connect(self._ask_export)
        self.tabs = PlotTabs(self._scaling_tasks, self._checkpoint_tasks, self.current_run_path,
                             self._predicted_lines)
        self.tabs.memory_tab.sig_field_changed.connect(self._on_field_changed)
        self.tabs.fields_tab.sig_field_changed.connect(self.tabs.invalidate)
        self.tabs.checkpoints.sig_resume.connect(self.actions.resume)
        self.tabs.checkpoints.sig_open.connect(self._open_checkpoint)
        self.tabs.currentChanged.connect(lambda _index: self.redraw())
        self.tabs.currentChanged.connect(lambda _index: self._refresh_scaling())
        self.sample_preview = SamplePreview()
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(self.tabs)
        body.addWidget(self.sample_preview)
        body.setStretchFactor(0, 4)
        body.setStretchFactor(1, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.header)
        right_layout.addWidget(self.options_bar)
        right_layout.addWidget(body, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.runs_list)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([420, 1000])
        body.setSizes([900, 220])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        self._name_parts()

    def _started_timer(self, interval_ms: int, slot: Callable[[], None]) -> QTimer:
        timer = QTimer(self)
        timer.setInterval(interval_ms)
        timer.timeout.connect(slot)
        timer.start()
        return timer

    def _name_parts(self) -> None:
        """The parts tests, tools and benchmarks reach by name."""
        self.runs: dict[Path, WatchedRun] = self.state.runs
        self.runs_model: RunsModel = self.runs_list.model
        self.runs_view = self.runs_list.view
        self.remote: RemoteFollower = self.feed.remote
        self.banner: FailureBanner = self.header.banner
        self.title_label = self.header.title_label
        self.progress_bar = self.header.progress_bar
        self.eta_label = self.header.eta_label
        self.smoothing_slider = self.options_bar.smoothing_slider
        self.log_y_box = self.options_bar.log_y_box
        self.x_axis_box = self.options_bar.x_axis_box
        self.plots: dict[str, MetricPlot] = self.tabs.training_tab.plots
        self.memory_plots: list[MetricPlot] = self.tabs.memory_tab.plots
        self.memory_boxes = self.tabs.memory_tab.boxes
        self.field_plot: MetricPlot = self.tabs.fields_tab.plot
        for plot in [*self.plots.values(), *self.memory_plots, self.field_plot]:
            self.zoom_detail.serve(plot)  # a large run's zoomed-in range at full resolution
        self.fields_list = self.tabs.fields_tab.fields_list
        self.training_tab: QWidget = self.tabs.training_tab
        self.memory_tab: QWidget = self.tabs.memory_tab
        self.fields_tab: QWidget = self.tabs.fields_tab
        self.compare_table: CompareTable = self.tabs.compare_table
        self.scaling_view: ScalingView = self.tabs.scaling_view
        self.checkpoints: CheckpointsView = self.tabs.checkpoints

    @property
    def shown(self) -> list[Path]:
        """The shown runs (the first is the current one)."""
        return self.state.shown

    @property
    def options(self) -> DisplayOptions:
        return self.state.options

    @property
    def delete_dialog(self) -> QMessageBox | None:
        """The delete question while it is open."""
        return self.actions.delete_dialog

    def all_plots(self) -> list[MetricPlot]:
        return self.tabs.all_plots()

    def current_plots(self) -> list[MetricPlot]:
        """The plots on the tab in front (what "Export plots" writes)."""
        return self.tabs.current_plots()

    # ------------------------------------------------------------ runs list

    def refresh_runs(self) -> None:
        """Reload the runs list on a worker; running runs get watched (reattach)."""
        if self.state.closed:
            return
        self._list_tasks.submit(
            _list_runs, self.context.runs_dir, on_done=self._on_runs_listed,
            on_error=lambda _exc, _details: self.context.show_status(
                f"Could not list the runs in {self.context.runs_dir}"
            ),
        )

    def _on_runs_listed(self, listed: list[RunSummary]) -> None:
        summaries = []
        for summary in listed:
            watched = self.runs.get(summary.path)
            if watched is not None and watched.events:
                # The live records are newer than the summary read a moment ago.
                summary = with_live_records(summary, watched)
            summaries.append(summary)
        # Runs shown but outside the runs folder (opened from File → Open run) stay listed.
        listed_paths = {s.path for s in summaries}
        for path in self.shown:
            old = self.runs_model.find(path) if path not in listed_paths else None
            if old is not None:
                summaries.append(old)
        self.runs_list.set_runs(summaries, self.shown)
        # Reattach: watch every run that is still running, so its status stays live.
        running = [s for s in summaries if s.status == "running"]
        for summary in running:
            self._watch(summary.path)
        self.state.finished_key = tuple(
            (s.path, s.last_step) for s in summaries if s.status == "finished")
        self._refresh_scaling()
        if not self.shown and running:
            self.select_runs([running[0].path])  # reattached: shown and offered to Stop
        self._prune_watched()
        self.checkpoints.refresh(when_shown=True)
        self.sig_runs_listed.emit()

    def selected_paths(self) -> list[Path]:
        return self.runs_list.selected_paths()

    def select_runs(self, paths: list[Path]) -> None:
        """Show these runs and select them in the list, as a click would."""
        paths = [Path(p) for p in paths]
        self.show_runs(paths)
        self.runs_list.select(paths)
        if paths:
            self.context.events.sig_run_selected.emit(paths[0])

    def _on_user_selected(self, paths: list[Path]) -> None:
        self.show_runs(paths)
        self.context.events.sig_run_selected.emit(paths[0])

    def follow_run(self, path: Path) -> None:
        """Show a run that was just launched or opened, and keep it watched."""
        path = Path(path)
        self.show_runs([path])
        self.runs_list.add_opened(path)
        self.runs_list.select([path])
        self.refresh_runs()

    def status_of(self, path: Path) -> str:
        """The run's state as listed (liveness checked), or as its events say until listed."""
        summary = self.runs_model.find(path)
        if summary is not None:
            return summary.status
        run = self.runs.get(path)
        return run.status if run is not None else "unknown"

    # ------------------------------------------------------------ showing runs

    def show_runs(self, paths: list[Path]) -> None:
        """Plot these runs (one: its curves; several: overlaid and compared)."""
        paths = [Path(p) for p in paths]
        if paths == self.shown:
            return
        self.state.shown = paths
        for path in paths:
            self._watch(path)
            run = self.runs[path]
            self.predictor.ensure(path, run.config, run.events)
        self._prune_watched()
        self.tabs.invalidate()
        self.header.show_failure(self.current_run())
        self.tabs.show_compare(self.state)
        self._update_header()
        self._update_sample()
        self.checkpoints.refresh(when_shown=True)
        self.redraw()

    def current_run_path(self) -> Path | None:
        return self.shown[0] if self.shown else None

    def current_run(self) -> WatchedRun | None:
        return self.state.current()

    def _watch(self, path: Path) -> None:
        self.feed.watch(path, self.status_of(path))

    def _prune_watched(self) -> None:
        """Stop watching runs that are neither shown nor running (their data is dropped)."""
        for path in list(self.runs):
            if path not in self.shown and not self.runs_list.is_listed_running(path):
                self._unwatch(path)

    def _unwatch(self, path: Path) -> None:
        self.feed.unwatch(path)
        self.predictor.forget(path)

    def _on_run_events(self, path: Path, events: list[dict[str, Any]],
                       failures: list[FailureReport]) -> None:
        """Filed lifecycle events of a watched run: its state, checkpoints, failure, plan."""
        run = self.runs[path]
        if run.status in ENDED or any(e.get("kind") == "started" for e in events):
            # An ending (or a new start) is news at once; "lost" needs the liveness check of the
            # next listing, which the launch service does.
            self.runs_model.update(path, status=run.status)
        if path not in self.shown:
            return
        if any(e.get("kind") in ("checkpoint", *ENDED) for e in events):
            self.checkpoints.refresh(when_shown=True)
        restarted = any(e.get("kind") in ("started", "resumed") for e in events)
        if failures or restarted:
            self.header.show_failure(self.current_run())
        for report in failures:
            self.sig_run_failed.emit(path, report)
        if restarted:
            # The run now says how big its model really is: plan it again from that.
            self.predictor.ensure(path, run.config, run.events)
        self._update_header()

    def _on_remote_news(self, _path: Path) -> None:
        """A remote run's link changed or it ended (queued: may arrive after shutdown)."""
        if not self.state.closed:
            self._update_header()
            self.refresh_runs()

    # ------------------------------------------------------------ redraw (timer)

    def redraw(self) -> None:
        """Hand changed data to the plots; called by the 25 Hz timer (and after changes)."""
        if self.tabs.refresh(self.state, self.isVisible()):
            self.tabs.training_tab.note_nonfinite(self.current_run())
            self._update_header()
            self._update_list_values()
            self.sig_plots_updated.emit()

    def select_field(self, kind: str, name: str) -> None:
        """Show ``kind / name`` in the All metrics plot."""
        self.tabs.fields_tab.select_field(kind, name)
        self.redraw()

    def _on_field_changed(self) -> None:
        self.tabs.invalidate()
        self.redraw()

    def _predicted_lines(self, field_name: str, scale: float) -> list[Reference]:
        return predicted_lines(self.predictor, self.shown, field_name, scale)

    def _on_predicted(self, path: Path) -> None:
        if path in self.shown:
            self.tabs.invalidate()
            self.redraw()

    def _refresh_scaling(self) -> None:
        if self.tabs.currentWidget() is self.scaling_view and not self.state.closed:
            self.scaling_view.refresh(self.context.runs_dir, self.state.finished_key)

    def _on_options_changed(self, options: DisplayOptions) -> None:
        self.state.options = options
        self.redraw()

    # ------------------------------------------------------------ header, list, samples

    def progress(self) -> RunProgress | None:
        """The current run's progress and ETA (rank 0's train records against config steps)."""
        current = self.current_run()
        return run_progress(current) if current is not None else None

    def _update_header(self) -> None:
        current = self.current_run()
        if current is None:
            self.header.show_nothing()
            return
        summary = self.runs_model.find(current.path)
        reason = (summary.problem or summary.reason) if summary is not None else None
        self.header.show_run(current, self.status_of(current.path), len(self.shown) - 1, reason,
                             host_note(current.path, self.remote.links))

    def _update_list_values(self) -> None:
        for path, run in self.runs.items():
            loss = run.metrics.latest("train", "loss")
            if loss is None:
                continue
            self.runs_model.update(path, last_loss=loss, last_step=run.metrics.last_step)

    def _update_sample(self) -> None:
        current = self.current_run()
        self.sample_preview.show_file(latest_sample_of(current.path) if current else None)

    # ------------------------------------------------------------ delete and export

    def delete_selected(self) -> None:
        """Ask, then delete the selected runs (never a run that is still running)."""
        self.actions.ask_delete(self.selected_paths(), self.runs_list.is_listed_running)

    def _remove_runs(self, paths: list[Path]) -> None:
        """Runs about to be deleted: no longer watched, listed or shown."""
        for path in paths:
            self._unwatch(path)
            self.runs_model.remove(path)
        self.state.shown = [p for p in self.shown if p not in paths]
        self.tabs.invalidate()
        self.header.show_failure(self.current_run())
        self._update_header()

    def export_plots(self, base: Path) -> list[Path]:
        """Write the plots of the tab in front next to ``base`` (.png or .svg)."""
        self.redraw()
        return self.actions.export_plots(self.current_plots(), Path(base))

    def export_csv(self, path: Path) -> None:
        """Write the shown runs' metric records to a CSV file (on a worker)."""
        self.actions.export_csv(list(self.shown), Path(path))

    def _ask_export(self, fmt: str) -> None:
        current = self.current_run()
        default = "metrics" if fmt == "csv" else "plots"
        path = self.actions.ask_export_path(fmt, current.name if current else default)
        if path is None:
            return
        if fmt == "csv":
            self.export_csv(path)
            return
        try:
            self.export_plots(path)
        except (OSError, ValueError) as exc:
            self.context.show_error(f"Could not export the plots: {exc}")

    def is_busy(self) -> bool:
        """Whether the list is loading or a shown run's records have not arrived yet."""
        if self._list_tasks.is_busy() or self._file_tasks.is_busy() or self.predictor.is_busy():
            return True
        for path in self.shown:
            run = self.runs.get(path)
            if run is not None and not run.metrics.records and RunDir(path).metrics_files():
                return True
        return False

    # ------------------------------------------------------------ lifetime

    def _open_checkpoint(self, folder: Path) -> None:
        """Hand a checkpoint to the panels that load one; each checks whether it fits."""
        self.context.show_status(f"Opened checkpoint {folder}")
        self.context.events.sig_checkpoint_opened.emit(Path(folder))

    def shutdown(self) -> None:
        """Stop timers, the watcher thread and the workers; runs keep running."""
        if self.state.closed:
            return
        self.state.closed = True
        for timer in (self.redraw_timer, self._sample_timer, self._list_timer):
            timer.stop()
        self.actions.close()
        self.feed.stop()
        for tasks in (self._list_tasks, self._file_tasks, self._checkpoint_tasks,
                      self._action_tasks, self._plan_tasks, self._scaling_tasks):
            tasks.shutdown()
        self.zoom_detail.shutdown()
        self.checkpoints.shutdown()
