"""The live monitor: the runs list, live curves and per-rank memory, samples, failures, compare.

Data path: a :class:`workbench.run_watcher.RunWatcher` tails the watched run
folders on its own thread and sends batches of records; the panel files them
into growing numpy series (:class:`backends.monitor_data.RunMetrics`) and does
nothing else per batch. A redraw timer at 25 Hz hands changed series to the
plots (views of the arrays, no copies), so the cost of drawing does not grow
with the record rate. Runs still running are watched again when the panel
starts (reattach), a run launched from the training panel is shown at once,
and a ``failed`` event raises the failure banner as soon as it is read.

Selecting several runs overlays their curves and fills the compare table with
the config keys that differ. The memory plots carry the planner's prediction
for each shown run as a dashed line (``panels.monitor.predicted_memory``),
and the Scaling tab fits a scaling law to the runs folder's finished runs
(``panels.monitor.scaling_view``).
"""

from __future__ import annotations

import dataclasses
import html
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from backends.monitor_data import (
    FailureReport,
    RunMetrics,
    RunProgress,
    estimate_progress,
    export_metrics_csv,
    failure_report,
    format_duration,
)
from backends.remote.record import is_remote, read_remote
from backends.run_list_cache import RunListCache
from backends.run_sources import latest_sample_of
from backends.runs import (
    ENDED,
    RunDir,
    RunDirError,
    RunSummary,
    delete_run,
    read_config,
    status_from_events,
)
from backends.tensorboard import is_tensorboard_run
from backends.tensorboard import summarize as summarize_tensorboard
from panels.monitor.checkpoints_view import CheckpointsView
from panels.monitor.compare_table import CompareTable
from panels.monitor.failure_banner import FailureBanner
from panels.monitor.metric_plot import DisplayOptions, MetricPlot, Reference
from panels.monitor.plot_export import export_plots
from panels.monitor.plot_views import (
    MEMORY_KIND,
    TRAINING_VIEWS,
    PlotView,
    build_curves,
    field_view,
    is_memory_bytes,
    memory_fields,
    memory_unit,
    memory_view,
)
from panels.monitor.predicted_memory import MemoryPredictor
from panels.monitor.runs_model import RunsModel
from panels.monitor.sample_preview import SamplePreview
from panels.monitor.scaling_view import ScalingView
from workbench.context import AppContext
from workbench.remote_follower import RemoteFollower
from workbench.run_watcher import RunWatcher
from workbench.theme import series_color

REDRAW_INTERVAL_MS = 40  # 25 Hz: smooth to the eye, and never once per record
WATCH_INTERVAL_S = 0.05  # how often the watcher thread reads the files
LIST_REFRESH_MS = 5000  # runs started elsewhere (a terminal, a cluster) appear this fast
SAMPLE_POLL_MS = 1000
BATCH_SLICE = 2000  # records filed per event-loop turn (~20 ms) when a long history arrives
# Default memory fields for the two memory plots (CUDA first, then CPU).
MEMORY_DEFAULTS = (("allocated", "rss"), ("peak_allocated", "tensor_bytes"))
CUDA_MEMORY_FIELDS = ("allocated", "reserved", "peak_allocated", "peak_reserved", "active_peak")


@dataclass
class WatchedRun:
    """What the panel knows about one watched run."""

    path: Path
    metrics: RunMetrics = field(default_factory=RunMetrics)
    events: list[dict[str, Any]] = field(default_factory=list)
    status: str = "unknown"
    config: dict[str, Any] = field(default_factory=dict)
    failure: FailureReport | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def total_steps(self) -> int:
        steps = self.config.get("steps")
        if isinstance(steps, int) and steps > 0:
            return steps
        # A user's script says how many steps it will take when it starts (client.init(steps=)).
        started = [e.get("steps") for e in self.events if e.get("kind") == "started"]
        return started[-1] if started and isinstance(started[-1], int) else 0

    @property
    def model_label(self) -> str:
        """The model, or for a user's script its file or module name."""
        script, module = self.config.get("script"), self.config.get("module")
        return (_text(self.config.get("model")) or (Path(script).name if script else None)
                or module or "?")


_RUN_LIST = RunListCache()


def _list_runs(runs_dir: Path) -> list[RunSummary]:
    """Runs of the runs folder with their true state (the launch service decides it); runs that
    ended and did not change since the last listing are not read again."""
    return _RUN_LIST.list_runs(runs_dir)


def _delete_runs(paths: list[Path]) -> list[Path]:
    for path in paths:
        delete_run(RunDir(path))
    return paths


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
        self.runs: dict[Path, WatchedRun] = {}
        self.shown: list[Path] = []
        self.delete_dialog: QMessageBox | None = None
        self._selecting = False
        self._layout_key: Any = None
        self._options = DisplayOptions()
        self._compare_key: tuple[float | None, ...] = ()
        self._closed = False

        self.watcher = RunWatcher(self, interval=WATCH_INTERVAL_S)
        # Runs launched on a remote host: their local copies are kept up to date over SSH.
        self.remote = RemoteFollower(self)
        self.remote.sig_link.connect(self._on_remote_news)
        self.remote.sig_ended.connect(self._on_remote_news)
        self.watcher.sig_metrics.connect(self._on_metrics)
        self.watcher.sig_events.connect(self._on_events)
        self.watcher.sig_history.connect(self._on_history)
        self.watcher.sig_problem.connect(self._on_problem)
        self._list_tasks = context.task_runner(self, "monitor-list")
        self._file_tasks = context.task_runner(self, "monitor-files")
        self._checkpoint_tasks = context.task_runner(self, "monitor-checkpoints")
        self._action_tasks = context.task_runner(self, "monitor-actions")
        self._plan_tasks = context.task_runner(self, "monitor-plan")
        self._scaling_tasks = context.task_runner(self, "monitor-scaling")
        self.predictor = MemoryPredictor(self._plan_tasks, self)
        self.predictor.sig_predicted.connect(self._on_predicted)
        self._finished_key: tuple[Any, ...] = ()

        self._build_ui()

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setInterval(REDRAW_INTERVAL_MS)
        self._redraw_timer.timeout.connect(self.redraw)
        self._redraw_timer.start()
        self._sample_timer = QTimer(self)
        self._sample_timer.setInterval(SAMPLE_POLL_MS)
        self._sample_timer.timeout.connect(self._update_sample)
        self._sample_timer.start()
        self._backlog: deque[tuple[Path, int, list[dict[str, Any]]]] = deque()
        self._backlog_timer = QTimer(self)
        self._backlog_timer.setInterval(0)
        self._backlog_timer.timeout.connect(self._drain_backlog)
        self._list_timer = QTimer(self)
        self._list_timer.setInterval(LIST_REFRESH_MS)
        self._list_timer.timeout.connect(self.refresh_runs)
        self._list_timer.start()

        events = context.events
        events.sig_run_launched.connect(self.follow_run)
        events.sig_run_opened.connect(self.follow_run)
        events.sig_runs_dir_changed.connect(lambda _path: self.refresh_runs())
        self.refresh_runs()

    # ------------------------------------------------------------ layout

    def _build_ui(self) -> None:
        # Left: the runs list.
        self.runs_model = RunsModel(self)
        self.runs_view = QTableView()
        self.runs_view.setObjectName("runs_view")
        self.runs_view.setModel(self.runs_model)
        self.runs_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.runs_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.runs_view.verticalHeader().hide()
        self.runs_view.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.runs_view.horizontalHeader().setStretchLastSection(True)
        self.runs_view.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh_runs)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setObjectName("delete_button")
        self.delete_button.clicked.connect(self.delete_selected)
        hint = QLabel("Select several runs to compare them.")
        hint.setStyleSheet("color: gray;")
        list_buttons = QHBoxLayout()
        list_buttons.addWidget(self.refresh_button)
        list_buttons.addWidget(self.delete_button)
        list_buttons.addStretch(1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("<b>Runs</b>"))
        left_layout.addWidget(self.runs_view, 1)
        left_layout.addWidget(hint)
        left_layout.addLayout(list_buttons)

        # Right: banner, header with progress, display options, tabs and samples.
        self.banner = FailureBanner()
        self.title_label = QLabel("Select a run, or launch one from the Training panel.")
        self.title_label.setObjectName("run_title")
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("run_progress")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("")
        self.eta_label = QLabel("")
        self.eta_label.setObjectName("run_eta")
        header = QHBoxLayout()
        header.addWidget(self.title_label, 1)
        header.addWidget(self.progress_bar, 1)
        header.addWidget(self.eta_label)

        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal)
        self.smoothing_slider.setObjectName("smoothing_slider")
        self.smoothing_slider.setRange(0, 99)
        self.smoothing_slider.setValue(0)
        self.smoothing_slider.setMaximumWidth(160)
        self.smoothing_label = QLabel("off")
        self.smoothing_slider.valueChanged.connect(self._on_options_changed)
        self.log_y_box = QCheckBox("Log y")
        self.log_y_box.setObjectName("log_y_box")
        self.log_y_box.toggled.connect(self._on_options_changed)
        self.x_axis_box = QComboBox()
        self.x_axis_box.setObjectName("x_axis_box")
        self.x_axis_box.addItems(["Step", "Wall time"])
        self.x_axis_box.currentIndexChanged.connect(self._on_options_changed)
        self.export_button = QToolButton()
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        menu.addAction("Plots as PNG…", lambda: self._ask_export_plots("png"))
        menu.addAction("Plots as SVG…", lambda: self._ask_export_plots("svg"))
        menu.addAction("Metrics as CSV…", self._ask_export_csv)
        self.export_button.setMenu(menu)
        options = QHBoxLayout()
        options.addWidget(QLabel("Smoothing"))
        options.addWidget(self.smoothing_slider)
        options.addWidget(self.smoothing_label)
        options.addSpacing(12)
        options.addWidget(self.log_y_box)
        options.addSpacing(12)
        options.addWidget(QLabel("X axis"))
        options.addWidget(self.x_axis_box)
        options.addStretch(1)
        options.addWidget(self.export_button)

        # Training tab: the dedicated plots.
        self.plots: dict[str, MetricPlot] = {}
        self.views: dict[str, PlotView] = {}
        training = QWidget()
        grid = QGridLayout(training)
        grid.setContentsMargins(0, 0, 0, 0)
        positions = {"loss": (0, 0, 1, 2), "lr": (1, 0, 1, 1), "grad_norm": (1, 1, 1, 1),
                     "step_time": (2, 0, 1, 1), "throughput": (2, 1, 1, 1)}
        for view in TRAINING_VIEWS:
            plot = self._add_plot(view)
            grid.addWidget(plot, *positions[view.name])
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)
        grid.setRowStretch(2, 2)
        self.training_tab = training

        # Memory tab: two per-rank plots, each with its field.
        memory = QWidget()
        memory_layout = QHBoxLayout(memory)
        memory_layout.setContentsMargins(0, 0, 0, 0)
        self.memory_boxes: list[QComboBox] = []
        self.memory_plots: list[MetricPlot] = []
        for index in range(2):
            box = QComboBox()
            box.setObjectName(f"memory_field_{index}")
            box.currentTextChanged.connect(self._on_memory_field_changed)
            plot = MetricPlot("Memory", "GiB")
            plot.setObjectName(f"plot_memory_{index}")
            column = QVBoxLayout()
            row = QHBoxLayout()
            row.addWidget(QLabel("Field"))
            row.addWidget(box, 1)
            column.addLayout(row)
            column.addWidget(plot, 1)
            memory_layout.addLayout(column)
            self.memory_boxes.append(box)
            self.memory_plots.append(plot)
        self.memory_tab = memory

        # All metrics tab: any field of any kind, one curve per rank.
        everything = QWidget()
        everything_layout = QHBoxLayout(everything)
        everything_layout.setContentsMargins(0, 0, 0, 0)
        self.fields_list = QListWidget()
        self.fields_list.setObjectName("fields_list")
        self.fields_list.setMaximumWidth(220)
        self.fields_list.currentItemChanged.connect(lambda *_: self._invalidate_layout())
        self.field_plot = MetricPlot("Metric", "")
        self.field_plot.setObjectName("plot_field")
        everything_layout.addWidget(self.fields_list)
        everything_layout.addWidget(self.field_plot, 1)
        self.fields_tab = everything

        self.compare_table = CompareTable()
        self.scaling_view = ScalingView(self._scaling_tasks)
        self.scaling_view.plot.title = "Scaling law"  # names the file an export writes
        self.tabs = QTabWidget()
        self.tabs.setObjectName("monitor_tabs")
        self.tabs.addTab(training, "Training")
        self.tabs.addTab(memory, "Memory per rank")
        self.tabs.addTab(everything, "All metrics")
        self.tabs.addTab(self.compare_table, "Compare")
        self.tabs.addTab(self.scaling_view, "Scaling")
        self.checkpoints = CheckpointsView(self._checkpoint_tasks, self.current_run_path)
        self.checkpoints.sig_resume.connect(self._resume_from)
        self.tabs.addTab(self.checkpoints, "Checkpoints")
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
        right_layout.addWidget(self.banner)
        right_layout.addLayout(header)
        right_layout.addLayout(options)
        right_layout.addWidget(body, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([420, 1000])
        body.setSizes([900, 220])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

    def _add_plot(self, view: PlotView) -> MetricPlot:
        plot = MetricPlot(view.title, view.y_label)
        self.plots[view.name] = plot
        self.views[view.name] = view
        return plot

    def all_plots(self) -> list[MetricPlot]:
        return [*self.plots.values(), *self.memory_plots, self.field_plot]

    def current_plots(self) -> list[MetricPlot]:
        """The plots on the tab in front (what "Export plots" writes)."""
        tab = self.tabs.currentWidget()
        if tab is self.memory_tab:
            return list(self.memory_plots)
        if tab is self.fields_tab:
            return [self.field_plot]
        if tab is self.scaling_view:
            return [self.scaling_view.plot]
        return list(self.plots.values())

    # ------------------------------------------------------------ runs list

    def refresh_runs(self) -> None:
        """Reload the runs list on a worker; running runs get watched (reattach)."""
        if self._closed:
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
                summary = _with_live(summary, watched, watched.metrics.latest("train", "loss"))
            summaries.append(summary)
        # Runs shown but outside the runs folder (opened from File → Open run) stay listed.
        listed_paths = {s.path for s in summaries}
        for path in self.shown:
            if path not in listed_paths:
                old = self.runs_model.find(path)
                if old is not None:
                    summaries.append(old)
        self._selecting = True
        try:
            self.runs_model.set_runs(summaries)
            self._select_rows(self.shown)
        finally:
            self._selecting = False
        # Reattach: watch every run that is still running, so its status stays live.
        running = [s for s in summaries if s.status == "running"]
        for summary in running:
            self._watch(summary.path)
        self._finished_key = tuple(
            (s.path, s.last_step) for s in summaries if s.status == "finished")
        self._refresh_scaling()
        if not self.shown and running:
            self.select_runs([running[0].path])  # reattached: shown and offered to Stop
        self._prune_watched()
        self.checkpoints.refresh()
        self.sig_runs_listed.emit()

    def _select_rows(self, paths: list[Path]) -> None:
        selection = self.runs_view.selectionModel()
        selection.clearSelection()
        for path in paths:
            row = self.runs_model.row_of(path)
            if row >= 0:
                selection.select(
                    self.runs_model.index(row, 0),
                    QItemSelectionModel.SelectionFlag.Select
                    | QItemSelectionModel.SelectionFlag.Rows,
                )

    def selected_paths(self) -> list[Path]:
        rows = sorted({index.row() for index in self.runs_view.selectionModel().selectedRows()})
        return [self.runs_model.summary(row).path for row in rows]

    def select_runs(self, paths: list[Path]) -> None:
        """Show these runs and select them in the list, as a click would."""
        paths = [Path(p) for p in paths]
        self.show_runs(paths)
        self._selecting = True
        try:
            self._select_rows(paths)
        finally:
            self._selecting = False
        if paths:
            self.context.events.sig_run_selected.emit(paths[0])

    def _on_selection_changed(self, *_args: Any) -> None:
        if self._selecting:
            return
        paths = self.selected_paths()
        if paths:
            self.show_runs(paths)
            self.context.events.sig_run_selected.emit(paths[0])

    def follow_run(self, path: Path) -> None:
        """Show a run that was just launched or opened, and keep it watched."""
        path = Path(path)
        self.show_runs([path])
        if self.runs_model.row_of(path) < 0 and is_tensorboard_run(path):
            self.runs_model.set_runs([summarize_tensorboard(path, path.name), *self.runs_model.runs()])
        if self.runs_model.row_of(path) < 0:
            try:
                config = read_config(RunDir(path))
            except RunDirError:
                config = {}
            nproc, nnodes = config.get("nproc", 1), config.get("nnodes", 1)
            self.runs_model.set_runs(
                [
                    RunSummary(
                        name=path.name, path=path, status="created", created=time.time(),
                        model=_text(config.get("model")), strategy=_text(config.get("strategy")),
                        world_size=nproc * nnodes if isinstance(nproc, int)
                        and isinstance(nnodes, int) else None,
                    ),
                    *self.runs_model.runs(),
                ]
            )
        self._selecting = True
        try:
            self._select_rows([path])
        finally:
            self._selecting = False
        self.refresh_runs()

    # ------------------------------------------------------------ showing runs

    def show_runs(self, paths: list[Path]) -> None:
        """Plot these runs (one: its curves; several: overlaid and compared)."""
        paths = [Path(p) for p in paths]
        if paths == self.shown:
            return
        self.shown = paths
        for path in paths:
            self._watch(path)
            state = self.runs[path]
            self.predictor.ensure(path, state.config, state.events)
        self._prune_watched()
        self._invalidate_layout()
        self._show_current_failure()
        self._update_compare()
        self._update_header()
        self._update_sample()
        self.checkpoints.refresh()
        self.redraw()

    def current_run_path(self) -> Path | None:
        return self.shown[0] if self.shown else None

    def _resume_from(self, path: Path, step: int) -> None:
        """Resume ``path`` from the checkpoint of ``step`` (the launch service checks it)."""
        from panels.monitor.checkpoints_view import resume_run

        self._action_tasks.submit(
            resume_run, path, step,
            on_done=lambda info: (
                self.context.show_status(f"Resumed {path.name} from the checkpoint of step {step}"),
                self.context.events.sig_run_launched.emit(path),
            ),
            on_error=lambda exc, _d: self.context.show_error(str(exc)),
        )

    def current_run(self) -> WatchedRun | None:
        return self.runs.get(self.shown[0]) if self.shown else None

    def _watch(self, path: Path) -> None:
        if path in self.runs:
            return
        state = WatchedRun(path)
        try:
            state.config = read_config(RunDir(path))
        except RunDirError as exc:
            if not is_tensorboard_run(path):  # a TensorBoard log has no config to read
                self.context.show_status(str(exc))
        self.runs[path] = state
        self.watcher.watch(path)
        if is_remote(RunDir(path)) and self.status_of(path) in ("running", "created", "unknown"):
            self.remote.follow(path)

    def _prune_watched(self) -> None:
        """Stop watching runs that are neither shown nor running (their data is dropped)."""
        for path in list(self.runs):
            if path not in self.shown and not self._listed_running(path):
                self._unwatch(path)

    def _unwatch(self, path: Path) -> None:
        self.watcher.unwatch(path)
        self.remote.unfollow(path)
        self.runs.pop(path, None)
        self.predictor.forget(path)
        self._backlog = deque(entry for entry in self._backlog if entry[0] != path)

    def _listed_running(self, path: Path) -> bool:
        summary = self.runs_model.find(path)
        return summary is not None and summary.status == "running"

    def _invalidate_layout(self) -> None:
        self._layout_key = None

    # ------------------------------------------------------------ incoming data

    def _on_metrics(self, path: Path, rank: int, records: list[dict[str, Any]]) -> None:
        # A live batch is small and filed at once. Opening a long run delivers its whole
        # history in one batch: that is filed in slices between events, so the window
        # stays responsive while the curves fill in (order is kept by the queue).
        path = Path(path)
        if not self._backlog and len(records) <= BATCH_SLICE:
            self._file_records(path, rank, records)
            return
        for start in range(0, len(records), BATCH_SLICE):
            self._backlog.append((path, rank, records[start : start + BATCH_SLICE]))
        if not self._backlog_timer.isActive():
            self._backlog_timer.start()

    def _on_history(self, path: Path, rank: int, history: Any) -> None:
        """A large run's history for one rank, already reduced to what the plots show."""
        state = self.runs.get(Path(path))
        if state is not None:
            columns, records, last_step = history
            state.metrics.add_columns(rank, columns, records, last_step)
            self._invalidate_layout()

    def _drain_backlog(self) -> None:
        if self._backlog:
            self._file_records(*self._backlog.popleft())
        if not self._backlog:
            self._backlog_timer.stop()

    def _file_records(self, path: Path, rank: int, records: list[dict[str, Any]]) -> None:
        state = self.runs.get(path)
        if state is not None:
            state.metrics.add_records(rank, records)

    def _on_events(self, path: Path, events: list[dict[str, Any]]) -> None:
        if self._closed:  # a batch the watcher sent just before it stopped
            return
        path = Path(path)
        state = self.runs.get(path)
        if state is None:
            return
        state.events.extend(events)
        state.status = status_from_events(state.events)
        if state.status in ENDED or any(e.get("kind") == "started" for e in events):
            # An ending (or a new start) is news at once; "lost" needs the liveness check of the
            # next listing, which the launch service does.
            self.runs_model.update(path, status=state.status)
        if path in self.shown and any(e.get("kind") in ("checkpoint", *ENDED) for e in events):
            self.checkpoints.refresh()
        for event in events:
            if event.get("kind") == "failed":
                errors = [e for e in state.events if e.get("kind") == "error"]
                state.failure = failure_report(RunDir(path), event, errors)
                if path in self.shown:
                    self._show_current_failure()
                    self.sig_run_failed.emit(path, state.failure)
            elif event.get("kind") in ("started", "resumed"):
                state.failure = None  # resumed in the same folder: the old failure is history
                if path in self.shown:
                    self._show_current_failure()
                    # The run now says how big its model really is: plan it again from that.
                    self.predictor.ensure(path, state.config, state.events)
        if path in self.shown:
            self._update_header()

    def _on_problem(self, path: Path, text: str) -> None:
        self.context.show_status(f"{Path(path).name}: {text}")

    def _show_current_failure(self) -> None:
        current = self.current_run()
        if current is not None and current.failure is not None:
            self.banner.show_report(current.failure)
        else:
            self.banner.clear()

    # ------------------------------------------------------------ redraw (timer)

    def redraw(self) -> None:
        """Hand changed data to the plots; called by the 25 Hz timer (and after changes)."""
        shown = [(self.runs[p].name, self.runs[p].metrics) for p in self.shown if p in self.runs]
        key = (
            tuple(self.shown),
            tuple(m.version for _, m in shown),
            self._memory_key(shown),
            self._selected_field(),
            self.tabs.currentIndex(),
            self.isVisible(),
        )
        if key != self._layout_key:
            self._layout_key = key
            self._rebuild_curves(shown)
        changed = False
        # Memory is never smoothed: a smoothed peak would hide the peak.
        unsmoothed = dataclasses.replace(self._options, smoothing=0.0)
        for plot in self.all_plots():
            plot.set_options(unsmoothed if plot in self.memory_plots else self._options)
            # Plots on hidden tabs (or a hidden panel) wait: they catch up when shown.
            if plot.isVisible():
                changed |= plot.refresh()
        if self.tabs.currentWidget() is self.compare_table:
            losses = tuple(
                self.runs[p].metrics.latest("train", "loss") for p in self.shown if p in self.runs
            )
            if losses != self._compare_key:
                self._compare_key = losses
                self._update_compare()
        if changed:
            self._update_notes()
            self._update_header()
            self._update_list_values()
            self.sig_plots_updated.emit()

    def _rebuild_curves(self, shown: list[tuple[str, RunMetrics]]) -> None:
        # Only the tab in front gets its curves now (making a curve costs a few ms); the
        # layout key holds the current tab, so the others are built when they are shown.
        tab = self.tabs.currentWidget() if self.isVisible() else None
        if tab is self.training_tab:
            for name, plot in self.plots.items():
                plot.set_curves(build_curves(self.views[name], shown))
        metrics = [m for _, m in shown]
        if tab is self.memory_tab:
            self._rebuild_memory(shown, metrics)
        if tab is self.fields_tab:
            self._rebuild_fields(shown, metrics)
        # The layout key reads the memory boxes, which may have just been filled.
        self._layout_key = (
            self._layout_key[0], self._layout_key[1], self._memory_key(shown),
            self._selected_field(), *self._layout_key[4:],
        )

    def _rebuild_memory(self, shown: list[tuple[str, RunMetrics]], metrics: list[RunMetrics]) -> None:
        fields = memory_fields(metrics)
        for index, box in enumerate(self.memory_boxes):
            current = box.currentText()
            if [box.itemText(i) for i in range(box.count())] != fields:
                box.blockSignals(True)
                box.clear()
                box.addItems(fields)
                wanted = current if current in fields else next(
                    (f for f in MEMORY_DEFAULTS[index] if f in fields),
                    fields[min(index, len(fields) - 1)] if fields else "",
                )
                box.setCurrentText(wanted)
                box.blockSignals(False)
            field_name = box.currentText()
            plot = self.memory_plots[index]
            if field_name:
                view = memory_view(field_name)
                unit, scale = memory_unit(shown, field_name)
                plot.plotItem.setTitle(view.title)
                plot.title = view.title
                plot.plotItem.setLabel("left", unit)
                plot.set_curves(build_curves(view, shown, memory_scale=scale))
                plot.set_ceiling(*self._device_total(shown, field_name, scale))
                plot.set_references(self._predicted_lines(field_name, scale))
                # Bytes are amounts: from zero, a prediction and a measurement show in proportion.
                plot.set_include_zero(is_memory_bytes(field_name))
            else:
                plot.set_curves([])
                plot.set_references([])

    def _predicted_lines(self, field_name: str, scale: float) -> list[Reference]:
        """The planner's bytes for this field, per shown run, in the plot's unit."""
        lines = []
        several = len(self.shown) > 1
        for index, path in enumerate(self.shown):
            prediction = self.predictor.get(path)
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

    def _on_predicted(self, path: Path) -> None:
        if path in self.shown:
            self._invalidate_layout()
            self.redraw()

    def _refresh_scaling(self) -> None:
        if self.tabs.currentWidget() is self.scaling_view and not self._closed:
            self.scaling_view.refresh(self.context.runs_dir, self._finished_key)

    def _device_total(
        self, shown: list[tuple[str, RunMetrics]], field_name: str, scale: float
    ) -> tuple[float | None, str]:
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

    def _rebuild_fields(self, shown: list[tuple[str, RunMetrics]], metrics: list[RunMetrics]) -> None:
        self._update_fields_list(metrics)
        selected = self._selected_field()
        if selected is not None:
            view = field_view(*selected)
            self.field_plot.title = view.title
            self.field_plot.plotItem.setTitle(view.title)
            self.field_plot.set_curves(build_curves(view, shown))
        else:
            self.field_plot.set_curves([])

    def _memory_key(self, shown: list[tuple[str, RunMetrics]]) -> tuple[tuple[str, str], ...]:
        # The memory plots rebuild when their field or its unit (MiB -> GiB) changes.
        return tuple(
            (box.currentText(), memory_unit(shown, box.currentText())[0])
            for box in self.memory_boxes
        )

    def _update_fields_list(self, metrics: list[RunMetrics]) -> None:
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
        current = self._selected_field()
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

    def _selected_field(self) -> tuple[str, str] | None:
        item = self.fields_list.currentItem()
        if item is None:
            return None
        kind, name = item.data(Qt.ItemDataRole.UserRole)
        return str(kind), str(name)

    def select_field(self, kind: str, name: str) -> None:
        """Show ``kind / name`` in the All metrics plot."""
        for i in range(self.fields_list.count()):
            item = self.fields_list.item(i)
            if tuple(item.data(Qt.ItemDataRole.UserRole)) == (kind, name):
                self.fields_list.setCurrentItem(item)
                self.redraw()
                return
        raise KeyError(f"no field {kind} / {name} in the shown runs")

    def _on_memory_field_changed(self, _text: str) -> None:
        self._invalidate_layout()
        self.redraw()

    def _update_notes(self) -> None:
        current = self.current_run()
        note = ""
        if current is not None:
            bad = [
                (s.first_nonfinite_step, k[1])
                for k, s in current.metrics.series.items()
                if s.first_nonfinite_step is not None and k[0] != MEMORY_KIND
            ]
            if bad:
                step, name = min(bad)
                note = f"{name} is NaN/inf from step {step}"
        self.plots["loss"].set_note(note)

    # ------------------------------------------------------------ header, list, samples

    def progress(self) -> RunProgress | None:
        """The current run's progress and ETA (rank 0's train records against config steps)."""
        current = self.current_run()
        if current is None:
            return None
        metrics = current.metrics
        ranks = metrics.ranks("train")
        if not ranks:
            return None
        candidates = [s for (k, _n, r), s in metrics.series.items() if k == "train" and r == ranks[0]]
        series = max(candidates, key=len)
        return estimate_progress(series.step.view, series.time.view, current.total_steps)

    def _update_header(self) -> None:
        current = self.current_run()
        if current is None:
            self.title_label.setText("Select a run, or launch one from the Training panel.")
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("")
            self.eta_label.setText("")
            return
        config = current.config
        world = config.get("nproc", 1) * config.get("nnodes", 1) if isinstance(
            config.get("nproc", 1), int) and isinstance(config.get("nnodes", 1), int) else "?"
        extra = f" + {len(self.shown) - 1} more" if len(self.shown) > 1 else ""
        status = self.status_of(current.path)
        summary = self.runs_model.find(current.path)
        reason = (summary.problem or summary.reason) if summary is not None else None
        self.title_label.setText(
            f"<b>{current.name}</b>{extra} · {status} · "
            f"{current.model_label} · {_text(config.get('strategy')) or '?'} "
            f"× {world}" + self._host_note(current.path)
            + (f"<br><span style='color: gray;'>{html.escape(reason)}</span>" if reason else "")
        )
        progress = self.progress()
        if progress is None:
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("no steps yet")
            self.eta_label.setText("")
            return
        self.progress_bar.setValue(int(round(progress.fraction * 1000)))
        self.progress_bar.setFormat(f"step {progress.step} / {progress.total}")
        if status == "running":
            self.eta_label.setText(f"ETA {format_duration(progress.eta_s)}")
        else:
            self.eta_label.setText(status)

    def _on_remote_news(self, _path: Path, *_args: Any) -> None:
        """A remote run's link changed or it ended (queued: may arrive after shutdown)."""
        if not self._closed:
            self._update_header()
            self.refresh_runs()

    def _host_note(self, path: Path) -> str:
        """`` · on HOST`` for a run launched on a remote host, with its link when it is down."""
        record = read_remote(RunDir(path))
        if record is None:
            return ""
        link = self.remote.links.get(path) or record.get("link") or ""
        job = f", Slurm job {record['job_id']}" if record.get("job_id") else ""
        note = f" · on <b>{record.get('host', '?')}</b>{job}"
        return note + (" · <i>reconnecting…</i>" if link == "reconnecting" else "")

    def status_of(self, path: Path) -> str:
        """The run's state as listed (liveness checked), or as its events say until listed."""
        summary = self.runs_model.find(path)
        state = self.runs.get(path)
        if summary is not None:
            return summary.status
        return state.status if state is not None else "unknown"

    def _update_list_values(self) -> None:
        for path, state in self.runs.items():
            loss = state.metrics.latest("train", "loss")
            if loss is None:
                continue
            self.runs_model.update(path, last_loss=loss, last_step=state.metrics.last_step)

    def _update_sample(self) -> None:
        current = self.current_run()
        self.sample_preview.show_file(latest_sample_of(current.path) if current else None)

    def _update_compare(self) -> None:
        states = [self.runs[p] for p in self.shown if p in self.runs]
        self.compare_table.show_runs(
            [s.name for s in states],
            [s.config for s in states],
            [s.metrics.latest("train", "loss") for s in states],
        )

    # ------------------------------------------------------------ display options

    def _on_options_changed(self, *_args: Any) -> None:
        weight = self.smoothing_slider.value() / 100.0
        self.smoothing_label.setText("off" if weight == 0 else f"{weight:.2f}")
        self._options = DisplayOptions(
            smoothing=weight,
            log_y=self.log_y_box.isChecked(),
            x_time=self.x_axis_box.currentIndex() == 1,
        )
        self.redraw()

    @property
    def options(self) -> DisplayOptions:
        return self._options

    # ------------------------------------------------------------ delete

    def delete_selected(self) -> None:
        """Ask, then delete the selected runs (never a run that is still running)."""
        paths = self.selected_paths()
        if not paths:
            self.context.show_status("Select the runs to delete first")
            return
        busy = [p.name for p in paths if self._is_running(p)]
        if busy:
            self.context.show_error(
                f"{', '.join(busy)} still running: stop {'it' if len(busy) == 1 else 'them'} in "
                "the Training panel before deleting"
            )
            return
        names = "\n".join(f"  {p.name}" for p in paths)
        box = QMessageBox(self)
        box.setObjectName("delete_dialog")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Delete runs")
        box.setText(f"Delete {len(paths)} run folder(s) with their checkpoints and metrics?")
        box.setInformativeText(f"{names}\n\nThis cannot be undone.")
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda result: self._on_delete_answer(box, paths, result))
        self.delete_dialog = box
        box.open()  # window-modal, not blocking: the answer arrives through `finished`

    def _is_running(self, path: Path) -> bool:
        return self._listed_running(path)

    def _on_delete_answer(self, box: QMessageBox, paths: list[Path], result: int) -> None:
        self.delete_dialog = None
        box.deleteLater()
        if result != QMessageBox.StandardButton.Yes:
            return
        for path in paths:
            self._unwatch(path)
            self.runs_model.remove(path)
        self.shown = [p for p in self.shown if p not in paths]
        self._invalidate_layout()
        self._show_current_failure()
        self._update_header()
        self._file_tasks.submit(
            _delete_runs, paths,
            on_done=lambda done: (
                self.context.show_status(f"Deleted {len(done)} run(s)"), self.refresh_runs()
            ),
            on_error=lambda exc, _d: self.context.show_error(f"Could not delete the run: {exc}"),
        )

    # ------------------------------------------------------------ export

    def export_plots(self, base: Path) -> list[Path]:
        """Write the plots of the tab in front next to ``base`` (.png or .svg)."""
        self.redraw()
        paths = export_plots(self.current_plots(), Path(base))
        self.context.show_status(f"Saved {len(paths)} plot(s) next to {base}")
        self.sig_exported.emit(paths)
        return paths

    def export_csv(self, path: Path) -> None:
        """Write the shown runs' metric records to a CSV file (on a worker)."""
        runs = [RunDir(p) for p in self.shown]
        if not runs:
            self.context.show_error("Select a run to export its metrics")
            return
        self._file_tasks.submit(
            export_metrics_csv, runs, Path(path),
            on_done=lambda rows: (
                self.context.show_status(f"Wrote {rows} records to {path}"),
                self.sig_exported.emit([Path(path)]),
            ),
            on_error=lambda exc, _d: self.context.show_error(f"Could not write {path}: {exc}"),
        )

    def _ask_export_plots(self, fmt: str) -> None:
        name = self.current_run().name if self.current_run() else "plots"
        path, _ = QFileDialog.getSaveFileName(
            self, "Export plots", str(self.context.runs_dir / f"{name}.{fmt}"),
            f"{fmt.upper()} (*.{fmt})",
        )
        if path:
            base = Path(path)
            try:
                self.export_plots(base if base.suffix else base.with_suffix(f".{fmt}"))
            except (OSError, ValueError) as exc:
                self.context.show_error(f"Could not export the plots: {exc}")

    def _ask_export_csv(self) -> None:
        name = self.current_run().name if self.current_run() else "metrics"
        path, _ = QFileDialog.getSaveFileName(
            self, "Export metrics", str(self.context.runs_dir / f"{name}.csv"), "CSV (*.csv)"
        )
        if path:
            self.export_csv(Path(path))

    def is_busy(self) -> bool:
        """Whether the list is loading or a shown run's records have not arrived yet."""
        if self._list_tasks.is_busy() or self._file_tasks.is_busy() or self.predictor.is_busy():
            return True
        for path in self.shown:
            state = self.runs.get(path)
            if state is not None and not state.metrics.records and RunDir(path).metrics_files():
                return True
        return False

    # ------------------------------------------------------------ lifetime

    def shutdown(self) -> None:
        """Stop timers, the watcher thread and the workers; runs keep running."""
        if self._closed:
            return
        self._closed = True
        for timer in (self._redraw_timer, self._sample_timer, self._list_timer,
                      self._backlog_timer):
            timer.stop()
        if self.delete_dialog is not None:
            self.delete_dialog.reject()
        self.watcher.stop()
        self.remote.stop()
        self._list_tasks.shutdown()
        self._file_tasks.shutdown()
        self._checkpoint_tasks.shutdown()
        self._action_tasks.shutdown()
        self._plan_tasks.shutdown()
        self._scaling_tasks.shutdown()


def _with_live(summary: RunSummary, state: WatchedRun, loss: float | None) -> RunSummary:
    # The listing's state is the truth (it checks liveness), unless an ending arrived since.
    status = state.status if summary.status == "running" and state.status in ENDED else summary.status
    return dataclasses.replace(
        summary,
        status=status,
        last_loss=loss if loss is not None else summary.last_loss,
        last_step=state.metrics.last_step if state.metrics.last_step is not None
        else summary.last_step,
    )


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("name")
    return None if value is None else str(value)
