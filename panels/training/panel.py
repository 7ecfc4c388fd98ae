"""The training launcher: a config form, presets, the exact torchrun command, and run control.

Every edit is checked by the backend's one validator on a worker (it imports
torch, which the GUI thread never waits for); the error appears under the
field it names and Launch stays disabled until the config is valid. The same
check returns the learning-rate schedule for the preview plot and the exact
command(s) that will run. Beside the form, the planner pane
(``panels.training.planner_pane``) shows per-rank memory, traffic and fit for
every strategy, computed on its own worker from the same form values; under
the form, the size sweep (``panels.training.sweep``) launches the config at
several sizes. Launching, stopping and killing go through
``backends.launch``; training itself always runs in a torchrun process tree,
never in this process.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
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
from backends.runs import write_toml_atomic
from panels.training.form import ConfigForm, FormFieldError, error_field
from panels.training.planner_pane import PlannerPane
from panels.training.script_form import SCRIPT_PRESET, ScriptForm
from panels.training.sweep import SweepBox
from resources import resource_path
from workbench.context import AppContext

# Edits are validated this long after the last keystroke.
_VALIDATE_DELAY_MS = 150
# The LR preview never draws more points than this.
_PREVIEW_POINTS = 400
DEFAULT_PRESET = "gpt-tiny"


@dataclass
class Prepared:
    """What the backend made of the form: a valid config, or the first error and its field."""

    config: dict[str, Any] | None
    error: str = ""
    error_key: str | None = None
    lr_steps: list[int] = field(default_factory=list)
    lr_values: list[float] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # shell lines, one per node
    slurm: str = ""
    exposure: str = ""  # what the run's sockets can be reached from


def prepare_launch(values: dict[str, Any], runs_dir: Path, gpu_count: int) -> Prepared:
    """Validate the form's values and derive the LR curve and the commands (runs on a worker)."""
    from backends import launch
    from backends.train.config import TrainConfig, TrainConfigError, validate
    from backends.train.loop import lr_at

    name = str(values.get("name", "")).strip()
    if not name:
        return Prepared(None, "Run name is empty: give the run a name", "name")
    run_dir = Path(runs_dir) / name
    if run_dir.exists():
        return Prepared(None, f"a run named {name!r} already exists in {runs_dir}: choose "
                        "another name (or select that run and press Resume)", "name")
    try:
        config = TrainConfig.from_dict(values)
        validate(config, cuda_devices=gpu_count)
    except TrainConfigError as exc:
        return Prepared(None, str(exc), error_field(str(exc), values))
    stride = max(1, config.steps // _PREVIEW_POINTS)
    steps = list(range(0, config.steps, stride))
    env = launch.worker_env(config)
    if config.nnodes == 1:
        commands = [launch.shell_line(launch.build_command(config, run_dir), env)]
    else:
        commands = [launch.shell_line(c, env) for c in launch.build_node_commands(config, run_dir)]
    try:
        slurm = launch.build_slurm_script(config, run_dir)
    except ValueError as exc:
        slurm = f"# {exc}"
    return Prepared(
        config=config.to_dict(),
        lr_steps=steps,
        lr_values=[lr_at(s, config) for s in steps],
        commands=commands,
        slurm=slurm,
        exposure=launch.exposure_note(config),
    )


def prepare_script_launch(values: dict[str, Any], runs_dir: Path) -> Prepared:
    """Validate the "Your script" form and derive the exact commands (runs on a worker)."""
    from backends import launch
    from backends.launch.script import validate_script

    try:
        config = validate_script(launch.ScriptConfig.from_dict(values))
    except launch.LaunchError as exc:
        message = str(exc)
        key = next((k for k in ("script", "module", "cwd", "strategy", "nproc", "nnodes",
                                "rdzv_endpoint", "device", "env", "name")
                    if message.startswith(k) or f" {k} " in message[:40]), "script")
        return Prepared(None, message, key)
    run_dir = Path(runs_dir) / config.name
    if run_dir.exists():
        return Prepared(None, f"a run named {config.name!r} already exists in {runs_dir}: choose "
                        "another name (or select that run and press Resume)", "name")
    env, cwd = launch.worker_env(config, run_dir), config.cwd
    if config.nnodes == 1:
        commands = [launch.shell_line(launch.build_command(config, run_dir), env, cwd)]
    else:
        commands = [launch.shell_line(c, env, cwd) for c in launch.build_node_commands(config, run_dir)]
    try:
        slurm = launch.build_slurm_script(config, run_dir)
    except ValueError as exc:
        slurm = f"# {exc}"
    return Prepared(config=config.to_dict(), commands=commands, slurm=slurm,
                    exposure=launch.exposure_note(config))


def with_defaults(values: dict[str, Any]) -> dict[str, Any]:
    """A preset's values over the config defaults, so every form field has a value."""
    from backends.train.config import TrainConfig  # no torch: cheap to import

    merged = TrainConfig().to_dict()
    data = {**merged["data"], **(values.get("data") or {})}
    return {**merged, **values, "data": data}


def list_presets(user_dir: Path) -> dict[str, Path]:
    """Shipped presets, then the user's own (which may shadow a shipped name)."""
    found: dict[str, Path] = {}
    shipped = resource_path("presets")
    for entry in sorted(shipped.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            found[entry.name[:-5]] = Path(str(entry))
    if user_dir.is_dir():
        for entry in sorted(user_dir.glob("*.toml")):
            found[entry.stem] = entry
    return found


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
        self.prepared: Prepared | None = None
        self.current_run: Path | None = None
        self.kill_dialog: QMessageBox | None = None
        self._gpu_count: int | None = None
        self._tasks = context.task_runner(self, "training-validate")
        self._actions = context.task_runner(self, "training-actions")
        self._plan_tasks = context.task_runner(self, "training-plan")
        self._sweep_tasks = context.task_runner(self, "training-sweep")
        self._debounce = QTimer(self, singleShot=True, interval=_VALIDATE_DELAY_MS)
        self._debounce.timeout.connect(self._validate_now)

        self.form = ConfigForm()
        self.form.sig_changed.connect(self._schedule_validation)
        self.script_form = ScriptForm()
        self.script_form.setObjectName("script_form")
        self.script_form.sig_changed.connect(self._schedule_validation)
        self.script_form.hide()
        self.preset_box = QComboBox()
        self.preset_box.setObjectName("preset_box")
        self.preset_box.activated.connect(lambda _i: self.load_preset(self.preset_box.currentText()))
        self.save_preset_button = save_preset = QPushButton("Save as preset…")
        save_preset.clicked.connect(self._ask_save_preset)
        self.form_status = QLabel()
        self.form_status.setObjectName("form_status")
        self.form_status.setWordWrap(True)

        presets_row = QHBoxLayout()
        presets_row.addWidget(QLabel("Preset"))
        presets_row.addWidget(self.preset_box, 1)
        presets_row.addWidget(save_preset)
        form_box = QWidget()
        form_layout = QVBoxLayout(form_box)
        form_layout.addLayout(presets_row)
        form_layout.addWidget(self.form)
        form_layout.addWidget(self.script_form)
        form_layout.addWidget(self.form_status)
        self.sweep = SweepBox(self._sweep_tasks, self.form.values, lambda: self.context.runs_dir,
                              lambda: self._gpu_count or 0)
        self.sweep.sig_run_launched.connect(lambda path: self._launched((Path(path), None)))
        form_layout.addWidget(self.sweep)
        form_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(form_box)

        self.lr_plot = pg.PlotWidget(title="Learning-rate schedule")
        self.lr_plot.setLabel("bottom", "step")
        self.lr_plot.setLabel("left", "lr")
        self.lr_plot.setMouseEnabled(x=False, y=False)
        self.lr_curve = self.lr_plot.plot(pen=pg.mkPen("#2f65ca", width=2))

        self.command_view = QPlainTextEdit()
        self.command_view.setObjectName("command_view")
        self.command_view.setReadOnly(True)
        self.command_view.setPlaceholderText("The exact command appears here once the form is valid.")
        self.command_view.setMaximumBlockCount(200)
        self.command_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        copy = QPushButton("Copy")
        copy.clicked.connect(self.copy_command)
        export_nodes = QPushButton("Export node commands…")
        export_nodes.clicked.connect(self._ask_export_commands)
        export_slurm = QPushButton("Export Slurm script…")
        export_slurm.clicked.connect(self._ask_export_slurm)
        command_buttons = QHBoxLayout()
        for button in (copy, export_nodes, export_slurm):
            command_buttons.addWidget(button)
        command_buttons.addStretch(1)

        self.launch_button = QPushButton("Launch")
        self.launch_button.setObjectName("launch_button")
        self.launch_button.setEnabled(False)
        self.launch_button.clicked.connect(self.launch)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Finish the current step, save a checkpoint, exit")
        self.stop_button.clicked.connect(self.stop)
        self.kill_button = QPushButton("Kill")
        self.kill_button.setToolTip("End every process of the run now (no checkpoint)")
        self.kill_button.clicked.connect(self.kill)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the selected run from its last checkpoint")
        self.resume_button.clicked.connect(self.resume)
        self.run_label = QLabel("No run selected")
        self.run_label.setObjectName("run_label")
        self.host_box = QComboBox()
        self.host_box.setObjectName("host_box")
        self.host_box.setToolTip("Where Launch starts the run: this machine, or a saved remote host "
                                 "(the run is mirrored here as it trains)")
        hosts_button = QPushButton("Hosts…")
        hosts_button.setObjectName("hosts_button")
        hosts_button.clicked.connect(self.open_hosts_dialog)
        self.hosts_dialog: Any = None
        self.refresh_hosts()
        host_row = QHBoxLayout()
        host_row.addWidget(QLabel("Run on"))
        host_row.addWidget(self.host_box, 1)
        host_row.addWidget(hosts_button)
        control = QHBoxLayout()
        for button in (self.launch_button, self.stop_button, self.kill_button, self.resume_button):
            control.addWidget(button)
        control.addWidget(self.run_label, 1)

        self.planner = PlannerPane(self._plan_tasks)
        self.planner.setObjectName("planner_pane")
        command_box = QWidget()
        command_layout = QVBoxLayout(command_box)
        command_layout.setContentsMargins(0, 0, 0, 0)
        command_layout.addWidget(QLabel("Command"))
        command_layout.addWidget(self.command_view, 1)
        self.exposure_label = QLabel("")
        self.exposure_label.setObjectName("exposure_label")
        self.exposure_label.setWordWrap(True)
        command_layout.addWidget(self.exposure_label)
        command_layout.addLayout(command_buttons)
        command_layout.addLayout(host_row)
        command_layout.addLayout(control)
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

        context.events.sig_run_selected.connect(self.select_run)
        context.events.sig_run_opened.connect(self.select_run)
        self._update_run_buttons()
        self.refresh_presets()
        self._actions.submit(gpu_names, on_done=self._set_gpus)
        if self._presets:
            self.load_preset(DEFAULT_PRESET if DEFAULT_PRESET in self._presets
                             else next(iter(self._presets)))

    # ------------------------------------------------------------ presets

    @property
    def user_presets_dir(self) -> Path:
        return self.context.settings.path.parent / "presets"

    def refresh_presets(self) -> None:
        current = self.preset_box.currentText()
        self._presets = list_presets(self.user_presets_dir)
        self.preset_box.clear()
        self.preset_box.addItems([*self._presets, SCRIPT_PRESET])
        if current in self._presets or current == SCRIPT_PRESET:
            self.preset_box.setCurrentText(current)

    @property
    def script_mode(self) -> bool:
        """Whether the launcher is set to run the user's own script."""
        return not self.script_form.isHidden()

    def _set_script_mode(self, on: bool) -> None:
        self.script_form.setVisible(on)
        self.form.setVisible(not on)
        self.sweep.setVisible(not on)  # sizes of a built-in model: not for a script
        self.planner.setVisible(not on)
        self.lr_plot.setVisible(not on)
        self.save_preset_button.setEnabled(not on)  # presets hold built-in configs

    def load_preset(self, name: str) -> None:
        if name == SCRIPT_PRESET:
            self.preset_box.setCurrentText(name)
            self._set_script_mode(True)
            self._schedule_validation()
            return
        path = self._presets.get(name)
        if path is None:
            return
        self._set_script_mode(False)
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            self.context.show_error(f"preset {path} cannot be read ({exc}): fix or delete it")
            return
        values.setdefault("name", name)
        self.preset_box.setCurrentText(name)
        self.form.set_values(with_defaults(values))

    def save_preset(self, name: str) -> Path | None:
        try:
            values = self.form.values()
        except FormFieldError as exc:
            self.form.show_error(exc.key, str(exc))
            return None
        self.user_presets_dir.mkdir(parents=True, exist_ok=True)
        path = self.user_presets_dir / f"{name}.toml"
        values.pop("resume", None)
        write_toml_atomic(path, values)
        self.refresh_presets()
        self.preset_box.setCurrentText(name)
        self.context.show_status(f"Saved preset {name} to {path}")
        return path

    def _ask_save_preset(self) -> None:
        name, ok = QInputDialog.getText(self, "Save preset", "Preset name")
        if ok and name.strip():
            self.save_preset(name.strip())

    # ------------------------------------------------------------ validation

    def _set_gpus(self, names: list[str]) -> None:
        self._gpu_count = len(names)
        self.planner.set_detected_gpus(names)
        self._schedule_validation()

    def _schedule_validation(self) -> None:
        self.launch_button.setEnabled(False)
        self._debounce.start()

    def _validate_now(self) -> None:
        if self.script_mode:
            try:
                script_values = self.script_form.values()
            except FormFieldError as exc:
                self._show_prepared(Prepared(None, str(exc), exc.key))
                return
            self._tasks.submit(
                prepare_script_launch, script_values, self.context.runs_dir,
                on_done=self._show_prepared,
                on_error=lambda exc, _details: self._show_prepared(Prepared(None, str(exc))),
                supersede=True,
            )
            return
        try:
            values = self.form.values()
        except FormFieldError as exc:
            self._show_prepared(Prepared(None, str(exc), exc.key))
            return
        # The plan needs no valid run name: it follows the model and layout as they are typed.
        self.planner.request(values)
        self.sweep.set_config(values)
        self._tasks.submit(
            prepare_launch, values, self.context.runs_dir, self._gpu_count or 0,
            on_done=self._show_prepared,
            on_error=lambda exc, _details: self._show_prepared(Prepared(None, str(exc))),
            supersede=True,
        )

    def _show_prepared(self, prepared: Prepared) -> None:
        self.prepared = prepared
        form = self.script_form if self.script_mode else self.form
        if prepared.config is None:
            form.show_error(prepared.error_key, prepared.error)
            self.form_status.setText("" if prepared.error_key else prepared.error)
            self.command_view.setPlainText("")
            self.exposure_label.setText("")
            self.lr_curve.setData([], [])
        else:
            form.clear_errors()
            self.form_status.setText("")
            self.command_view.setPlainText(self.command_text())
            self.exposure_label.setText(prepared.exposure)
            # Several nodes listen on the network: say so where the command is.
            self.exposure_label.setStyleSheet(
                "color: #b35900;" if prepared.config.get("nnodes", 1) > 1 else "color: gray;")
            self.lr_curve.setData(prepared.lr_steps, prepared.lr_values)
        self.launch_button.setEnabled(prepared.config is not None)
        self.sig_validated.emit(prepared.config is not None)

    def command_text(self) -> str:
        """The exact command(s) that will run, one per node, as shell text."""
        if self.prepared is None or self.prepared.config is None:
            return ""
        commands = self.prepared.commands
        if len(commands) == 1:
            return commands[0]
        return "\n".join(f"# node {i}\n{c}" for i, c in enumerate(commands))

    def _exposure_text(self) -> str:
        return self.prepared.exposure if self.prepared is not None else ""

    def copy_command(self) -> None:
        QGuiApplication.clipboard().setText(self.command_text())
        self.context.show_status("Command copied")

    def export_commands(self, path: Path) -> None:
        """Write one shell script with every node's command (each node runs its own line)."""
        text = "#!/usr/bin/env bash\n# Run the line for each node on that node.\n"
        path.write_text(text + self.command_text() + "\n", encoding="utf-8")

    def export_slurm(self, path: Path) -> None:
        if self.prepared is not None and self.prepared.config is not None:
            path.write_text(self.prepared.slurm, encoding="utf-8")

    def _ask_export_commands(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export node commands", "launch.sh")
        if path:
            self.export_commands(Path(path))

    def _ask_export_slurm(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export Slurm script", "train.sbatch")
        if path:
            self.export_slurm(Path(path))

    # ------------------------------------------------------------ run control

    def launch(self) -> None:
        """Launch the validated config as a new run (never while a field is wrong)."""
        if self.prepared is None or self.prepared.config is None:
            return
        self.launch_button.setEnabled(False)
        host = self.selected_host()
        if host is not None:
            self.context.show_status(f"Starting the run on {host}…")
            self._actions.submit(_launch_remote, self.prepared.config, self.context.runs_dir, host,
                                 on_done=self._launched, on_error=self._action_failed)
            return
        self._actions.submit(_launch, self.prepared.config, self.context.runs_dir,
                             self._gpu_count or 0, on_done=self._launched,
                             on_error=self._action_failed)

    # ------------------------------------------------------------ remote hosts

    def refresh_hosts(self) -> None:
        """Fill the host picker from the saved hosts (this machine first)."""
        from backends.remote.hosts import HostError, load_hosts

        chosen = self.host_box.currentData()
        try:
            hosts = load_hosts()
        except HostError as exc:
            hosts = {}
            self.context.show_error(str(exc))
        self.host_box.clear()
        self.host_box.addItem("This machine", None)
        for host in hosts.values():
            self.host_box.addItem(f"{host.name} ({host.kind}, {host.destination})", host.name)
        index = self.host_box.findData(chosen)
        self.host_box.setCurrentIndex(max(0, index))

    def selected_host(self) -> str | None:
        return self.host_box.currentData()

    def open_hosts_dialog(self) -> Any:
        from panels.training.hosts_dialog import HostsDialog

        if self.hosts_dialog is None:
            self.hosts_dialog = HostsDialog(self.context, self)
            self.hosts_dialog.sig_hosts_changed.connect(self.refresh_hosts)
        self.hosts_dialog.refresh()
        self.hosts_dialog.show()
        return self.hosts_dialog

    def _launched(self, result: tuple[Path, int | None]) -> None:
        run_path, resumed_from = result
        self.select_run(run_path)
        self._offer_next_name(run_path.name)
        self.context.show_status(
            f"Launched {run_path.name}" if resumed_from is None
            else f"Resumed {run_path.name} from the checkpoint of step {resumed_from}")
        self.sig_launched.emit(run_path)
        self.context.events.sig_run_launched.emit(run_path)

    def _offer_next_name(self, used: str) -> None:
        """The launched name is taken now: put the next free one in the form."""
        from backends.launch.service import next_free_name

        if self.script_mode:
            self.script_form.name_edit.setText(next_free_name(self.context.runs_dir, used))
            self._schedule_validation()
            return
        try:
            values = self.form.values()
        except FormFieldError:
            self._schedule_validation()
            return
        if values.get("name") == used or not values.get("name"):
            values["name"] = next_free_name(self.context.runs_dir, used)
            self.form.set_values(values)
        self._schedule_validation()

    def select_run(self, run_path: Path) -> None:
        self.current_run = Path(run_path)
        self.run_label.setText(f"Run: {self.current_run.name}")
        self._update_run_buttons()

    def _update_run_buttons(self) -> None:
        has_run = self.current_run is not None
        for button in (self.stop_button, self.kill_button, self.resume_button):
            button.setEnabled(has_run)

    def stop(self) -> None:
        if self.current_run is not None:
            self._actions.submit(_stop, self.current_run, on_error=self._action_failed,
                                 on_done=lambda _r: self.context.show_status("Stopping: the run "
                                                                             "saves a checkpoint"))

    def kill(self) -> None:
        """Ask first: Kill ends every process now, without a checkpoint of the current step."""
        if self.current_run is None:
            return
        box = QMessageBox(self)
        box.setObjectName("kill_dialog")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Kill run")
        box.setText(f"Kill {self.current_run.name} now?")
        box.setInformativeText("Every process of the run ends at once. Steps since the last "
                               "checkpoint are lost; Stop saves a checkpoint first.")
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        run = self.current_run
        box.finished.connect(lambda result: self._on_kill_answer(box, run, result))
        self.kill_dialog = box
        box.open()

    def _on_kill_answer(self, box: QMessageBox, run: Path, result: int) -> None:
        self.kill_dialog = None
        box.deleteLater()
        if result == QMessageBox.StandardButton.Yes:
            self._actions.submit(_kill, run, on_error=self._action_failed,
                                 on_done=lambda _r: self.context.show_status(f"Killed {run.name}"))

    def resume(self, checkpoint: str | int | None = None) -> None:
        """Continue the selected run from its latest checkpoint (or the step given)."""
        if self.current_run is not None:
            self._actions.submit(_resume, self.current_run, checkpoint, on_done=self._launched,
                                 on_error=self._action_failed)

    def _action_failed(self, exc: BaseException, _details: str) -> None:
        self.launch_button.setEnabled(self.prepared is not None and self.prepared.config is not None)
        self.context.show_error(str(exc))

    # ------------------------------------------------------------ lifetime

    def is_busy(self) -> bool:
        """Whether the form is still being checked (screenshots wait for it)."""
        return self._debounce.isActive() or self._tasks.is_busy() or self.planner.is_busy()

    def shutdown(self) -> None:
        self._debounce.stop()
        if self.kill_dialog is not None:
            self.kill_dialog.reject()
        self._tasks.shutdown()
        self._actions.shutdown()
        self._plan_tasks.shutdown()
        self._sweep_tasks.shutdown()
        if self.hosts_dialog is not None:
            self.hosts_dialog.shutdown()


def _launch(config: dict[str, Any], runs_dir: Path, gpu_count: int) -> tuple[Path, None]:
    from backends import launch
    from backends.train.config import TrainConfig

    if config.get("source") == "script":
        info = launch.launch(launch.ScriptConfig.from_dict(config), runs_dir)
    else:
        info = launch.launch(TrainConfig.from_dict(config), runs_dir, cuda_devices=gpu_count)
    return info.run.path, None


def _launch_remote(config: dict[str, Any], runs_dir: Path, host_name: str) -> tuple[Path, None]:
    """Prepare the run here and start it on the saved host (mirrored by the Monitor)."""
    from backends.remote.hosts import HostError, get_host
    from backends.remote.launch import launch_remote
    from backends.train.config import TrainConfig

    try:
        host = get_host(host_name)
    except HostError as exc:
        from backends.launch import LaunchError

        raise LaunchError(str(exc)) from exc
    return launch_remote(TrainConfig.from_dict(config), runs_dir, host).path, None


def _stop(run_path: Path) -> None:
    from backends import launch
    from backends.runs import open_run

    launch.stop(open_run(run_path))


def _kill(run_path: Path) -> None:
    from backends import launch
    from backends.runs import open_run

    launch.kill(open_run(run_path))


def _resume(run_path: Path, checkpoint: str | int | None) -> tuple[Path, int | None]:
    """Start the run again in its own folder, from its latest (or the chosen) checkpoint."""
    from backends import launch

    info = launch.resume(run_path, checkpoint=checkpoint)
    return info.run.path, info.resumed_from
