"""The training launcher: a config form, presets, the exact torchrun command, and run control.

The panel holds one :class:`~panels.training.state.TrainingState` and renders
it; its parts each keep one job:

- ``config_editor``: presets, the config form (or "Your script"), and the
  check of every edit by the launch service on a worker (the error appears
  under the field it names; Launch stays disabled until the config is valid);
- ``command_preview``: the exact command(s) and the learning-rate schedule;
- ``planner_pane``: per-rank memory, traffic and fit for every strategy,
  computed on its own worker from the same form values;
- ``sweep``: launches the config at several sizes;
- ``run_controls`` and ``run_actions``: where to run, and Launch, Stop, Kill,
  Resume through ``backends.launch``; training always runs in a torchrun
  process tree, never in this process.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from backends.devices import gpu_names
from backends.launch.preview import LaunchPreview
from panels.training.command_preview import CommandPreview, LrSchedulePlot
from panels.training.config_editor import ConfigEditor
from panels.training.form import ConfigForm
from panels.training.planner_pane import PlannerPane
from panels.training.run_actions import kill_run, launch_here, launch_on_host, resume_run, stop_run
from panels.training.run_controls import RunControls
from panels.training.script_form import ScriptForm
from panels.training.state import TrainingState
from panels.training.sweep import SweepBox
from workbench.context import AppContext


class TrainingPanel(QWidget):
    """Configure, launch, stop, kill and resume training runs.

    Signals
    -------
    sig_validated(bool)   the newest form contents were checked (True: valid)
    sig_launched(object)  a run folder (Path) was launched
    """

    sig_validated = Signal(bool)
    sig_launched = Signal(object)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.state = TrainingState()
        self._actions = context.task_runner(self, "training-actions")
        self._plan_tasks = context.task_runner(self, "training-plan")
        self._sweep_tasks = context.task_runner(self, "training-sweep")

        self.editor = ConfigEditor(context, context.task_runner(self, "training-validate"),
                                   lambda: self.state.gpu_count)
        self.sweep = SweepBox(self._sweep_tasks, self.editor.form.values,
                              lambda: self.context.runs_dir, lambda: self.state.gpu_count)
        self.planner = PlannerPane(self._plan_tasks)
        self.planner.setObjectName("planner_pane")
        self.lr_plot = LrSchedulePlot()
        self.command = CommandPreview(context)
        self.controls = RunControls(context)
        self._connect_parts()
        self._lay_out()

        self.render()
        self.editor.refresh_presets()
        self._actions.submit(gpu_names, on_done=self._set_gpus)
        self.editor.load_first_preset()

    def _connect_parts(self) -> None:
        self.editor.sig_pending.connect(self._on_pending)
        self.editor.sig_checked.connect(self._on_checked)
        self.editor.sig_values.connect(self.planner.request)
        self.editor.sig_values.connect(self.sweep.set_config)
        self.editor.sig_script_mode.connect(self._on_script_mode)
        self.sweep.sig_run_launched.connect(lambda path: self._launched((Path(path), None)))
        self.controls.sig_launch.connect(self.launch)
        self.controls.sig_stop.connect(self.stop)
        self.controls.sig_kill.connect(self._kill_confirmed)
        self.controls.sig_resume.connect(self.resume)
        self.context.events.sig_run_selected.connect(self.select_run)
        self.context.events.sig_run_opened.connect(self.select_run)

    def _lay_out(self) -> None:
        form_box = QWidget()
        form_layout = QVBoxLayout(form_box)
        form_layout.addWidget(self.editor)
        form_layout.addWidget(self.sweep)
        form_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(form_box)
        command_box = QWidget()
        command_layout = QVBoxLayout(command_box)
        command_layout.setContentsMargins(0, 0, 0, 0)
        command_layout.addWidget(self.command, 1)
        command_layout.addWidget(self.controls)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.planner)
        right.addWidget(self.lr_plot)
        right.addWidget(command_box)
        right.setSizes([380, 220, 240])
        splitter = QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([430, 800])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    # ------------------------------------------------------------ state and rendering

    def _update(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)
        self.render()

    def render(self) -> None:
        """Show the state: the preview, which parts a script run uses, the run buttons."""
        state = self.state
        if state.preview is not self.command.preview:  # a new check: keep the text otherwise
            self.command.show_preview(state.preview)
            self.lr_plot.show_preview(state.preview)
        for part in (self.sweep, self.planner, self.lr_plot):  # for the built-in trainer only
            part.setVisible(not state.script_mode)
        self.controls.show_state(state)

    def _on_pending(self) -> None:
        self._update(checking=True)

    def _on_checked(self, preview: LaunchPreview) -> None:
        self._update(preview=preview, checking=False)
        self.sig_validated.emit(preview.valid)

    def _on_script_mode(self, on: bool) -> None:
        self._update(script_mode=on)

    def _set_gpus(self, names: list[str]) -> None:
        self._update(gpu_names=list(names))
        self.planner.set_detected_gpus(names)
        self.editor.schedule_check()

    # ------------------------------------------------------------ run control

    def launch(self) -> None:
        """Launch the validated config as a new run (never while a field is wrong)."""
        preview = self.state.preview
        if preview is None or preview.config is None:
            return
        self._update(launching=True)
        host = self.controls.selected_host()
        if host is not None:
            self.context.show_status(f"Starting the run on {host}…")
            self._actions.submit(launch_on_host, preview.config, self.context.runs_dir, host,
                                 on_done=self._launched, on_error=self._launch_failed)
            return
        self._actions.submit(launch_here, preview.config, self.context.runs_dir,
                             self.state.gpu_count, on_done=self._launched,
                             on_error=self._launch_failed)

    def _launch_failed(self, exc: BaseException, _details: str) -> None:
        self._update(launching=False)
        self.context.show_error(str(exc))

    def _launched(self, result: tuple[Path, int | None]) -> None:
        run_path, resumed_from = result
        self._update(launching=False)
        self.select_run(run_path)
        self.editor.offer_next_name(run_path.name)
        self.context.show_status(
            f"Launched {run_path.name}" if resumed_from is None
            else f"Resumed {run_path.name} from the checkpoint of step {resumed_from}")
        self.sig_launched.emit(run_path)
        self.context.events.sig_run_launched.emit(run_path)

    def select_run(self, run_path: Path) -> None:
        self._update(current_run=Path(run_path))

    def stop(self) -> None:
        if self.state.current_run is not None:
            self._actions.submit(stop_run, self.state.current_run,
                                 on_done=lambda _r: self.context.show_status("Stopping: the run "
                                                                             "saves a checkpoint"))

    def kill(self) -> None:
        """Ask first: Kill ends every process now, without a checkpoint of the current step."""
        if self.state.current_run is not None:
            self.controls.ask_kill(self.state.current_run)

    def _kill_confirmed(self, run: Path) -> None:
        self._actions.submit(kill_run, run,
                             on_done=lambda _r: self.context.show_status(f"Killed {run.name}"))

    def resume(self, checkpoint: str | int | None = None) -> None:
        """Continue the selected run from its latest checkpoint (or the step given)."""
        if self.state.current_run is not None:
            self._actions.submit(resume_run, self.state.current_run, checkpoint,
                                 on_done=self._launched)

    # ------------------------------------------------------------ the parts' widgets, as before

    @property
    def prepared(self) -> LaunchPreview | None:
        """The newest check of the form (None before the first)."""
        return self.state.preview

    @property
    def current_run(self) -> Path | None:
        return self.state.current_run

    @property
    def script_mode(self) -> bool:
        return self.state.script_mode

    @property
    def form(self) -> ConfigForm:
        return self.editor.form

    @property
    def script_form(self) -> ScriptForm:
        return self.editor.script_form

    @property
    def preset_box(self) -> QComboBox:
        return self.editor.preset_box

    @property
    def form_status(self) -> QLabel:
        return self.editor.form_status

    def load_preset(self, name: str) -> None:
        self.editor.load_preset(name)

    def save_preset(self, name: str) -> Path | None:
        return self.editor.save_preset(name)

    @property
    def command_view(self) -> QPlainTextEdit:
        return self.command.command_view

    def export_slurm(self, path: Path) -> None:
        self.command.export_slurm(path)

    @property
    def launch_button(self) -> QPushButton:
        return self.controls.launch_button

    @property
    def stop_button(self) -> QPushButton:
        return self.controls.stop_button

    @property
    def host_box(self) -> QComboBox:
        return self.controls.host_box

    @property
    def kill_dialog(self) -> QMessageBox | None:
        return self.controls.kill_dialog

    def open_hosts_dialog(self) -> Any:
        return self.controls.open_hosts_dialog()

    @property
    def lr_curve(self) -> Any:
        return self.lr_plot.curve

    # ------------------------------------------------------------ lifetime

    def is_busy(self) -> bool:
        """Whether the form is still being checked (screenshots wait for it)."""
        return self.editor.is_busy() or self.planner.is_busy()

    def shutdown(self) -> None:
        self.editor.shutdown()
        self.controls.shutdown()
        self._actions.shutdown()
        self._plan_tasks.shutdown()
        self._sweep_tasks.shutdown()
