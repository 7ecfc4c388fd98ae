"""The launcher's size sweep: the form's config at several widths or depths, one run per size.

The user picks a model-config key (``n_embd``, ``n_layer``...) and a list of
sizes; the box names the runs it will start (``<name>-<key><value>``) as
they type. Launching checks every config with the trainer's validator first
(nothing starts if one is wrong), then starts the runs one after another (the
default, and the right choice on a machine with few cores) or all at once.
The sequence runs in ``backends.plan.sweep.launch_sweep`` on the box's own
task slot; Stop sweep launches no further run and leaves the running one be.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from backends.plan.errors import PlanError
from backends.plan.sweep import launch_sweep, parse_values, sweep_configs, sweep_keys
from workbench.tasks import TaskRunner

SEQUENTIAL, AT_ONCE = "One after another", "All at once"


class SweepBox(QGroupBox):
    """Plan and launch a size sweep of the form's config; see the module docstring.

    Signals
    -------
    sig_run_launched(object)   one run of the sweep started (its folder, a Path)
    sig_finished(object)       the sweep ended: list of (run folder, status)
    """

    sig_run_launched = Signal(object)
    sig_finished = Signal(object)
    # Emitted from the worker thread as each run starts; Qt queues it to the GUI thread.
    _sig_worker_launched = Signal(object)

    def __init__(self, runner: TaskRunner, values: Callable[[], dict[str, Any]],
                 runs_dir: Callable[[], Path], cuda_devices: Callable[[], int],
                 parent: Any = None) -> None:
        super().__init__("Size sweep", parent)
        self._runner = runner
        self._values = values
        self._runs_dir = runs_dir
        self._cuda_devices = cuda_devices
        self._sig_worker_launched.connect(self._note_launched)
        self.launched: list[Path] = []

        self.key_box = QComboBox()
        self.key_box.setObjectName("sweep_key")
        self.key_box.setEditable(True)
        self.key_box.setToolTip("the model_config key that changes from run to run")
        self.key_box.currentTextChanged.connect(lambda _t: self.update_preview())
        self.values_edit = QLineEdit()
        self.values_edit.setObjectName("sweep_values")
        self.values_edit.setPlaceholderText("e.g. 32, 64, 128")
        self.values_edit.textChanged.connect(lambda _t: self.update_preview())
        self.mode_box = QComboBox()
        self.mode_box.setObjectName("sweep_mode")
        self.mode_box.addItems([SEQUENTIAL, AT_ONCE])
        self.mode_box.setToolTip("All at once starts every run now: they share the machine's "
                                 "cores and each runs slower")
        self.mode_box.currentTextChanged.connect(lambda _t: self.update_preview())
        self.preview = QLabel("")
        self.preview.setObjectName("sweep_preview")
        self.preview.setWordWrap(True)
        self.launch_button = QPushButton("Launch sweep")
        self.launch_button.setObjectName("sweep_launch")
        self.launch_button.clicked.connect(self.launch)
        self.stop_button = QPushButton("Stop sweep")
        self.stop_button.setToolTip("Launch no further run (the running one goes on: Stop it "
                                    "above)")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.hide()

        form = QFormLayout()
        form.addRow("Vary", self.key_box)
        form.addRow("Sizes", self.values_edit)
        form.addRow("Runs", self.mode_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.launch_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.preview)
        layout.addLayout(buttons)

    # ------------------------------------------------------------ plan

    def set_config(self, values: dict[str, Any]) -> None:
        """Offer the keys this config can vary (the form changed)."""
        keys = sweep_keys(values)
        current = self.key_box.currentText()
        if [self.key_box.itemText(i) for i in range(self.key_box.count())] != keys:
            self.key_box.blockSignals(True)
            self.key_box.clear()
            self.key_box.addItems(keys)
            self.key_box.setEditText(current if current else (keys[0] if keys else ""))
            self.key_box.blockSignals(False)
        self.update_preview()

    def configs(self) -> list[dict[str, Any]]:
        """The sweep's configs, or a :class:`PlanError` naming what is wrong."""
        try:
            values = self._values()
        except ValueError as exc:
            raise PlanError(f"fix the form first: {exc}") from exc
        return sweep_configs(values, self.key_box.currentText(),
                             parse_values(self.values_edit.text()))

    def update_preview(self) -> None:
        if not self.values_edit.text().strip():
            self.preview.setText("Train the same config at several sizes, for a scaling-law "
                                 "fit (Monitor → Scaling).")
            return
        try:
            configs = self.configs()
        except PlanError as exc:
            self.preview.setText(f"<span style='color:#c0392b'>{exc}</span>")
            return
        names = ", ".join(c["name"] for c in configs)
        if self.mode_box.currentText() == AT_ONCE:
            from backends.devices import cpu_cores

            procs = sum(int(c.get("nproc", 1)) for c in configs)
            how = (f"all at once: {procs} processes share {cpu_cores()} cores (and GPUs); "
                   "each run is slower")
        else:
            how = "one after another"
        self.preview.setText(f"{len(configs)} runs, {how}: {names}")

    # ------------------------------------------------------------ launch

    def launch(self) -> None:
        try:
            configs = self.configs()
        except PlanError as exc:
            self.preview.setText(f"<span style='color:#c0392b'>{exc}</span>")
            return
        self.launched = []
        self.launch_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.progress.setValue(0)
        self.progress.show()
        self._runner.submit(
            launch_sweep, configs, self._runs_dir(), at_once=self.mode_box.currentText() == AT_ONCE,
            cuda_devices=self._cuda_devices(), on_launched=self._sig_worker_launched.emit,
            on_progress=lambda f: self.progress.setValue(int(f * 1000)),
            on_done=self._done, on_error=self._failed,
        )

    def _note_launched(self, path: Path) -> None:
        self.launched.append(Path(path))
        self.preview.setText(f"Sweep: launched {Path(path).name} ({len(self.launched)} so far)")
        self.sig_run_launched.emit(Path(path))

    def stop(self) -> None:
        """Launch no further run of the sweep (the one running keeps going)."""
        self._runner.cancel()
        self._reset()
        self.preview.setText("Sweep stopped: no further run starts; the running one goes on "
                             "(Stop it above).")

    def _done(self, results: list[tuple[Path, str]]) -> None:
        self._reset()
        states = ", ".join(f"{Path(p).name}: {s}" for p, s in results)
        self.preview.setText(f"Sweep done ({len(results)} runs): {states}")
        self.sig_finished.emit(results)

    def _failed(self, exc: BaseException, _details: str) -> None:
        self._reset()
        self.preview.setText(f"<span style='color:#c0392b'>Sweep not launched: {exc}</span>")

    def _reset(self) -> None:
        self.launch_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.progress.hide()

    def is_running(self) -> bool:
        return self._runner.is_busy()
